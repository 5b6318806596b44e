"""Measurements of the suite itself: speed and numerics (against the authors' code: validation)."""
