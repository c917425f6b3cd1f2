"""The one authorisation point: what a caller (a site key or a person) may read or change, as a row
filter the route binds into its query.

Every read route asks `authorise(caller, action)` and gets a `Fence`; the route does no filtering
of its own. A fence either lets everything through, or lists clauses (dimension, allowed values)
of which a row must match at least one. Values are bound as parameters by the query builders;
only the fixed column names of the report catalogue are ever written into SQL. What no grant
allows is refused here with 403.

Keys keep their site fence: a key's clauses are (site, {its site}) for the scopes it holds.
A person's grants give: admin everything; finance every row of money and usage, usage aggregated
(no per-person dimension); site_manager (site, S); vo_manager (vo, V); project_manager (project, P);
user (user, their own person id). Money is for people only (no key scope reaches it): finance and
admins manage tariffs and invoices; a site manager reads their site's tariffs; a project manager
their project's invoices; a user their own per-person invoices.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tally.api.problems import Problem, forbidden
from tally.domain.control import (
    BILLING_READ,
    BILLING_WRITE,
    RECORDS_WRITE,
    REGISTRY_READ,
    REGISTRY_WRITE,
    REPORTS_READ,
)
from tally.people.model import PersonPrincipal
from tally.services.ingest import Principal

Caller = Principal | PersonPrincipal


class Action(StrEnum):
    USAGE_READ = "usage:read"  # reports and their exports
    REGISTRY_READ = "registry:read"
    REGISTRY_WRITE = "registry:write"
    BILLING_READ = "billing:read"
    BILLING_WRITE = "billing:write"
    INGEST_READ = "ingest:read"  # ingest health: per-site counters
    PEOPLE_MANAGE = "people:manage"  # people, identities and grants (admins; site managers at their site)
    AUDIT_READ = "audit:read"
    ALLOCATIONS_READ = "allocations:read"  # allocations and their status (tally.foresight)
    ALLOCATIONS_MANAGE = "allocations:manage"
    ALERTS_READ = "alerts:read"  # alerts of a site or project
    ALERTS_MANAGE = "alerts:manage"  # alert rules (admins; site managers at their site)
    KEYS_MANAGE = "keys:manage"  # a site's API keys (admins; site managers at their site)
    RECONCILIATION_READ = "reconciliation:read"  # the verifier's findings on a site's cloud accounts
    TARIFFS_READ = "tariffs:read"  # the price list
    INVOICES_READ = "invoices:read"  # issued invoices and credit notes, and their downloads
    MONEY_MANAGE = "money:manage"  # tariffs, issuing and crediting invoices, cost attribution rules


#: The key scopes that allow an action (for the key's own site).
KEY_SCOPES: dict[Action, frozenset[str]] = {
    Action.USAGE_READ: frozenset({REPORTS_READ}),
    Action.REGISTRY_READ: frozenset({REGISTRY_READ}),
    Action.REGISTRY_WRITE: frozenset({REGISTRY_WRITE}),
    Action.BILLING_READ: frozenset({BILLING_READ}),
    Action.BILLING_WRITE: frozenset({BILLING_WRITE}),
    Action.INGEST_READ: frozenset({RECORDS_WRITE, REPORTS_READ}),
    Action.RECONCILIATION_READ: frozenset({BILLING_READ}),
}
#: Per action, the roles whose grant reaches everything, and the scoped roles that count.
EVERYTHING: dict[Action, frozenset[str]] = {
    Action.USAGE_READ: frozenset({"admin", "finance"}),
    Action.REGISTRY_READ: frozenset({"admin"}),
    Action.REGISTRY_WRITE: frozenset({"admin"}),
    Action.BILLING_READ: frozenset({"admin", "finance"}),
    Action.BILLING_WRITE: frozenset({"admin", "finance"}),
    Action.INGEST_READ: frozenset({"admin"}),
    Action.PEOPLE_MANAGE: frozenset({"admin"}),
    Action.AUDIT_READ: frozenset({"admin"}),
    Action.ALLOCATIONS_READ: frozenset({"admin", "finance"}),
    Action.ALLOCATIONS_MANAGE: frozenset({"admin", "finance"}),
    Action.ALERTS_READ: frozenset({"admin", "finance"}),
    Action.ALERTS_MANAGE: frozenset({"admin"}),
    Action.KEYS_MANAGE: frozenset({"admin"}),
    Action.RECONCILIATION_READ: frozenset({"admin", "finance"}),
    Action.TARIFFS_READ: frozenset({"admin", "finance"}),
    Action.INVOICES_READ: frozenset({"admin", "finance"}),
    Action.MONEY_MANAGE: frozenset({"admin", "finance"}),
}
SCOPED: dict[Action, frozenset[str]] = {
    Action.USAGE_READ: frozenset({"site_manager", "vo_manager", "project_manager", "user"}),
    Action.REGISTRY_READ: frozenset({"site_manager"}),
    Action.REGISTRY_WRITE: frozenset({"site_manager"}),
    Action.INGEST_READ: frozenset({"site_manager"}),
    Action.PEOPLE_MANAGE: frozenset({"site_manager"}),
    # A user reads the allocations of projects they belong to (tally.foresight.service says how).
    Action.ALLOCATIONS_READ: frozenset({"site_manager", "project_manager", "user"}),
    Action.ALLOCATIONS_MANAGE: frozenset({"site_manager"}),
    Action.ALERTS_READ: frozenset({"site_manager", "project_manager"}),
    Action.ALERTS_MANAGE: frozenset({"site_manager"}),
    Action.KEYS_MANAGE: frozenset({"site_manager"}),
    Action.RECONCILIATION_READ: frozenset({"site_manager"}),
    # A site manager reads the price list of their site; invoices are read by the project's manager
    # and, for a per-person invoice, by that person (the user grant's scope is their person id).
    Action.TARIFFS_READ: frozenset({"site_manager"}),
    Action.INVOICES_READ: frozenset({"project_manager", "user"}),
}


@dataclass(frozen=True)
class Fence:
    """Rows a caller may see: all (`everything`), or those matching any of `clauses`."""

    everything: bool = False
    clauses: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: finance: usage only in aggregate, never by person.
    aggregated: bool = False

    def values(self, dimension: str) -> set[str]:
        return {v for d, vs in self.clauses if d == dimension for v in vs}

    def sites(self) -> set[str]:
        return self.values("site")

    def allows_site(self, site: str) -> bool:
        return self.everything or site in self.sites()

    def only(self, dimension: str) -> bool:
        """True if every clause is on `dimension` (so a value outside them can match nothing)."""
        return not self.everything and all(d == dimension for d, _ in self.clauses)

    def check_requested(self, dimension: str, requested: list[str]) -> None:
        """Refuse a request that names a value no clause could ever let through."""
        if not requested or not self.only(dimension):
            return
        allowed = self.values(dimension)
        outside = [v for v in requested if v not in allowed]
        if outside:
            raise forbidden(
                f"no grant of this caller reaches {dimension} {outside[0]!r} "
                f"(it reaches {', '.join(sorted(allowed)) or 'none'})"
            )


def _refuse(caller: Caller, action: Action) -> Problem:
    if isinstance(caller, Principal):
        scopes = sorted(KEY_SCOPES.get(action, ()))
        if not scopes:
            return forbidden(f"{action.value} is for people, not site keys: sign in or use a personal token")
        return forbidden(
            f"this key of site {caller.site!r} lacks the scope {' or '.join(scopes)} this request needs "
            f"(it holds {', '.join(sorted(caller.scopes)) or 'none'}): create a key with "
            f"`tally keys create --site {caller.site} --scope {scopes[0]}`"
        )
    held = ", ".join(f"{g.role}:{g.scope}" if g.scope else g.role for g in caller.grants) or "none"
    return forbidden(f"no grant allows {action.value} (this caller holds {held})")


def authorise(caller: Caller, action: Action) -> Fence:
    """The caller's fence for `action`, or 403 if no key scope or grant allows it at all."""
    if isinstance(caller, Principal):
        if caller.scopes & KEY_SCOPES.get(action, frozenset()):
            return Fence(clauses=(("site", (caller.site,)),))
        raise _refuse(caller, action)
    roles = caller.roles()
    if "admin" in roles and "admin" in EVERYTHING[action]:
        return Fence(everything=True)
    if "finance" in roles and "finance" in EVERYTHING[action]:
        return Fence(everything=True, aggregated=action == Action.USAGE_READ)
    clauses: dict[str, set[str]] = {}
    for grant in caller.grants:
        dimension = grant.dimension
        if grant.role in SCOPED.get(action, frozenset()) and dimension is not None:
            clauses.setdefault(dimension, set()).add(grant.scope)
    if not clauses:
        raise _refuse(caller, action)
    return Fence(clauses=tuple((d, tuple(sorted(vs))) for d, vs in sorted(clauses.items())))
