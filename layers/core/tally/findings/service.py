"""Reconciliation findings from reconciliation_latest (the latest run of each billing period),
fenced by site: a site reaches the verdicts on its cloud accounts, those its VMs report (provider,
account in `vms`) and the billing accounts it owns (the control store's owners)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tally.domain.control import BillingAccount
from tally.query.engine import Param, QueryEngine

COLUMNS = (
    "run_id", "kind", "provider", "account", "resource_id", "instance_id", "day", "billing_period",
    "billed_hours", "measured_hours", "cpu_hours", "vcpus", "cost", "effective_cost", "flagged_cost",
    "currency", "verdict", "detail", "judged_at",
)  # fmt: skip
MAX_ROWS = 5_000


class OwnedAccounts(Protocol):
    def list_billing_accounts(self, owner: str | None = None) -> list[BillingAccount]: ...


@dataclass(frozen=True)
class FindingsQuery:
    period: str | None = None
    kind: str | None = None
    verdicts: tuple[str, ...] = ()
    include_ok: bool = False
    limit: int = 1_000


@dataclass(frozen=True)
class Findings:
    rows: list[dict[str, Any]]
    truncated: bool


class FindingsService:
    def __init__(self, engine: QueryEngine, owners: OwnedAccounts) -> None:
        self.engine = engine
        self.owners = owners

    def read(self, query: FindingsQuery, sites: Sequence[str] | None) -> Findings:
        """Findings of `sites` (None: of every account)."""
        where: list[str] = []
        params: list[Param] = []
        if query.period is not None:
            where.append("r.billing_period = ?")
            params.append(query.period)
        if query.kind is not None:
            where.append("r.kind = ?")
            params.append(query.kind)
        if query.verdicts:
            where.append(f"r.verdict IN ({', '.join('?' for _ in query.verdicts)})")
            params += list(query.verdicts)
        elif not query.include_ok:
            where.append("r.verdict <> 'ok'")
        if sites is not None:
            fence, fence_params = self._fence(sites)
            where.append(fence)
            params += fence_params
        sql = (
            f"SELECT {', '.join(f'r.{c}' for c in COLUMNS)}\nFROM reconciliation_latest AS r\n"
            + (f"WHERE {' AND '.join(where)}\n" if where else "")
            + "ORDER BY r.billing_period DESC, r.kind, r.provider, r.account, r.resource_id, r.day\n"
            + f"LIMIT {int(query.limit) + 1}"
        )
        rows = self.engine.query(sql, params).table.to_pylist()
        return Findings(rows[: query.limit], len(rows) > query.limit)

    def _fence(self, sites: Sequence[str]) -> tuple[str, list[Param]]:
        if not sites:
            return "1 = 0", []
        marks = ", ".join("?" for _ in sites)
        alternatives = [
            f"EXISTS (SELECT 1 FROM vms AS v WHERE v.site IN ({marks}) "
            "AND v.provider = r.provider AND v.account = r.account)"
        ]
        params: list[Param] = list(sites)
        owned = {
            (a.provider, a.billing_account_id) for s in sites for a in self.owners.list_billing_accounts(s)
        }
        for provider, account in sorted(owned):
            alternatives.append("(r.provider = ? AND r.account = ?)")
            params += [provider, account]
        return "(" + " OR ".join(alternatives) + ")", params
