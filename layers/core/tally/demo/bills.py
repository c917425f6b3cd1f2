"""Demo cloud bills (FOCUS 1.2 CSV) for the demo VMs, with a few planted discrepancies.

What the invoice verifier should find in them, by construction:
- AWS `i-0a1b2c3d4e5f60004` ran days 3 to 16 but is billed to day 18: billed, not measured, twice.
- AWS `i-0deadbeef0000999` is billed for days 5 to 9 and is nobody's VM: billed, not measured.
- AWS `i-0a1b2c3d4e5f60002` is billed 3 extra hours on day 10: over-billed.
- AWS `i-0a1b2c3d4e5f60001` is billed at 1.4 x its price on day 12: a rate anomaly.
- AWS `i-0a1b2c3d4e5f60003` runs all month at 2 % CPU: idle.
- Azure `tally-burst-vm03` ran days 0 to 19 but is billed to day 21: billed, not measured, twice.
AWS bills in USD, Azure in EUR; each bill also has a tax line and a storage line that are no VM hours.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tally.demo.generator import CLOUD_VMS, CloudVm, vm_month

PRICES = {  # per hour, list = contracted in the demo
    "c6i.4xlarge": Decimal("0.7560"),
    "m6i.2xlarge": Decimal("0.4280"),
    "c6i.8xlarge": Decimal("1.5120"),
    "Standard_F16s_v2": Decimal("0.7140"),
    "Standard_D8s_v5": Decimal("0.4160"),
}
AWS_PAYER = "123456789012"
AZURE_BILLING_ACCOUNT = "8611537"
STRANGER = CloudVm(
    "aws", AWS_PAYER, "eu-west-1", "i-0deadbeef0000999", "c6i.4xlarge", 16, 32, 14.1, 0.9, (5, 10)
)
# (instance id, billed days (first, last exclusive) when different from what ran)
BILLED_DAYS = {"i-0a1b2c3d4e5f60004": (3, 19), "tally-burst-vm03": (0, 22)}
EXTRA_HOURS = {("i-0a1b2c3d4e5f60002", 10): Decimal(3)}
RATE_FACTOR = {("i-0a1b2c3d4e5f60001", 12): Decimal("1.4")}

COLUMNS = [
    "BillingAccountId",
    "BillingAccountName",
    "SubAccountId",
    "SubAccountName",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "PricingCategory",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "BillingCurrency",
    "ConsumedQuantity",
    "ConsumedUnit",
    "PricingQuantity",
    "PricingUnit",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceName",
    "ServiceCategory",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "RegionId",
    "SkuId",
    "InvoiceId",
]


@dataclass(frozen=True)
class DemoBill:
    provider: str
    filename: str
    content: bytes


def azure_resource_id(vm: CloudVm) -> str:
    return (
        f"/subscriptions/{vm.account}/resourceGroups/tally-burst/providers/"
        f"Microsoft.Compute/virtualMachines/{vm.instance_id}"
    )


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0000000001")))


def _line(provider: str, start: datetime, end: datetime, **values: str) -> dict[str, str]:
    aws = provider == "aws"
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        BillingAccountId=AWS_PAYER if aws else AZURE_BILLING_ACCOUNT,
        BillingAccountName="Tally research cloud" if aws else "Tally EA enrolment",
        BillingPeriodStart=_ts(start),
        BillingPeriodEnd=_ts(end),
        BillingCurrency="USD" if aws else "EUR",
        ProviderName="AWS" if aws else "Microsoft",
        PublisherName="AWS" if aws else "Microsoft",
        InvoiceIssuerName="AWS" if aws else "Microsoft",
        InvoiceId=f"{'INV-AWS' if aws else 'INV-AZ'}-{start:%Y%m}",
        ChargeFrequency="Usage-Based",
    )
    row.update(values)
    return row


def _vm_lines(vm: CloudVm, start: datetime, end: datetime) -> list[dict[str, str]]:
    days_in_month = (end - start).days
    first, last = BILLED_DAYS.get(vm.instance_id, vm.days or (0, days_in_month))
    resource = (
        f"arn:aws:ec2:{vm.region}:{vm.account}:instance/{vm.instance_id}"
        if vm.provider == "aws"
        else azure_resource_id(vm)
    )
    price = PRICES[vm.instance_type]
    lines = []
    for day in range(first, min(last, days_in_month)):
        day_start = start + timedelta(days=day)
        hours = Decimal(24) + EXTRA_HOURS.get((vm.instance_id, day), Decimal(0))
        rate = price * RATE_FACTOR.get((vm.instance_id, day), Decimal(1))
        cost = hours * rate
        lines.append(
            _line(
                vm.provider,
                start,
                end,
                SubAccountId=vm.account,
                SubAccountName="research-burst",
                ChargePeriodStart=_ts(day_start),
                ChargePeriodEnd=_ts(day_start + timedelta(days=1)),
                ChargeCategory="Usage",
                ChargeDescription=f"{vm.instance_type} on-demand instance hours",
                PricingCategory="Standard",
                BilledCost=_money(cost),
                EffectiveCost=_money(cost),
                ListCost=_money(hours * price),
                ContractedCost=_money(hours * price),
                ConsumedQuantity=str(hours),
                ConsumedUnit="Hours",
                PricingQuantity=str(hours),
                PricingUnit="Hours",
                ListUnitPrice=_money(price),
                ContractedUnitPrice=_money(price),
                ResourceId=resource,
                ResourceName=vm.instance_id,
                ResourceType="Virtual Machine",
                ServiceName="Amazon Elastic Compute Cloud" if vm.provider == "aws" else "Virtual Machines",
                ServiceCategory="Compute",
                RegionId=vm.region,
                SkuId=vm.instance_type,
            )
        )
    return lines


def _other_lines(
    provider: str, account: str, start: datetime, end: datetime, vm_cost: Decimal
) -> list[dict[str, str]]:
    aws = provider == "aws"
    storage_cost = Decimal("41.2500")
    tax = ((vm_cost + storage_cost) * Decimal("0.20")).quantize(Decimal("0.01"))
    return [
        _line(
            provider,
            start,
            end,
            SubAccountId=account,
            ChargePeriodStart=_ts(start),
            ChargePeriodEnd=_ts(end),
            ChargeCategory="Usage",
            ChargeDescription="block storage, GB-month",
            PricingCategory="Standard",
            BilledCost=_money(storage_cost),
            EffectiveCost=_money(storage_cost),
            ListCost=_money(storage_cost),
            ContractedCost=_money(storage_cost),
            ConsumedQuantity="500",
            ConsumedUnit="GB-Mo",
            PricingQuantity="500",
            PricingUnit="GB-Mo",
            ListUnitPrice="0.0825000000",
            ContractedUnitPrice="0.0825000000",
            ResourceId="vol-0a1b2c3d4e5f67890" if aws else f"/subscriptions/{account}/disks/scratch01",
            ServiceName="Amazon Elastic Block Store" if aws else "Storage",
            ServiceCategory="Storage",
        ),
        _line(
            provider,
            start,
            end,
            SubAccountId=account,
            ChargePeriodStart=_ts(start),
            ChargePeriodEnd=_ts(end),
            ChargeCategory="Tax",
            ChargeDescription="VAT",
            ChargeFrequency="Recurring",
            BilledCost=_money(tax),
            EffectiveCost=_money(tax),
            ListCost="0",
            ContractedCost="0",
            ServiceName="Tax",
            ServiceCategory="Other",
        ),
    ]


def generate_bills(now: datetime) -> list[DemoBill]:
    """One FOCUS 1.2 CSV per provider for the demo VMs' month."""
    start, end = vm_month(now.astimezone(UTC))
    bills = []
    for provider in ("aws", "azure"):
        vms = [vm for vm in CLOUD_VMS if vm.provider == provider]
        if provider == "aws":
            vms.append(STRANGER)
        rows = [line for vm in vms for line in _vm_lines(vm, start, end)]
        vm_cost = sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
        rows += _other_lines(provider, vms[0].account, start, end, vm_cost)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        bills.append(DemoBill(provider, f"{provider}-focus-{start:%Y-%m}.csv", out.getvalue().encode()))
    return bills
