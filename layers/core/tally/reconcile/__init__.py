"""Invoice verification: billed instance-hours against hours measured inside the VMs.

Pure domain code over Arrow tables (no storage, no AWS): `reconcile` takes `billing` rows (FOCUS
1.2 columns, `tally.billing.focus_schema.BILLING_SCHEMA`) and `vms` rows (the stored schema), and
returns one verdict per instance and UTC day plus one row per invoice and currency
(`schema.RECONCILIATION_SCHEMA`). `streamed.reconcile_streamed` gives the same rows from slices of
the inputs in bounded memory; `tally.services.reconcile` loads through it, stores and reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tally.reconcile.config import ReconcileConfig
from tally.reconcile.schema import INVOICE_VERDICTS, RECONCILIATION_SCHEMA, VERDICTS

if TYPE_CHECKING:
    from tally.reconcile.engine import Outcome, Window, reconcile

_ENGINE = frozenset({"Outcome", "Window", "reconcile"})


def __getattr__(name: str) -> Any:
    # The engine needs numpy, which only the verifier's layer carries: functions that import a
    # light submodule (ids, schema) must not pull it in through this package.
    if name in _ENGINE:
        from tally.reconcile import engine

        return getattr(engine, name)
    raise AttributeError(name)


__all__ = [
    "INVOICE_VERDICTS",
    "RECONCILIATION_SCHEMA",
    "VERDICTS",
    "Outcome",
    "ReconcileConfig",
    "Window",
    "reconcile",
]
