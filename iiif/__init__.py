"""iiif package (built in a later issue)."""
