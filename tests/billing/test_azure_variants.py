"""Azure export variants: translated and bilingual headers, AdditionalInfo without braces, reservations.

The fixtures under fixtures/ are hand-made after Microsoft's documented cost-export columns: a
German-localised EA actual-cost export (every header "<German> (<English>)") and a bilingual legacy
pay-as-you-go export (English names, some columns "<local> (<English>)", AdditionalInfo written
without its braces, a reservation id but no PricingModel column). Expected values are read from the
raw text with the csv module and decimal.Decimal, not from the importer.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tally.billing import import_billing
from tally.billing.detect import detect
from tally.billing.model import BillingImportError

FIXTURES = Path(__file__).parent / "fixtures"
GERMAN = FIXTURES / "azure_ea_actual_de.csv"
BILINGUAL = FIXTURES / "azure_legacy_bilingual.csv"
BLOCK = {
    "10 Hours": (Decimal(10), "Hours"),
    "1 Hour": (Decimal(1), "Hours"),
    "10K": (Decimal(10_000), "Units"),
}


def _english_rows(path: Path) -> list[dict[str, str]]:
    """Raw rows keyed by the English column name (the text inside the header's parentheses)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [re.sub(r"^.*\((\w+)\)$", r"\1", h) for h in next(reader)]
        return [dict(zip(header, row, strict=True)) for row in reader]


def _imported(path: Path) -> list[dict[str, object]]:
    result = import_billing(path)
    assert not result.rejects
    rows: list[dict[str, object]] = sorted(result.table.to_pylist(), key=lambda r: int(str(r["source_row"])))
    return rows


def test_german_header_was_refused_before_and_is_detected_now() -> None:
    with GERMAN.open(encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh))
    assert "Maßeinheit (UnitOfMeasure)" in header
    assert detect(header).source_format == "azure-ea"
    with pytest.raises(BillingImportError, match="unrecognised billing export header"):
        detect(["Maßeinheit", "Kosten", "Datum"])  # without the English names nothing is guessed


def test_german_export_keeps_cost_quantity_unit_and_region() -> None:
    raw = _english_rows(GERMAN)
    rows = _imported(GERMAN)
    assert len(rows) == len(raw) == 4
    for got, want in zip(rows, raw, strict=True):
        size, unit = BLOCK.get(want["UnitOfMeasure"], (Decimal(1), want["UnitOfMeasure"].split(" ", 1)[-1]))
        assert got["billed_cost"] == Decimal(want["Cost"])
        assert got["consumed_quantity"] == Decimal(want["UsageQuantity"]) * size
        assert got["consumed_unit"] == unit
        assert got["region_id"] == want["ResourceLocation"].lower().replace(" ", "")
        assert got["billing_currency"] == want["BillingCurrency"]
        assert got["sub_account_id"] == want["SubscriptionId"]
        assert got["x_operation"] == want["MeterName"]
    assert rows[0]["consumed_quantity"] == Decimal("25")  # 2.5 blocks of 10 hours
    assert rows[0]["list_unit_price"] == Decimal("0.192")  # 1.92 per 10 hours
    assert rows[0]["x_instance_type"] == "Standard_D4_v5"
    assert rows[0]["billing_period"] == "2024-10"


def test_bilingual_export_keeps_quantity_unit_and_region() -> None:
    raw = _english_rows(BILINGUAL)
    rows = _imported(BILINGUAL)
    assert [r["consumed_quantity"] for r in rows] == [
        Decimal(r["UsageQuantity"]) * BLOCK[r["UnitOfMeasure"]][0] for r in raw
    ]
    assert [r["consumed_unit"] for r in rows] == [BLOCK[r["UnitOfMeasure"]][1] for r in raw]
    assert {r["region_id"] for r in rows} == {"westeurope"}
    assert [r["billed_cost"] for r in rows] == [Decimal(r["PreTaxCost"]) for r in raw]


def test_additional_info_without_braces_keeps_vm_name_and_size() -> None:
    raw = _english_rows(BILINGUAL)
    assert not raw[0]["AdditionalInfo"].startswith("{")
    rows = _imported(BILINGUAL)
    assert [r["x_vm_name"] for r in rows] == ["wn-vmss_3", "wn-vmss_4", None]
    assert [r["x_instance_type"] for r in rows] == ["Standard_D2s_v3", "Standard_D2s_v3", None]
    assert rows[0]["x_usage_type"] == "ComputeHR"


@pytest.mark.parametrize("path", [GERMAN, BILINGUAL], ids=["ea-de-with-pricing-model", "legacy-without"])
def test_rows_with_a_reservation_id_are_committed_use(path: Path) -> None:
    raw = _english_rows(path)
    rows = _imported(path)
    for got, want in zip(rows, raw, strict=True):
        if want["ReservationId"]:
            assert got["pricing_category"] == "Committed"
            assert got["commitment_discount_id"] == want["ReservationId"]
            assert got["commitment_discount_type"] == "Reservation"
            assert got["commitment_discount_status"] == "Used"
            assert got["x_purchase_option"] == "reserved"
        else:
            assert got["pricing_category"] == "Standard"
            assert got["commitment_discount_id"] is None
            assert got["x_purchase_option"] == "on_demand"
    assert sum(1 for r in raw if r["ReservationId"]) == 1


def test_reservation_id_beside_on_demand_pricing_model_is_committed() -> None:
    """An export that says OnDemand next to a reservation id: the id decides."""
    text = GERMAN.read_text("utf-8-sig").replace(",Reservation,0.192", ",OnDemand,0.192")
    assert ",OnDemand,0.192" in text
    rows = import_billing(text.encode(), "de.csv").table.to_pylist()
    covered = next(r for r in rows if r["commitment_discount_id"])
    assert covered["pricing_category"] == "Committed" and covered["x_purchase_option"] == "reserved"
    assert covered["billed_cost"] == 0 and covered["effective_cost"] == 0
