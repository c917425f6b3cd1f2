"""Saved views: a person's named portal states (an explorer's choice of kind, range, pivot, chart)."""
