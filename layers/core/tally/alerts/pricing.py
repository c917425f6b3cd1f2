"""What an idle hour costs: the pricing interface of idle alerts, and the billed rate.

A `Pricer` gives the hourly rate of each VM or GPU it can price; idle hours times that rate is the
money an alert names. `BilledRates` prices a VM matched to imported bills (the instance keys of
tally.reconcile.ids, as billed_vs_measured and the verifier match them): its billed cost over its
billed hours in the month before the evaluation. A GPU attached to a VM is priced at its VM's rate (a GPU
instance is billed whole); a GPU of a batch job has no bill, so only a tariff can price it:
`TariffRates` prices a GPU per GPU-hour of its model by the default price list's tariff valid at the
evaluation. `FirstRate` chains pricers (a tariff first, then the bill).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from tally.alerts.model import Money
from tally.domain.ports import QueryEngine

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


#: Billed usage of instances, as billed_vs_measured counts it (on demand, spot, dedicated, reserved
#: or savings-plan usage; no fees, credits, corrections or negation lines), read from the bill's own
#: partitions so an evaluation never scans the VM samples for its prices.
BILLED_USAGE = """
SELECT provider, resource_id, x_vm_name, billing_currency AS currency,
  lower(coalesce(consumed_unit, pricing_unit)) AS unit,
  sum(CAST(coalesce(consumed_quantity, pricing_quantity) AS DOUBLE)) AS quantity,
  sum(billed_cost) AS cost
FROM billing
WHERE billing_period >= ? AND billing_period <= ?
  AND charge_period_start >= ? AND charge_period_start < ?
  AND charge_category = 'Usage'
  AND x_purchase_option IN ('on_demand', 'spot', 'dedicated', 'reserved', 'savings_plan')
  AND coalesce(x_line_item_type, '') <> 'SavingsPlanNegation'
  AND coalesce(charge_class, '') <> 'Correction'
  AND resource_id IS NOT NULL AND billed_cost IS NOT NULL
GROUP BY provider, resource_id, x_vm_name, billing_currency, lower(coalesce(consumed_unit, pricing_unit))
"""
#: Hours per unit of the time units billed_vs_measured reads.
HOURS_PER_UNIT = dict.fromkeys(("hrs", "hr", "hours", "hour", "h"), 1.0) | dict.fromkeys(
    ("seconds", "second", "s"), 1 / 3600
)


class BilledRates:
    """Billed cost per billed hour of each VM over the `days` before the evaluation, the bill's
    resource ids reduced to instances as the verifier and billed_vs_measured do."""

    def __init__(self, engine: QueryEngine, days: int = 31) -> None:
        self.engine = engine
        self.days = days

    def hourly_rates(self, items: Sequence[Priced], at: datetime) -> dict[Priced, Rate]:
        wanted = {item: self._key(item) for item in items}
        if not any(wanted.values()):
            return {}
        from tally.reconcile.ids import billed_instance_key, provider_key  # see _key

        start, end = at - timedelta(days=self.days), at + timedelta(days=1)
        params = (f"{start:%Y-%m}", f"{end:%Y-%m}", start.replace(tzinfo=None), end.replace(tzinfo=None))
        totals: dict[tuple[str, str, str], tuple[float, Decimal]] = {}
        for row in self.engine.query(BILLED_USAGE, params).table.to_pylist():
            per_unit = HOURS_PER_UNIT.get(str(row["unit"]))
            if per_unit is None or row["quantity"] is None:
                continue
            provider = provider_key(str(row["provider"]))
            instance = billed_instance_key(provider, row["resource_id"], row["x_vm_name"])
            if not instance:
                continue
            key = (provider, instance, str(row["currency"]))
            hours, cost = totals.get(key, (0.0, Decimal(0)))
            totals[key] = (hours + float(row["quantity"]) * per_unit, cost + Decimal(str(row["cost"])))
        # Per instance, the currency it was billed the most hours in.
        best: dict[tuple[str, str], tuple[float, Rate]] = {}
        for (provider, instance, currency), (hours, cost) in totals.items():
            if hours <= 0:
                continue
            rate = Rate(cost / Decimal(repr(hours)), currency, "billed")
            if (provider, instance) not in best or hours > best[(provider, instance)][0]:
                best[(provider, instance)] = (hours, rate)
        return {item: best[key][1] for item, key in wanted.items() if key and key in best}

    @staticmethod
    def _key(item: Priced) -> tuple[str, str] | None:
        # Imported on use: the reconcile package loads its numpy engine, which the API's Lambda
        # (where rules are checked, never priced) does not carry; the evaluator's has it.
        from tally.reconcile.ids import measured_instance_key, provider_key

        if not item.provider or not item.instance_id:
            return None
        provider = provider_key(item.provider)
        instance = measured_instance_key(provider, item.instance_id)
        return (provider, instance) if instance else None


TARIFF_GPU_RATES = """
SELECT site, resource, gpu_model, tariff_id, rate, currency
FROM tariffs
WHERE unit = 'gpu_hour' AND coalesce(project_class, '') = ''
  AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)
"""


class TariffRates:
    """GPUs at the gpu_hour tariff of their site, resource and model valid at the evaluation (the
    default price list, as an invoice without a project class prices them)."""

    def __init__(self, engine: QueryEngine) -> None:
        self.engine = engine

    def hourly_rates(self, items: Sequence[Priced], at: datetime) -> dict[Priced, Rate]:
        gpus = [i for i in items if i.kind == "gpu" and i.model]
        if not gpus:
            return {}
        when = at.replace(tzinfo=None)
        rates = {
            (r["site"], r["resource"], r["gpu_model"]): Rate(
                Decimal(r["rate"]).normalize(), str(r["currency"]), str(r["tariff_id"])
            )
            for r in self.engine.query(TARIFF_GPU_RATES, [when, when]).table.to_pylist()
        }
        out = {}
        for item in gpus:
            rate = rates.get((item.site, item.resource, item.model))
            if rate is not None:
                out[item] = rate
        return out


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
