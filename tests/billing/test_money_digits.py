"""Money keeps its digits: totals per file equal the sum of the file's own digits, never rounded silently.

Expected totals are computed here with Python's decimal over the raw text of each file (CSV) or of
the values written into it (Parquet), independently of the importer. Values include Azure's
exponent notation (1.6E-7, 6.6E-9), amounts with 11 to 18 places (which DECIMAL(38,10) rounded)
and floats printed with 19-22 places (kept exactly in x_exact_amounts, flagged in x_quirks).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Context, Decimal, localcontext
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tally.billing import import_billing
from tally.billing.focus_schema import MONEY
from tests.billing.oracle import exact_value

FIXTURES = Path(__file__).parent / "fixtures"
FOCUS_HEADER = [
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "BilledCost",
    "EffectiveCost",
    "PricingQuantity",
    "ProviderName",
    "ResourceId",
]
#: Costs as a provider writes them; the last three need more than 18 places.
COSTS = [
    "1.6E-7",
    "6.6E-9",
    "0.00000000001234",  # 1.234E-11: 14 places, DECIMAL(38,10) made it 0
    "3.333333333333333333",  # 18 places
    "12.5",
    "-2.75E-3",
    "1.23456789012345678E-5",  # 22 places
    "0.0007458096045417008",  # 19 places (a float printed by a CUR)
    "2.3198314011096954e-05",  # 22 places (a float printed by a GCP export)
]


def _focus_rows() -> list[list[str]]:
    return [
        [
            "acct-1",
            "EUR",
            "2025-03-01T00:00:00Z",
            "2025-04-01T00:00:00Z",
            f"2025-03-{1 + i:02d}T00:00:00Z",
            f"2025-03-{1 + i:02d}T01:00:00Z",
            "Usage",
            cost,
            cost,
            str(Decimal(i + 1) / 8),
            "Research Cloud",
            f"vm-{i}",
        ]
        for i, cost in enumerate(COSTS)
    ]


def _csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _raw_total(data: bytes, column: str) -> Decimal:
    """The file's own digits, summed exactly (utf-8-sig drops a BOM; headers may be bilingual)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = [h.rsplit("(", 1)[-1].rstrip(")") if h.endswith(")") else h for h in next(reader)]
    index = header.index(column)
    return sum((Decimal(row[index]) for row in reader if row[index]), Decimal(0))


def _stored_total(rows: list[dict[str, object]], column: str) -> Decimal:
    return sum((exact_value(r, column) for r in rows), Decimal(0))


def test_focus_csv_total_is_the_sum_of_its_digits() -> None:
    data = _csv_bytes(FOCUS_HEADER, _focus_rows())
    result = import_billing(data, "digits.csv")
    assert not result.rejects and result.table.num_rows == len(COSTS)
    rows = result.table.to_pylist()
    expected = _raw_total(data, "BilledCost")
    assert _stored_total(rows, "billed_cost") == expected
    assert _stored_total(rows, "effective_cost") == expected
    assert _stored_total(rows, "pricing_quantity") == sum(Decimal(i + 1) / 8 for i in range(len(COSTS)))
    # Every value with at most 18 places is the decimal itself, not a rounding of it.
    for row, text in zip(rows, COSTS, strict=True):
        value = Decimal(text)
        if value == value.quantize(Decimal("1e-18")):
            assert row["billed_cost"] == value and row["x_exact_amounts"] is None
        else:
            assert row["billed_cost"] == value.quantize(Decimal("1e-18"))  # half-even at 18 places
            assert json.loads(str(row["x_exact_amounts"])) == {"billed_cost": text, "effective_cost": text}
            assert "billed_cost has more than 18 decimal places" in str(row["x_quirks"])
    assert rows[0]["billed_cost"] == Decimal("0.00000016")
    assert rows[2]["billed_cost"] == Decimal("1.234E-11")  # DECIMAL(38,10) stored 0 here


def test_parquet_total_is_the_sum_of_its_digits(tmp_path: Path) -> None:
    """The same amounts as Parquet: as text, as decimal(38,22) and as float64 columns."""
    rows = _focus_rows()
    columns: dict[str, pa.Array] = {
        name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(FOCUS_HEADER)
    }
    exact = [Decimal(c) for c in COSTS]
    columns["EffectiveCost"] = pa.array(exact, pa.decimal128(38, 22))
    floats = [1.6e-7, 6.6e-9, 0.25]
    columns["PricingQuantity"] = pa.array(floats * 3, pa.float64())
    path = tmp_path / "digits.parquet"
    pq.write_table(pa.table(columns), path)
    result = import_billing(path)
    assert not result.rejects
    out = result.table.to_pylist()
    assert _stored_total(out, "billed_cost") == sum(exact, Decimal(0))
    assert _stored_total(out, "effective_cost") == sum(exact, Decimal(0))
    # A float column is read as its shortest round-trip text (repr), not its binary expansion.
    assert _stored_total(out, "pricing_quantity") == sum((Decimal(repr(f)) for f in floats * 3), Decimal(0))


@pytest.mark.parametrize(
    "name", ["azure_ea_actual_de.csv", "azure_legacy_bilingual.csv"], ids=["german", "bilingual"]
)
def test_azure_file_total_is_the_sum_of_its_digits(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    result = import_billing(data, name)
    column = "Cost" if b"(Cost)" in data else "PreTaxCost"
    assert _stored_total(result.table.to_pylist(), "billed_cost") == _raw_total(data, column)


def test_azure_exponent_costs_are_exact() -> None:
    rows = sorted(
        import_billing(FIXTURES / "azure_ea_actual_de.csv").table.to_pylist(), key=lambda r: r["source_row"]
    )
    assert [r["billed_cost"] for r in rows[2:]] == [Decimal("1.6E-7"), Decimal("6.6E-9")]


def test_azure_derived_unit_price_keeps_exact_text() -> None:
    """PayGPrice 0.0000000000000000123 per 100 hours: per hour needs 21 places."""
    text = (FIXTURES / "azure_ea_actual_de.csv").read_text("utf-8-sig")
    header, first = text.splitlines()[:2]
    fields = next(csv.reader([first]))
    names = next(csv.reader([header]))
    fields[names.index("PayGPrice (PayGPrice)")] = "0.0000000000000000123"
    fields[names.index("Maßeinheit (UnitOfMeasure)")] = "100 Hours"
    data = _csv_bytes(names, [fields])
    row = import_billing(data, "de.csv").table.to_pylist()[0]
    exact = Decimal("0.0000000000000000123") / 100
    assert row["list_unit_price"] == exact.quantize(Decimal("1e-18"))
    assert Decimal(json.loads(str(row["x_exact_amounts"]))["list_unit_price"]) == exact


def test_schema_holds_twenty_integer_digits_and_eighteen_places() -> None:
    assert pa.decimal128(38, 18) == MONEY
    big = Decimal("9" * 20 + "." + "9" * 18)
    assert pa.array([big], MONEY).to_pylist() == [big]


def test_fast_decimal_path_accepts_exactly_the_number_grammar() -> None:
    """Whatever the batch looks like, a value is a number iff it matches the documented grammar."""
    import random
    import re

    from tally.billing.values import _NUMBER, to_decimal

    rng = random.Random(11)
    texts = ["".join(rng.choice("0123456789..eE+-") for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    texts += ["7e+-5", "1e00005", "1.5", "-2.75E-3"]
    numbers = [t for t in texts if re.fullmatch(_NUMBER, t)][:50]
    for batch in (texts, [*numbers, "7e+-5"]):
        read = to_decimal(pa.array(batch, pa.string()))
        for text, value, bad in zip(batch, read.values.to_pylist(), read.bad.to_pylist(), strict=True):
            exact = Decimal(text) if re.fullmatch(_NUMBER, text) else None
            fits = exact is not None and (exact.is_zero() or exact.adjusted() < 20)
            assert (value is not None) == fits and bad == (not fits), text
            if exact is not None and fits:
                with localcontext(Context(prec=80, Emin=-(10**6))):
                    assert value == exact.quantize(Decimal("1e-18")), text
