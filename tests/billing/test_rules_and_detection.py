"""Rule ids match the FOCUS 1.2 validator model; headers are classified as the provider wrote them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tally.billing import BillingImportError
from tally.billing.detect import detect
from tally.billing.pricing_units import parse_unit
from tally.billing.rules import RULES


def test_rule_ids_and_texts_come_from_the_validator_model(data_dir: Path) -> None:
    model = json.loads((data_dir / "reference/focus_validator_model-1.2.json").read_text("utf-8"))[
        "ModelRules"
    ]
    focus_rules = {k: v for k, v in RULES.items() if not k.startswith("Tally-")}
    assert len(focus_rules) >= 30
    for rule_id, text in focus_rules.items():
        assert rule_id in model, rule_id
        assert model[rule_id]["ValidationCriteria"]["MustSatisfy"] == text, rule_id


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["BilledCost", "ChargePeriodStart", "ChargeCategory"], "focus-1.0"),
        (["BilledCost", "ChargePeriodStart", "CapacityReservationId"], "focus-1.1"),
        (["BilledCost", "ChargePeriodStart", "InvoiceId"], "focus-1.2"),
        (["BilledCost", "ChargePeriodStart", "ServiceProviderName"], "focus-1.3"),
        (["identity/LineItemId", "lineItem/UsageStartDate", "lineItem/UnblendedCost"], "aws-cur-legacy"),
        (["line_item_usage_start_date", "line_item_unblended_cost", "resource_tags", "product"], "aws-cur2"),
        (
            ["line_item_usage_start_date", "line_item_unblended_cost", "resource_tags_user_app"],
            "aws-cur-athena",
        ),
        (["\ufeffBillingAccountId", "Date", "MeterCategory", "Cost"], "azure-ea"),
        (["billingAccountId", "date", "meterCategory", "costInBillingCurrency", "chargeType"], "azure-mca"),
        (["SubscriptionGuid", "UsageDateTime", "PreTaxCost"], "azure-legacy"),
        (["billing_account_id", "service.description", "usage_start_time", "cost"], "gcp-billing"),
    ],
)
def test_detect(header: list[str], expected: str) -> None:
    assert detect(header).source_format == expected


def test_unknown_header_names_what_it_expected() -> None:
    with pytest.raises(BillingImportError, match=r"expected FOCUS 1\.0-1\.3"):
        detect(["date", "amount", "who"])


def test_pricing_units_table_and_fallback() -> None:
    assert parse_unit("100 Hours") == (Decimal(100), "Hours")
    assert parse_unit("1 hora") == (Decimal(1), "Hours")  # localised unit from the FinOps toolkit table
    thousands = parse_unit("10K")
    assert thousands is not None and thousands[0] == 10_000
    assert parse_unit("250 Widgets") == (Decimal(250), "Widgets")
    assert parse_unit("Unassigned") == (Decimal(1), "Units")  # listed in the toolkit table
    assert parse_unit("per something") is None
