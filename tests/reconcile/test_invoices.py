"""Invoice totals per invoice and currency, never summed across currencies."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from tally.reconcile import ReconcileConfig, reconcile
from tests.reconcile.fixtures import at, billing_table, line, vms_table
from tests.reconcile.scenarios import JUDGED, MARCH, WINDOW, fleet, plant_over_billed


def _bill_with_extras() -> list[dict[str, object]]:
    f = fleet()
    f.bill.append(
        line(
            provider="aws",
            account="111",
            resource_id=None,
            start=at(MARCH[0]),
            end=at(MARCH[1]),
            cost="7.25",
            category="Tax",
            line_type="Tax",
        )
    )
    f.bill.append(
        line(
            provider="aws",
            account="111",
            resource_id=None,
            start=at(MARCH[0]),
            end=at(MARCH[1]),
            cost="-3.10",
            category="Credit",
            line_type="Credit",
        )
    )
    # One invoice of the Azure account also carries a line in USD (a marketplace charge).
    f.bill.append(
        line(
            provider="azure",
            account="sub-1",
            resource_id=None,
            start=at(MARCH[0]),
            end=at(MARCH[1]),
            cost="12.00",
            currency="USD",
            category="Purchase",
            invoice="AZ-1",
        )
    )
    return f.bill


def test_totals_per_invoice_and_currency() -> None:
    bill = _bill_with_extras()
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for item in bill:
        expected[(str(item["invoice_id"]), str(item["billing_currency"]))] += item["billed_cost"]  # type: ignore[operator]
    outcome = reconcile(billing_table(bill), vms_table(fleet().vms), WINDOW, ReconcileConfig(), "r", JUDGED)
    rows = outcome.invoices.to_pylist()
    got = {(r["resource_id"], r["currency"]): r["cost"] for r in rows}
    assert got == dict(expected)
    assert set(got) == {("INV-1", "USD"), ("AZ-1", "EUR"), ("AZ-1", "USD")}
    assert got[("AZ-1", "EUR")] == Decimal("4.8") * 4 + Decimal("2.4") * 4
    assert all(r["verdict"] == "ok" and r["kind"] == "invoice" for r in rows)
    az_usd = next(r for r in rows if (r["resource_id"], r["currency"]) == ("AZ-1", "USD"))
    assert "several currencies: EUR, USD" in az_usd["detail"]


def test_flagged_instance_days_put_their_invoice_under_review() -> None:
    f = fleet()
    plant_over_billed(f)
    outcome = reconcile(billing_table(f.bill), vms_table(f.vms), WINDOW, ReconcileConfig(), "r", JUDGED)
    invoices = {(r["resource_id"], r["currency"]): r for r in outcome.invoices.to_pylist()}
    assert invoices[("INV-1", "USD")]["verdict"] == "needs_review"
    assert invoices[("INV-1", "USD")]["flagged_cost"] == Decimal("0.4") * 24  # the over-billed day
    assert invoices[("AZ-1", "EUR")]["verdict"] == "ok"
    assert outcome.needs_attention


def test_a_total_from_finance_is_checked_to_the_cent() -> None:
    f = fleet()
    table = billing_table(f.bill)
    usd = sum((b["billed_cost"] for b in f.bill if b["billing_currency"] == "USD"), Decimal(0))
    totals = {("INV-1", "USD"): usd, ("AZ-1", "EUR"): Decimal("28.80") + Decimal("0.01")}
    outcome = reconcile(table, vms_table(f.vms), WINDOW, ReconcileConfig(), "r", JUDGED, totals)
    verdicts = {(r["resource_id"], r["currency"]): r["verdict"] for r in outcome.invoices.to_pylist()}
    assert verdicts == {("INV-1", "USD"): "ok", ("AZ-1", "EUR"): "total_mismatch"}
    assert not reconcile(table, vms_table(f.vms), WINDOW, ReconcileConfig(), "r", JUDGED).needs_attention
