"""search package (built in a later issue)."""
