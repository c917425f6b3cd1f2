"""/v1/docs in a real browser: it renders every operation with no internet, and "Try it out" sends the key.

Drives Debian's chromium (`/usr/bin/chromium`, installed by .ci/run) through Playwright, without
Playwright's own browser download. The screenshot lands in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tally.api.app import create_app
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.paths import REPO
from tests.support.servers import running_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
# No first-run work, no network of its own: the only requests are the page's.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install -y chromium"),
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, object]]]:
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    key = svc.create_key("SITE-A").plain
    with running_app(app) as url:
        yield url, key, app.openapi()


def test_docs_render_every_operation_offline_and_try_it_out_sends_the_key(
    served: tuple[str, str, dict[str, object]], tmp_path: Path
) -> None:
    from playwright.sync_api import Request, sync_playwright

    url, key, doc = served
    paths = doc["paths"]
    assert isinstance(paths, dict)
    operations = sum(1 for item in paths.values() for method in item if method in METHODS)
    requested: list[str] = []
    sent_auth: list[str | None] = []

    def seen(request: Request) -> None:
        requested.append(request.url)
        if "/v1/sync-state" in request.url:
            sent_auth.append(request.headers.get("authorization"))

    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 2000},
        )
        try:
            page = browser.new_page()
            page.on("request", seen)
            page.goto(f"{url}/v1/docs", wait_until="networkidle")
            page.wait_for_selector(".opblock", timeout=20_000)
            rendered = page.locator(".opblock").count()

            # Authorize with the site key, then run GET /v1/sync-state from its "Try it out".
            page.click("button.authorize")
            page.fill(".auth-container input", key)
            page.click(".auth-btn-wrapper button.authorize")
            page.click("button.btn-done")
            block = page.locator("#operations-records-sync_state_v1_sync_state_get")
            block.locator(".opblock-summary").click()
            block.locator(".try-out__btn").click()
            block.locator('tr[data-param-name="resource"] input').fill("cluster1")
            block.locator(".execute").click()
            status = block.locator(".live-responses-table tbody .response-col_status").first
            status.wait_for(timeout=20_000)
            status_text = status.inner_text().strip()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=True)
        finally:
            browser.close()

    assert operations >= 10
    assert rendered == operations
    # Everything the page loaded came from the server itself: nothing from a CDN.
    assert requested and all(u.startswith(url) for u in requested), [
        u for u in requested if not u.startswith(url)
    ]
    assert f"{url}/v1/docs/assets/swagger-ui-bundle.js" in requested
    assert sent_auth == [f"Bearer {key}"]
    assert status_text == "200"
