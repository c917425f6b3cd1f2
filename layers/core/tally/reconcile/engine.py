"""The verifier: billed instance-hours against measured hours, one verdict per instance and day.

Verdicts (first that applies):
- billed_not_measured: billed beyond the tolerance, and the agent measured nothing that day
  (the agent was down, or the VM is not ours: then it is never measured in the window);
- over_billed: billed hours exceed measured hours by more than the tolerance;
- measured_not_billed: measured hours exceed billed hours by more than the tolerance (nothing
  billed at all, or less than ran);
- rate_anomaly: cost per hour off the contracted (else list) price by more than `rate_tolerance`
  for on-demand and dedicated lines; spot, reservation and savings-plan covered usage costing more
  than the list price;
- idle: billed and running, but busy CPU below `idle_cpu_fraction` of the vCPU time;
- ok.

Only instances in scope are judged: a measured VM counts when the bill covers its provider and
account (`sub_account_id` or `billing_account_id`), so VMs of clouds that send no bill (a private
OpenStack) are not reported as unbilled. Money stays decimal and per currency; amounts in two
currencies are never added.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Context, Decimal, localcontext
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tally.reconcile.billed import BilledDay, billed_days
from tally.reconcile.config import ReconcileConfig
from tally.reconcile.ids import measured_instance_key, provider_key, verdict_instance_key
from tally.reconcile.measured import MeasuredDays, MeasuredInstance, empty_measured, measure
from tally.reconcile.schema import RECONCILIATION_SCHEMA, Verdict

EPOCH = date(1970, 1, 1)
_INVOICE_GROUP = ("provider", "billing_account_id", "invoice_id", "billing_currency", "charge_category")
_CENT = Decimal("0.01")
_WIDE = Context(prec=60)


@dataclass(frozen=True)
class Window:
    """The UTC days judged, inclusive, and the billing period they belong to (YYYY-MM)."""

    first: date
    last: date
    period: str

    @classmethod
    def for_period(cls, period: str, last_closed: date | None = None) -> Window:
        first = date.fromisoformat(f"{period}-01")
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        last = following - timedelta(days=1)
        if last_closed is not None:
            last = min(last, last_closed)
        return cls(first, last, period)

    @property
    def empty(self) -> bool:
        return self.last < self.first

    def days(self) -> tuple[int, int]:
        return (self.first - EPOCH).days, (self.last - EPOCH).days


@dataclass
class Outcome:
    rows: pa.Table
    invoices: pa.Table
    unscoped_instances: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def needs_attention(self) -> bool:
        instance = any(v != "ok" for v in self.rows.column("verdict").to_pylist())
        invoice = any(v != "ok" for v in self.invoices.column("verdict").to_pylist())
        return instance or invoice


@dataclass
class _Row:
    provider: str
    account: str | None
    resource_id: str
    instance_id: str | None
    day: date
    billed_hours: float | None
    measured_hours: float | None
    cpu_hours: float | None
    vcpus: int | None
    cost: Decimal | None
    effective_cost: Decimal | None
    currency: str | None
    verdict: Verdict
    detail: str


def bill_scope(billing: pa.Table) -> set[tuple[str, str]]:
    """(provider, account) pairs the bill speaks for, with sub-accounts and billing accounts."""
    scope: set[tuple[str, str]] = set()
    if billing.num_rows == 0:
        return scope
    for column in ("sub_account_id", "billing_account_id"):
        if column not in billing.column_names:
            continue
        pairs = billing.select(["provider", column]).group_by(["provider", column]).aggregate([])
        for provider, account in zip(
            pairs.column("provider").to_pylist(), pairs.column(column).to_pylist(), strict=True
        ):
            if account:
                scope.add((provider_key(provider), str(account)))
    return scope


def _aliases(instances: list[MeasuredInstance]) -> dict[tuple[str, str], list[int]]:
    aliases: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, inst in enumerate(instances):
        names = {inst.key}
        if inst.vm_name:
            name_key = measured_instance_key(inst.provider, inst.vm_name)
            if name_key:
                names.add(name_key)
        for name in names:
            if name:
                aliases[(inst.provider, name)].append(index)
    return aliases


def _fmt(hours: float) -> str:
    return f"{hours:.2f} h"


def reconcile(
    billing: pa.Table,
    vms: pa.Table,
    window: Window,
    config: ReconcileConfig,
    run_id: str,
    judged_at: datetime,
    expected_invoice_totals: dict[tuple[str, str], Decimal] | None = None,
) -> Outcome:
    """Judge every instance-day of `window`; check invoice totals of `window.period`.

    The whole period in memory; `tally.reconcile.streamed` gives the same outcome in chunks."""
    billed = billed_days(billing) if billing.num_rows else {}
    measured = measure(vms) if vms.num_rows else empty_measured()
    return judge(
        billed,
        measured,
        bill_scope(billing),
        invoice_sums(billing, window.period),
        window,
        config,
        run_id,
        judged_at,
        expected_invoice_totals,
    )


def judge(
    billed: dict[tuple[str, str, int], BilledDay],
    measured: MeasuredDays,
    scope: set[tuple[str, str]],
    sums: list[dict[str, Any]],
    window: Window,
    config: ReconcileConfig,
    run_id: str,
    judged_at: datetime,
    expected_invoice_totals: dict[tuple[str, str], Decimal] | None = None,
) -> Outcome:
    """The verdicts from the aggregates: billed and measured instance-days, the bill's scope, and
    its per-invoice sums (`invoice_sums`)."""
    empty = RECONCILIATION_SCHEMA.empty_table()
    lo, hi = window.days()
    aliases = _aliases(measured.instances)

    by_instance_day: dict[tuple[int, int], int] = {}
    vcpus_of: dict[int, int] = defaultdict(int)
    for position in range(len(measured)):
        inst = int(measured.instance[position])
        day = int(measured.day[position])
        by_instance_day[(inst, day)] = position
        vcpus_of[inst] = max(vcpus_of[inst], int(measured.vcpus[position]))

    def match(bill: BilledDay) -> int | None:
        candidates = aliases.get((bill.provider, bill.key), [])
        if len(candidates) > 1:
            same_account = [c for c in candidates if measured.instances[c].account in bill.accounts]
            candidates = same_account or candidates
        return candidates[0] if candidates else None

    rows: list[_Row] = []
    seen: set[tuple[int, int]] = set()
    # Billed instance-days (and the measurement of the same instance-day, when there is one).
    matched_instances: dict[tuple[str, str], int | None] = {}
    for (provider, key, day), bill in sorted(billed.items()):
        if not lo <= day <= hi:
            continue
        if (provider, key) not in matched_instances:
            matched_instances[(provider, key)] = match(bill)
        b_inst = matched_instances[(provider, key)]
        b_position = by_instance_day.get((b_inst, day)) if b_inst is not None else None
        if b_inst is not None and b_position is not None:
            seen.add((b_inst, day))
        rows.append(_judge(bill, b_inst, b_position, day, measured, vcpus_of, config))

    # Measured instance-days with no bill line at all.
    unscoped: set[int] = set()
    for (m_inst, m_day), m_position in sorted(by_instance_day.items()):
        if (m_inst, m_day) in seen or not lo <= m_day <= hi:
            continue
        info = measured.instances[m_inst]
        if (info.provider, info.account) not in scope:
            unscoped.add(m_inst)
            continue
        rows.append(_judge(None, m_inst, m_position, m_day, measured, vcpus_of, config))

    table = _to_table(rows, window, run_id, judged_at) if rows else empty
    invoices = invoice_rows(
        sums,
        rows_flagged(billed, rows, window),
        window,
        run_id,
        judged_at,
        expected_invoice_totals,
    )
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.verdict] += 1
    return Outcome(table, invoices, len(unscoped), dict(counts))


def rows_flagged(
    billed: dict[tuple[str, str, int], BilledDay], rows: list[_Row], window: Window
) -> dict[tuple[str, str, str], Decimal]:
    """Cost, per (billing account, invoice, currency), of the instance-days that need a look."""
    flagged: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    bad = {(r.provider, r.resource_id, r.day) for r in rows if r.verdict != "ok"}
    for (provider, _key, day), bill in billed.items():
        when = EPOCH + timedelta(days=day)
        if not any((provider, rid, when) in bad for rid in _resource_names(bill)):
            continue
        for invoice, cost in bill.invoices.items():
            flagged[invoice] = _WIDE.add(flagged[invoice], cost)
    return flagged


def _resource_names(bill: BilledDay) -> list[str]:
    return sorted(bill.resource_ids) or [bill.key]


def _judge(
    bill: BilledDay | None,
    inst: int | None,
    position: int | None,
    day: int,
    measured: MeasuredDays,
    vcpus_of: dict[int, int],
    config: ReconcileConfig,
) -> _Row:
    info = measured.instances[inst] if inst is not None else None
    measured_hours = float(measured.running_seconds[position]) / 3600 if position is not None else 0.0
    cpu_hours = float(measured.cpu_busy_seconds[position]) / 3600 if position is not None else 0.0
    vcpus = (
        int(measured.vcpus[position])
        if position is not None
        else (vcpus_of.get(inst, 0) if inst is not None else 0)
    )
    notes: list[str] = []
    billed_hours = 0.0
    cost: Decimal | None = None
    effective: Decimal | None = None
    currency: str | None = None
    if bill is not None:
        billed_hours = bill.hours
        if bill.vcpu_hours:
            if vcpus > 0:
                billed_hours += bill.vcpu_hours / vcpus
            else:
                billed_hours += bill.vcpu_hours
                notes.append("vCPU-metered line with no measured vCPU count: counted as instance-hours")
        if len(bill.cost) == 1:
            ((currency, cost),) = bill.cost.items()
            effective = bill.effective_cost.get(currency)
        elif len(bill.cost) > 1:
            notes.append(
                "lines in several currencies: "
                + ", ".join(f"{c} {v:f}" for c, v in sorted(bill.cost.items()))
            )
    reference = max(billed_hours, measured_hours)
    tolerance = config.hour_tolerance(reference)
    diff = billed_hours - measured_hours
    verdict: Verdict
    if bill is not None and diff > tolerance and position is None:
        verdict = "billed_not_measured"
        if inst is None:
            notes.insert(
                0,
                f"billed {_fmt(billed_hours)}; no agent measured this instance in the period (not ours?)",
            )
        else:
            notes.insert(0, f"billed {_fmt(billed_hours)}; no sample from the agent this day")
    elif diff > tolerance:
        verdict = "over_billed"
        notes.insert(
            0, f"billed {_fmt(billed_hours)} > measured {_fmt(measured_hours)} (tolerance {_fmt(tolerance)})"
        )
    elif -diff > tolerance:
        verdict = "measured_not_billed"
        what = "no bill line" if bill is None else f"billed {_fmt(billed_hours)}"
        notes.insert(0, f"measured {_fmt(measured_hours)}, {what} (tolerance {_fmt(tolerance)})")
    else:
        verdict = "ok"
        rate = _rate_problem(bill, config) if bill is not None else None
        if rate is not None:
            verdict = "rate_anomaly"
            notes.insert(0, rate)
        elif bill is not None and position is not None and vcpus > 0 and measured_hours > 0:
            capacity = measured_hours * vcpus
            if cpu_hours < config.idle_cpu_fraction * capacity:
                verdict = "idle"
                notes.insert(
                    0,
                    f"busy {cpu_hours:.3f} CPU-h of {capacity:.2f} vCPU-h "
                    f"({100 * cpu_hours / capacity:.1f} %)",
                )
    resource_id = _resource_names(bill)[0] if bill is not None else (info.instance_id if info else "")
    provider = bill.provider if bill is not None else (info.provider if info else "")
    account = (
        info.account if info is not None else (sorted(bill.accounts)[0] if bill and bill.accounts else None)
    )
    return _Row(
        provider=provider,
        account=account,
        resource_id=resource_id,
        instance_id=info.instance_id if info else None,
        day=EPOCH + timedelta(days=day),
        billed_hours=billed_hours if bill is not None else None,
        measured_hours=measured_hours if position is not None else None,
        cpu_hours=cpu_hours if position is not None else None,
        vcpus=vcpus or None,
        cost=cost,
        effective_cost=effective,
        currency=currency,
        verdict=verdict,
        detail="; ".join(notes),
    )


def _rate_problem(bill: BilledDay, config: ReconcileConfig) -> str | None:
    if bill.exact_expected > 0 or bill.exact_actual > 0:
        gap = bill.exact_actual - bill.exact_expected
        if abs(gap) > config.rate_tolerance * bill.exact_expected + config.rate_slack:
            return (
                f"cost {bill.exact_actual:.4f} for hours priced at {bill.exact_expected:.4f} "
                f"({100 * gap / bill.exact_expected:+.1f} %)"
                if bill.exact_expected
                else f"cost {bill.exact_actual:.4f} for hours priced at 0"
            )
    if (bill.cap_limit > 0 or bill.cap_actual > 0) and (
        bill.cap_actual > bill.cap_limit * (1 + config.rate_tolerance) + config.rate_slack
    ):
        return f"spot or committed usage cost {bill.cap_actual:.4f} above its list price {bill.cap_limit:.4f}"
    return None


def _to_table(rows: list[_Row], window: Window, run_id: str, judged_at: datetime) -> pa.Table:
    n = len(rows)
    data = {
        "run_id": [run_id] * n,
        "kind": ["instance_day"] * n,
        "provider": [r.provider for r in rows],
        "account": [r.account for r in rows],
        "resource_id": [r.resource_id for r in rows],
        "instance_id": [r.instance_id for r in rows],
        "day": [r.day for r in rows],
        "billing_period": [window.period] * n,
        "billed_hours": [r.billed_hours for r in rows],
        "measured_hours": [r.measured_hours for r in rows],
        "cpu_hours": [r.cpu_hours for r in rows],
        "vcpus": [r.vcpus for r in rows],
        "cost": [r.cost for r in rows],
        "effective_cost": [r.effective_cost for r in rows],
        "flagged_cost": [None] * n,
        "currency": [r.currency for r in rows],
        "verdict": [r.verdict for r in rows],
        "detail": [r.detail or None for r in rows],
        "judged_at": [judged_at] * n,
        "instance_key": [verdict_instance_key("instance_day", r.provider, r.resource_id) for r in rows],
    }
    return pa.Table.from_pydict(data, schema=RECONCILIATION_SCHEMA)


#: The columns `invoice_sums` and `_scope` read.
INVOICE_COLUMNS = (*_INVOICE_GROUP, "billed_cost", "billing_period", "sub_account_id")


def invoice_sums(billing: pa.Table, period: str) -> list[dict[str, Any]]:
    """Billed cost summed and counted per (provider, billing account, invoice, currency, charge
    category) over the lines of `period`, groups in order of first appearance."""
    if billing.num_rows == 0:
        return []
    rows = billing
    if "billing_period" in billing.column_names:
        rows = billing.filter(pc.equal(billing.column("billing_period"), period))
    sums: list[dict[str, Any]] = (
        rows.select([*_INVOICE_GROUP, "billed_cost"])
        .group_by(list(_INVOICE_GROUP), use_threads=False)
        .aggregate([("billed_cost", "sum"), ("billed_cost", "count")])
        .to_pylist()
    )
    return sums


def combine_invoice_sums(parts: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """`invoice_sums` of consecutive slices of a bill, added up as if of the whole: groups keep the
    order they first appear in, and decimals add exactly."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    with localcontext() as exact:
        exact.prec = 80  # two decimal128(38, s) sums never round at this precision
        for part in parts:
            for s in part:
                ident = tuple(s[c] for c in _INVOICE_GROUP)
                seen = out.get(ident)
                if seen is None:
                    out[ident] = dict(s)
                    continue
                value = s["billed_cost_sum"]
                if value is not None:
                    base = seen["billed_cost_sum"]
                    seen["billed_cost_sum"] = value if base is None else base + value
                seen["billed_cost_count"] += s["billed_cost_count"]
    return list(out.values())


def invoice_rows(
    sums: list[dict[str, Any]],
    flagged: dict[tuple[str, str, str], Decimal],
    window: Window,
    run_id: str,
    judged_at: datetime,
    expected: dict[tuple[str, str], Decimal] | None = None,
) -> pa.Table:
    """One row per (provider, billing account, invoice, currency) of the period: its total, never
    summed across currencies, the cost of its flagged instance-days, and a verdict:
    total_mismatch when finance gave a total for (invoice, currency) that differs by a cent or more,
    needs_review when instance-days on it need a look, else ok."""
    if not sums:
        return pa.Table.from_pylist([], schema=RECONCILIATION_SCHEMA)
    totals: dict[tuple[str, str, str, str], dict[str, Decimal]] = defaultdict(dict)
    lines: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for s in sums:
        ident = (
            provider_key(s["provider"]),
            s["billing_account_id"] or "",
            s["invoice_id"] or "",
            s["billing_currency"] or "",
        )
        totals[ident][s["charge_category"] or ""] = s["billed_cost_sum"] or Decimal(0)
        lines[ident] += int(s["billed_cost_count"])
    currencies: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for provider, account, invoice, currency in totals:
        currencies[(provider, account, invoice)].add(currency)
    out: list[dict[str, object]] = []
    for ident in sorted(totals):
        provider, account, invoice, currency = ident
        parts = totals[ident]
        total = Decimal(0)
        for part in parts.values():
            total = _WIDE.add(total, part)  # 38 digits: the default context keeps 28
        marked = flagged.get((account, invoice, currency), Decimal(0))
        notes = [f"{lines[ident]} lines"] + [
            f"{c or 'uncategorised'} {v:.2f}" for c, v in sorted(parts.items())
        ]
        verdict = "ok"
        given = (expected or {}).get((invoice, currency))
        if given is not None and abs(given - total) >= _CENT:
            verdict = "total_mismatch"
            notes.insert(0, f"invoice says {given:.2f} {currency}, lines sum to {total:.2f}")
        elif marked:
            verdict = "needs_review"
            notes.insert(0, f"{marked:.2f} {currency} of it on instance-days that need a look")
        if len(currencies[(provider, account, invoice)]) > 1:
            notes.append(
                "invoice in several currencies: "
                + ", ".join(sorted(currencies[(provider, account, invoice)]))
            )
        out.append(
            {
                "run_id": run_id,
                "kind": "invoice",
                "provider": provider,
                "account": account,
                "resource_id": invoice or "(no invoice id)",
                "instance_id": None,
                "day": window.first,
                "billing_period": window.period,
                "cost": total,
                "flagged_cost": marked,
                "currency": currency,
                "verdict": verdict,
                "detail": "; ".join(notes),
                "judged_at": judged_at,
                "instance_key": invoice or "(no invoice id)",
            }
        )
    return pa.Table.from_pylist(out, schema=RECONCILIATION_SCHEMA)
