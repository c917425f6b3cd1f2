"""Helpers of the APEL tests: a fresh local Tally with one site, and the fixture files."""

from __future__ import annotations

from pathlib import Path

from tally.services.container import Services
from tally.services.ingest import Principal
from tests.support.deployments import local_settings
from tests.support.paths import FIXTURES

APEL_FIXTURES = FIXTURES / "apel"
SITE = "TALLY-TEST"


def fixture(name: str) -> bytes:
    return (APEL_FIXTURES / name).read_bytes()


def fresh(home: Path, *sites: str, **settings: object) -> Services:
    svc = Services(local_settings(home, **settings))
    for site in sites or (SITE,):
        svc.add_site(site)
    return svc


def who(site: str = SITE) -> Principal:
    return Principal(site, "test")
