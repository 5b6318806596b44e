"""Measurements of the suite itself: speed, numerics, and lockstep with the authors' code."""
