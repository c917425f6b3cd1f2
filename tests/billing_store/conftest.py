"""Billing-store tests import the real exports in ../shared/data; without them they skip, saying why."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED_DATA


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if (SHARED_DATA / "billing").is_dir():
        return
    skip = pytest.mark.skip(reason=f"shared sample data not found at {SHARED_DATA / 'billing'}")
    for item in items:
        if "billing_store" in str(item.path):
            item.add_marker(skip)
