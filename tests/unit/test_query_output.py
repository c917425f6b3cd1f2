"""`tally query` output: JSON keeps money exact; the on-screen table rounds only for display."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa
import pytest

from tally.cli.query import print_table


def _table() -> pa.Table:
    return pa.table(
        {
            "provider": ["aws"],
            "cost": pa.array([Decimal("1960.9176000001")], pa.decimal128(38, 10)),
            "hours": [2571.123456],
        }
    )


def test_json_keeps_decimals_exact(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(_table(), "json")
    (row,) = json.loads(capsys.readouterr().out)
    assert row == {"provider": "aws", "cost": "1960.9176000001", "hours": 2571.123456}


def test_csv_keeps_full_values(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(_table(), "csv")
    assert capsys.readouterr().out.splitlines() == ["provider,cost,hours", "aws,1960.9176000001,2571.123456"]
