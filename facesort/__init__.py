"""facesort: sort a photo collection by the people in it, locally."""

__version__ = "0.1.0"
