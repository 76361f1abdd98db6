"""Data files shipped with homog (reference materials of the examples)."""
