"""Tally: usage accounting for research infrastructure."""
