"""Keeping the library safe: a copy of the user's decisions beside it that
outlives it (``decision_copy``), and a check of the library (``check``)."""
