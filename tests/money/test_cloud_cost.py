"""Commercial-cloud cost attributed to projects: through tags (keys in priority order, matched
whatever their case, values mapped), else through the VM Tally measured on the billed instance,
else shown as untagged; per currency, never added across currencies. Totals by hand below."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from tests.support.money import PROJECT, Money

HEADER = [
    "BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart",
    "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "ProviderName", "ResourceId", "Tags",
]  # fmt: skip
#: (currency, billed cost, resource id, tags) of each line, all on 1 March 2026; i-0abc is the VM
#: SITE-A measured that day for lattice-qcd (conftest VMS_A), i-0zzz one Tally never measured.
LINES = [
    ("USD", "10.00", "i-0abc", '{"Project": "LQCD"}'),  # tag, mapped: lattice-qcd
    ("USD", "2.50", "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc", ""),  # no tag: its VM's
    ("USD", "4.00", "i-0zzz", '{"team": "astro", "cost-center": "cc1"}'),  # second key: astro
    ("USD", "1.25", "i-0zzz", '{"PROJECT": " astro ", "team": "other"}'),  # first key wins: astro
    ("EUR", "3.00", "", ""),  # nothing: untagged, in euros
    ("USD", "0.75", "vol-123", '{"owner": "x"}'),  # no mapped key, no VM: untagged
    ("USD", "0.10", "", '{"project": ""}'),  # an empty value names nothing: untagged
]
MAPPING = {"tag_keys": ["project", "TEAM"], "values": {"lqcd": PROJECT}}
#: By hand: lattice-qcd 10.00 + 2.50; astro 4.00 + 1.25; untagged 0.75 + 0.10 USD and 3.00 EUR.
EXPECTED = {
    (PROJECT, "USD"): (2, Decimal("12.50")),
    ("astro", "USD"): (2, Decimal("5.25")),
    ("untagged", "EUR"): (1, Decimal("3.00")),
    ("untagged", "USD"): (2, Decimal("0.85")),
}
MARCH = {"from": "2026-03-01", "to": "2026-04-01"}


def _bill() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for currency, cost, resource, tags in LINES:
        writer.writerow(
            ["123456789012", currency, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "2026-03-01T10:00:00Z",
             "2026-03-01T11:00:00Z", "Usage", cost, cost, "AWS", resource, tags]
        )  # fmt: skip
    return out.getvalue().encode()


def _import(money: Money) -> None:
    stored = money.services.billing.import_files([(_bill(), "focus-2026-03.csv")], origin="cli")
    assert (stored.accepted, stored.rejected, stored.provider) == (len(LINES), 0, "aws"), stored


def _report(rows: list[dict[str, object]]) -> dict[tuple[object, object], tuple[object, Decimal]]:
    return {(r["project"], r["currency"]): (r["lines"], Decimal(str(r["billed_cost"]))) for r in rows}


def test_cost_is_attributed_by_tag_then_vm_then_untagged_per_currency(money: Money) -> None:
    _import(money)
    with money.client() as http:
        assert http.get("/v1/cost-attribution").json()["tag_keys"] == []
        stored = http.put("/v1/cost-attribution", json=MAPPING)
        assert stored.status_code == 200, stored.text
        assert stored.json()["values"] == {"lqcd": PROJECT}
        # Asked by project alone, the report still splits by currency.
        params = {**MARCH, "group_by": "project", "metrics": "lines,billed_cost"}
        answer = http.get("/v1/reports/cloud_cost", params=params)
        assert answer.status_code == 200, answer.text
        assert _report(answer.json()["rows"]) == EXPECTED
        how = http.get("/v1/reports/cloud_cost", params={**MARCH, "group_by": "attribution,site"}).json()
        by_how = {(r["attribution"], r["site"], r["currency"]): r["lines"] for r in how["rows"]}
        assert by_how == {
            ("tag", "SITE-A", "USD"): 1,
            ("vm", "SITE-A", "USD"): 1,
            ("tag", None, "USD"): 2,
            ("untagged", None, "USD"): 2,
            ("untagged", None, "EUR"): 1,
        }
    # The project's manager sees its cost only; the site manager the lines of VMs measured at SITE-A.
    with money.client(money.tokens["project_manager"]) as http:
        rows = http.get("/v1/reports/cloud_cost", params={**MARCH, "group_by": "project"}).json()["rows"]
        assert {(r["project"], r["currency"]) for r in rows} == {(PROJECT, "USD")}
    with money.client(money.tokens["site_manager"]) as http:
        rows = http.get("/v1/reports/cloud_cost", params={**MARCH, "group_by": "project"}).json()["rows"]
        assert _report(rows) == {(PROJECT, "USD"): (2, Decimal("12.50"))}
    # The monthly view: the same totals, with the tagged and VM-attributed shares.
    table = money.services.engine.query(
        "SELECT project, currency, lines, billed_cost, billed_cost_by_tag, billed_cost_by_vm, "
        "measured_instances FROM cloud_cost_by_project WHERE month = DATE '2026-03-01'",
        [],
    ).table
    view = {(r["project"], r["currency"]): r for r in table.to_pylist()}
    assert {k: (v["lines"], v["billed_cost"]) for k, v in view.items()} == EXPECTED
    assert (view[(PROJECT, "USD")]["billed_cost_by_tag"], view[(PROJECT, "USD")]["billed_cost_by_vm"]) == (
        Decimal("10.00"),
        Decimal("2.50"),
    )
    assert view[(PROJECT, "USD")]["measured_instances"] == 1
    assert view[("untagged", "EUR")]["billed_cost_by_tag"] is None


def test_without_a_mapping_only_measured_vms_attribute_cost(money: Money) -> None:
    _import(money)
    with money.client() as http:
        rows = http.get("/v1/reports/cloud_cost", params={**MARCH, "group_by": "project"}).json()["rows"]
    # Lines 1 and 2 are on the measured VM: 12.50; every other line is untagged.
    assert _report([{**r, "lines": r["lines"]} for r in rows]) == {
        (PROJECT, "USD"): (2, Decimal("12.50")),
        ("untagged", "USD"): (4, Decimal("6.10")),
        ("untagged", "EUR"): (1, Decimal("3.00")),
    }


def test_the_mapping_is_finances_and_refuses_ambiguity(money: Money) -> None:
    with money.client() as http:
        twice = http.put("/v1/cost-attribution", json={"tag_keys": ["Project", "project"]})
        assert twice.status_code == 422 and "twice" in twice.text
        both = http.put("/v1/cost-attribution", json={"tag_keys": ["k"], "values": {"A": "x", "a": "y"}})
        assert both.status_code == 422 and "twice" in both.text
        quoted = http.put("/v1/cost-attribution", json={"tag_keys": ['pro"ject']})
        assert quoted.status_code == 422
        assert http.put("/v1/cost-attribution", json=[]).status_code == 422
    for who in ("project_manager", "site_manager", "agent"):
        with money.client(money.tokens[who]) as http:
            assert http.get("/v1/cost-attribution").status_code == 403, who
            assert http.put("/v1/cost-attribution", json=MAPPING).status_code == 403, who


def test_a_tag_keys_pattern_reads_keys_with_punctuation_whatever_their_case() -> None:
    import duckdb

    from tally.money.cost_rules import key_pattern

    # As the importers write tags: CUR's user:..., Azure's keys with spaces and brackets.
    tags = '{"user:Project":"a b","Cost Center (x)":"cc.1","team":"q"}'
    connection = duckdb.connect()
    found = {
        key: connection.execute("SELECT regexp_extract(?, ?, 1)", [tags, key_pattern(key)]).fetchall()[0]
        for key in ("user:project", "COST CENTER (X)", "Team", "user:proj", "cost center")
    }
    assert found == {
        "user:project": ("a b",),
        "COST CENTER (X)": ("cc.1",),
        "Team": ("q",),
        "user:proj": ("",),
        "cost center": ("",),
    }
