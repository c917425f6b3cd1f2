"""A billing file given as a path is opened once: its sniff, its batches and its digest share it."""

from __future__ import annotations

import builtins
import gzip
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tally.adapters.warehouse import open_warehouse
from tally.billing import import_billing
from tally.services.billing import BillingService
from tally.settings import Settings
from tests.billing_store.helpers import CUR_FINAL, FOCUS_SAMPLE

# Every way Python code here can open a file by name.
OPENERS: tuple[tuple[Any, str], ...] = ((io, "open"), (builtins, "open"), (pa, "OSFile"), (pa, "memory_map"))


def count_opens(monkeypatch: pytest.MonkeyPatch, target: Path) -> list[str]:
    """Record each opening of `target` by any of OPENERS (the opening itself still happens)."""
    opened: list[str] = []
    wanted = os.path.realpath(target)

    def wrap(owner: Any, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def opener(path: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(path, str | os.PathLike) and os.path.realpath(os.fspath(path)) == wanted:
                opened.append(name)
            return real(path, *args, **kwargs)

        return opener

    for owner, name in OPENERS:
        monkeypatch.setattr(owner, name, wrap(owner, name, getattr(owner, name)))
    return opened


@pytest.fixture
def billing(tmp_path: Path) -> BillingService:
    return BillingService(open_warehouse(Settings(mode="local", home=tmp_path / "home")))


def _gzip_copy(tmp_path: Path) -> Path:
    path = tmp_path / "cur.csv.gz"
    path.write_bytes(gzip.compress(CUR_FINAL.read_bytes()))
    return path


def _parquet_copy(tmp_path: Path) -> Path:
    path = tmp_path / "focus.parquet"
    pq.write_table(
        pa.csv.read_csv(FOCUS_SAMPLE, convert_options=pa.csv.ConvertOptions(strings_can_be_null=False)), path
    )
    return path


@pytest.mark.parametrize(
    "make", [lambda _: CUR_FINAL, _gzip_copy, _parquet_copy], ids=["csv", "csv.gz", "parquet"]
)
def test_an_imported_file_is_opened_once(
    billing: BillingService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Callable[[Path], Path]
) -> None:
    path = make(tmp_path)
    content = path.read_bytes()
    opened = count_opens(monkeypatch, path)

    stored = billing.import_files([(path, path.name)], origin="test")

    assert len(opened) == 1, opened
    monkeypatch.undo()
    # What was read through the one opening is the file: the same rows and delivery as its bytes.
    again = billing.import_files([(content, path.name)], origin="test")
    assert (again.delivery_id, again.replayed) == (stored.delivery_id, True)
    assert stored.accepted == import_billing(content, path.name).accepted_rows > 0


def test_the_counter_sees_each_opening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = count_opens(monkeypatch, CUR_FINAL)
    with CUR_FINAL.open("rb"):
        pass
    pa.OSFile(str(CUR_FINAL)).close()
    with pa.memory_map(str(CUR_FINAL)):
        pass
    assert opened == ["open", "OSFile", "memory_map"]
