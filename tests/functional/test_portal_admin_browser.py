"""The portal's site management and money pages end to end in headless chromium: a site manager adds
a benchmark interval and ends it, creates a key (seen once, never again), uses it against the API,
revokes it (then 401); another site's manager editing the URL is refused in words; finance lists
invoices and credit notes, downloads a PDF and a CSV whose totals are the API's, and reads the
verifier's findings, the cloud spend and the alerts.

Real parts throughout: the demo warehouse plus a project of hand-priced jobs, the API and the built
portal under uvicorn on loopback, Debian's chromium driven by Playwright. Screenshots of each page at
1280 and 390 pixels land in test-artifacts/portal/ (git-ignored).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tally.alerts.model import RuleInput
from tally.people.authz import Fence
from tests.support.demo_portal import chromium, demo_home, post_jobs, serving, sign_in, tokens_of
from tests.support.portal import CHROMIUM
from tests.support.portal_pages import errors_of, settled, shoot
from tests.support.records import job

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install -y chromium"),
]

SITE, OTHER = "NORTH-HPC", "RIVERSIDE-UNI"
PROJECT = "portal-billing"
PASSWORD = "a long enough password"


@dataclass(frozen=True)
class World:
    url: str
    people: dict[str, dict[str, Any]]  # role -> email and password (other_site_manager among them)
    finance_token: str
    admin_token: str
    period: str
    invoice_total: Decimal  # EUR, worked out by hand from the priced jobs


def six_months(today: date) -> tuple[str, str]:
    """The last six months, this one included, worked out here on its own."""
    year, month = today.year, today.month - 5
    while month < 1:
        year, month = year - 1, month + 12
    end_year, end_month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return date(year, month, 1).isoformat(), date(end_year, end_month, 1).isoformat()


def last_month(now: datetime) -> tuple[datetime, str]:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    return start, start.strftime("%Y-%m")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = demo_home(tmp_path_factory, "portal-admin")
    svc, now, people = home.services, home.now, home.people
    other = svc.people.add_person("Other site manager", "other@example.org", "test", password=PASSWORD)
    svc.people.add_grant(other.person_id, "site_manager", OTHER, "test")
    people["other_site_manager"] = {"email": "other@example.org", "password": PASSWORD}
    tokens = tokens_of(home, "finance", "admin")
    token = tokens["finance"]
    # Agents gone quiet: evaluated half a day ahead, every demo resource has been silent 12 hours.
    svc.alerts.add_rule(RuleInput(kind="silent_agent", params={"hours": 6}), Fence(everything=True), "test")
    svc.alerts.run(now + timedelta(hours=12))

    start, period = last_month(now)

    def at(day: int) -> str:
        return (start + timedelta(days=day, hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")

    # Each job's own benchmark prices it: 2 h x 4 cores x 10 = 80 and 1 h x 8 x 10 = 80 core-hours.
    jobs = [
        job(9001, site=SITE, resource="hex", project=PROJECT, end_time=at(3), wall_seconds=7200, cores=4),
        job(9002, site=SITE, resource="hex", project=PROJECT, end_time=at(5), wall_seconds=3600, cores=8),
    ]
    for record, (wall, cores) in zip(jobs, ((7200, 4), (3600, 8)), strict=True):
        record.update(start_time=None, submit_time=None, benchmark_type="HS06", benchmark_per_core=10.0)
        record["cpu_seconds"] = wall * cores
    with serving(home) as url:
        post_jobs(url, home.keys[SITE], jobs)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            tariff = {
                "site": SITE,
                "resource": "hex",
                "unit": "core_hour",
                "benchmark": "HS06",
                "rate": "0.0125",
                "currency": "EUR",
                "valid_from": "2020-01-01T00:00:00Z",
            }
            assert http.put("/v1/tariffs/portal-hex", json=tariff).status_code == 201
            issued = http.post("/v1/invoices", json={"project": PROJECT, "period": period})
            assert issued.status_code == 201, issued.text
            # A correction: a credit note cancels it and a new invoice replaces it.
            assert http.post(f"/v1/invoices/{issued.json()['number']}/credit").status_code == 201
        yield World(url, people, token, tokens["admin"], period, Decimal("160") * Decimal("0.0125"))


def test_a_site_manager_manages_the_registry_and_keys(world: World) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        context, page = sign_in(browser, world, "site_manager")
        errors = errors_of(page)
        # The nav offers this site's management and no money page.
        nav = page.locator("#nav")
        expect(nav.get_by_role("link", name=f"Site {SITE}")).to_be_visible()
        expect(nav.get_by_role("link", name="Invoices")).to_have_count(0)
        expect(nav.get_by_role("link", name="Cloud spend")).to_have_count(0)
        nav.get_by_role("link", name=f"Site {SITE}").click()
        expect(page).to_have_url(f"{world.url}/sites/{SITE}")
        bench = page.locator("[data-section=benchmarks]")
        expect(bench.locator("tbody tr").first).to_be_visible()
        before = bench.locator("tbody tr").count()

        # A mistake is named before anything is sent.
        form = bench.get_by_role("form", name="Add a benchmark interval")
        form.get_by_label("Resource").fill("portal-test")
        form.get_by_label("Per core").fill("0")
        form.get_by_role("button", name="Add a benchmark interval").click()
        expect(form.locator(".error")).to_contain_text("above 0")
        # A valid interval is added through the API, and listed.
        form.get_by_label("Benchmark").select_option("HS06")
        form.get_by_label("Per core").fill("12.25")
        form.get_by_label("Valid from (day)").fill("2026-01-01")
        form.get_by_role("button", name="Add a benchmark interval").click()
        expect(bench.locator("tbody tr")).to_have_count(before + 1)
        row = bench.locator("tbody tr", has_text="portal-test")
        expect(row).to_contain_text("from 2026-01-01, open")
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
        with httpx.Client(base_url=world.url, headers={"Cookie": cookie}) as http:
            stored = [e for e in http.get("/v1/registry/resources").json() if e["resource"] == "portal-test"]
        assert [(e["site"], e["benchmark_type"], e["benchmark_per_core"], e["valid_to"]) for e in stored] == [
            (SITE, "HS06", 12.25, None)
        ]
        # An overlapping interval is the API's 409, shown in words.
        form.get_by_label("Resource").fill("portal-test")
        form.get_by_label("Benchmark").select_option("HS06")
        form.get_by_label("Per core").fill("13")
        form.get_by_label("Valid from (day)").fill("2026-06-01")
        form.get_by_role("button", name="Add a benchmark interval").click()
        expect(form.locator(".error")).to_contain_text("overlap")
        # Ended, by keyboard: the open interval gets its end day.
        row.get_by_label("End portal-test HS06 on").fill("2026-07-01")
        row.get_by_label("End portal-test HS06 on").press("Enter")
        expect(row).to_contain_text("2026-01-01 to 2026-07-01 (end exclusive)")
        # A queue mapped to a commercial application, then removed after a confirmation.
        apps = page.locator("[data-section=applications]")
        form = apps.get_by_role("form", name="Add an application rule")
        form.get_by_label("Application", exact=True).fill("portal-app")
        form.get_by_label("Queue").fill("portal-q")
        form.get_by_label("Commercial application").check()
        form.get_by_role("button", name="Add an application rule").click()
        rule = apps.locator("tbody tr", has_text="portal-app")
        expect(rule).to_contain_text("commercial")
        with httpx.Client(base_url=world.url, headers={"Cookie": cookie}) as http:
            rules = [
                e for e in http.get("/v1/registry/applications").json() if e["application"] == "portal-app"
            ]
        assert [(e["site"], e["queue"], e["commercial"], e["priority"]) for e in rules] == [
            (SITE, "portal-q", True, 100)
        ]
        shoot(page, "site-registry")
        rule.get_by_role("button", name="Remove").click()
        rule.get_by_role("button", name="Yes, remove").click()
        expect(apps.locator("tbody tr", has_text="portal-app")).to_have_count(0)

        # A new key: shown once, with the warning and a copy button.
        keys = page.locator("[data-section=keys]")
        keys.get_by_label("Resources").fill("hex")
        keys.get_by_role("button", name="Create a key").click()
        once = keys.locator("[data-new-key]")
        expect(once).to_contain_text("shown this once")
        expect(once.get_by_role("button", name="Copy the key")).to_be_visible()
        secret = once.locator("[data-secret]").inner_text()
        key_id = once.get_attribute("data-new-key")
        assert secret.startswith("tly") and key_id
        expect(keys.locator(f"tr[data-key='{key_id}']")).to_contain_text("active")
        shoot(page, "site-keys-new")
        # Reloaded, the page lists the key but shows its secret nowhere.
        page.reload()
        expect(keys.locator(f"tr[data-key='{key_id}']")).to_be_visible()
        assert secret not in page.content()
        assert page.locator("[data-secret]").count() == 0

        # The key works for what it is scoped to: an agent post and a read of its site's registry.
        record = job(9100, site=SITE, resource="hex")
        with httpx.Client(base_url=world.url, headers={"Authorization": f"Bearer {secret}"}) as agent:
            posted = agent.post("/v1/records/jobs", json=[record])
            assert posted.status_code == 200 and posted.json()["accepted"] == 1, posted.text
            assert agent.get("/v1/registry/resources").status_code == 200
            # Revoked with a confirmation in the page: it stops working.
            row = keys.locator(f"tr[data-key='{key_id}']")
            row.get_by_role("button", name="Revoke").click()
            expect(row).to_contain_text(f"Revoke key {key_id}?")
            row.get_by_role("button", name="Yes, revoke").click()
            expect(keys.locator(f"tr[data-key='{key_id}']")).to_contain_text("revoked")
            assert agent.get("/v1/registry/resources").status_code == 401
            again = job(9101, site=SITE, resource="hex")
            assert agent.post("/v1/records/jobs", json=[again]).status_code == 401
        shoot(page, "site-keys-revoked")
        # Audited as the API audits: the site manager created and revoked this key.
        with httpx.Client(
            base_url=world.url, headers={"Authorization": f"Bearer {world.admin_token}"}
        ) as http:
            audit = http.get("/v1/audit", params={"target": f"site:{SITE}"}).json()
        me = world.people["site_manager"]["person_id"]
        done = {e["action"] for e in audit if me in e["actor"] and key_id in json.dumps(e["detail"])}
        assert done == {"key.create", "key.revoke"}, audit
        assert errors == []
        context.close()


def test_another_sites_manager_editing_the_url_is_refused(world: World) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        context, page = sign_in(browser, world, "other_site_manager")
        expect(page.locator("#nav").get_by_role("link", name=f"Site {SITE}")).to_have_count(0)
        page.goto(f"{world.url}/sites/{SITE}")
        # The keys are refused and said so; none of the site's registry entries is shown.
        expect(page.get_by_role("alert").first).to_contain_text(f"You cannot manage site {SITE}")
        expect(page.locator("[data-section=keys] .error")).to_contain_text("Not allowed")
        assert page.locator("[data-section=keys] tr[data-key]").count() == 0
        expect(page.locator("[data-section=benchmarks] .empty")).to_be_visible()
        # Adding an entry for that site is the API's 403, in words; nothing is stored.
        form = page.get_by_role("form", name="Add a VO mapping")
        form.get_by_label("Value").fill("intruder")
        form.get_by_label("VO").fill("atlas")
        form.get_by_role("button", name="Add a VO mapping").click()
        expect(form.locator(".error")).to_contain_text("Not allowed")
        with httpx.Client(
            base_url=world.url, headers={"Authorization": f"Bearer {world.admin_token}"}
        ) as http:
            mapped = http.get("/v1/registry/vo_mapping").json()
        assert [e for e in mapped if e["match_value"] == "intruder"] == []
        shoot(page, "site-refused")
        context.close()

        # An admin reaches every site: the index lists those with registry entries.
        context, page = sign_in(browser, world, "admin")
        page.locator("#nav").get_by_role("link", name="Sites").click()
        expect(page.get_by_role("heading", name="Site management")).to_be_visible()
        page.get_by_role("link", name=OTHER, exact=True).click()
        expect(page).to_have_url(f"{world.url}/sites/{OTHER}")
        expect(page.locator("[data-section=benchmarks] tbody tr").first).to_be_visible()
        shoot(page, "sites-admin")
        context.close()

        # Their own site still works for the other site's manager.
        context, page = sign_in(browser, world, "other_site_manager")
        page.goto(f"{world.url}/sites/{OTHER}")
        expect(page.locator("[data-section=keys] tbody tr").first).to_be_visible()
        assert page.locator(".error").count() == 0
        context.close()


def test_finance_reads_invoices_findings_cloud_spend_and_alerts(world: World) -> None:
    from playwright.sync_api import expect

    api = httpx.Client(
        base_url=world.url, headers={"Authorization": f"Bearer {world.finance_token}"}, timeout=60
    )
    with chromium() as browser, api:
        context, page = sign_in(browser, world, "finance")
        errors = errors_of(page)
        nav = page.locator("#nav")
        expect(nav.get_by_role("link", name="Sites")).to_have_count(0)
        nav.get_by_role("link", name="Invoices").click()
        expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
        # Filtered to the project's month: the invoice, its credit note, its correction.
        page.get_by_label("Period (month)").fill(world.period)
        page.get_by_label("Project").fill(PROJECT)
        page.get_by_role("button", name="Show").click()
        expect(page).to_have_url(f"{world.url}/invoices?period={world.period}&project={PROJECT}")
        rows = page.locator("tr[data-invoice]")
        expect(rows).to_have_count(3)
        listed = api.get("/v1/invoices").json()
        mine = {i["number"]: i for i in listed if i["project"] == PROJECT and i["period"] == world.period}
        assert len(mine) == 3
        credit = next(i for i in mine.values() if i["kind"] == "credit_note")
        fixed = next(i for i in mine.values() if i["corrects"])
        expect(page.locator(f"tr[data-invoice='{credit['number']}']")).to_contain_text(
            f"Credit note (cancels {credit['credits']})"
        )
        expect(page.locator(f"tr[data-invoice='{fixed['number']}']")).to_contain_text(
            f"Invoice (corrects {credit['credits']})"
        )
        # The hand-worked total: 160 normalised core-hours at 0.0125 EUR.
        assert Decimal(fixed["totals"]["EUR"]) == world.invoice_total == Decimal("2.00")
        expect(page.locator(f"tr[data-invoice='{fixed['number']}']")).to_contain_text("2.00 EUR")
        shoot(page, "finance-invoices")

        row = page.locator(f"tr[data-invoice='{fixed['number']}']")
        with page.expect_download() as pdf:
            row.get_by_role("link", name=f"PDF of {fixed['number']}").click()
        assert Path(pdf.value.path()).read_bytes()[:5] == b"%PDF-"
        with page.expect_download() as excel:
            row.get_by_role("link", name=f"Excel of {fixed['number']}").click()
        assert Path(excel.value.path()).read_bytes()[:2] == b"PK"  # an Office Open XML zip
        with page.expect_download() as got:
            row.get_by_role("link", name=f"CSV of {fixed['number']}").click()
        table = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
        document = api.get(f"/v1/invoices/{fixed['number']}").json()
        totals = {r["currency"]: Decimal(r["amount"]) for r in table if r["unit"] == "total"}
        assert (
            totals == {c: Decimal(a) for c, a in document["totals"].items()} == {"EUR": world.invoice_total}
        )
        lines = [r for r in table if r["unit"] != "total"]
        assert sum(Decimal(r["amount"]) for r in lines) == world.invoice_total
        assert len(lines) == len(document["lines"])

        # The verifier's findings, with their money, as the API has them.
        nav.get_by_role("link", name="Findings").click()
        expect(page.get_by_role("heading", name="The verifier's findings")).to_be_visible()
        settled(page)
        found = api.get("/v1/reconciliation", params={"limit": 1000}).json()["rows"]
        assert found
        expect(page.locator("tr[data-verdict]")).to_have_count(len(found))
        flagged = sorted(Decimal(r["flagged_cost"]) for r in found if r["flagged_cost"] is not None)
        shown = sorted(
            Decimal(v)
            for v in page.locator("td[data-flagged]").evaluate_all("t => t.map(e => e.dataset.flagged)")
            if v
        )
        assert shown == flagged
        shoot(page, "finance-findings")

        nav.get_by_role("link", name="Cloud spend").click()
        expect(page.get_by_role("heading", name="Cloud spend against measured hours")).to_be_visible()
        settled(page)
        assert page.locator(".money-results .error").count() == 0
        # Each row is the two reports' figures for its month, provider and account.
        first, end = six_months(datetime.now(UTC).date())
        asked = {"from": first, "to": end, "group_by": "month,provider,account"}
        cost = api.get("/v1/reports/cloud_cost", params={**asked, "metrics": "billed_cost"}).json()["rows"]
        hours = api.get("/v1/reports/vms", params={**asked, "metrics": "measured_hours"}).json()["rows"]

        def key(r: dict[str, Any]) -> tuple[str, str, str]:
            return (str(r["month"])[:7], str(r["provider"]), str(r["account"] or "–"))

        billed = {(*key(r), r["currency"]): r["billed_cost"] for r in cost}
        measured = {key(r): r["measured_hours"] for r in hours}
        assert billed and measured
        cells = page.locator(".money-results tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.children].map(c => c.dataset.value ?? c.textContent))"
        )
        got_billed = {(m, p, a, c): float(b) for m, p, a, c, b, *_ in cells if b != ""}
        got_hours = {(row[0], row[1], row[2]): float(row[6]) for row in cells if row[6] != ""}
        assert got_billed == pytest.approx(billed)
        assert got_hours == pytest.approx(measured)
        shoot(page, "finance-cloud")

        nav.get_by_role("link", name="Alerts").click()
        expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
        settled(page)
        alerts = api.get("/v1/alerts", params={"state": "open"}).json()
        assert alerts
        expect(page.locator("tr[data-alert]")).to_have_count(len(alerts))
        shoot(page, "finance-alerts")
        assert errors == []
        context.close()

        # A VO manager holds no money grant: no links, and the page says the API's no.
        context, page = sign_in(browser, world, "vo_manager")
        expect(page.locator("#nav").get_by_role("link", name="Invoices")).to_have_count(0)
        page.goto(f"{world.url}/findings")
        expect(page.locator(".money-results .error")).to_contain_text("Not allowed")
        context.close()
