"""The reconciliation_latest and reconciliation_changes views on DuckDB, values asserted.

The engine runs the real athena_queries (tables/reconciliation.sql, views/reconciliation_*.sql)
over reconciliation files written at the verifier's key layout: hand-written runs whose expected
latest rows and changes are spelled out here, and runs of the real verifier on a restated bill.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tally.adapters.warehouse import FsWarehouse, open_warehouse, partition_key
from tally.domain.ports import Warehouse
from tally.query.duckdb_engine import DuckDbEngine
from tally.query.sql_files import views_in_order
from tally.reconcile import RECONCILIATION_SCHEMA, ReconcileConfig
from tally.services.reconcile import ReconcileService
from tally.settings import Settings
from tests.reconcile.fixtures import at
from tests.reconcile.scenarios import AWS_ARN, MARCH, fleet
from tests.reconcile.warehouse_fixtures import store_bill, store_vms

D = Decimal
AZ_VM = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{}"


@dataclass(frozen=True)
class Verdict:
    """One reconciliation row; the run's id and judged_at are added when the run is stored."""

    kind: str
    provider: str
    account: str | None
    resource_id: str
    day: date
    verdict: str
    billed_hours: float | None = None
    cost: Decimal | None = None
    currency: str | None = None
    instance_id: str | None = None
    detail: str | None = None

    def row(self, run_id: str, period: str, judged_at: datetime) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "kind": self.kind,
            "provider": self.provider,
            "account": self.account,
            "resource_id": self.resource_id,
            "instance_id": self.instance_id,
            "day": self.day,
            "billing_period": period,
            "billed_hours": self.billed_hours,
            "measured_hours": None,
            "cpu_hours": None,
            "vcpus": None,
            "cost": self.cost,
            "effective_cost": self.cost,
            "flagged_cost": None,
            "currency": self.currency,
            "verdict": self.verdict,
            "detail": self.detail,
            "judged_at": judged_at,
        }


@dataclass(frozen=True)
class Run:
    run_id: str
    period: str
    judged_at: datetime
    verdicts: tuple[Verdict, ...]

    def rows(self) -> list[dict[str, Any]]:
        return [v.row(self.run_id, self.period, self.judged_at) for v in self.verdicts]


def store_run(warehouse: Warehouse, run: Run) -> None:
    """As the verifier stores a run: one file per day of its rows, named by the run id."""
    by_day: dict[date, list[dict[str, Any]]] = {}
    for row in run.rows():
        by_day.setdefault(row["day"], []).append(row)
    for day, rows in sorted(by_day.items()):
        key = partition_key("reconciliation", day, f"{run.run_id}.parquet")
        warehouse.write_parquet(key, pa.Table.from_pylist(rows, schema=RECONCILIATION_SCHEMA))


def when(day: int, hour: int = 6, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# -- 2026-03: three runs; the last is a restatement of the second ------------------------------

M1, M2, M3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
AAA_OK_1 = Verdict(
    "instance_day", "aws", "111", AWS_ARN.format("i-0AAA"), M1, "ok", 24.0, D("9.6"), "USD", "i-0aaa"
)
# Before the restatement i-0aaa's 2 March was not billed: judged under the agent's id.
AAA_UNBILLED_2 = Verdict(
    "instance_day", "aws", "111", "i-0aaa", M2, "measured_not_billed", None, None, None, "i-0aaa"
)
AAA_OK_2 = Verdict(
    "instance_day", "aws", "111", AWS_ARN.format("i-0AAA"), M2, "ok", 24.0, D("9.6"), "USD", "i-0aaa"
)
BBB_2 = Verdict("instance_day", "aws", "111", "i-0bbb", M2, "ok", 10.0, D("4.0000000000"), "USD", "i-0bbb")
# Same hours summed in another order: a difference below 1e-6 h is no change.
BBB_2_RESUMMED = replace(BBB_2, billed_hours=10.0 + 1e-9, detail="re-summed")
CCC_2 = Verdict("instance_day", "aws", "111", "i-0ccc", M2, "billed_not_measured", 5.0, D("2"), "USD")
DDD_1 = Verdict("instance_day", "aws", "111", "i-0ddd", M1, "over_billed", 30.0, D("12"), "USD", "i-0ddd")
# An Azure VM the agent knows by its vmId only: matched to the bill by instance_id.
WEB_2_UNBILLED = Verdict(
    "instance_day", "azure", "sub-1", "5e0c-guid", M2, "measured_not_billed", None, None, None, "5e0c-guid"
)
WEB_2_OK = Verdict(
    "instance_day", "azure", "sub-1", AZ_VM.format("Web-1"), M2, "ok", 24.0, D("4.8"), "EUR", "5e0c-guid"
)
WEB_1 = Verdict(
    "instance_day", "azure", "sub-1", AZ_VM.format("Web-1"), M1, "ok", 24.0, D("4.8"), "EUR", "5e0c-guid"
)
INV_AWS_USD = Verdict("invoice", "aws", "payer-111", "INV-1", M1, "needs_review", None, D("100.00"), "USD")
INV_AWS_EUR = Verdict("invoice", "aws", "payer-111", "INV-1", M1, "ok", None, D("7.00"), "EUR")
INV_AZ = Verdict("invoice", "azure", "payer-sub-1", "AZ-1", M1, "ok", None, D("9.6"), "EUR")

EARLY = Run("2026-03-z-early", "2026-03", when(2), (AAA_OK_1, DDD_1, INV_AWS_USD))
# Run ids sort against judged_at here on purpose: judged_at decides, run_id only breaks ties.
PREVIOUS = Run(
    "2026-03-y-previous",
    "2026-03",
    when(4),
    (AAA_OK_1, AAA_UNBILLED_2, BBB_2, CCC_2, WEB_1, WEB_2_UNBILLED, INV_AWS_USD, INV_AWS_EUR, INV_AZ),
)
DDD_ADDED_1 = replace(DDD_1, verdict="ok", billed_hours=24.0, cost=D("9.6"))
EEE_3 = Verdict("instance_day", "aws", "111", "i-0eee", M3, "ok", 24.0, D("9.6"), "USD", "i-0eee")
RESTATED = Run(
    "2026-03-a-restated",
    "2026-03",
    when(5),
    (
        AAA_OK_1,
        AAA_OK_2,
        BBB_2_RESUMMED,
        DDD_ADDED_1,  # new on a day the previous run judged: a change
        EEE_3,  # 3 March was not judged by the previous run: a new day, not a change
        WEB_1,
        WEB_2_OK,
        replace(INV_AWS_USD, verdict="ok", cost=D("109.60")),
        INV_AWS_EUR,
        INV_AZ,
    ),
)

# -- 2026-02: one run. 2026-01: two runs judged at the same instant, with the same verdicts -------

F1 = date(2026, 2, 1)
FEB = Run(
    "2026-02-only",
    "2026-02",
    when(3, month=3),
    (
        Verdict("instance_day", "aws", "111", "i-0aaa", F1, "idle", 24.0, D("9.6"), "USD", "i-0aaa"),
        Verdict("invoice", "aws", "payer-111", "INV-0", F1, "ok", None, D("9.6"), "USD"),
    ),
)
J1 = date(2026, 1, 31)
JAN_VERDICTS = (Verdict("instance_day", "gcp", "p-1", "vm-9", J1, "ok", 24.0, D("1.5"), "USD", "vm-9"),)
JAN_A = Run("2026-01-a", "2026-01", when(1, month=2), JAN_VERDICTS)
JAN_B = Run("2026-01-b", "2026-01", when(1, month=2), JAN_VERDICTS)
RUNS = (EARLY, PREVIOUS, RESTATED, FEB, JAN_A, JAN_B)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DuckDbEngine:
    tmp = Path(tmp_path_factory.mktemp("latest"))
    warehouse = open_warehouse(Settings(mode="local", home=tmp / "home"))
    for run in RUNS:
        store_run(warehouse, run)
    return DuckDbEngine(tmp / "home" / "warehouse")


def test_changes_is_created_after_the_view_it_reads() -> None:
    order = [f.name for f in views_in_order()]
    assert order.index("reconciliation_latest") < order.index("reconciliation_changes")


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["billing_period"],
        row["kind"],
        row["provider"],
        row["resource_id"],
        row["day"],
        row["currency"],
    )


def test_latest_keeps_the_last_run_of_each_period(engine: DuckDbEngine) -> None:
    got = engine.query("SELECT * FROM reconciliation_latest").table.to_pylist()
    # Independently: the latest run of each period, by judged_at, ties broken by the larger run_id.
    expected = RESTATED.rows() + FEB.rows() + JAN_B.rows()
    assert len(got) == len(expected) == 10 + 2 + 1
    assert sorted(got, key=_key) == sorted(
        # Athena timestamps carry no zone (UTC); dt is the partition of the row's day.
        [
            {**row, "judged_at": row["judged_at"].replace(tzinfo=None), "dt": row["day"].isoformat()}
            for row in expected
        ],
        key=_key,
    )
    assert {(r["billing_period"], r["run_id"]) for r in got} == {
        ("2026-03", "2026-03-a-restated"),
        ("2026-02", "2026-02-only"),
        ("2026-01", "2026-01-b"),
    }
    assert engine.query("SELECT count(*) AS n FROM reconciliation").table.column("n")[0].as_py() == sum(
        len(r.verdicts) for r in RUNS
    )


CHANGE_COLUMNS = (
    "billing_period, kind, change, provider, account, instance_key, resource_id, instance_id, day, "
    "previous_run_id, latest_run_id, previous_verdict, latest_verdict, verdict_changed, "
    "previous_billed_hours, latest_billed_hours, billed_hours_changed, previous_cost, latest_cost, "
    "previous_currency, latest_currency, cost_changed, cost_difference"
)


def test_changes_lists_what_the_restatement_changed(engine: DuckDbEngine) -> None:
    got = engine.query(
        f"SELECT {CHANGE_COLUMNS} FROM reconciliation_changes "
        "ORDER BY kind, provider, day, resource_id, latest_currency"
    ).table.to_pylist()
    runs = {"previous_run_id": PREVIOUS.run_id, "latest_run_id": RESTATED.run_id, "billing_period": "2026-03"}
    expected: list[dict[str, Any]] = [
        # i-0aaa, 2 March: billed now, under its ARN; before judged under the agent's id.
        {
            **runs,
            "kind": "instance_day",
            "change": "changed",
            "provider": "aws",
            "account": "111",
            "instance_key": "i-0aaa",
            "resource_id": AWS_ARN.format("i-0AAA"),
            "instance_id": "i-0aaa",
            "day": M2,
            "previous_verdict": "measured_not_billed",
            "latest_verdict": "ok",
            "verdict_changed": True,
            "previous_billed_hours": None,
            "latest_billed_hours": 24.0,
            "billed_hours_changed": True,
            "previous_cost": None,
            "latest_cost": D("9.6"),
            "previous_currency": None,
            "latest_currency": "USD",
            "cost_changed": True,
            "cost_difference": D("9.6"),
        },
        {
            **runs,
            "kind": "instance_day",
            "change": "removed",
            "provider": "aws",
            "account": "111",
            "instance_key": "i-0ccc",
            "resource_id": "i-0ccc",
            "instance_id": None,
            "day": M2,
            "previous_verdict": "billed_not_measured",
            "latest_verdict": None,
            "verdict_changed": False,
            "previous_billed_hours": 5.0,
            "latest_billed_hours": None,
            "billed_hours_changed": False,
            "previous_cost": D("2"),
            "latest_cost": None,
            "previous_currency": "USD",
            "latest_currency": None,
            "cost_changed": False,
            "cost_difference": D("-2"),
        },
        {
            **runs,
            "kind": "instance_day",
            "change": "added",
            "provider": "aws",
            "account": "111",
            "instance_key": "i-0ddd",
            "resource_id": "i-0ddd",
            "instance_id": "i-0ddd",
            "day": M1,
            "previous_verdict": None,
            "latest_verdict": "ok",
            "verdict_changed": False,
            "previous_billed_hours": None,
            "latest_billed_hours": 24.0,
            "billed_hours_changed": False,
            "previous_cost": None,
            "latest_cost": D("9.6"),
            "previous_currency": None,
            "latest_currency": "USD",
            "cost_changed": False,
            "cost_difference": D("9.6"),
        },
        # web-1, 2 March: the agent's vmId before, the bill's VM path now; one row by instance_id.
        {
            **runs,
            "kind": "instance_day",
            "change": "changed",
            "provider": "azure",
            "account": "sub-1",
            "instance_key": "web-1",
            "resource_id": AZ_VM.format("Web-1"),
            "instance_id": "5e0c-guid",
            "day": M2,
            "previous_verdict": "measured_not_billed",
            "latest_verdict": "ok",
            "verdict_changed": True,
            "previous_billed_hours": None,
            "latest_billed_hours": 24.0,
            "billed_hours_changed": True,
            "previous_cost": None,
            "latest_cost": D("4.8"),
            "previous_currency": None,
            "latest_currency": "EUR",
            "cost_changed": True,
            "cost_difference": D("4.8"),
        },
        # INV-1 in USD: the restated total; INV-1 in EUR and AZ-1 are unchanged.
        {
            **runs,
            "kind": "invoice",
            "change": "changed",
            "provider": "aws",
            "account": "payer-111",
            "instance_key": "INV-1",
            "resource_id": "INV-1",
            "instance_id": None,
            "day": M1,
            "previous_verdict": "needs_review",
            "latest_verdict": "ok",
            "verdict_changed": True,
            "previous_billed_hours": None,
            "latest_billed_hours": None,
            "billed_hours_changed": False,
            "previous_cost": D("100.00"),
            "latest_cost": D("109.60"),
            "previous_currency": "USD",
            "latest_currency": "USD",
            "cost_changed": True,
            "cost_difference": D("9.60"),
        },
    ]
    assert got == sorted(expected, key=lambda r: (r["kind"], r["provider"], r["day"], r["resource_id"]))


def test_changes_has_no_rows_for_a_single_run_or_identical_runs(engine: DuckDbEngine) -> None:
    periods = engine.query("SELECT DISTINCT billing_period FROM reconciliation_changes").table
    assert periods.column("billing_period").to_pylist() == ["2026-03"]


def test_changes_of_a_cost_only_restatement(tmp_path: Path) -> None:
    """Same verdict, same hours, a new cost: listed with the cost difference, verdict unchanged."""
    warehouse = open_warehouse(Settings(mode="local", home=tmp_path / "home"))
    store_run(warehouse, Run("r1", "2026-04", when(3, month=5), (replace(BBB_2, day=date(2026, 4, 2)),)))
    store_run(
        warehouse,
        Run("r2", "2026-04", when(4, month=5), (replace(BBB_2, day=date(2026, 4, 2), cost=D("4.25")),)),
    )
    rows = (
        DuckDbEngine(tmp_path / "home" / "warehouse")
        .query(
            "SELECT change, verdict_changed, billed_hours_changed, cost_changed, cost_difference "
            "FROM reconciliation_changes"
        )
        .table.to_pylist()
    )
    assert rows == [
        {
            "change": "changed",
            "verdict_changed": False,
            "billed_hours_changed": False,
            "cost_changed": True,
            "cost_difference": D("0.25"),
        }
    ]


# -- the real verifier on a restated bill ------------------------------------------------------


def test_changes_of_a_restated_bill_judged_by_the_verifier(tmp_path: Path) -> None:
    warehouse: FsWarehouse = open_warehouse(Settings(mode="local", home=tmp_path / "home"))
    f = fleet()
    store_vms(warehouse, f.vms)
    # The not-final delivery lacks i-0aaa's 4 March; the final one (a restatement) has it.
    missing = [
        b
        for b in f.bill
        if b["resource_id"] == AWS_ARN.format("i-0aaa") and b["charge_period_start"] >= at(MARCH[3])
    ]
    partial = [b for b in f.bill if b not in missing]
    keys = store_bill(warehouse, partial, "delivery-not-final")
    service = ReconcileService(warehouse, ReconcileConfig())
    now = datetime(2026, 3, 7, 6, tzinfo=UTC)
    first = service.run("2026-03", now)
    warehouse.delete([k for k in keys if "provider=aws" in k])
    store_bill(warehouse, [b for b in f.bill if b["provider"] == "aws"], "delivery-final")
    final = service.run("2026-03", datetime(2026, 3, 7, 7, tzinfo=UTC))
    assert final.run_id != first.run_id

    engine = DuckDbEngine(tmp_path / "home" / "warehouse")
    latest = engine.query("SELECT DISTINCT run_id FROM reconciliation_latest").table.column("run_id")
    assert latest.to_pylist() == [final.run_id]
    rows = engine.query(
        "SELECT kind, change, provider, instance_key, day, previous_verdict, latest_verdict, "
        "previous_cost, latest_cost, cost_difference, previous_run_id, latest_run_id "
        "FROM reconciliation_changes ORDER BY kind"
    ).table.to_pylist()
    # Independently from the bill lines: the restatement adds i-0aaa's 24 hours of 4 March.
    added = sum((b["billed_cost"] for b in missing), D(0))
    aws_before = sum((b["billed_cost"] for b in partial if b["provider"] == "aws"), D(0))
    assert (len(missing), added) == (24, D("9.6"))
    ids = {"previous_run_id": first.run_id, "latest_run_id": final.run_id}
    assert rows == [
        {
            "kind": "instance_day",
            "change": "changed",
            "provider": "aws",
            "instance_key": "i-0aaa",
            "day": MARCH[3],
            "previous_verdict": "measured_not_billed",
            "latest_verdict": "ok",
            "previous_cost": None,
            "latest_cost": added,
            "cost_difference": added,
            **ids,
        },
        {
            "kind": "invoice",
            "change": "changed",
            "provider": "aws",
            "instance_key": "INV-1",
            "day": MARCH[0],
            "previous_verdict": "ok",
            "latest_verdict": "ok",
            "previous_cost": aws_before,
            "latest_cost": aws_before + added,
            "cost_difference": added,
            **ids,
        },
    ]
