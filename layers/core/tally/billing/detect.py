"""Which export a file is, decided from its header alone."""

from __future__ import annotations

from dataclasses import dataclass

from tally.billing.frame import canon, english_alias, header_keys
from tally.billing.model import BillingImportError

# Columns added by each FOCUS version (a file is the newest version whose columns it has).
_FOCUS_13 = {
    "serviceprovidername",
    "hostprovidername",
    "contractapplied",
    "allocatedmethodid",
    "allocatedresourceid",
}
_FOCUS_12 = {
    "invoiceid",
    "pricingcurrency",
    "billingaccounttype",
    "subaccounttype",
    "pricingcurrencycontractedunitprice",
    "pricingcurrencyeffectivecost",
    "pricingcurrencylistunitprice",
}
_FOCUS_11 = {
    "capacityreservationid",
    "capacityreservationstatus",
    "commitmentdiscountquantity",
    "commitmentdiscountunit",
    "servicesubcategory",
    "skumeter",
    "skupricedetails",
}


@dataclass(frozen=True, slots=True)
class Detected:
    source_format: str  # focus-1.x | aws-cur-legacy | aws-cur2 | aws-cur-athena | azure-* | gcp-billing
    family: str  # focus | aws | azure | gcp


def _is_camel(header: list[str], names: tuple[str, ...]) -> bool:
    wanted = {canon(n) for n in names}
    english = [english_alias(h) or h for h in header]
    hits = [h for h in english if canon(h) in wanted]
    return bool(hits) and all(h[:1].islower() for h in hits)


def detect(header: list[str]) -> Detected:
    """Classify a header; raise BillingImportError("unknown-format") with what was expected."""
    names = set(header_keys([h for h in header if h]))
    raw = set(header)
    if {"billedcost", "chargeperiodstart"} <= names:
        if names & _FOCUS_13:
            version = "1.3"
        elif names & _FOCUS_12:
            version = "1.2"
        elif names & _FOCUS_11:
            version = "1.1"
        else:
            version = "1.0"
        return Detected(f"focus-{version}", "focus")
    if any(h.startswith("lineItem/") for h in raw) and "lineitemusagestartdate" in names:
        return Detected("aws-cur-legacy", "aws")
    if "line_item_usage_start_date" in raw or (
        "lineitemusagestartdate" in names and "lineitemunblendedcost" in names
    ):
        if {"resourcetags", "product"} & names or "costcategory" in names:
            return Detected("aws-cur2", "aws")
        return Detected("aws-cur-athena", "aws")
    if "cost" in names and "usagestarttime" in names and ({"servicedescription", "skuid"} & names):
        return Detected("gcp-billing", "gcp")
    if {"pretaxcost"} & names and ({"usagedatetime", "date"} & names):
        return Detected("azure-legacy", "azure")
    azure_cost = {"cost", "costinbillingcurrency"} & names
    if azure_cost and {"metercategory", "meterid"} & names and ({"date", "usagedatetime"} & names):
        if _is_camel(header, ("costInBillingCurrency", "meterCategory", "date", "chargeType")):
            return Detected("azure-mca", "azure")
        return Detected("azure-ea", "azure")
    shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
    raise BillingImportError(
        "unknown-format",
        "unrecognised billing export header "
        f"({shown}); expected FOCUS 1.0-1.3 (BilledCost, ChargePeriodStart), AWS CUR (lineItem/... or "
        "line_item_...), Azure cost export (Date, MeterCategory, Cost/CostInBillingCurrency/PreTaxCost) "
        "or GCP billing export (cost, usage_start_time, service.description)",
    )
