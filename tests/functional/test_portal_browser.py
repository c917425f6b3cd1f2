"""The portal end to end in headless chromium, for each demo role: sign in, the home page, a pivot
in the explorer, the CSV export compared with the reports API called directly, the view shared by
URL and reopened, back and forward; and a user who edits the URL still sees only their own rows.

Real parts throughout: the demo warehouse, the API and the built portal under uvicorn on loopback,
Debian's chromium driven by Playwright with `executable_path` (no browser download). Screenshots of
every page land in test-artifacts/portal/ (git-ignored).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import openpyxl  # type: ignore[import-untyped]  # openpyxl ships no type hints
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tally.api.app import create_app
from tally.auth.oidc.config import OidcConfig
from tally.demo.loader import load_demo
from tally.services.container import Services
from tally.serving.portal import with_portal
from tests.support import demo_portal
from tests.support.deployments import local_settings
from tests.support.portal import ARTEFACTS, CHROMIUM, CHROMIUM_FLAGS, built_portal, running_asgi

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install -y chromium"),
]

JOBS = 3000
TIMEOUT = 30_000


@dataclass(frozen=True)
class Portal:
    url: str
    people: dict[str, dict[str, Any]]  # role -> its demo-people.json entry


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    dist = built_portal()
    home = tmp_path_factory.mktemp("portal") / "home"
    app = create_app(local_settings(home))
    svc: Services = app.state.services
    load_demo(svc, jobs=JOBS, months=3, now=datetime.now(UTC))
    people = {p["role"]: p for p in json.loads((home / "demo-people.json").read_text())}
    with running_asgi(with_portal(app, dist)) as url:
        yield Portal(url, people)


def six_months(today: date) -> tuple[str, str]:
    """The explorer's default range (last 6 months, this one included), worked out here on its own."""
    year, month = today.year, today.month - 5
    while month < 1:
        year, month = year - 1, month + 12
    end_year, end_month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return date(year, month, 1).isoformat(), date(end_year, end_month, 1).isoformat()


def api_rows(portal: Portal, cookie: str, kind: str, **params: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=portal.url, headers={"Cookie": cookie}) as http:
        answer = http.get(f"/v1/reports/{kind}", params=params)
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["rows"]
    return rows


# A pivot every role may ask for (finance reads usage only in aggregate, so no user dimension).
PIVOT_ROWS, PIVOT_COL, PIVOT_METRICS = "site", "month", ("jobs", "core_hours")


def collect_errors(page: Page) -> list[str]:
    """Script errors the page throws (a blank page starts as one)."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def sign_in(browser: Browser, portal: Portal, role: str, width: int = 1280) -> tuple[BrowserContext, Page]:
    return demo_portal.sign_in(browser, portal, role, width, greeting="Welcome, Demo")


def cookie_of(context: BrowserContext) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())


def test_every_role_signs_in_explores_exports_and_shares(portal: Portal) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    start, end = six_months(datetime.now(UTC).date())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            for role, person in portal.people.items():
                context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
                page = context.new_page()
                page.set_default_timeout(TIMEOUT)
                errors = collect_errors(page)

                # Signed out, the home page sends to the sign-in page.
                page.goto(f"{portal.url}/")
                expect(page.get_by_role("heading", name="Sign in to Tally")).to_be_visible()
                page.screenshot(path=str(ARTEFACTS / "login.png"))
                page.get_by_label("Email").fill(person["email"])
                page.get_by_label("Password").fill(person["password"])
                page.get_by_role("button", name="Sign in").click()

                # Home: every panel of the role loads a chart or a table, none an error.
                expect(page.get_by_role("heading", name="Welcome, Demo", exact=False)).to_be_visible()
                panels = page.locator("[data-panel]")
                expect(panels.first).to_be_visible()
                page.wait_for_function(
                    "() => [...document.querySelectorAll('[data-panel] .panel-body')]"
                    ".every(b => b.getAttribute('aria-busy') === 'false')"
                )
                assert panels.count() >= 3, role
                assert page.locator("[data-panel] .error").count() == 0, (
                    role,
                    page.locator("[data-panel] .error").all_inner_texts(),
                )
                assert page.locator("[data-panel] .chart[data-state=ready]").count() >= 1, role
                page.screenshot(path=str(ARTEFACTS / f"home-{role}.png"), full_page=True)

                # Explorer: rows = site, columns = month, metrics jobs and core hours.
                page.get_by_role("link", name="Explorer", exact=True).click()
                expect(page.get_by_role("heading", name="Explorer")).to_be_visible()
                page.locator("#x-rows-site").check()
                page.locator("#x-cols-month").check()
                page.locator("#x-metric-core_hours").check()
                expect(page).to_have_url(
                    f"{portal.url}/explore?kind=jobs&range=last-6-months&rows=site&cols=month"
                    "&metrics=jobs%2Ccore_hours&chart=bar"
                )
                page.wait_for_selector(".results table")
                expect(page.locator(".results")).to_have_attribute("aria-busy", "false")
                page.screenshot(path=str(ARTEFACTS / f"explorer-{role}.png"), full_page=True)

                # The CSV of the table holds exactly the reports API's numbers.
                with page.expect_download() as download:
                    page.locator("[data-export=csv]").click()
                table = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
                cookie = cookie_of(context)
                expected = api_rows(
                    portal,
                    cookie,
                    "jobs",
                    **{
                        "from": start,
                        "to": end,
                        "group_by": f"{PIVOT_ROWS},{PIVOT_COL}",
                        "metrics": ",".join(PIVOT_METRICS),
                    },
                )
                assert expected, role
                header, body = table[0], table[1:]
                assert header[0] == PIVOT_ROWS
                cells = {(row[0], header[i]): row[i] for row in body for i in range(1, len(header))}
                want = {
                    (str(r[PIVOT_ROWS]), f"{r[PIVOT_COL]} · {m}"): float(r[m])
                    for r in expected
                    for m in PIVOT_METRICS
                }
                got = {k: float(v) for k, v in cells.items() if v != ""}
                assert got == want, role
                assert {v for k, v in cells.items() if k not in want} <= {
                    ""
                }  # empty where the API has no row

                # Shared: the URL opened in another tab shows the same view and the same numbers.
                shared = page.url
                values = page.locator(".results td").evaluate_all("tds => tds.map(td => td.dataset.value)")
                other = context.new_page()
                other.goto(shared)
                other.wait_for_selector(".results table")
                expect(other.locator("#x-rows-site")).to_be_checked()
                expect(other.locator("#x-metric-core_hours")).to_be_checked()
                assert (
                    other.locator(".results td").evaluate_all("tds => tds.map(td => td.dataset.value)")
                    == values
                )
                other.close()

                # Back and forward step through the changes.
                page.go_back()
                expect(page.locator("#x-metric-core_hours")).not_to_be_checked()
                page.go_forward()
                expect(page.locator("#x-metric-core_hours")).to_be_checked()
                assert errors == [], (role, errors)
                context.close()
        finally:
            browser.close()


def test_excel_png_and_svg_exports_and_the_narrow_screen(portal: Portal) -> None:
    from playwright.sync_api import expect, sync_playwright

    start, end = six_months(datetime.now(UTC).date())
    view = "kind=jobs&range=last-6-months&rows=month&cols=site&metrics=core_hours&chart=bar"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            context, page = sign_in(browser, portal, "admin")
            errors = collect_errors(page)
            page.goto(f"{portal.url}/explore?{view}")
            page.wait_for_selector(".results .chart[data-state=ready]")
            # Excel is the server's own export of the same request: the API's rows, cell by cell.
            with page.expect_download() as excel:
                page.locator("[data-export=xlsx]").click()
            sheet = openpyxl.load_workbook(io.BytesIO(Path(excel.value.path()).read_bytes())).active
            assert sheet is not None
            got = [[c.value for c in row] for row in sheet.iter_rows()]
            expected = api_rows(
                portal,
                cookie_of(context),
                "jobs",
                **{"from": start, "to": end, "group_by": "month,site", "metrics": "core_hours"},
            )
            assert got[0] == ["month", "site", "core_hours"]
            assert [(r[0].date().isoformat(), r[1], r[2]) for r in got[1:]] == [
                (r["month"], r["site"], float(r["core_hours"])) for r in expected
            ]
            with page.expect_download() as png:
                page.locator("[data-export=png]").click()
            assert Path(png.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            with page.expect_download() as svg:
                page.locator("[data-export=svg]").click()
            drawing = Path(svg.value.path()).read_text()
            assert drawing.startswith("<svg") and "<path" in drawing
            # One series per site, named in the drawing's legend.
            assert all(str(r["site"]) in drawing for r in expected)

            # By keyboard: a checkbox toggled with Space changes the view and keeps the focus.
            page.focus("#x-rows-resource")
            page.keyboard.press("Space")
            expect(page).to_have_url(
                f"{portal.url}/explore?kind=jobs&range=last-6-months&rows=month%2Cresource&cols=site&metrics=core_hours&chart=bar"
            )
            assert page.evaluate("document.activeElement.id") == "x-rows-resource"

            # A big view stays a page of 100 rows at a time; the server answered all of them.
            big = "kind=jobs&range=last-6-months&rows=day,site,resource,user&cols=&metrics=jobs&chart=bar"
            page.goto(f"{portal.url}/explore?{big}")
            page.wait_for_selector(".results table")
            every = api_rows(
                portal,
                cookie_of(context),
                "jobs",
                **{"from": start, "to": end, "group_by": "day,site,resource,user", "metrics": "jobs"},
            )
            assert len(every) > 1000
            assert page.locator(".results tbody tr").count() == 100
            pages = -(-len(every) // 100)
            expect(page.locator(".pager span")).to_have_text(f"Page 1 of {pages} ({len(every):,} rows)")
            page.get_by_role("button", name="Next").click()
            expect(page).to_have_url(f"{portal.url}/explore?{big.replace(',', '%2C')}&page=2")
            expect(page.locator(".pager span")).to_have_text(f"Page 2 of {pages} ({len(every):,} rows)")
            assert errors == []
            context.close()

            # 390 pixels wide: nothing wider than the screen but the table's own scroll region.
            context, page = sign_in(browser, portal, "site_manager", width=390)
            page.wait_for_selector("[data-panel] .chart[data-state=ready]")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(ARTEFACTS / "home-site_manager-390px.png"), full_page=True)
            page.goto(f"{portal.url}/explore?{view}")
            page.wait_for_selector(".results table")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(ARTEFACTS / "explorer-390px.png"), full_page=True)
            context.close()
        finally:
            browser.close()


def test_a_user_editing_the_url_sees_only_their_own_rows(portal: Portal) -> None:
    from playwright.sync_api import expect, sync_playwright

    me = portal.people["user"]["person_id"]
    someone = portal.people["admin"]["person_id"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            context, page = sign_in(browser, portal, "user")
            # By user and site, every site asked for by name: the rows are still only mine.
            page.goto(
                f"{portal.url}/explore?kind=jobs&range=last-6-months&rows=user,site&cols=&metrics=jobs&chart=bar"
            )
            page.wait_for_selector(".results table")
            users = page.locator(".results tbody tr th:first-child").all_inner_texts()
            assert users and set(users) == {me}
            # Another person's rows, asked for in the URL: refused, in words, with no table.
            page.goto(
                f"{portal.url}/explore?kind=jobs&range=last-6-months&rows=site&cols=&metrics=jobs&f.user={someone}"
            )
            expect(page.locator(".results .error")).to_contain_text("Not allowed")
            assert page.locator(".results table").count() == 0
            page.screenshot(path=str(ARTEFACTS / "explorer-user-refused.png"), full_page=True)
            # A name no view has is dropped and said, not a blank page.
            page.goto(f"{portal.url}/explore?kind=jobs&rows=site&metrics=jobs,bogus&f.password=x")
            expect(page.locator(".notes .error")).to_contain_text('metric "bogus"')
            expect(page.locator(".notes .error")).to_contain_text('filter on "password"')
            page.wait_for_selector(".results table")
            context.close()
        finally:
            browser.close()


def test_drill_down_to_the_records_of_a_cell_and_saved_views(portal: Portal) -> None:
    from playwright.sync_api import expect, sync_playwright

    me = portal.people["user"]["person_id"]
    someone = portal.people["admin"]["person_id"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            context, page = sign_in(browser, portal, "user")
            errors = collect_errors(page)
            page.goto(
                f"{portal.url}/explore?kind=jobs&range=last-6-months&rows=site&cols=month&metrics=jobs&chart=bar"
            )
            page.wait_for_selector(".results table a.drill")
            cell = page.locator(".results table a.drill").first
            jobs = int(cell.evaluate("a => a.parentElement.dataset.value"))
            cell.click()
            expect(page.get_by_role("heading", name="Records: jobs")).to_be_visible()
            page.wait_for_selector(".records tbody tr")
            page.screenshot(path=str(ARTEFACTS / "records-user.png"), full_page=True)
            # Every record behind the figure, page by page: as many as the report counted, all mine.
            seen = 0
            users: set[str] = set()
            while True:
                expect(page.locator(".records").locator("xpath=ancestor::div[@aria-busy]")).to_have_attribute(
                    "aria-busy", "false"
                )
                rows = page.locator(".records tbody tr")
                seen += rows.count()
                column = page.locator(".records thead th").all_inner_texts().index("user")
                users |= set(rows.locator(f"td:nth-child({column + 1})").all_inner_texts())
                following = page.get_by_role("button", name="Next")
                if following.is_disabled():
                    break
                following.click()
            assert seen == jobs
            assert users == {me}

            # A record in full: the API's own fields, node list and benchmark among them.
            page.locator(".records tbody tr a").first.click()
            page.wait_for_selector("dl.detail")
            record_id = page.evaluate("new URLSearchParams(location.search).get('id')")
            with httpx.Client(base_url=portal.url, headers={"Cookie": cookie_of(context)}) as http:
                record = http.get(f"/v1/records/jobs/{record_id}").json()
            shown = dict(
                zip(
                    page.locator("dl.detail dt").all_inner_texts(),
                    page.locator("dl.detail dd").all_inner_texts(),
                    strict=True,
                )
            )
            assert shown["local job id"] == record["local_job_id"]
            assert shown["cores"] == f"{record['cores']:,}"
            assert "node list" in shown and "exit code" in shown and "benchmark per core" in shown
            page.screenshot(path=str(ARTEFACTS / "record-user.png"), full_page=True)

            # Another person's records, asked for in the URL: refused in words.
            page.goto(f"{portal.url}/records?kind=jobs&from=2026-01-01&to=2027-01-01&f.user={someone}")
            expect(page.locator(".error")).to_contain_text("Not allowed")

            # Saved views: save, find on the home page, reopen, delete.
            view = "kind=jobs&range=last-3-months&rows=resource&cols=&metrics=core_hours&chart=pie"
            page.goto(f"{portal.url}/explore?{view}")
            page.wait_for_selector(".results table")
            page.get_by_label("Save this view as").fill("My resources, 3 months")
            page.get_by_role("button", name="Save view").click()
            expect(page.locator(".save")).to_contain_text("Saved as “My resources, 3 months”")
            page.get_by_role("link", name="Home", exact=True).click()
            link = page.locator("[data-saved-views]").get_by_role("link", name="My resources, 3 months")
            expect(link).to_be_visible()
            page.screenshot(path=str(ARTEFACTS / "home-user-saved-view.png"), full_page=True)
            link.click()
            expect(page).to_have_url(f"{portal.url}/explore?{view}")
            page.wait_for_selector(".results table")
            page.go_back()
            page.get_by_role("button", name="Delete the saved view My resources, 3 months").click()
            expect(page.locator("[data-saved-views]")).to_contain_text("No saved view yet")
            assert errors == []
            context.close()

            # Finance reads usage in aggregate: a record list is refused, in words.
            context, page = sign_in(browser, portal, "finance")
            page.goto(f"{portal.url}/records?kind=jobs&from=2026-01-01&to=2027-01-01")
            expect(page.locator(".error")).to_be_visible()
            context.close()
        finally:
            browser.close()


def test_the_identity_provider_button_appears_when_the_server_offers_it(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    dist = built_portal()
    plain = create_app(local_settings(tmp_path / "plain"))
    # A provider configured: /v1/auth/config names it (the portal asks nothing of the provider itself).
    provider = OidcConfig(
        issuer="https://idp.example",
        client_id="tally-portal",
        redirect_uri="https://tally.example/v1/auth/oidc/callback",
    )
    federated = create_app(local_settings(tmp_path / "federated", oidc=provider))

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            for app, offered in ((plain, False), (federated, True)):
                with running_asgi(with_portal(app, dist)) as url:
                    page = browser.new_page()
                    page.goto(f"{url}/explore?kind=vms")
                    expect(page.get_by_role("heading", name="Sign in to Tally")).to_be_visible()
                    button = page.get_by_role("link", name="Sign in with your identity provider")
                    if offered:
                        expect(button).to_have_attribute(
                            "href", "/v1/auth/oidc/login?return_to=%2Fexplore%3Fkind%3Dvms", timeout=TIMEOUT
                        )
                    else:
                        page.wait_for_load_state("networkidle")
                        expect(button).to_have_count(0)
                    page.close()
        finally:
            browser.close()
