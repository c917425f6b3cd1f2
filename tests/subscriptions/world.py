"""A planted world for scheduled reports: jobs at two sites whose core hours per week and per
month are known by hand, a person (Ann) managing both sites, and her saved view of core hours by
site. Every figure a delivery should carry is written out here, computed by hand from the jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tally.alerts.settings import AlertsSettings
from tally.domain.record_lines import RecordLines
from tally.services.container import Services
from tally.services.ingest import Principal
from tally.subscriptions.settings import SubscriptionsSettings
from tests.support.deployments import local_settings

A, B = "SITE-A", "SITE-B"
ANN_EMAIL = "ann@example.org"
#: Ann subscribes on Wednesday 2026-02-18; the runs below come after that.
SUBSCRIBED = datetime(2026, 2, 18, 9, tzinfo=UTC)

# (site, end time, wall hours, cores): core hours = wall hours x cores; cpu = 90 % of that.
JOBS: list[tuple[str, datetime, float, int]] = [
    (A, datetime(2026, 2, 24, 10, tzinfo=UTC), 2, 4),  # 8 core-h: week 2026-W09, February
    (A, datetime(2026, 2, 28, 23, tzinfo=UTC), 1.5, 8),  # 12: W09, February
    (B, datetime(2026, 2, 26, 12, tzinfo=UTC), 3, 2),  # 6: W09, February
    (A, datetime(2026, 3, 1, 6, tzinfo=UTC), 1, 16),  # 16: W09 (its Sunday), March
    (A, datetime(2026, 2, 10, 12, tzinfo=UTC), 10, 2),  # 20: W07, February
    (B, datetime(2026, 3, 2, 0, tzinfo=UTC), 1, 4),  # 4: ends as W10 starts: W10, March
    (B, datetime(2026, 2, 22, 23, 59, 59, tzinfo=UTC), 2, 3),  # 6: W08 (its last second), February
]
#: By hand from JOBS: (jobs, core hours) per site.
WEEK_W09 = {A: (3, 36), B: (1, 6)}  # 8 + 12 + 16; 6
FEBRUARY = {A: (3, 40), B: (2, 12)}  # 8 + 12 + 20; 6 + 6
WEEK_W09_START, WEEK_W09_END = datetime(2026, 2, 23, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
#: Runs: the Monday W09 ended (shortly after midnight), and the first of March.
AFTER_W09 = datetime(2026, 3, 2, 0, 15, tzinfo=UTC)
AFTER_FEBRUARY = datetime(2026, 3, 1, 0, 15, tzinfo=UTC)

VIEW = "by-site"
VIEW_TITLE = "Core hours by site"
VIEW_STATE = {
    "version": 1,
    "page": "explore",
    # The view's own range (last 6 months) is replaced by each delivery's period.
    "search": "kind=jobs&range=last-6-months&rows=site&metrics=jobs,core_hours,cpu_efficiency&chart=bar",
}


def z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def job(n: int, site: str, end: datetime, hours: float, cores: int) -> dict[str, Any]:
    wall = int(hours * 3600)
    return {
        "site": site,
        "resource": "cluster",
        "batch_system": "slurm",
        "local_job_id": str(n),
        "local_user": "u1",
        "project": "astro" if site == A else "lattice",
        "start_time": z(end - timedelta(seconds=wall)),
        "end_time": z(end),
        "wall_seconds": wall,
        "cpu_seconds": int(wall * cores * 0.9),
        "cores": cores,
        "state": "COMPLETED",
    }


def settings_for(home: Path, smtp_port: int | None = None, prefix: str | None = None, **alerts: Any) -> Any:
    return local_settings(
        home,
        alerts=AlertsSettings(
            schedule_seconds=0,
            smtp_host="127.0.0.1" if smtp_port else None,
            smtp_port=smtp_port or 25,
            webhook_backoff_seconds=0,
            **alerts,
        ),
        subscriptions=SubscriptionsSettings(
            webhook_prefixes=(prefix,) if prefix else (), max_attempts=3, webhook_secret="s3cret"
        ),
    )


@dataclass
class World:
    svc: Services
    ann: str  # her person id
    grants: dict[str, str]  # site -> grant id


def plant(svc: Services) -> World:
    for site in (A, B):
        svc.add_site(site)
    for site in (A, B):
        rows = [job(n, *spec) for n, spec in enumerate(JOBS) if spec[0] == site]
        body = b"\n".join(orjson.dumps(r) for r in rows)
        result = svc.ingest.ingest(
            "jobs",
            RecordLines(body, len(rows)),
            Principal(site, "test"),
            now=datetime(2026, 3, 2, 1, tzinfo=UTC),
        )
        assert result.rejected == 0, result.errors
    ann = svc.people.add_person("Ann", ANN_EMAIL, "test")
    grants = {
        site: svc.people.add_grant(ann.person_id, "site_manager", site, "test").grant_id for site in (A, B)
    }
    svc.saved_views.put(ann.person_id, VIEW, VIEW_TITLE, VIEW_STATE)
    return World(svc, ann.person_id, grants)
