"""ingest package (built in a later issue)."""
