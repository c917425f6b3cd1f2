"""The Tally site agent: standard library only, Python 3.9+."""
