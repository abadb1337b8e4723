"""Capture time as evidence: a person is compared through their faces
nearest in time, not one centroid. Pure functions over embeddings and days."""

from __future__ import annotations

# False: time is ignored, as before (bench/family.py measures both ways).
TIME_AWARE = True
