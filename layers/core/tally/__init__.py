"""Tally: usage accounting for research infrastructure."""

__version__ = "0.1.0"
