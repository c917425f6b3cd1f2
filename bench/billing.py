"""Benchmark: import a generated one-million-row legacy AWS CUR CSV and a FOCUS 1.2 CSV.

Each import runs as a whole process, as an operator runs it: `tally billing import FILE` into a
throw-away TALLY_HOME (read, convert, check, write Parquet, manifests). Rows per second are
source rows over the process's wall time; memory is the process's peak RSS (from wait4). With
`--peer`, the FinOps Foundation's focus-converter 1.0.0 converts the same CUR the same way
(CSV in, Parquet out), installed on first use into its own venv under /tmp (it needs
`multimethod<1.11` and `click<8.2` to start, reads CUR columns by their Athena names only, and
needs six columns Tally does not: bill/InvoicingEntity, lineItem/LegalEntity, pricing/RateCode,
pricing/RateId, reservation/TotalReservedUnits, product/regionCode, which the generator writes).
Both then import the same Athena-named copy of the CUR, as Parquet with typed timestamps and
amounts (focus-converter reads CSV timestamps as text and cannot convert them).
focus-converter runs without validation, Tally with all of its rule checks.

    .venv/bin/python bench/billing.py [--rows 1000000] [--focus-rows 1000000] [--peer]
    .venv/bin/python bench/billing.py --reconcile-scaling 200,600,2000   # verifier: time, VmHWM, fit
    .venv/bin/python bench/billing.py --reconcile-scaling 200,2000,20000 --reconcile-days 3
    .venv/bin/python bench/billing.py --reconcile-check 1000000          # streamed == whole period

The scaling curve's month is generated and written a day at a time (the writer holds one day of
the fleet: about 1.6 GB at 20,000 VMs, where the whole month would need about 23 GB). At 30 days
the 20,000-VM run takes about an hour on two shared cores: `--reconcile-days` shortens the month.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HOUR_US = 3_600_000_000


def _ints(n: int, modulo: int) -> pa.Array:
    return pa.array(np.arange(n, dtype=np.int64) % modulo)


def _text(prefix: str, values: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(prefix, values.cast(pa.string()), "")


def _hours(n: int, spread: int) -> tuple[pa.Array, pa.Array]:
    base = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp() * 1_000_000)
    start = pc.add(pc.multiply(_ints(n, spread), HOUR_US), base).cast(pa.timestamp("us", tz="UTC"))
    end = pc.add(start.cast(pa.int64()), HOUR_US).cast(pa.timestamp("us", tz="UTC"))
    return start, end


def make_cur(path: Path, n: int, *, athena_names: bool = False) -> None:
    start, end = _hours(n, 24 * 31)
    vm = _ints(n, 2000)
    kinds = pa.array(["Usage", "Usage", "Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "Tax"])
    kind = pc.take(kinds, _ints(n, len(kinds)))
    cost = pc.binary_join_element_wise("0.", _text("", pc.add(_ints(n, 9973), 1000)), "")
    columns = {
        "identity/LineItemId": _text("li-", pa.array(range(n), pa.int64())),
        "identity/TimeInterval": pc.binary_join_element_wise(
            pc.strftime(start, format="%Y-%m-%dT%H:%M:%SZ"),
            pc.strftime(end, format="%Y-%m-%dT%H:%M:%SZ"),
            "/",
        ),
        "bill/InvoiceId": pa.repeat(pa.scalar("EUINGB25-0001"), n),
        "bill/BillingEntity": pa.repeat(pa.scalar("AWS"), n),
        "bill/BillType": pa.repeat(pa.scalar("Anniversary"), n),
        "bill/PayerAccountId": pa.repeat(pa.scalar("012345678901"), n),
        "bill/BillingPeriodStartDate": pa.repeat(pa.scalar("2025-03-01T00:00:00Z"), n),
        "bill/BillingPeriodEndDate": pa.repeat(pa.scalar("2025-04-01T00:00:00Z"), n),
        "lineItem/UsageAccountId": _text("2100000000", _ints(n, 7)),
        "lineItem/LineItemType": kind,
        "lineItem/UsageStartDate": pc.strftime(start, format="%Y-%m-%dT%H:%M:%SZ"),
        "lineItem/UsageEndDate": pc.strftime(end, format="%Y-%m-%dT%H:%M:%SZ"),
        "lineItem/ProductCode": pa.repeat(pa.scalar("AmazonEC2"), n),
        "lineItem/UsageType": pa.repeat(pa.scalar("EUW1-BoxUsage:c6i.2xlarge"), n),
        "lineItem/Operation": pa.repeat(pa.scalar("RunInstances"), n),
        "lineItem/AvailabilityZone": pa.repeat(pa.scalar("eu-west-1a"), n),
        "lineItem/ResourceId": _text("i-0abc", vm),
        "lineItem/UsageAmount": pa.repeat(pa.scalar("1"), n),
        "lineItem/CurrencyCode": pa.repeat(pa.scalar("USD"), n),
        "lineItem/UnblendedRate": cost,
        "lineItem/UnblendedCost": cost,
        "lineItem/BlendedCost": cost,
        "lineItem/LineItemDescription": pa.repeat(
            pa.scalar("$0.384 per On Demand Linux c6i.2xlarge Instance Hour"), n
        ),
        "product/ProductName": pa.repeat(pa.scalar("Amazon Elastic Compute Cloud"), n),
        "product/instanceType": pa.repeat(pa.scalar("c6i.2xlarge"), n),
        "product/region": pa.repeat(pa.scalar("eu-west-1"), n),
        "product/sku": pa.repeat(pa.scalar("ABCDEFGHJK"), n),
        "product/tenancy": pa.repeat(pa.scalar("Shared"), n),
        "pricing/publicOnDemandCost": cost,
        "pricing/publicOnDemandRate": cost,
        "pricing/term": pa.repeat(pa.scalar("OnDemand"), n),
        "pricing/unit": pa.repeat(pa.scalar("Hrs"), n),
        "reservation/EffectiveCost": cost,
        "reservation/ReservationARN": pa.repeat(
            pa.scalar("arn:aws:ec2:eu-west-1:012345678901:reserved-instances/r1"), n
        ),
        "savingsPlan/SavingsPlanEffectiveCost": cost,
        "savingsPlan/SavingsPlanARN": pa.repeat(
            pa.scalar("arn:aws:savingsplans::012345678901:savingsplan/sp1"), n
        ),
        "resourceTags/user:project": _text("project-", _ints(n, 40)),
        "resourceTags/user:owner": _text("owner-", _ints(n, 300)),
        # Read by focus-converter (the --peer baseline, which reads the Athena-named CUR only).
        "bill/InvoicingEntity": pa.repeat(pa.scalar("Amazon Web Services EMEA SARL"), n),
        "lineItem/LegalEntity": pa.repeat(pa.scalar("Amazon Web Services EMEA SARL"), n),
        "pricing/RateCode": pa.repeat(pa.scalar("ABCDEFGHJK.JRTCKXETXF.6YS6EN2CT7"), n),
        "pricing/RateId": pa.repeat(pa.scalar("123456789"), n),
        "reservation/TotalReservedUnits": pa.repeat(pa.scalar(""), n),
        "product/regionCode": pa.repeat(pa.scalar("eu-west-1"), n),
    }
    table = pa.table(columns)
    if not athena_names:
        pacsv.write_csv(table, path)
        return
    # As an Athena-integrated CUR delivers it: Parquet, timestamps and amounts typed.
    typed: dict[str, pa.Array] = {}
    for name, values in columns.items():
        column = athena_name(name)
        if column.endswith(("_start_date", "_end_date")):
            typed[column] = values.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("ms"))
        elif name in _CUR_NUMBERS:
            typed[column] = pc.cast(values, pa.float64())
        else:
            typed[column] = values
    pq.write_table(pa.table(typed), path)


_CUR_NUMBERS = frozenset(
    {
        "lineItem/UsageAmount",
        "lineItem/UnblendedRate",
        "lineItem/UnblendedCost",
        "lineItem/BlendedCost",
        "pricing/publicOnDemandCost",
        "pricing/publicOnDemandRate",
        "reservation/EffectiveCost",
        "savingsPlan/SavingsPlanEffectiveCost",
    }
)


def athena_name(column: str) -> str:
    """`lineItem/UsageStartDate` -> `line_item_usage_start_date` (CUR as Athena and CUR 2.0 name it)."""
    parts = [re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", part).lower() for part in column.split("/")]
    return re.sub(r"[^a-z0-9]+", "_", "_".join(parts))


def make_focus(path: Path, n: int) -> None:
    start, end = _hours(n, 24 * 30)
    cost = pc.binary_join_element_wise("1.", _text("", pc.add(_ints(n, 9973), 1000)), "")
    columns = {
        "BillingAccountId": pa.repeat(pa.scalar("ba-1"), n),
        "BillingAccountName": pa.repeat(pa.scalar("Research"), n),
        "BillingCurrency": pa.repeat(pa.scalar("EUR"), n),
        "BillingPeriodStart": pa.repeat(pa.scalar("2025-03-01T00:00:00Z"), n),
        "BillingPeriodEnd": pa.repeat(pa.scalar("2025-04-01T00:00:00Z"), n),
        "ChargePeriodStart": pc.strftime(start, format="%Y-%m-%dT%H:%M:%SZ"),
        "ChargePeriodEnd": pc.strftime(end, format="%Y-%m-%dT%H:%M:%SZ"),
        "ChargeCategory": pa.repeat(pa.scalar("Usage"), n),
        "ChargeClass": pa.nulls(n, pa.string()),
        "ChargeDescription": pa.repeat(pa.scalar("VM hour"), n),
        "ChargeFrequency": pa.repeat(pa.scalar("Usage-Based"), n),
        "PricingCategory": pa.repeat(pa.scalar("Standard"), n),
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "ListUnitPrice": cost,
        "ContractedUnitPrice": cost,
        "PricingQuantity": pa.repeat(pa.scalar("1"), n),
        "PricingUnit": pa.repeat(pa.scalar("Hours"), n),
        "ConsumedQuantity": pa.repeat(pa.scalar("1"), n),
        "ConsumedUnit": pa.repeat(pa.scalar("Hours"), n),
        "ProviderName": pa.repeat(pa.scalar("OpenStack Cloud"), n),
        "PublisherName": pa.repeat(pa.scalar("OpenStack Cloud"), n),
        "InvoiceIssuerName": pa.repeat(pa.scalar("OpenStack Cloud"), n),
        "InvoiceId": pa.repeat(pa.scalar("INV-1"), n),
        "ResourceId": _text("vm-", _ints(n, 2000)),
        "RegionId": pa.repeat(pa.scalar("region-1"), n),
        "ServiceName": pa.repeat(pa.scalar("Compute"), n),
        "ServiceCategory": pa.repeat(pa.scalar("Compute"), n),
        "SkuId": pa.repeat(pa.scalar("m1.large"), n),
        "Tags": pc.binary_join_element_wise('{"project": "p', _ints(n, 40).cast(pa.string()), '"}', ""),
    }
    pacsv.write_csv(pa.table(columns), path)


PEER_VENV = Path(os.environ.get("TALLY_BENCH_PEER_VENV", "/tmp/tally-bench-focus-converter"))
PEER_REQUIREMENTS = ("focus-converter==1.0.0", "multimethod<1.11", "click<8.2")


@dataclass(frozen=True)
class Run:
    label: str
    rows: int
    seconds: float
    peak_mib: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def measure(label: str, command: list[str], rows: int, env: dict[str, str] | None = None) -> Run:
    """Run `command` to completion; wall time and the child's peak RSS (ru_maxrss of wait4)."""
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - t0
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            log.seek(0)
            raise SystemExit(f"{label} failed ({status}):\n{log.read().decode(errors='replace')[-2000:]}")
    run = Run(label, rows, elapsed, usage.ru_maxrss / 1024)
    print(
        f"{label:26} {rows:>9,} rows in {elapsed:7.2f} s = {run.rows_per_second:>9,.0f} rows/s; "
        f"peak RSS {run.peak_mib:,.0f} MiB"
    )
    return run


def run_tally(path: Path, label: str, rows: int) -> Run:
    tally = Path(sys.executable).with_name("tally")
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "TALLY_HOME": home, "TALLY_MODE": "local"}
        return measure(label, [str(tally), "billing", "import", str(path)], rows, env)


def peer_python() -> Path:
    """focus-converter's interpreter, installed into PEER_VENV on first use."""
    python = PEER_VENV / "bin" / "python"
    if not (PEER_VENV / "bin" / "focus-converter").exists():
        print(f"installing {', '.join(PEER_REQUIREMENTS)} into {PEER_VENV} ...")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS], check=True)
    return python


def run_peer(path: Path, rows: int) -> Run:
    peer_python()
    with tempfile.TemporaryDirectory() as out:
        command = [
            str(PEER_VENV / "bin" / "focus-converter"),
            "convert",
            "--provider",
            "aws",
            "--data-format",
            "parquet",
            "--parquet-data-format",
            "file",
            "--data-path",
            str(path),
            "--export-path",
            out,
            "--export-format",
            "parquet",
        ]
        return measure("focus-converter 1.0.0", command, rows)


# -- reconcile: a month of 2,000 VMs sampled every 15 minutes ----------------------------------


def make_reconcile_month(n_vms: int, days: int) -> tuple[pa.Table, pa.Table]:
    """Hourly bill lines and 15-minute agent samples for `n_vms` VMs over `days` days of March 2025,
    whole (the day pieces of `reconcile_days` put together)."""
    pieces = list(reconcile_days(n_vms, days))
    return (
        pa.concat_tables([bills for bills, _ in pieces]),
        pa.concat_tables([samples for _, samples in pieces]),
    )


def reconcile_days(n_vms: int, days: int) -> Iterator[tuple[pa.Table, pa.Table]]:
    """The month of `make_reconcile_month` one day at a time (bill lines, samples), so a writer
    holds one day of a 20,000-VM fleet (480,000 lines, 1.9M samples), not the month.

    Planted: every 100th VM's agent is silent on day 3, every 250th VM is billed double on day 5.
    """
    rows_before = 0
    for day in range(days):
        bills = _reconcile_bills(n_vms, days, day, rows_before)
        rows_before += bills.num_rows
        yield bills, _reconcile_samples(n_vms, day)


def _reconcile_bills(n_vms: int, days: int, day: int, rows_before: int) -> pa.Table:
    from decimal import Decimal

    from tally.billing.focus_schema import BILLING_SCHEMA, MONEY

    base = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp() * 1_000_000)
    utc = pa.timestamp("us", tz="UTC")
    vm = np.repeat(np.arange(n_vms, dtype=np.int64), 24)
    hour = day * 24 + np.tile(np.arange(24, dtype=np.int64), n_vms)
    doubled = (vm % 250 == 0) & (hour // 24 == 4)
    vm = np.concatenate([vm, vm[doubled]])
    hour = np.concatenate([hour, hour[doubled]])
    n = len(vm)
    start = pa.array(base + hour * HOUR_US).cast(utc)
    end = pa.array(base + (hour + 1) * HOUR_US).cast(utc)
    ids = _text("i-0bench", pa.array(vm))
    money = pa.repeat(pa.scalar(Decimal("0.384"), MONEY), n)
    one = pa.repeat(pa.scalar(Decimal(1), MONEY), n)
    values: dict[str, pa.Array] = {
        "billing_period_start": pa.repeat(pa.scalar(base, pa.int64()), n).cast(utc),
        "billing_period_end": pa.repeat(pa.scalar(base + 31 * 24 * HOUR_US, pa.int64()), n).cast(utc),
        "charge_period_start": start,
        "charge_period_end": end,
        "billing_account_id": pa.repeat(pa.scalar("012345678901"), n),
        "sub_account_id": pa.repeat(pa.scalar("210000000001"), n),
        "charge_category": pa.repeat(pa.scalar("Usage"), n),
        "billing_currency": pa.repeat(pa.scalar("USD"), n),
        "consumed_unit": pa.repeat(pa.scalar("Hrs"), n),
        "pricing_unit": pa.repeat(pa.scalar("Hrs"), n),
        "resource_id": pc.binary_join_element_wise("arn:aws:ec2:eu-west-1:210000000001:instance/", ids, ""),
        "provider_name": pa.repeat(pa.scalar("AWS"), n),
        "invoice_id": pa.repeat(pa.scalar("EUINGB25-0001"), n),
        "billed_cost": money,
        "effective_cost": money,
        "list_unit_price": money,
        "consumed_quantity": one,
        "pricing_quantity": one,
        "x_usage_type": pa.repeat(pa.scalar("EUW1-BoxUsage:c6i.2xlarge"), n),
        "x_line_item_type": pa.repeat(pa.scalar("Usage"), n),
        "x_purchase_option": pa.repeat(pa.scalar("on_demand"), n),
        "provider": pa.repeat(pa.scalar("aws"), n),
        "source_file": pa.repeat(pa.scalar("bench.csv"), n),
        "source_row": pa.array(np.arange(rows_before + 1, rows_before + n + 1, dtype=np.int64)),
        "source_subrow": pa.repeat(pa.scalar(0, pa.int16()), n),
        "source_format": pa.repeat(pa.scalar("aws-cur"), n),
        "billing_period": pa.repeat(pa.scalar("2025-03"), n),
    }
    return pa.table([values.get(f.name, pa.nulls(n, f.type)) for f in BILLING_SCHEMA], schema=BILLING_SCHEMA)


def _reconcile_samples(n_vms: int, day: int) -> pa.Table:
    from tally.domain.schema import stored_schema

    base = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp() * 1_000_000)
    utc = pa.timestamp("us", tz="UTC")
    slot_us = 15 * 60 * 1_000_000
    svm = np.repeat(np.arange(n_vms, dtype=np.int64), 96)
    slot = day * 96 + np.tile(np.arange(96, dtype=np.int64), n_vms)
    keep = ~((svm % 100 == 0) & (slot // 96 == 2))
    svm, slot = svm[keep], slot[keep]
    m = len(svm)
    schema = stored_schema("vms")
    sample_values: dict[str, pa.Array] = {
        "site": pa.repeat(pa.scalar("aws-cloud"), m),
        "resource": pa.repeat(pa.scalar("aws-vms"), m),
        "provider": pa.repeat(pa.scalar("aws"), m),
        "account": pa.repeat(pa.scalar("210000000001"), m),
        "instance_id": _text("i-0bench", pa.array(svm)),
        "interval_start": pa.array(base + slot * slot_us).cast(utc),
        "interval_end": pa.array(base + (slot + 1) * slot_us).cast(utc),
        "uptime_seconds": pa.array((slot + 1) * 900),
        "cpu_busy_seconds": pa.array(np.full(m, 900.0 * 8 * 0.7)),
        "cpu_idle_seconds": pa.array(np.full(m, 900.0 * 8 * 0.3)),
        "vcpus": pa.repeat(pa.scalar(8, pa.int64()), m),
        "benchmark_type": pa.repeat(pa.scalar("HEPscore23"), m),
        "benchmark_per_core": pa.repeat(pa.scalar(14.2), m),
        "ingested_at": pa.array(base + (slot + 2) * slot_us).cast(utc),
        "batch_id": pa.repeat(pa.scalar("bench"), m),
    }
    return pa.table([sample_values.get(f.name, pa.nulls(m, f.type)) for f in schema], schema=schema)


def bench_reconcile(n_vms: int, days: int) -> None:
    from tally.adapters.warehouse import open_warehouse
    from tally.reconcile import ReconcileConfig, Window, reconcile
    from tally.services.reconcile import ReconcileService
    from tally.settings import Settings

    t0 = time.perf_counter()
    billing, vms = make_reconcile_month(n_vms, days)
    print(
        f"generated {billing.num_rows:,} bill lines and {vms.num_rows:,} samples "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    window = Window.for_period("2025-03", datetime(2025, 3, days, tzinfo=UTC).date())
    judged_at = datetime(2025, 4, 10, tzinfo=UTC)
    t0 = time.perf_counter()
    outcome = reconcile(billing, vms, window, ReconcileConfig(), "bench", judged_at)
    elapsed = time.perf_counter() - t0
    print(
        f"reconcile (domain)     {n_vms:,} VMs x {days} days = {outcome.rows.num_rows:,} instance-days "
        f"in {elapsed:6.2f} s; verdicts {dict(sorted(outcome.counts.items()))}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = open_warehouse(Settings(mode="local", home=Path(tmp)))
        warehouse.write_parquet("billing/provider=aws/billing_period=2025-03/bench.parquet", billing)
        warehouse.write_partitioned("vms", vms, "interval_start", "bench")
        t0 = time.perf_counter()
        summary = ReconcileService(warehouse).run("2025-03", judged_at)
        elapsed = time.perf_counter() - t0
        print(
            f"reconcile (service)    load Parquet, judge, store, CSV+Excel: {elapsed:6.2f} s; "
            f"{summary.instance_days:,} instance-days, {len(summary.findings):,} findings"
        )


# -- reconcile scaling: the service in a process of its own per fleet size ---------------------


def _peak_rss_mib() -> float:
    """This process's resident high-water mark (VmHWM), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _write_reconcile_month(home: str, n_vms: int, days: int) -> None:
    """Write the month a day at a time: the bill lines through one Parquet writer (one file, as a
    delivery is), the samples as each day's partition, so memory follows a day, not the month."""
    from tally.adapters.warehouse import open_warehouse
    from tally.billing.focus_schema import BILLING_SCHEMA
    from tally.settings import Settings

    settings = Settings(mode="local", home=Path(home))
    warehouse = open_warehouse(settings)
    # Written in place under the key the service reads (a local warehouse is a folder).
    bill_path = settings.local_warehouse / "billing/provider=aws/billing_period=2025-03/bench.parquet"
    bill_path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(bill_path, BILLING_SCHEMA) as bills_out:
        for bills, samples in reconcile_days(n_vms, days):
            bills_out.write_table(bills)
            warehouse.write_partitioned("vms", samples, "interval_start", "bench")
    print(f"  wrote {n_vms:,} VMs x {days} days, writer peak RSS {_peak_rss_mib():,.0f} MiB", flush=True)


def _reconcile_service_in_child(
    home: str, chunk_samples: int, queue: mp.Queue[tuple[float, float, int]]
) -> None:
    from tally.adapters.warehouse import open_warehouse
    from tally.services.reconcile import ReconcileService
    from tally.settings import Settings

    warehouse = open_warehouse(Settings(mode="local", home=Path(home)))
    judged_at = datetime(2025, 4, 10, tzinfo=UTC)
    t0 = time.perf_counter()
    summary = ReconcileService(warehouse, chunk_samples=chunk_samples).run("2025-03", judged_at)
    queue.put((time.perf_counter() - t0, _peak_rss_mib(), summary.instance_days))


def reconcile_point(n_vms: int, days: int, chunk_samples: int) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, instance-days) of one service run over Parquet written beforehand."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as home:
        writer = ctx.Process(target=_write_reconcile_month, args=(home, n_vms, days))
        writer.start()
        writer.join()
        if writer.exitcode != 0:
            raise RuntimeError(f"writing the {n_vms}-VM month failed")
        queue: mp.Queue[tuple[float, float, int]] = ctx.Queue()
        child = ctx.Process(target=_reconcile_service_in_child, args=(home, chunk_samples, queue))
        child.start()
        point = queue.get()
        child.join()
        return point


def loglog_exponent(sizes: list[int], values: list[float]) -> float:
    """The slope of log(value) against log(size): 1 is linear growth, below 1 sub-linear."""
    slope, _ = np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(values, float)), 1)
    return float(slope)


def bench_reconcile_scaling(sizes: list[int], days: int, chunk_samples: int) -> None:
    times: list[float] = []
    peaks: list[float] = []
    for n_vms in sizes:
        elapsed, peak, instance_days = reconcile_point(n_vms, days, chunk_samples)
        times.append(elapsed)
        peaks.append(peak)
        print(
            f"reconcile scaling      {n_vms:>7,} VMs x {days} days ({n_vms * days * 96:,} samples): "
            f"{elapsed:7.2f} s, peak RSS {peak:,.0f} MiB, {instance_days:,} instance-days",
            flush=True,
        )
    if len(sizes) > 1:
        print(
            f"reconcile scaling      log-log exponent: time {loglog_exponent(sizes, times):.2f}, "
            f"peak memory {loglog_exponent(sizes, peaks):.2f}"
        )


def _count_reads(warehouse: Any) -> dict[str, int]:
    """Rows read through `warehouse.read_parquet_batches` from then on, bill and samples apart."""
    read = warehouse.read_parquet_batches
    counted = {"billing": 0, "vms": 0}

    def counting(key: str, columns: Sequence[str], batch_rows: int = 262_144) -> Iterator[pa.Table]:
        for table in read(key, columns, batch_rows):
            counted["billing" if key.startswith("billing/") else "vms"] += table.num_rows
            yield table

    warehouse.read_parquet_batches = counting
    return counted


def bench_reconcile_reads(sizes: list[int], days: int, chunk_samples: int) -> None:
    """Why the time grows as it does: the rows the service reads from the period's files at each
    fleet size (the bill and the samples, every pass counted), against the rows stored."""
    from tally.adapters.warehouse import open_warehouse
    from tally.services.reconcile import ReconcileService
    from tally.settings import Settings

    for n_vms in sizes:
        billing, vms = make_reconcile_month(n_vms, days)
        with tempfile.TemporaryDirectory() as tmp:
            warehouse = open_warehouse(Settings(mode="local", home=Path(tmp)))
            warehouse.write_parquet("billing/provider=aws/billing_period=2025-03/bench.parquet", billing)
            warehouse.write_partitioned("vms", vms, "interval_start", "bench")
            counted = _count_reads(warehouse)
            t0 = time.perf_counter()
            judged_at = datetime(2025, 4, 10, tzinfo=UTC)
            ReconcileService(warehouse, chunk_samples=chunk_samples).run("2025-03", judged_at)
            elapsed = time.perf_counter() - t0
        print(
            f"reconcile reads        {n_vms:>6,} VMs, chunks of {chunk_samples:,} samples: "
            f"{counted['vms']:>12,} sample rows read ({counted['vms'] / vms.num_rows:5.1f}x the "
            f"{vms.num_rows:,} stored), {counted['billing']:>10,} bill rows "
            f"({counted['billing'] / billing.num_rows:4.1f}x), {elapsed:6.1f} s",
            flush=True,
        )


def check_reconcile_streamed(n_vms: int, days: int, chunk_samples: int) -> None:
    """The service (streamed, `chunk_samples` per chunk) stores exactly the engine's whole-period rows."""
    from tally.adapters.warehouse import open_warehouse
    from tally.reconcile import RECONCILIATION_SCHEMA, ReconcileConfig, Window, reconcile
    from tally.services.reconcile import ReconcileService
    from tally.settings import Settings

    billing, vms = make_reconcile_month(n_vms, days)
    judged_at = datetime(2025, 4, 10, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = open_warehouse(Settings(mode="local", home=Path(tmp)))
        warehouse.write_parquet("billing/provider=aws/billing_period=2025-03/bench.parquet", billing)
        warehouse.write_partitioned("vms", vms, "interval_start", "bench")
        service = ReconcileService(warehouse, chunk_samples=chunk_samples)
        summary = service.run("2025-03", judged_at)
        keys = sorted(
            k for k in warehouse.list_keys("reconciliation") if k.endswith(f"/{summary.run_id}.parquet")
        )
        stored = pa.concat_tables([warehouse.read_parquet(k) for k in keys])
    window = Window.for_period("2025-03", ReconcileConfig().last_closed_day(judged_at))
    outcome = reconcile(billing, vms, window, ReconcileConfig(), summary.run_id, judged_at)
    whole = pa.concat_tables([outcome.rows, outcome.invoices]).sort_by(
        [("day", "ascending"), ("provider", "ascending"), ("resource_id", "ascending")]
    )
    same = stored.equals(whole.cast(RECONCILIATION_SCHEMA))
    print(
        f"reconcile streamed     {n_vms:,} VMs, chunks of {chunk_samples:,} samples: "
        f"{stored.num_rows:,} rows, "
        f"{'identical to' if same else 'DIFFERENT FROM'} the whole-period engine's"
    )
    if not same:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="legacy CUR rows")
    parser.add_argument("--focus-rows", type=int, default=1_000_000, help="FOCUS rows")
    parser.add_argument("--reconcile-vms", type=int, default=2_000, help="VMs of the reconcile month")
    parser.add_argument("--reconcile-days", type=int, default=30, help="days of the reconcile month")
    parser.add_argument("--reconcile-only", action="store_true", help="run only the reconcile section")
    parser.add_argument("--billing-only", action="store_true", help="skip the reconcile section")
    parser.add_argument(
        "--peer", action="store_true", help=f"also run focus-converter 1.0.0 (installed into {PEER_VENV})"
    )
    parser.add_argument(
        "--reconcile-scaling",
        type=lambda text: [int(v) for v in text.split(",") if v],
        default=None,
        help="fleet sizes of the reconcile scaling curve, e.g. 200,2000,20000 (service run per size)",
    )
    parser.add_argument(
        "--reconcile-check",
        type=int,
        default=None,
        metavar="CHUNK_SAMPLES",
        help="compare the streamed service (chunks of this many samples) with the whole-period engine",
    )
    parser.add_argument(
        "--reconcile-chunk-samples", type=int, default=1_000_000, help="samples per chunk of the service"
    )
    parser.add_argument(
        "--reconcile-reads",
        type=lambda text: [int(v) for v in text.split(",") if v],
        default=None,
        help="fleet sizes at which to count the rows the service reads (with --reconcile-chunk-samples)",
    )
    args = parser.parse_args()
    if args.reconcile_reads:
        bench_reconcile_reads(args.reconcile_reads, args.reconcile_days, args.reconcile_chunk_samples)
        return
    if args.reconcile_check:
        check_reconcile_streamed(args.reconcile_vms, args.reconcile_days, args.reconcile_check)
        return
    if args.reconcile_scaling:
        bench_reconcile_scaling(args.reconcile_scaling, args.reconcile_days, args.reconcile_chunk_samples)
        return
    if args.reconcile_only:
        bench_reconcile(args.reconcile_vms, args.reconcile_days)
        return
    with tempfile.TemporaryDirectory() as tmp:
        cur = Path(tmp) / "cur.csv"
        focus = Path(tmp) / "focus.csv"
        t0 = time.perf_counter()
        make_cur(cur, args.rows)
        if args.focus_rows:
            make_focus(focus, args.focus_rows)
        size = cur.stat().st_size / 1e6
        print(f"generated test files in {time.perf_counter() - t0:.1f} s ({size:,.0f} MB CUR)")
        run_tally(cur, "tally: AWS legacy CUR CSV", args.rows)
        if args.peer:
            athena = Path(tmp) / "cur_athena.parquet"
            make_cur(athena, args.rows, athena_names=True)
            ours = run_tally(athena, "tally: same CUR, Athena Parquet", args.rows)
            peer = run_peer(athena, args.rows)
            print(
                f"tally / focus-converter: {ours.rows_per_second / peer.rows_per_second:.2f}x the rows/s "
                f"at {ours.peak_mib / peer.peak_mib:.2f}x the memory (goal >= 1.5x at <= 0.5x)"
            )
        if args.focus_rows:
            run_tally(focus, "tally: FOCUS 1.2 CSV", args.focus_rows)
    if args.billing_only:
        return
    bench_reconcile(args.reconcile_vms, args.reconcile_days)


if __name__ == "__main__":
    main()
