"""The invoice verifier as a service: load a period from the warehouse, judge it, store its findings.

Reads `billing/provider=<p>/billing_period=<YYYY-MM>/*.parquet` (the period and its neighbours,
since a restated or late line may sit in another period's delivery) and `vms/dt=<day>/*.parquet`
(the window and a day either side, for intervals over midnight and skewed clocks). Writes
    reconciliation/dt=<day>/<run-id>.parquet            one row per instance-day (and invoice)
    reports/reconciliation/<period>/<run-id>.csv|.xlsx  the findings, for finance
and publishes to the SNS topic TALLY_FINANCE_TOPIC_ARN when anything needs a look. The inputs are
read in slices and judged in chunks of instances (`tally.reconcile.streamed`), so memory follows
TALLY_RECONCILE_CHUNK_SAMPLES, not the fleet.

The run id is derived from the period, the last judged day and the input files, so a retried run
on the same input writes the same keys instead of adding rows; a new delivery (a restated bill)
gives a new run id. Readers take the latest run of a period.

Configuration (TALLY_*): FINANCE_TOPIC_ARN, SNS_ENDPOINT_URL (tests) and the RECONCILE_* section
(`tally.services.reconcile_settings`); the container (`Services.reconcile`) builds the service.
Finance may put the invoices' own totals at `reference/invoices/<period>.csv` (invoice_id,
currency, total); each is then checked against the lines to the cent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tally.adapters.billing_table import BillingTable, partition_values
from tally.adapters.warehouse import partition_key, partition_runs
from tally.domain.ports import Notifier, Warehouse
from tally.reconcile import RECONCILIATION_SCHEMA, ReconcileConfig, Window
from tally.reconcile.findings import to_csv, to_xlsx, verdict_rows
from tally.reconcile.streamed import DEFAULT_CHUNK_SAMPLES, Batches, reconcile_streamed


@dataclass
class RunSummary:
    period: str
    run_id: str
    first_day: date
    last_day: date
    counts: dict[str, int] = field(default_factory=dict)
    invoice_counts: dict[str, int] = field(default_factory=dict)
    instance_days: int = 0
    unscoped_instances: int = 0
    keys: list[str] = field(default_factory=list)
    findings_keys: list[str] = field(default_factory=list)
    notified: bool = False
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return any(v != "ok" for v in self.counts) or any(v != "ok" for v in self.invoice_counts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "run_id": self.run_id,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "instance_days": self.instance_days,
            "verdicts": self.counts,
            "invoices": self.invoice_counts,
            "unscoped_instances": self.unscoped_instances,
            "reports": self.findings_keys,  # the published name of the field
            "notified": self.notified,
        }


def shift_period(period: str, months: int) -> str:
    year, month = (int(p) for p in period.split("-"))
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def periods_to_run(now: datetime, config: ReconcileConfig, restatement_days: int) -> list[str]:
    """The open billing period of the last closed day, and the one before while it may be restated."""
    last = config.last_closed_day(now)
    current = f"{last.year:04d}-{last.month:02d}"
    periods = [current]
    if last.day <= restatement_days:
        periods.insert(0, shift_period(current, -1))
    return periods


class ReconcileService:
    def __init__(
        self,
        warehouse: Warehouse,
        config: ReconcileConfig | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        chunk_samples: int = DEFAULT_CHUNK_SAMPLES,
        batch_rows: int = 262_144,
    ) -> None:
        if chunk_samples <= 0 or batch_rows <= 0:
            raise ValueError("chunk_samples and batch_rows must be positive")
        self.warehouse = warehouse
        self.billing_table = BillingTable(warehouse)
        self.chunk_samples = chunk_samples
        self.batch_rows = batch_rows
        self.config = config or ReconcileConfig()
        self.notifier = notifier
        self.clock = clock

    # -- loading ---------------------------------------------------------------------------

    def billing_keys(self, period: str) -> list[str]:
        """Data files of the period and its neighbours that the billing table holds as current."""
        periods = {shift_period(period, -1), period, shift_period(period, 1)}
        return self.billing_table.current_keys_of_periods(periods)

    def vms_keys(self, window: Window) -> list[str]:
        keys: list[str] = []
        day = window.first - timedelta(days=1)
        while day <= window.last + timedelta(days=1):
            keys += [
                k for k in self.warehouse.list_keys(f"vms/dt={day.isoformat()}") if k.endswith(".parquet")
            ]
            day += timedelta(days=1)
        return keys

    def _batches(self, keys: list[str], window: Window | None = None) -> Batches:
        """Slices of `keys` in order, with the partition values of their paths as columns; with a
        `window`, bill lines outside it (`_restrict_days`) are dropped."""

        def read(columns: Sequence[str]) -> Iterator[pa.Table]:
            wanted = [*columns, *_RESTRICT_COLUMNS] if window is not None else list(columns)
            for key in keys:
                for table in self.warehouse.read_parquet_batches(key, wanted, self.batch_rows):
                    for name, value in partition_values(key).items():
                        if name not in table.column_names:
                            table = table.append_column(name, pa.array([value] * table.num_rows, pa.string()))
                    if window is not None and table.num_rows:
                        table = _restrict_days(table, window)
                    yield table

        return read

    def expected_totals(self, period: str) -> dict[tuple[str, str], Decimal]:
        key = f"reference/invoices/{period}.csv"
        if not self.warehouse.exists(key):
            return {}
        totals: dict[tuple[str, str], Decimal] = {}
        text = self.warehouse.get_bytes(key).decode("utf-8-sig")
        for row in csv.DictReader(io.StringIO(text)):
            try:
                totals[(row["invoice_id"].strip(), row["currency"].strip().upper())] = Decimal(
                    row["total"].strip()
                )
            except (KeyError, InvalidOperation, AttributeError) as error:
                raise ValueError(f"{key}: each row needs invoice_id, currency and a decimal total") from error
        return totals

    # -- one run -----------------------------------------------------------------------------

    def run(self, period: str, now: datetime | None = None) -> RunSummary:
        now = now or self.clock()
        window = Window.for_period(period, self.config.last_closed_day(now))
        summary = RunSummary(period, "", window.first, window.last)
        if window.empty:
            return summary
        billing_keys = self.billing_keys(period)
        vms_keys = self.vms_keys(window)
        digest = hashlib.sha256(
            "\n".join([period, window.last.isoformat(), *billing_keys, *vms_keys]).encode()
        ).hexdigest()
        run_id = f"{period}-{window.last:%Y%m%d}-{digest[:12]}"
        summary.run_id = run_id
        outcome = reconcile_streamed(
            self._batches(billing_keys, window),
            self._batches(vms_keys),
            window,
            self.config,
            run_id,
            now,
            self.expected_totals(period),
            self.chunk_samples,
        )
        summary.counts = dict(outcome.counts)
        summary.invoice_counts = _count(outcome.invoices.column("verdict").to_pylist())
        summary.instance_days = outcome.rows.num_rows
        summary.unscoped_instances = outcome.unscoped_instances
        summary.keys = self._store(pa.concat_tables([outcome.rows, outcome.invoices]), run_id)
        instance_rows = verdict_rows(outcome.rows)
        invoice_rows = verdict_rows(outcome.invoices)
        base = f"reports/reconciliation/{period}/{run_id}"
        self.warehouse.put_bytes(f"{base}.csv", to_csv(instance_rows + invoice_rows))
        self.warehouse.put_bytes(f"{base}.xlsx", to_xlsx(instance_rows, invoice_rows, summary.counts))
        summary.findings_keys = [f"{base}.csv", f"{base}.xlsx"]
        summary.findings = [r for r in instance_rows + invoice_rows if r["verdict"] != "ok"]
        # At least once, not once per retry: a marker records that this run's message went out.
        marker = f"{base}.notified"
        if summary.needs_attention and self.notifier is not None and not self.warehouse.exists(marker):
            self.notifier(
                f"Tally: cloud bill {period} needs a look",
                {**summary.as_dict(), "notified": True, "findings": summary.findings[:50]},
            )
            self.warehouse.put_bytes(marker, now.isoformat().encode())
            summary.notified = True
        return summary

    def _store(self, rows: pa.Table, run_id: str) -> list[str]:
        keys: list[str] = []
        if rows.num_rows == 0:
            return keys
        for (day,), part in partition_runs(rows, ["day"], ["provider", "resource_id"]):
            key = partition_key("reconciliation", day, f"{run_id}.parquet")
            self.warehouse.write_parquet(key, part.cast(RECONCILIATION_SCHEMA))
            keys.append(key)
        return keys

    def run_due(self, now: datetime | None = None, restatement_days: int = 10) -> list[RunSummary]:
        now = now or self.clock()
        return [self.run(p, now) for p in periods_to_run(now, self.config, restatement_days)]


_RESTRICT_COLUMNS = ("charge_period_start", "charge_period_end", "billing_period")


def _restrict_days(billing: pa.Table, window: Window) -> pa.Table:
    """Lines touching the window, and every line of the window's billing period (invoice totals)."""
    lo = datetime(window.first.year, window.first.month, window.first.day, tzinfo=UTC)
    hi = datetime(window.last.year, window.last.month, window.last.day, tzinfo=UTC) + timedelta(days=1)
    starts = billing.column("charge_period_start")
    ends = billing.column("charge_period_end")
    touching = pc.and_(
        pc.less(starts, pa.scalar(hi, starts.type)), pc.greater(ends, pa.scalar(lo, ends.type))
    )
    same_period = pc.equal(billing.column("billing_period"), window.period)
    return billing.filter(pc.fill_null(pc.or_(touching, same_period), False))


def _count(values: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts
