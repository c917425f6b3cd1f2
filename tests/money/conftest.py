"""The money tests' world (tests/support/money.py), offered to this folder as a fixture."""

from tests.support.money import money

__all__ = ["money"]
