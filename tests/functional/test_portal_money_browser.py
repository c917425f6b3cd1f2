"""The portal's money and foresight pages in headless Chromium: a person subscribes one of their
saved views and deletes the subscription, finance reads an invoice's line items (figures equal to
the API's JSON and to a hand-worked total in two currencies), a project manager reads their
allocation's used and remaining, and nobody reaches another's subscription or invoice by editing
the URL. Screenshots of each page at 1280 and 390 px."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from tally.demo.people import DEMO_PROJECT
from tests.support.demo_portal import chromium, demo_home, post_jobs, serving, sign_in, tokens_of
from tests.support.portal import CHROMIUM
from tests.support.portal_pages import errors_of, settled, shoot
from tests.support.records import job

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install -y chromium"),
]

NORTH, RIVER = "NORTH-HPC", "RIVERSIDE-UNI"
PROJECT = "portal-ledger"
VIEW = {
    "title": "Jobs by site",
    "state": {"version": 1, "page": "explore", "search": "kind=jobs&rows=site&metrics=jobs"},
}


@dataclass(frozen=True)
class World:
    url: str
    people: dict[str, dict[str, Any]]  # role -> email, password, person_id
    tokens: dict[str, str]  # role -> bearer token
    invoice: str  # the correction's number (its lines are the priced jobs)
    credited: str  # the invoice it replaced
    credit_note: str
    allocation: str  # the project manager's project's allocation
    others_subscription: str  # the user's, for the URL-editing check
    totals: dict[str, Decimal]  # worked out by hand


def first_of_month(day: date, months_back: int = 0) -> date:
    year, month = day.year, day.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = demo_home(tmp_path_factory, "portal-money")
    now = home.now
    tokens = tokens_of(home, "finance", "user", "project_manager")
    start = datetime.combine(first_of_month(now.date(), 1), datetime.min.time(), tzinfo=UTC)
    period = start.strftime("%Y-%m")

    def at(day: int) -> str:
        return (start + timedelta(days=day, hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")

    # Each job's own HS06 benchmark (10 per core) prices it: at NORTH 2 h x 4 + 1 h x 8 cores =
    # 16 core-hours = 160 normalised; at RIVER 3 h x 2 cores = 6 core-hours = 60 normalised.
    jobs = {
        NORTH: [
            job(
                9101, site=NORTH, resource="hex", project=PROJECT, end_time=at(3), wall_seconds=7200, cores=4
            ),
            job(
                9102, site=NORTH, resource="hex", project=PROJECT, end_time=at(5), wall_seconds=3600, cores=8
            ),
        ],
        RIVER: [
            job(
                9103,
                site=RIVER,
                resource="bluebear",
                project=PROJECT,
                end_time=at(7),
                wall_seconds=10800,
                cores=2,
            )
        ],
    }
    for record in [*jobs[NORTH], *jobs[RIVER]]:
        record.update(start_time=None, submit_time=None, benchmark_type="HS06", benchmark_per_core=10.0)
        record["cpu_seconds"] = int(record["wall_seconds"]) * int(record["cores"])  # type: ignore[call-overload]
    totals = {"EUR": Decimal("160") * Decimal("0.0125"), "USD": Decimal("60") * Decimal("0.02")}
    with serving(home) as url:
        for site, batch in jobs.items():
            post_jobs(url, home.keys[site], batch)
        finance = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {tokens['finance']}"}, timeout=60
        )
        user = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['user']}"}, timeout=60)
        with finance, user:
            for tariff_id, site, resource, rate, currency in (
                ("ledger-hex", NORTH, "hex", "0.0125", "EUR"),
                ("ledger-bluebear", RIVER, "bluebear", "0.02", "USD"),
            ):
                body = {"site": site, "resource": resource, "unit": "core_hour", "benchmark": "HS06"}
                body |= {"rate": rate, "currency": currency, "valid_from": "2020-01-01T00:00:00Z"}
                assert finance.put(f"/v1/tariffs/{tariff_id}", json=body).status_code == 201
            issued = finance.post("/v1/invoices", json={"project": PROJECT, "period": period})
            assert issued.status_code == 201, issued.text
            credited = finance.post(f"/v1/invoices/{issued.json()['number']}/credit")
            assert credited.status_code == 201, credited.text
            # The project manager's project, from last month's first day to next month's.
            first, end = (
                first_of_month(now.date(), 1),
                first_of_month(first_of_month(now.date()) + timedelta(days=40)),
            )
            allocation = {"project": DEMO_PROJECT, "unit": "hs06_core_hours", "amount": 1_000_000}
            allocation |= {"start": first.isoformat(), "end": end.isoformat()}
            made = finance.post("/v1/allocations", json=allocation)
            assert made.status_code == 201, made.text
            allocation_id = made.json()["allocation_id"]
            used = finance.get(f"/v1/allocations/{allocation_id}/status").json()["used"]
            assert used > 0  # the demo's jobs of the project
            # An amount the use shows against: half again what is used so far.
            resized = finance.put(
                f"/v1/allocations/{allocation_id}", json={**allocation, "amount": round(used * 1.5, 1)}
            )
            assert resized.status_code == 200, resized.text
            # The user's own saved view, and one subscription of it made through the API.
            assert user.put("/v1/me/views/jobs-by-site", json=VIEW).status_code in (200, 201)
            sub = {"view": "jobs-by-site", "cadence": "weekly", "format": "pdf", "channel": "email"}
            theirs = user.post("/v1/me/subscriptions", json=sub)
            assert theirs.status_code == 201, theirs.text
        yield World(
            url,
            home.people,
            tokens,
            credited.json()["invoice"]["number"],
            issued.json()["number"],
            credited.json()["credit_note"]["number"],
            allocation_id,
            theirs.json()["id"],
            totals,
        )


def api(world: World, role: str) -> httpx.Client:
    return httpx.Client(
        base_url=world.url, headers={"Authorization": f"Bearer {world.tokens[role]}"}, timeout=60
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_a_user_subscribes_a_saved_view_and_deletes_it(world: World, browser: Browser) -> None:
    from playwright.sync_api import expect

    context, page = sign_in(browser, world, "user")
    errors = errors_of(page)
    # The subscribe action beside the saved view on the home page.
    saved = page.locator(
        "[data-saved-views] li", has=page.get_by_role("link", name="Jobs by site", exact=True)
    )
    saved.get_by_role("link", name="Subscribe", exact=True).click()
    expect(page.get_by_role("heading", name="My report subscriptions")).to_be_visible()
    settled(page)
    expect(page.locator("tr[data-subscription]")).to_have_count(1)  # the one made through the API
    expect(page.get_by_label("Saved view", exact=True)).to_have_value("jobs-by-site")
    # A webhook without its URL is refused in words before any request.
    page.get_by_label("Delivery", exact=True).select_option("webhook")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("form.subscribe")).to_contain_text("A webhook needs the URL to post to.")
    expect(page.get_by_label("Webhook URL", exact=True)).to_have_attribute("aria-invalid", "true")
    # This server lists no webhook address: the API's 422 is shown in words.
    page.get_by_label("Webhook URL", exact=True).fill("https://hooks.example.org/tally")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("form.subscribe .error")).to_contain_text("webhook delivery is not enabled")
    page.get_by_label("Delivery", exact=True).select_option("email")
    page.get_by_label("Cadence", exact=True).select_option("monthly")
    page.get_by_label("Format", exact=True).select_option("xlsx")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("form.subscribe")).to_contain_text("Subscribed.")
    rows = page.locator("tr[data-subscription]")
    expect(rows).to_have_count(2)
    with api(world, "user") as http:
        mine = http.get("/v1/me/subscriptions").json()
    made = next(s for s in mine if s["id"] != world.others_subscription)
    assert (made["view"], made["cadence"], made["format"], made["channel"]) == (
        "jobs-by-site",
        "monthly",
        "xlsx",
        "email",
    )
    row = page.locator(f"tr[data-subscription='{made['id']}']")
    expect(row).to_contain_text("monthly")
    expect(row).to_contain_text("Excel")
    expect(row).to_contain_text("none yet")
    # The next due day: the first of next month (UTC), worked out here.
    expect(row).to_contain_text(
        first_of_month(first_of_month(datetime.now(UTC).date()) + timedelta(days=40)).isoformat()
    )
    shoot(page, "user-subscriptions")
    row.get_by_role("link", name="Jobs by site").click()
    expect(page.get_by_role("heading", name="Subscription")).to_be_visible()
    expect(page.locator(".money-results")).to_contain_text("Nothing delivered yet.")
    shoot(page, "user-subscription")
    page.go_back()
    row = page.locator(f"tr[data-subscription='{made['id']}']")
    # Deleting asks first; "Keep it" keeps it.
    row.get_by_role("button", name="Delete the subscription to Jobs by site (monthly, Excel)").click()
    row.get_by_role("button", name="Keep it").click()
    row.get_by_role("button", name="Delete the subscription to Jobs by site (monthly, Excel)").click()
    row.get_by_role("button", name="Yes, delete").click()
    expect(page.locator("tr[data-subscription]")).to_have_count(1)
    expect(page.get_by_text("Deleted the subscription to Jobs by site.")).to_be_visible()
    with api(world, "user") as http:
        assert [s["id"] for s in http.get("/v1/me/subscriptions").json()] == [world.others_subscription]
    assert errors == []
    context.close()


def test_finance_reads_an_invoices_line_items(world: World, browser: Browser) -> None:
    from playwright.sync_api import expect

    context, page = sign_in(browser, world, "finance")
    errors = errors_of(page)
    page.locator("#nav").get_by_role("link", name="Invoices").click()
    settled(page)
    page.get_by_role("link", name=f"Line items of {world.invoice}").click()
    expect(page.get_by_role("heading", name=f"Invoice {world.invoice}")).to_be_visible()
    settled(page)
    with api(world, "finance") as http:
        document = http.get(f"/v1/invoices/{world.invoice}").json()
    got = page.locator("tr[data-line]").evaluate_all(
        "rows => rows.map(r => ({quantity: r.querySelector('[data-quantity]').dataset.quantity,"
        " rate: r.querySelector('[data-rate]').dataset.rate,"
        " amount: r.querySelector('[data-amount]').dataset.amount,"
        " currency: r.querySelector('[data-amount]').dataset.currency, site: r.children[0].textContent,"
        " resource: r.children[1].textContent}))"
    )
    wanted = [
        {k: line[k] for k in ("quantity", "rate", "amount", "currency", "site", "resource")}
        for line in document["lines"]
    ]
    assert got == wanted
    # The hand-worked figures: 160 normalised core-hours at 0.0125 EUR, 60 at 0.02 USD.
    by_site = {g["site"]: g for g in got}
    assert (
        Decimal(by_site[NORTH]["quantity"]) == 160
        and Decimal(by_site[NORTH]["amount"]) == world.totals["EUR"]
    )
    assert (
        Decimal(by_site[RIVER]["quantity"]) == 60 and Decimal(by_site[RIVER]["amount"]) == world.totals["USD"]
    )
    shown = dict(
        page.locator("tr[data-total]").evaluate_all(
            "rows => rows.map(r => [r.dataset.total, r.querySelector('[data-amount]').dataset.amount])"
        )
    )
    assert (
        {c: Decimal(a) for c, a in shown.items()}
        == {c: Decimal(a) for c, a in document["totals"].items()}
        == world.totals
    )
    expect(page.locator("tr[data-total='EUR']")).to_contain_text("2.00 EUR")
    expect(page.locator("tr[data-total='USD']")).to_contain_text("1.20 USD")
    expect(page.locator("[data-fact='corrects']")).to_contain_text(world.credited)
    expect(page.locator("[data-fact='status']")).to_have_text("issued")
    shoot(page, "finance-invoice")
    with page.expect_download() as pdf:
        page.get_by_role("link", name="PDF").click()
    assert Path(pdf.value.path()).read_bytes()[:5] == b"%PDF-"
    # The invoice it replaced: credited, its credit note and correction linked.
    page.locator("[data-fact='corrects']").get_by_role("link").click()
    expect(page.get_by_role("heading", name=f"Invoice {world.credited}")).to_be_visible()
    expect(page.locator("[data-fact='status']")).to_have_text("credited")
    expect(page.locator("[data-fact='cancelled by']")).to_have_text(world.credit_note)
    expect(page.locator("[data-fact='replaced by']")).to_have_text(world.invoice)
    assert errors == []
    context.close()


def test_a_project_manager_reads_their_allocation(world: World, browser: Browser) -> None:
    from playwright.sync_api import expect

    context, page = sign_in(browser, world, "project_manager")
    errors = errors_of(page)
    page.locator("#nav").get_by_role("link", name="Allocations").click()
    expect(page.get_by_role("heading", name="Allocations")).to_be_visible()
    settled(page)
    card = page.locator(f"[data-allocation='{world.allocation}']")
    expect(card).to_have_count(1)
    with api(world, "project_manager") as http:
        listed = http.get("/v1/allocations").json()
        status = http.get(f"/v1/allocations/{world.allocation}/status").json()
    expect(page.locator("[data-allocation]")).to_have_count(len(listed))

    def figure(key: str) -> float:
        return float(card.locator(f"[data-figure='{key}']").get_attribute("data-value") or "nan")

    assert figure("used") == pytest.approx(status["used"])
    assert figure("remaining") == pytest.approx(status["remaining"])
    assert status["used"] + status["remaining"] == pytest.approx(status["allocation"]["amount"])
    # The daily use the chart adds up comes to the used figure.
    assert sum(d["used"] for d in status["daily_use"]) == pytest.approx(status["used"])
    if status["forecast"]:
        assert figure("expected_total") == pytest.approx(status["forecast"]["expected_total"])
        expect(card.locator("[data-figure='runs_out_on']")).to_have_text(
            status["forecast"]["runs_out_on"] or "not within the period"
        )
    else:
        expect(card.locator("[data-no-forecast]")).to_contain_text(status["forecast_note"])
    expect(card.locator(".chart[data-state='ready'] canvas")).to_have_count(1)
    # Fair share: the API's rows, as many and with the same shares.
    with api(world, "project_manager") as http:
        shares = http.get("/v1/fairshare", params={"group_by": "project,user"}).json()["rows"]
    assert shares and {r["project"] for r in shares} == {DEMO_PROJECT}
    expect(page.locator("tr[data-fairshare]")).to_have_count(len(shares))
    got = page.locator("tr[data-fairshare] td:last-child").evaluate_all("c => c.map(e => +e.dataset.value)")
    # Aged to a moment apart from the page's: equal to well within the decay of those seconds.
    assert got == pytest.approx([r["share"] for r in shares], rel=1e-4)
    shoot(page, "pm-allocations")
    assert errors == []
    context.close()


def test_editing_the_url_reaches_no_one_elses_subscription_or_invoice(world: World, browser: Browser) -> None:
    from playwright.sync_api import expect

    # The project manager of another project: not the user's subscription, not this invoice.
    context, page = sign_in(browser, world, "project_manager")
    page.goto(f"{world.url}/subscriptions/{world.others_subscription}")
    expect(page.locator(".money-results .error")).to_contain_text(
        f"You have no subscription {world.others_subscription}"
    )
    page.goto(f"{world.url}/invoices/{world.invoice}")
    expect(page.locator(".money-results .error")).to_contain_text(
        f"No invoice {world.invoice} within your grants"
    )
    shoot(page, "pm-invoice-refused")
    # The user's own is theirs to read.
    context.close()
    context, page = sign_in(browser, world, "user")
    page.goto(f"{world.url}/subscriptions/{world.others_subscription}")
    expect(page.locator(".money-results dl")).to_contain_text("jobs-by-site")
    context.close()
