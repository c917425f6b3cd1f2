"""Helpers of the APEL tests: a fresh local Tally with one site, and the fixture files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
from dirq.QueueSimple import QueueSimple

from tally.demo.loader import demo_records
from tally.domain.record_lines import RecordLines
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


def ingest_demo(svc: Services, sites: tuple[str, ...], now: datetime, jobs: int, months: int) -> None:
    """The demo's jobs, storage and VMs of `sites`, ingested as each site's agent posts them."""
    records = demo_records(now, jobs=jobs, months=months)
    for kind in ("jobs", "storage", "vms"):
        for site in sites:
            batch = [r for r in records[kind] if r["site"] == site]
            if batch:
                lines = RecordLines(b"\n".join(orjson.dumps(r) for r in batch), len(batch))
                assert svc.ingest.ingest(kind, lines, who(site)).rejected == 0


def queue_texts(folder: Path) -> list[str]:
    """Every message of an SSM outgoing queue in ssmsend's order, read with dirq as ssmsend reads it."""
    queue = QueueSimple(str(folder))
    texts = []
    for name in queue:
        assert queue.lock(name)
        data = queue.get(name)
        texts.append(data.decode() if isinstance(data, bytes) else data)
        queue.unlock(name)
    return texts
