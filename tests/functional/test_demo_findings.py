"""The demo's cloud month: the verifier finds exactly the discrepancies planted in the demo bills."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.dataset as ds

from tally.demo.loader import load_demo
from tally.services.container import Services
from tests.support.deployments import local_settings

NOW = datetime(2026, 11, 22, 10, tzinfo=UTC)  # the demo's cloud month is then October 2026


def test_planted_discrepancies_are_found_and_nothing_else(tmp_path: Path) -> None:
    svc = Services(local_settings(tmp_path / "home"))
    load_demo(svc, jobs=300, now=NOW)
    table = ds.dataset(str(svc.settings.local_warehouse / "reconciliation"), format="parquet").to_table()
    days = [r for r in table.to_pylist() if r["kind"] != "invoice"]
    findings = {
        (str(r["resource_id"]).rsplit("/", 1)[-1], r["day"], r["verdict"])
        for r in days
        if r["verdict"] != "ok"
    }
    october = [date(2026, 10, d) for d in range(1, 32)]
    expected = {
        # a VM that is nobody's, billed on days 5-9 (0-based) of the month
        *{("i-0deadbeef0000999", october[d], "billed_not_measured") for d in range(5, 10)},
        # billed two days after it stopped (ran days 3-16)
        *{("i-0a1b2c3d4e5f60004", october[d], "billed_not_measured") for d in (17, 18)},
        ("i-0a1b2c3d4e5f60002", october[10], "over_billed"),
        ("i-0a1b2c3d4e5f60001", october[12], "rate_anomaly"),
        # an instance kept running at 2 % CPU all month
        *{("i-0a1b2c3d4e5f60003", day, "idle") for day in october},
        *{("tally-burst-vm03", october[d], "billed_not_measured") for d in (20, 21)},
    }
    assert findings == expected
    # Every other instance-day that was billed and measured is ok: 4 AWS VMs (one ran 14 days)
    # and 3 Azure VMs (one ran 20 days).
    ok = Counter(r["provider"] for r in days if r["verdict"] == "ok")
    assert ok == {"aws": 31 + 31 - 1 - 1 + 14, "azure": 31 + 31 + 20}
    invoices = {r["currency"]: r["verdict"] for r in table.to_pylist() if r["kind"] == "invoice"}
    assert invoices == {"USD": "needs_review", "EUR": "needs_review"}
