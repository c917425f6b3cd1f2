"""Fixtures of the billing-import tests: the shared billing samples (skipped, saying why, when absent).

The independent readers the importer's totals are compared with are in tests/billing/oracle.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import SHARED_DATA, require_shared_data

DATA = SHARED_DATA / "billing"


def require_data() -> Path:
    return require_shared_data() / "billing"


@pytest.fixture
def data_dir() -> Path:
    return require_data()
