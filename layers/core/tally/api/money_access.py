"""Who may touch money: the one authorisation point of the tariff and invoice routes.

For now, key scopes: `tariffs:write` manages the price list and issues invoices and credit notes for
every site (the finance grant); `billing:read` reads the price list of the key's site and the
invoices whose every line lies at that site. When people and roles land, these two dependencies are
the only place to change (finance and admins: all sites).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from tally.api.deps import require
from tally.domain.control import BILLING_READ, TARIFFS_WRITE
from tally.services.ingest import Principal


@dataclass(frozen=True)
class MoneyAccess:
    principal: Principal
    #: The sites whose tariffs and invoices the caller may see; None: every site.
    sites: frozenset[str] | None


def _reader(who: Annotated[Principal, Depends(require(BILLING_READ, TARIFFS_WRITE))]) -> MoneyAccess:
    return MoneyAccess(who, None if TARIFFS_WRITE in who.scopes else frozenset({who.site}))


def _writer(who: Annotated[Principal, Depends(require(TARIFFS_WRITE))]) -> MoneyAccess:
    return MoneyAccess(who, None)


MoneyReader = Annotated[MoneyAccess, Depends(_reader)]
MoneyWriter = Annotated[MoneyAccess, Depends(_writer)]
