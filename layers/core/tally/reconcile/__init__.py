"""Invoice verification: billed instance-hours against hours measured inside the VMs.

Pure domain code over Arrow tables (no storage, no AWS): `reconcile` takes `billing` rows (FOCUS
1.2 columns, `tally.billing.focus_schema.BILLING_SCHEMA`) and `vms` rows (the stored schema), and
returns one verdict per instance and UTC day plus one row per invoice and currency
(`schema.RECONCILIATION_SCHEMA`). `streamed.reconcile_streamed` gives the same rows from slices of
the inputs in bounded memory; `tally.services.reconcile` loads through it, stores and reports.
"""

from tally.reconcile.config import ReconcileConfig
from tally.reconcile.engine import Outcome, Window, reconcile
from tally.reconcile.schema import INVOICE_VERDICTS, RECONCILIATION_SCHEMA, VERDICTS

__all__ = [
    "INVOICE_VERDICTS",
    "RECONCILIATION_SCHEMA",
    "VERDICTS",
    "Outcome",
    "ReconcileConfig",
    "Window",
    "reconcile",
]
