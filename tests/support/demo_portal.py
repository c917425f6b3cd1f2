"""The demo as the portal's browser tests build on it: loaded into a fresh home (its people's
credentials, API tokens of some of them, an agent key per site), served with the built portal on
loopback, and headless Chromium signing a demo person in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page

from tally.api.app import create_app
from tally.demo.loader import load_demo
from tally.services.container import Services
from tally.serving.portal import with_portal
from tests.support.deployments import local_settings
from tests.support.portal import CHROMIUM, CHROMIUM_FLAGS, built_portal, running_asgi

#: How long a page may take over any one step, in milliseconds.
TIMEOUT = 30_000


@dataclass(frozen=True)
class DemoHome:
    dist: Path  # the built portal
    now: datetime  # where the demo's records end
    app: FastAPI
    services: Services
    people: dict[str, dict[str, Any]]  # role -> its demo-people.json entry
    keys: dict[str, str]  # site -> agent key


def demo_home(
    tmp_path_factory: pytest.TempPathFactory, name: str, *, jobs: int = 600, months: int = 2
) -> DemoHome:
    """The portal built (skipping the test first when it cannot be), then the demo loaded into a
    new home named `name`, its records ending now."""
    dist = built_portal()
    now = datetime.now(UTC)
    home = tmp_path_factory.mktemp(name) / "home"
    app = create_app(local_settings(home))
    svc: Services = app.state.services
    keys = load_demo(svc, jobs=jobs, months=months, now=now)
    people = {p["role"]: p for p in json.loads((home / "demo-people.json").read_text())}
    return DemoHome(dist, now, app, svc, people, keys)


def tokens_of(home: DemoHome, *roles: str) -> dict[str, str]:
    """An API bearer token for the demo person of each role."""
    tokens = {}
    for role in roles:
        person = home.services.people.store.get_person(home.people[role]["person_id"])
        assert person is not None
        principal = home.services.people.principal_of(person)
        tokens[role] = home.services.people.create_token(principal, "test", 1)[1]
    return tokens


@contextmanager
def serving(home: DemoHome) -> Iterator[str]:
    """The API and the portal under uvicorn on loopback; yields the base URL."""
    with running_asgi(with_portal(home.app, home.dist)) as url:
        yield url


def post_jobs(url: str, key: str, records: list[dict[str, Any]]) -> None:
    """Post job records as a site's agent does, every one accepted."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as agent:
        answer = agent.post("/v1/records/jobs", json=records)
        assert answer.status_code == 200 and answer.json()["accepted"] == len(records), answer.text


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class Signable(Protocol):
    """A served world whose people can sign in: its base URL and role -> email and password."""

    @property
    def url(self) -> str: ...

    @property
    def people(self) -> dict[str, dict[str, Any]]: ...


def sign_in(
    browser: Browser, world: Signable, role: str, width: int = 1280, greeting: str = "Welcome"
) -> tuple[BrowserContext, Page]:
    """A new browser context signed in on the sign-in page as the person of `role`, at the home
    page (whose heading starts with `greeting`)."""
    from playwright.sync_api import expect

    person = world.people[role]
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(f"{world.url}/login")
    page.get_by_label("Email").fill(person["email"])
    page.get_by_label("Password").fill(person["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=greeting, exact=False)).to_be_visible()
    return context, page
