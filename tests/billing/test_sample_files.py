"""Every sample export imports; totals per currency and charge category match an independent oracle.

Two sets of files: the project's own hand-written exports in tests/fixtures/billing/ (always run), and
the real exports in the shared sample data (skipped, saying why, when that folder is absent).

The oracle reads each raw file with the csv module and Decimal and applies the provider's own
documented meaning of its columns; it shares no code with tally.billing.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tally.billing import BillingImport, import_billing
from tests.billing.oracle import exact_value, money, raw_rows
from tests.support.paths import FIXTURES, SHARED_DATA, shared_data_available, skip_reason

OWN_FILES = sorted((FIXTURES / "billing").rglob("*.csv"))
Totals = dict[tuple[str, str], Decimal]
SCENARIOS = "commitment_discount_scenarios__commitment_discount_"

AWS_CATEGORY = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage",
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Credit",
}
AZURE_CATEGORY = {"Usage": "Usage", "Purchase": "Purchase", "Refund": "Purchase", "Tax": "Tax"}
EXPECTED_FORMAT = {
    "koku_2022-07-01-alt-columns.csv": "aws-cur-athena",
    "koku_2023-06-01-not-final.csv": "aws-cur-legacy",
    "koku_2023-06-01.csv": "aws-cur-legacy",
    "koku_test_cur.csv": "aws-cur-legacy",
    "finopstoolkit_EA_ActualCost_Small.csv": "azure-ea",
    "finopstoolkit_EA_AmortizedCost_Small.csv": "azure-ea",
    "koku_azure_camelCased.csv": "azure-legacy",
    "koku_azure_version_2.csv": "azure-ea",
    "koku_camel_azure_version_2.csv": "azure-mca",
    "koku_costreport_a243c6f2-199f-4074-9a2c-40e671cf1584.csv": "azure-legacy",
    "finops_focus10_focus_sample_1000.csv": "focus-1.0",
    "koku_202011_gcp_billing_export.csv": "gcp-billing",
    "koku_2022-08-01_5.csv": "gcp-billing",
    "cur-legacy-2023-06-final.csv": "aws-cur-legacy",
    "cur-legacy-2023-06-not-final.csv": "aws-cur-legacy",
    "cur2-2026-01.csv": "aws-cur2",
    "azure-ea-actual-2026-02.csv": "azure-ea",
    "azure-mca-2026-03.csv": "azure-mca",
    "focus-1.0-three-providers.csv": "focus-1.0",
    "gcp-2026-02.csv": "gcp-billing",
}


def shared_files() -> list[Path]:
    """The shared billing exports, listed at collection (never on import); [] when the folder is absent."""
    if not shared_data_available():
        return []
    return sorted(p for p in (SHARED_DATA / "billing").rglob("*.csv") if "reference" not in p.parts)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "shared_path" not in metafunc.fixturenames:
        return
    files = shared_files()
    if files:
        metafunc.parametrize("shared_path", files, ids=[p.name for p in files])
    else:
        skipped = pytest.param(None, marks=pytest.mark.skip(reason=skip_reason()))
        metafunc.parametrize("shared_path", [skipped])


def first(row: dict[str, str], *names: str) -> str:
    for name in names:
        value = row.get(name, "").strip()
        if value and value not in ("NULL", "null"):
            return value
    return ""


def valid_time(text: str) -> bool:
    text = text.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%m/%d/%y", "%Y-%m-%d"):
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            continue
        return True
    return False


def oracle(path: Path) -> tuple[Totals, set[int], Totals]:
    """(billed totals, data rows expected to be rejected, effective totals)."""
    billed: Totals = defaultdict(Decimal)
    effective: Totals = defaultdict(Decimal)
    rejected: set[int] = set()
    family = path.parent.name if path.parent.name != "spec_v1.2_examples" else "focus"
    for i, row in enumerate(raw_rows(path), start=1):
        if family == "focus":
            currency = first(row, "BillingCurrency")
            category = first(row, "ChargeCategory")
            times_ok = all(valid_time(row.get(c, "")) for c in ("ChargePeriodStart", "ChargePeriodEnd"))
            if (
                not currency
                or not first(row, "BillingAccountId")
                or not first(row, "ProviderName")
                or not times_ok
            ):
                rejected.add(i)
                continue
            cost = money(row["BilledCost"])
            eff = money(row.get("EffectiveCost"))
            if eff != cost and eff == eff.to_integral_value() and eff == cost.quantize(Decimal(1)):
                eff = cost  # the FOCUS 1.0 sample's integer-truncated EffectiveCost, repaired from BilledCost
            billed[(currency, category)] += cost
            effective[(currency, category)] += eff
        elif family == "aws_cur":
            currency = first(row, "lineItem/CurrencyCode", "line_item_currency_code")
            kind = first(row, "lineItem/LineItemType", "line_item_line_item_type")
            cost = money(first(row, "lineItem/UnblendedCost", "line_item_unblended_cost"))
            billed[(currency, AWS_CATEGORY[kind])] += cost
        elif family == "azure":
            currency = first(
                row, "BillingCurrency", "BillingCurrencyCode", "billingCurrency", "Currency", "currency"
            )
            if not re.fullmatch(r"[A-Z]{3}", currency):
                rejected.add(i)
                continue
            category = AZURE_CATEGORY[first(row, "ChargeType", "chargeType") or "Usage"]
            cost = money(
                first(
                    row, "Cost", "CostInBillingCurrency", "costInBillingCurrency", "PreTaxCost", "preTaxCost"
                )
            )
            covered = first(row, "PricingModel") in ("Reservation", "SavingsPlan") and category == "Usage"
            amortized = "Amortized" in path.name
            purchase_of_commitment = category == "Purchase" and bool(first(row, "ReservationId", "benefitId"))
            billed[(currency, category)] += Decimal(0) if amortized and covered else cost
            effective[(currency, category)] += Decimal(0) if purchase_of_commitment else cost
        elif family == "gcp":
            currency = first(row, "currency")
            billed[(currency, "Usage")] += money(row["cost"])
            for credit in ast.literal_eval(row["credits"] or "[]"):
                billed[(currency, "Credit")] += money(repr(credit["amount"]))
        else:
            raise AssertionError(f"no oracle for {path}")
    return dict(billed), rejected, dict(effective)


def table_totals(result: BillingImport, column: str) -> Totals:
    totals: Totals = defaultdict(Decimal)
    for row in result.table.select(
        ["billing_currency", "charge_category", column, "x_exact_amounts"]
    ).to_pylist():
        totals[(row["billing_currency"], row["charge_category"])] += exact_value(row, column)
    return dict(totals)


def nonzero(totals: Totals) -> Totals:
    return {k: v for k, v in totals.items() if v != 0}


def check_against_oracle(path: Path) -> None:
    result = import_billing(path)
    expected_billed, expected_rejected, expected_effective = oracle(path)

    assert result.source_rows == len(raw_rows(path))
    assert result.accepted_rows + len(result.rejects) == result.source_rows
    assert {r.source_row for r in result.rejects} == expected_rejected
    assert nonzero(table_totals(result, "billed_cost")) == nonzero(expected_billed)
    if expected_effective:
        assert nonzero(table_totals(result, "effective_cost")) == nonzero(expected_effective)
    if path.name in EXPECTED_FORMAT:
        assert result.source_format == EXPECTED_FORMAT[path.name]
    if result.table.num_rows:
        assert set(result.table["provider"].to_pylist()) == result.providers
        assert result.billing_periods == set(result.table["billing_period"].to_pylist())
        assert None not in result.table["billed_cost"].to_pylist()
        assert None not in result.table["billing_currency"].to_pylist()


@pytest.mark.parametrize("path", OWN_FILES, ids=[p.name for p in OWN_FILES])
def test_own_file_imports_with_independent_totals(path: Path) -> None:
    check_against_oracle(path)


@pytest.mark.requires_shared
def test_shared_file_imports_with_independent_totals(shared_path: Path) -> None:
    check_against_oracle(shared_path)


def test_every_format_has_an_own_file() -> None:
    assert {EXPECTED_FORMAT[p.name] for p in OWN_FILES} == {
        "aws-cur-legacy",
        "aws-cur2",
        "azure-ea",
        "azure-mca",
        "focus-1.0",
        "gcp-billing",
    }


def test_every_sample_file_is_covered(data_dir: Path) -> None:
    files = shared_files()
    assert len(files) >= 35
    assert {p.parent.name for p in files} >= {"aws_cur", "azure", "gcp", "focus", "spec_v1.2_examples"}


def test_spec_examples_with_defaults_are_accepted(data_dir: Path) -> None:
    """Spec examples without BillingCurrency are quarantined, unless the caller knows the currency."""
    path = (
        data_dir
        / "focus/spec_v1.2_examples/commitment_discount_scenarios__commitment_discount_usage_scenario_3.csv"
    )
    assert import_billing(path).table.num_rows == 0
    defaults = {"billing_currency": "USD", "billing_account_id": "acct-1", "provider_name": "Example Cloud"}
    result = import_billing(path, defaults=defaults)
    assert result.table.num_rows == 2 and not result.rejects
    assert result.providers == {"example-cloud"}
    assert sum(result.table["effective_cost"].to_pylist()) == Decimal("1.00")
    assert result.partitions == {("example-cloud", "acct-1", "2023-01")}


def test_invalid_hour_is_rejected_with_the_datetime_rule(data_dir: Path) -> None:
    path = data_dir / "focus/spec_v1.2_examples" / f"{SCENARIOS}purchase_scenario_2.csv"
    defaults = {"billing_currency": "USD", "billing_account_id": "a", "provider_name": "Example"}
    result = import_billing(path, defaults=defaults)
    assert [r.source_row for r in result.rejects] == [3]  # 2023-02-01T30:00:00Z
    assert result.rejects[0].rule_id == "ChargePeriodEnd-C-002-M"
    assert result.rejects[0].raw["ChargePeriodEnd"] == "2023-02-01T30:00:00Z"
