"""Where the suite's files are: the checkout, the committed fixtures and the shared sample data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
# The site agent's folder (its package, build_zipapp.py).
AGENTS = REPO / "agents"
# The real sample data beside a checkout (../shared/data). TALLY_SHARED_DATA points elsewhere; CI sets it
# to a missing folder to prove the suite runs on a clone alone. Only a path: nothing is read on import.
SHARED_DATA = Path(os.environ.get("TALLY_SHARED_DATA") or REPO.parent / "shared" / "data")


def shared_data_available() -> bool:
    return SHARED_DATA.is_dir()


def skip_reason() -> str:
    return f"shared sample data not found at {SHARED_DATA} (set TALLY_SHARED_DATA to use another folder)"


def require_shared_data() -> Path:
    """The shared data folder, or skip the calling test with a one-line reason."""
    if not shared_data_available():
        pytest.skip(skip_reason())
    return SHARED_DATA
