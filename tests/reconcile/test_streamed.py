"""The verifier streamed in chunks writes exactly what the whole period in memory gives.

The oracle is the engine's `reconcile` over the whole period, loaded as the service loaded it
before it streamed (every file read whole, concatenated, restricted to the window). The streamed
service runs with one instance per chunk and slices of a few rows, with a middle chunk size, and
with one chunk; the stored reconciliation rows and the CSV report must match, value for value.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tally.adapters.billing_table import partition_values
from tally.adapters.warehouse import FsWarehouse, open_warehouse
from tally.reconcile import RECONCILIATION_SCHEMA, ReconcileConfig, Window, reconcile
from tally.reconcile.streamed import fleet, plan_chunks
from tally.services.reconcile import ReconcileService, _restrict_days
from tally.settings import Settings
from tests.reconcile.fixtures import at, hourly, line, samples
from tests.reconcile.scenarios import AWS_ARN, MARCH, SCENARIOS, plant_idle
from tests.reconcile.scenarios import Fleet as ScenarioFleet
from tests.reconcile.scenarios import fleet as scenario_fleet
from tests.reconcile.warehouse_fixtures import store_bill, store_vms

NOW = datetime(2026, 3, 7, 6, tzinfo=UTC)  # days up to 4 March are closed
AZURE_VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{}"
GCP = "//compute.googleapis.com/projects/p/zones/europe-west1-b/instances/{}"


def _random_fleet(seed: int) -> ScenarioFleet:
    """VMs whose sums are not round: odd interval edges, busy fractions, costs, lines over midnight,
    copies ingested twice, GCP per-vCPU lines, a VM named in the bill by its VM name."""
    rng = random.Random(seed)
    f = ScenarioFleet()
    for n in range(12):
        provider = ("aws", "gcp", "azure")[n % 3]
        name = f"vm-{n:02d}"
        resource = {"aws": AWS_ARN.format(f"i-0r{n:02d}"), "gcp": GCP.format(name), "azure": None}[provider]
        instance = {"aws": f"i-0r{n:02d}", "gcp": name, "azure": f"guid-{n}"}[provider]
        for day in MARCH:
            start = at(day, rng.uniform(0, 3))
            end = at(day, rng.uniform(18, 27))
            f.vms += samples(
                provider=provider,
                account="111",
                instance_id=instance,
                vm_name=name if provider == "azure" else None,
                start=start,
                end=end,
                vcpus=rng.choice((2, 4, 8)),
                busy_fraction=rng.uniform(0.01, 0.9),
            )
            if rng.random() < 0.3:  # a second delivery of the same samples
                f.vms += [
                    {**v, "ingested_at": v["ingested_at"] + timedelta(hours=2), "batch_id": "b2"}
                    for v in samples(
                        provider=provider, account="111", instance_id=instance, start=start, end=end
                    )
                ]
            hours = (end - start).total_seconds() / 3600 * rng.uniform(0.9, 1.15)
            rate = Decimal(f"{rng.uniform(0.05, 0.9):.6f}")
            f.bill.append(
                line(
                    provider=provider,
                    account="111",
                    resource_id=resource or AZURE_VM.format(name),
                    start=start,
                    end=end,
                    cost=str((rate * Decimal(f"{hours:.6f}")).quantize(Decimal("0.000001"))),
                    hours=f"{hours:.6f}",
                    unit="Hours",
                    list_price=str(rate),
                    currency="EUR" if provider == "azure" else "USD",
                    invoice=f"INV-{provider}",
                    description="Core running in Belgium" if provider == "gcp" else None,
                )
            )
    return f


def _everything() -> ScenarioFleet:
    f = scenario_fleet()
    for plant, _ in SCENARIOS.values():
        plant(f)
    plant_idle(f)
    extra = _random_fleet(17)
    f.bill += extra.bill
    f.vms += extra.vms
    # A line over the period's end, and one billed twice in another delivery currency.
    f.bill += hourly(
        provider="aws",
        account="111",
        resource_id="i-0aaa",
        first=at(date(2026, 3, 4), 23.5),
        hours=2,
        rate="0.4000",
        usage_type="EUW1-BoxUsage:m5.xlarge",
    )
    return f


def _whole_period(warehouse: FsWarehouse, service: ReconcileService, period: str) -> pa.Table:
    """The rows the service stored before streaming: every file read whole, then `reconcile`."""
    window = Window.for_period(period, service.config.last_closed_day(NOW))

    def read(keys: list[str], columns: tuple[str, ...] | None = None) -> pa.Table:
        tables = []
        for key in keys:
            table = warehouse.read_parquet(key)
            for name in ("provider", "billing_period"):
                value = partition_values(key).get(name)
                if value is not None and name not in table.column_names:
                    table = table.append_column(name, pa.array([value] * table.num_rows, pa.string()))
            if columns is not None:
                table = table.select([c for c in columns if c in table.column_names])
            tables.append(table)
        return pa.concat_tables(tables, promote_options="permissive")

    columns = (
        "site",
        "provider",
        "account",
        "instance_id",
        "vm_name",
        "interval_start",
        "interval_end",
        "boot_time",
        "uptime_seconds",
        "cpu_busy_seconds",
        "vcpus",
        "ingested_at",
    )
    billing = _restrict_days(read(service.billing_keys(period)), window)
    vms = read(service.vms_keys(window), columns)
    run_id = service.run(period, NOW).run_id  # the run id is the streamed run's, from the same keys
    outcome = reconcile(billing, vms, window, service.config, run_id, NOW, service.expected_totals(period))
    rows = pa.concat_tables([outcome.rows, outcome.invoices])
    return rows.sort_by([("day", "ascending"), ("provider", "ascending"), ("resource_id", "ascending")])


def _stored(warehouse: FsWarehouse, run_id: str) -> pa.Table:
    keys = sorted(k for k in warehouse.list_keys("reconciliation") if k.endswith(f"/{run_id}.parquet"))
    return pa.concat_tables([warehouse.read_parquet(k) for k in keys])


@pytest.fixture
def warehouse(tmp_path: Path) -> FsWarehouse:
    wh = open_warehouse(Settings(mode="local", home=tmp_path / "home"))
    f = _everything()
    store_vms(wh, f.vms[: len(f.vms) // 2], "batch-1")
    store_vms(wh, f.vms[len(f.vms) // 2 :], "batch-2")
    store_bill(wh, f.bill[::2], "delivery-a")
    store_bill(wh, f.bill[1::2], "delivery-b")
    wh.put_bytes("reference/invoices/2026-03.csv", b"invoice_id,currency,total\nINV-aws,USD,1.00\n")
    return wh


def test_chunks_hold_whole_instances(warehouse: FsWarehouse) -> None:
    service = ReconcileService(warehouse, ReconcileConfig())
    window = Window.for_period("2026-03", service.config.last_closed_day(NOW))
    measured = fleet(service._batches(service.vms_keys(window)))
    samples_stored = sum(warehouse.read_parquet(k).num_rows for k in service.vms_keys(window))
    assert sum(measured.samples) == samples_stored
    assert (
        len(measured.instances) == len(set(measured.identities)) == 4 + 1 + 12
    )  # the scenario fleet, os-1, the random VMs
    assert plan_chunks(measured, 1, 10**6).count == len(measured.instances)
    assert plan_chunks(measured, 10**9, 10**6).count == 1
    # Instances fill chunks in order, none split.
    middle = plan_chunks(measured, 800, 2000)
    assert list(middle.of_instance) == sorted(middle.of_instance)
    assert 1 < middle.count < len(measured.instances)
    # Bill keys: about as many lines per chunk, never more chunks than the instances have.
    assert middle.bill_count == 3
    assert plan_chunks(measured, 1, 10**6).bill_count == len(measured.instances)
    assert plan_chunks(measured, 10**9, 10**6).bill_count == 1


@pytest.mark.parametrize(
    ("chunk_samples", "batch_rows"),
    [
        # One sample per chunk: thousands of chunks, the slowest test of its lane (make test runs it).
        pytest.param(1, 7, marks=pytest.mark.slow),
        (300, 100),
        (10**9, 262_144),
    ],
)
def test_streamed_rows_equal_the_whole_period(
    warehouse: FsWarehouse, chunk_samples: int, batch_rows: int
) -> None:
    oracle = _whole_period(warehouse, ReconcileService(warehouse, ReconcileConfig()), "2026-03")
    service = ReconcileService(
        warehouse, ReconcileConfig(), chunk_samples=chunk_samples, batch_rows=batch_rows
    )
    summary = service.run("2026-03", NOW)
    stored = _stored(warehouse, summary.run_id)
    assert stored.schema.equals(RECONCILIATION_SCHEMA)
    assert stored.num_rows == oracle.num_rows > 60
    assert stored.to_pylist() == oracle.cast(RECONCILIATION_SCHEMA).to_pylist()
    assert stored.equals(oracle.cast(RECONCILIATION_SCHEMA))
    # The data plants every verdict and both invoice findings, so the comparison covers them.
    verdicts = set(pc.unique(stored.column("verdict")).to_pylist())
    assert {"over_billed", "billed_not_measured", "measured_not_billed", "rate_anomaly", "idle"} <= verdicts
    assert {"total_mismatch", "needs_review"} <= verdicts


def test_report_bytes_do_not_depend_on_the_chunk_size(warehouse: FsWarehouse) -> None:
    reports: list[bytes] = []
    for chunk_samples in (1, 10**9):
        summary = ReconcileService(warehouse, ReconcileConfig(), chunk_samples=chunk_samples).run(
            "2026-03", NOW
        )
        reports.append(warehouse.get_bytes(summary.findings_keys[0]))
    assert reports[0] == reports[1]
    assert reports[0].count(b"\r\n") > 60


def test_chunk_size_must_be_positive(warehouse: FsWarehouse) -> None:
    with pytest.raises(ValueError, match="positive"):
        ReconcileService(warehouse, chunk_samples=0)


@pytest.mark.parametrize("chunk_samples", [1, 300, 10**9])
def test_the_period_is_read_twice_whatever_the_number_of_chunks(
    warehouse: FsWarehouse, chunk_samples: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scope and fleet in one pass each, then one pass that sorts rows into the chunks' spill
    files: reading the period again for every chunk made the time quadratic in the fleet."""
    service = ReconcileService(warehouse, ReconcileConfig(), chunk_samples=chunk_samples, batch_rows=50)
    window = Window.for_period("2026-03", service.config.last_closed_day(NOW))
    samples = sum(warehouse.read_parquet(k).num_rows for k in service.vms_keys(window))
    lines = sum(warehouse.read_parquet(k).num_rows for k in service.billing_keys("2026-03"))
    chunks = plan_chunks(fleet(service._batches(service.vms_keys(window))), chunk_samples, lines)
    assert chunks.count == 1 if chunk_samples == 10**9 else chunks.count > 1  # one pass, or many chunks
    read = warehouse.read_parquet_batches
    rows = {"billing": 0, "vms": 0}

    def counting(key: str, columns: Sequence[str], batch_rows: int = 262_144) -> Iterator[pa.Table]:
        for table in read(key, columns, batch_rows):
            rows["billing" if key.startswith("billing/") else "vms"] += table.num_rows
            yield table

    monkeypatch.setattr(warehouse, "read_parquet_batches", counting)
    service.run("2026-03", NOW)
    assert rows["vms"] == 2 * samples
    assert rows["billing"] == 2 * lines
