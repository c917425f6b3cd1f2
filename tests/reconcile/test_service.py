"""The service on a local warehouse: stored verdicts, restated bills, idempotent runs, reports read back."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tally.adapters.warehouse import FsWarehouse, open_warehouse
from tally.cli.main import app
from tally.reconcile import ReconcileConfig
from tally.reconcile.findings import COLUMNS
from tally.services.reconcile import ReconcileService, periods_to_run, shift_period
from tally.settings import Settings
from tests.reconcile.fixtures import at, billing_table
from tests.reconcile.scenarios import AWS_ARN, MARCH, fleet, plant_idle
from tests.reconcile.warehouse_fixtures import store_bill, store_vms

NOW = datetime(2026, 3, 7, 6, tzinfo=UTC)  # days up to 4 March are closed


@pytest.fixture
def warehouse(tmp_path: Path) -> FsWarehouse:
    return open_warehouse(Settings(mode="local", home=tmp_path / "home"))


def stored(warehouse: FsWarehouse, run_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key in warehouse.list_keys("reconciliation"):
        if key.endswith(f"/{run_id}.parquet"):
            rows += warehouse.read_parquet(key).to_pylist()
    return rows


def test_restated_period_replaces_the_verdicts(warehouse: FsWarehouse) -> None:
    f = fleet()
    store_vms(warehouse, f.vms)
    # The not-final delivery lacks the last day of i-0aaa; the final one has it.
    partial = [
        b
        for b in f.bill
        if not (b["resource_id"] == AWS_ARN.format("i-0aaa") and b["charge_period_start"] >= at(MARCH[3]))
    ]
    keys = store_bill(warehouse, partial, "delivery-not-final")
    sent: list[tuple[str, dict[str, Any]]] = []
    service = ReconcileService(warehouse, ReconcileConfig(), lambda s, m: sent.append((s, m)))
    first = service.run("2026-03", NOW)
    assert (first.first_day, first.last_day) == (MARCH[0], MARCH[3])
    assert first.counts == {"ok": 15, "measured_not_billed": 1}
    assert [(r["instance_id"], r["day"], r["verdict"]) for r in first.findings] == [
        ("i-0aaa", MARCH[3], "measured_not_billed")
    ]
    assert len(sent) == 1 and sent[0][1]["verdicts"] == first.counts
    assert sent[0][1]["findings"][0]["resource_id"] == "i-0aaa"

    # A retry on the same input writes the same keys: nothing is added.
    again = service.run("2026-03", NOW)
    assert again.run_id == first.run_id and again.keys == first.keys
    assert len(stored(warehouse, first.run_id)) == 16 + 2  # instance-days, one invoice per provider

    # The final delivery replaces the not-final one (as the billing writer does).
    warehouse.delete([k for k in keys if "provider=aws" in k])
    store_bill(warehouse, [b for b in f.bill if b["provider"] == "aws"], "delivery-final")
    final = service.run("2026-03", NOW)
    assert final.run_id != first.run_id
    assert final.counts == {"ok": 16} and final.findings == []
    assert len(sent) == 1  # nothing to look at: no message
    rows = stored(warehouse, final.run_id)
    day4 = next(r for r in rows if r["instance_id"] == "i-0aaa" and r["day"] == MARCH[3])
    assert (day4["billed_hours"], day4["verdict"], day4["cost"]) == (24.0, "ok", Decimal("9.6"))
    assert {r["kind"] for r in rows} == {"instance_day", "invoice"}
    # Each row sits in the partition of its day.
    for key in final.keys:
        day = key.split("dt=")[1].split("/")[0]
        assert {str(r) for r in pq.read_table(f"{warehouse.base}/{key}").column("day").to_pylist()} == {day}


def test_reports_read_back_cell_by_cell(warehouse: FsWarehouse) -> None:
    f = fleet()
    plant_idle(f)
    store_vms(warehouse, f.vms)
    store_bill(warehouse, f.bill, "d1")
    summary = ReconcileService(warehouse).run("2026-03", NOW)
    rows = sorted(
        stored(warehouse, summary.run_id),
        key=lambda r: (r["kind"], r["day"], r["provider"], r["resource_id"]),
    )
    csv_key, xlsx_key = summary.findings_keys
    assert csv_key == f"reports/reconciliation/2026-03/{summary.run_id}.csv"

    table = list(csv.reader(io.StringIO(warehouse.get_bytes(csv_key).decode("utf-8"))))
    assert table[0] == [h for _, h, _ in COLUMNS]
    body = sorted(table[1:], key=lambda r: (r[16], r[0], r[1], r[3]))
    assert len(body) == len(rows)
    for line, row in zip(body, rows, strict=True):
        cells = dict(zip([c for c, _, _ in COLUMNS], line, strict=True))
        assert cells["day"] == row["day"].isoformat()
        assert cells["verdict"] == row["verdict"] and cells["resource_id"] == row["resource_id"]
        for name in ("billed_hours", "measured_hours", "cpu_hours"):
            assert cells[name] == ("" if row[name] is None else f"{row[name]:.4f}")
        for name in ("cost", "effective_cost", "flagged_cost"):
            assert (Decimal(cells[name]) if cells[name] else None) == row[name]
        assert cells["currency"] == (row["currency"] or "")

    book = openpyxl.load_workbook(io.BytesIO(warehouse.get_bytes(xlsx_key)))
    assert book.sheetnames == ["Findings", "Instance days", "Invoices", "Summary"]
    findings = list(book["Findings"].iter_rows(values_only=True))
    assert list(findings[0]) == [h for _, h, _ in COLUMNS]
    assert len(findings) == 2
    idle = dict(zip([c for c, _, _ in COLUMNS], findings[1], strict=True))
    assert idle["verdict"] == "idle" and idle["instance_id"] == "5e0c9c1a-guid"
    assert idle["day"] == datetime(2026, 3, 3)  # a real date cell
    assert idle["billed_hours"] == pytest.approx(24.0) and idle["measured_hours"] == pytest.approx(24.0)
    typed = {c: cell for (c, _, _), cell in zip(COLUMNS, book["Findings"][2], strict=True)}
    assert (typed["measured_hours"].data_type, typed["measured_hours"].number_format) == ("n", "0.00")
    assert (typed["cost"].data_type, typed["cost"].number_format) == ("n", "#,##0.00##")
    assert typed["day"].is_date and typed["detail"].data_type == "s"
    assert idle["cpu_hours"] == pytest.approx(24 * 2 * 0.01)
    assert idle["vcpus"] == 2 and idle["cost"] == pytest.approx(4.8) and idle["currency"] == "EUR"
    instance_sheet = list(book["Instance days"].iter_rows(min_row=2, values_only=True))
    assert len(instance_sheet) == 16
    invoices = {(r[3], r[13]): r for r in book["Invoices"].iter_rows(min_row=2, values_only=True)}
    expected = sum((b["billed_cost"] for b in f.bill if b["invoice_id"] == "AZ-1"), Decimal(0))
    assert invoices[("AZ-1", "EUR")][10] == pytest.approx(float(expected))
    summary_sheet = {r[0]: r[1] for r in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary_sheet == {"idle": 1, "ok": 15}


def test_nothing_is_judged_before_the_settle_time(warehouse: FsWarehouse) -> None:
    f = fleet()
    store_vms(warehouse, f.vms)
    store_bill(warehouse, f.bill, "d1")
    summary = ReconcileService(warehouse).run("2026-03", datetime(2026, 3, 2, 23, tzinfo=UTC))
    assert summary.run_id == "" and summary.keys == [] and warehouse.list_keys("reconciliation") == []
    early = ReconcileService(warehouse).run("2026-03", datetime(2026, 3, 4, 1, tzinfo=UTC))
    assert early.last_day == date(2026, 3, 1) and early.instance_days == 4


def test_periods_due() -> None:
    config = ReconcileConfig()
    assert periods_to_run(NOW, config, 10) == ["2026-02", "2026-03"]
    assert periods_to_run(datetime(2026, 3, 20, tzinfo=UTC), config, 10) == ["2026-03"]
    assert periods_to_run(datetime(2026, 1, 2, tzinfo=UTC), config, 10) == ["2025-12"]
    assert shift_period("2026-01", -1) == "2025-12" and shift_period("2025-12", 1) == "2026-01"


def test_cli_prints_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    warehouse = open_warehouse(Settings(mode="local", home=home))
    f = fleet()
    plant_idle(f)
    store_vms(warehouse, f.vms)
    store_bill(warehouse, f.bill, "d1")
    monkeypatch.setenv("TALLY_HOME", str(home))
    monkeypatch.setenv("TALLY_MODE", "local")
    monkeypatch.delenv("TALLY_FINANCE_TOPIC_ARN", raising=False)
    args = ["reconcile", "--period", "2026-03", "--now", "2026-03-07T06:00:00Z"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "16 instance-days" in result.output
    assert re.search(r"idle\s+│\s+1\b", result.output) and re.search(r"ok\s+│\s+15\b", result.output)
    assert "5e0c9c1a-guid" in result.output or "Microsoft.Compute/virtualMachines/Web-1" in result.output
    as_json = CliRunner().invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["verdicts"] == {"ok": 15, "idle": 1}
    assert [
        (r["kind"], r["instance_id"] or r["resource_id"], r["day"], r["verdict"]) for r in data["findings"]
    ] == [
        ("instance_day", "5e0c9c1a-guid", "2026-03-03", "idle"),
        ("invoice", "AZ-1", "2026-03-01", "needs_review"),  # the idle day is billed on it
    ]
    assert data["invoices"] == {"ok": 1, "needs_review": 1}
    bad = CliRunner().invoke(app, ["reconcile", "--period", "2026-13"])
    assert bad.exit_code == 1


def test_a_restatement_in_flight_counts_once(warehouse: FsWarehouse) -> None:
    """Old and new delivery side by side (the writer deletes the old last): the manifest decides."""
    f = fleet(days=MARCH[:1])
    store_vms(warehouse, f.vms)
    aws = [b for b in f.bill if b["provider"] == "aws"]
    folder = "billing/provider=aws/billing_period=2026-03"
    old_key, new_key = f"{folder}/old-0123456789ab.parquet", f"{folder}/new-0123456789ab.parquet"
    warehouse.write_parquet(old_key, billing_table(aws))
    warehouse.write_parquet(new_key, billing_table(aws))
    store_bill(warehouse, [b for b in f.bill if b["provider"] == "azure"], "az")
    doubled = ReconcileService(warehouse).run("2026-03", NOW)
    assert doubled.counts == {"ok": 2, "over_billed": 2}  # without a manifest both files count
    manifest = {"provider": "aws", "billing_period": "2026-03", "keys": [new_key]}
    warehouse.put_bytes(
        "billing/_manifests/provider=aws/billing_period=2026-03/0123456789ab.json",
        json.dumps(manifest).encode(),
    )
    once = ReconcileService(warehouse).run("2026-03", NOW)
    assert once.counts == {"ok": 4}
    assert ReconcileService(warehouse).billing_keys("2026-03") == sorted(
        [new_key, *(k for k in warehouse.list_keys("billing/provider=azure") if k.endswith(".parquet"))]
    )
