"""A corpus of billing files for the before/after check of the import's fast paths.

Hand-made files (every timestamp and number shape the readers accept or refuse, in FOCUS, CUR and
Azure layouts) plus the fixtures under fixtures/ and, when present, the shared sample files. The
digest of an import is what must not change when the import gets faster: every accepted row with
every column, and every reject with its rules and raw values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import orjson

from tally.billing import import_billing
from tally.billing.model import BillingImportError
from tests.support.paths import SHARED_DATA

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = SHARED_DATA / "billing"
GOLDEN = FIXTURES / "import_golden.json"

_TIMES = [
    "2025-03-01T00:00:00Z",
    "2025-03-01T00:00:00.250Z",
    "2025-03-01 00:00:00Z",
    "2025-03-01T00:00Z",
    "2025-03-01T01:00:00+01:00",
    "2025-03-01T01:00:00+0100",
    "2025-03-01T00:00:00",
    "2025-03-01 00:00:00",
    "2025-03-01",
    "2025-03-01 00:00:00 UTC",
    "2025-03-01T00:00:00 GMT",
    "2025-03-01 01:00:00 +01:00",
    "03/01/2025",
    "3/1/2025 12:00:00 AM",
    "3/1/25",
    "01.03.2025",
    "2025-02-30T00:00:00Z",
    "2025-13-01T00:00:00Z",
    "yesterday",
    "",
    "NULL",
]
_DAY_FIRST = ["25/03/2025", "03/04/2025", "1/3/2025 13:00"]
_NUMBERS = [
    "1.5",
    "0",
    "-2.75E-3",
    "1.6E-7",
    "1e5",
    "+3",
    ".5",
    "7.",
    "$1,000.00",
    "€12",
    "1,5",
    "abc",
    "1e400",
    "NaN",
    "0.0007458096045417008",
    "9" * 21,
    "",
]


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v

    return ("\n".join(",".join(cell(v) for v in r) for r in [header, *rows]) + "\n").encode()


def focus_file(times: list[str]) -> bytes:
    header = [
        "BillingAccountId",
        "BillingCurrency",
        "BillingPeriodStart",
        "BillingPeriodEnd",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ChargeCategory",
        "BilledCost",
        "EffectiveCost",
        "ProviderName",
        "ResourceId",
    ]
    rows = []
    for i, start in enumerate(times):
        for j, cost in enumerate(_NUMBERS):
            rows.append(
                [
                    "acct",
                    "EUR",
                    "2025-03-01T00:00:00Z",
                    "2025-04-01T00:00:00Z",
                    start,
                    times[(i + j) % len(times)],
                    "Usage",
                    cost,
                    _NUMBERS[(j + 3) % len(_NUMBERS)],
                    "Research Cloud",
                    f"vm-{i}-{j}",
                ]
            )
    return _csv(header, rows)


def cur_file() -> bytes:
    header = [
        "identity/LineItemId",
        "bill/PayerAccountId",
        "bill/BillingPeriodStartDate",
        "bill/BillingPeriodEndDate",
        "lineItem/LineItemType",
        "lineItem/UsageStartDate",
        "lineItem/UsageEndDate",
        "lineItem/UnblendedCost",
        "lineItem/CurrencyCode",
        "lineItem/ResourceId",
        "reservation/EffectiveCost",
        "savingsPlan/SavingsPlanEffectiveCost",
        "resourceTags/user:project",
    ]
    kinds = ["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "Tax", "Fee", "RIFee"]
    rows = []
    for i, start in enumerate(_TIMES):
        for j, cost in enumerate(_NUMBERS[::2]):
            rows.append(
                [
                    f"li-{i}-{j}",
                    "012345678901",
                    "2025-03-01T00:00:00Z",
                    "2025-04-01T00:00:00Z",
                    kinds[(i + j) % len(kinds)],
                    start,
                    "2025-03-01T01:00:00Z",
                    cost,
                    "USD",
                    f"i-{j}",
                    _NUMBERS[(j + 1) % len(_NUMBERS)],
                    _NUMBERS[(j + 2) % len(_NUMBERS)],
                    f"p{i % 3}",
                ]
            )
    return _csv(header, rows)


def corpus() -> Iterator[tuple[str, bytes]]:
    yield "focus-times.csv", focus_file(_TIMES)
    yield "focus-day-first.csv", focus_file(_DAY_FIRST + _TIMES[:3])
    yield "cur-shapes.csv", cur_file()
    for path in sorted(FIXTURES.glob("*.csv")):
        yield path.name, path.read_bytes()


def shared_corpus() -> Iterator[tuple[str, bytes]]:
    if SHARED.is_dir():
        for path in sorted(SHARED.rglob("*.csv")):
            if path.parent.name != "reference":
                yield f"shared/{path.relative_to(SHARED)}", path.read_bytes()


def digest(name: str, data: bytes) -> dict[str, object]:
    """What an import of `data` yields, as counts and a sha256 over every row and reject."""
    try:
        result = import_billing(data, name)
    except BillingImportError as exc:
        return {"error": exc.code}
    h = hashlib.sha256()
    for row in result.table.to_pylist():
        h.update(orjson.dumps(row, default=str, option=orjson.OPT_SORT_KEYS))
    for reject in result.rejects:
        h.update(orjson.dumps([reject.source_row, [v.rule_id for v in reject.violations], reject.raw]))
    return {
        "accepted": result.table.num_rows,
        "rejected": sorted(r.source_row for r in result.rejects),
        "warnings": result.warnings,
        "sha256": h.hexdigest(),
    }


def snapshot() -> dict[str, dict[str, object]]:
    return {name: digest(name, data) for name, data in (*corpus(), *shared_corpus())}


if __name__ == "__main__":
    GOLDEN.write_bytes(orjson.dumps(snapshot(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    print(f"wrote {GOLDEN}")
