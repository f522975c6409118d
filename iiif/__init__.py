"""IIIF: Presentation 3 manifests and collections, the Image API service, Content Search."""

from . import ids

__all__ = ["ids"]
