"""Shallow baselines of the paper (OC-SVM, KDE) with one estimator API."""
