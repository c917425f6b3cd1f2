"""Who may touch money: the tariff and invoice routes' dependencies, each answered by the one
authorisation point (tally.people.authz.authorise).

Money is for people, not site keys. Finance and admins manage the price list and issue and credit
invoices for every site; a site manager reads their site's tariffs; a project manager reads their
project's invoices (per-person ones included); a user reads the per-person invoices issued for them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from tally.api.deps import Access, authorised
from tally.money.invoices import EVERY_INVOICE, Reach
from tally.people.authz import Action, Fence


def tariff_sites(fence: Fence) -> frozenset[str] | None:
    """The sites whose tariffs the fence lets through (None: every site)."""
    return None if fence.everything else frozenset(fence.sites())


def invoice_reach(fence: Fence) -> Reach:
    if fence.everything:
        return EVERY_INVOICE
    return Reach(projects=frozenset(fence.values("project")), persons=frozenset(fence.values("user")))


TariffsReader = Annotated[Access, Depends(authorised(Action.TARIFFS_READ))]
InvoicesReader = Annotated[Access, Depends(authorised(Action.INVOICES_READ))]
MoneyManager = Annotated[Access, Depends(authorised(Action.MONEY_MANAGE))]
