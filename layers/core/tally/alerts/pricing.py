"""What an idle hour costs: the pricing interface of idle alerts, and the billed rate.

A `Pricer` gives the hourly rate of each VM or GPU it can price; idle hours times that rate is the
money an alert names. `BilledRates` prices a VM matched to imported bills (the instance key of
tally.reconcile.ids, as billed_vs_measured joins them): its billed cost over its billed hours in
the month before the evaluation. A GPU attached to a VM is priced at its VM's rate (a GPU
instance is billed whole); a GPU of a batch job has no bill, so only a tariff can price it.
`FirstRate` chains pricers (a tariff first, then the bill) for when tariffs exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from tally.alerts.model import Money
from tally.domain.ports import QueryEngine
from tally.reconcile.ids import measured_instance_key, provider_key

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Priced:
    """A thing to price: a VM (provider, instance) or a GPU (model; on a VM, that VM)."""

    kind: Literal["vm", "gpu"]
    site: str
    resource: str
    provider: str | None = None
    instance_id: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class Rate:
    per_hour: Decimal
    currency: str
    source: str  # where the rate comes from: "billed" (or a tariff's name)


class Pricer(Protocol):
    def hourly_rates(self, items: Sequence[Priced], at: datetime) -> dict[Priced, Rate]:
        """The rate of each item this pricer can price at `at` (others are left out)."""
        ...


def price(hours: float, rate: Rate) -> Money:
    """Hours (to the second) times the hourly rate, to the cent."""
    exact = Decimal(round(hours * 3600)) / 3600 * rate.per_hour
    return Money(exact.quantize(CENT), rate.currency)


BILLED_RATES = """
SELECT provider, instance_key, currency, sum(billed_cost) AS cost, sum(billed_hours) AS hours
FROM billed_vs_measured
WHERE billed_hours > 0 AND billed_cost IS NOT NULL AND day >= ? AND day < ?
GROUP BY provider, instance_key, currency
"""


class BilledRates:
    """Billed cost per billed hour of each VM over the `days` before the evaluation."""

    def __init__(self, engine: QueryEngine, days: int = 31) -> None:
        self.engine = engine
        self.days = days

    def hourly_rates(self, items: Sequence[Priced], at: datetime) -> dict[Priced, Rate]:
        wanted = {item: self._key(item) for item in items}
        if not any(wanted.values()):
            return {}
        start = (at - timedelta(days=self.days)).date()
        rows = self.engine.query(BILLED_RATES, (start, (at + timedelta(days=1)).date())).table.to_pylist()
        # Per instance, the currency it was billed the most hours in.
        best: dict[tuple[str, str], tuple[float, Rate]] = {}
        for row in rows:
            hours, cost = float(row["hours"]), Decimal(str(row["cost"]))
            key = (str(row["provider"]), str(row["instance_key"]))
            rate = Rate(cost / Decimal(str(hours)), str(row["currency"]), "billed")
            if key not in best or hours > best[key][0]:
                best[key] = (hours, rate)
        return {item: best[key][1] for item, key in wanted.items() if key and key in best}

    @staticmethod
    def _key(item: Priced) -> tuple[str, str] | None:
        if not item.provider or not item.instance_id:
            return None
        provider = provider_key(item.provider)
        instance = measured_instance_key(provider, item.instance_id)
        return (provider, instance) if instance else None


class FirstRate:
    """The first pricer that prices an item wins."""

    def __init__(self, *pricers: Pricer) -> None:
        self.pricers = pricers

    def hourly_rates(self, items: Sequence[Priced], at: datetime) -> dict[Priced, Rate]:
        out: dict[Priced, Rate] = {}
        for pricer in self.pricers:
            missing = [i for i in items if i not in out]
            if not missing:
                break
            out.update(pricer.hourly_rates(missing, at))
        return out
