"""Billing-export import: provider bills -> FOCUS 1.2 `billing` rows (snake_case) plus rejects.

Pure domain code over Arrow; it knows no storage, HTTP or AWS. Every way in (POST /v1/billing,
the S3-event Lambda, `tally billing import FILE...`) calls `import_billing`.

Formats, detected from the header (`detect.py`): FOCUS 1.0-1.3, AWS legacy CUR, CUR 2.0 and
Athena-style snake_case CUR, Azure EA / MCA / legacy cost exports, GCP billing export; as CSV,
CSV.gz or Parquet, given as a path or as bytes with a file name. CSV is streamed in blocks and
transformed with pyarrow.compute, so a one-million-row CUR does not need the file in memory twice.

Output (`focus_schema.BILLING_SCHEMA`): money and quantities are decimal128(38, 18), every
digit as the provider wrote it (1.6E-7 is 0.00000016), always with `billing_currency`. An amount
written with more than 18 places (AWS and GCP print some floats with 19-22) is held rounded
half-even at 18 places, flagged in `x_quirks`, and its exact text kept in `x_exact_amounts`
(a JSON object column -> text), so a file's total is always recoverable to its last digit.
Timestamps are UTC (a value without a zone is read as UTC); provenance is `provider`,
`source_file`, `source_row` (1-based data record, header excluded), `source_subrow` (0, or k
for the k-th line derived from the record, e.g. a GCP credit), `source_format` and
`billing_period` (YYYY-MM of BillingPeriodStart, the partition).

Rejects: a row that breaks an enforced rule (`rules.RULES`, ids from the FOCUS 1.2 validator
model, plus `Tally-ROW-001` for records with the wrong field count) is returned as a `Reject`
with every broken rule and its raw values: nothing is dropped. Repairs that keep a row (letter
case of enumerations, "$1,000.00" money, integer-truncated EffectiveCost in the FOCUS 1.0 sample,
billing periods derived from the usage month) are noted in the row's `x_quirks`.

Restatement: a delivered file is the complete statement of every (provider, billing_account_id,
billing_period) it contains (`BillingImport.partitions`, `focus_schema.RESTATEMENT_KEY`).
Storing an import must replace all previously stored rows with those keys, not add to them: a
not-final month re-delivered as final, or a corrected export, then counts once. Consequences for
callers: a provider delivery split over several files (CUR parts of one assembly) must be imported
and stored together as one delivery; and of Azure's actual and amortized exports for a period only
one may be stored (they share the key). A file's rejected rows do not create partitions; the storage
layer should quarantine them alongside the replaced partitions.
"""

from typing import TYPE_CHECKING, Any

from tally.billing.focus_schema import BILLING_SCHEMA, RESTATEMENT_KEY
from tally.billing.model import BillingImport, BillingImportError, Reject, Violation

if TYPE_CHECKING:
    from tally.billing.importer import import_billing


def __getattr__(name: str) -> Any:
    # The importer (pyarrow.compute, the readers) loads on first use, not with its error class:
    # the API's problem handlers need the class at start, an import needs the rest only then.
    if name == "import_billing":
        from tally.billing.importer import import_billing

        return import_billing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BILLING_SCHEMA",
    "RESTATEMENT_KEY",
    "BillingImport",
    "BillingImportError",
    "Reject",
    "Violation",
    "import_billing",
]
