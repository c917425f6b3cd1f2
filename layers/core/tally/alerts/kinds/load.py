"""Heavy users and sites under heavy load, from the jobs of a trailing window.

Heavy user: one user's core-hours (jobs ended in the window) are at least `share_percent` of their
site's; the user is the person where their identities are linked (person_usage), else the grid
identity, else the login at the site. Heavy load: the core-seconds jobs ran inside the window
(clipped to it) against the resource's registered capacity (the registry's `cores`, valid at the
evaluation) times the window. Jobs are stored when they end, so a window's load counts the jobs
that have ended by the evaluation.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tally.alerts.kinds.base import (
    MAX_HOURS,
    EvaluationContext,
    Params,
    RuleKind,
    hours_before,
    naive,
    partitions,
    register,
    scope_filter,
    window_rows,
)
from tally.alerts.model import AlertRule, Condition

Hours = Annotated[float, Field(gt=0, le=MAX_HOURS)]
Percent = Annotated[float, Field(gt=0, le=100)]


class HeavyUserParams(Params):
    window_hours: Hours = 24.0 * 7
    share_percent: Percent = 50.0
    #: Sites that used less than this in the window are not judged (a quiet site's one job).
    min_site_core_hours: Annotated[float, Field(ge=0)] = 100.0
    #: A site with fewer users than this has no one to share with.
    min_users: Annotated[int, Field(ge=1, le=10_000)] = 2


HEAVY_USERS = """
WITH usage AS (
  SELECT site,
    coalesce(person_id, global_user, local_user || '@' || site, 'unknown') AS who,
    CAST(sum(wall_seconds * cores) AS DOUBLE) / 3600 AS core_hours
  FROM person_usage
  WHERE dt >= ? AND dt <= ? AND end_time > ? AND end_time <= ?{scope}
  GROUP BY site, coalesce(person_id, global_user, local_user || '@' || site, 'unknown')
),
totals AS (
  SELECT site, sum(core_hours) AS total, count(*) AS users FROM usage GROUP BY site
)
SELECT u.site, u.who, u.core_hours, t.total, t.users
FROM usage AS u
JOIN totals AS t ON t.site = u.site
WHERE t.total >= ? AND t.users >= ? AND u.core_hours * 100 >= ? * t.total
ORDER BY u.site, u.who
"""


@register
class HeavyUser(RuleKind):
    name = "heavy_user"
    description = "A user's share of a site's core-hours over a window above a threshold"
    params_model = HeavyUserParams
    scopes = frozenset({"site", "resource"})

    def evaluate(self, rule: AlertRule, ctx: EvaluationContext) -> list[Condition]:
        p: HeavyUserParams = self.params(rule)
        start = hours_before(ctx.now, p.window_hours)
        rows = window_rows(
            ctx,
            HEAVY_USERS,
            rule.scope,
            start,
            [p.min_site_core_hours, p.min_users, p.share_percent],
            {"site": "site", "resource": "resource"},
        )
        out = []
        for r in rows:
            share = 100 * float(r["core_hours"]) / float(r["total"])
            out.append(
                Condition(
                    rule_id=rule.rule_id,
                    kind=self.name,
                    subject=str(r["who"]),
                    summary=(
                        f"{r['who']} used {share:.1f}% of {r['site']}'s core-hours "
                        f"({float(r['core_hours']):.1f} of {float(r['total']):.1f}) "
                        f"in the last {p.window_hours:g} h"
                    ),
                    site=r["site"],
                    resource=rule.scope.resource,
                    measures={
                        "share_percent": round(share, 3),
                        "core_hours": round(float(r["core_hours"]), 4),
                        "site_core_hours": round(float(r["total"]), 4),
                    },
                )
            )
        return out


class HeavyLoadParams(Params):
    window_hours: Hours = 24.0
    load_percent: Annotated[float, Field(gt=0, le=1000)] = 90.0


HEAVY_LOAD = """
WITH capacity AS (
  SELECT site, resource, max(cores) AS cores
  FROM registry_resources
  WHERE cores IS NOT NULL AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?){scope}
  GROUP BY site, resource
),
bounds AS (
  SELECT CAST(? AS timestamp) AS lo, CAST(? AS timestamp) AS hi
),
used AS (
  SELECT j.site, j.resource,
    sum(
      CAST(greatest(0, date_diff('second', greatest(j.start_time, b.lo), least(j.end_time, b.hi))) AS DOUBLE)
      * j.cores
    ) AS core_seconds
  FROM jobs_dedup AS j
  CROSS JOIN bounds AS b
  WHERE j.dt >= ? AND j.dt <= ? AND j.end_time > b.lo AND j.start_time < b.hi
    AND j.start_time IS NOT NULL{job_scope}
  GROUP BY j.site, j.resource
)
SELECT c.site, c.resource, c.cores, coalesce(u.core_seconds, 0e0) AS core_seconds
FROM capacity AS c
LEFT JOIN used AS u ON u.site = c.site AND u.resource = c.resource
WHERE coalesce(u.core_seconds, 0e0) * 100 >= ? * c.cores * ?
ORDER BY c.site, c.resource
"""


@register
class HeavyLoad(RuleKind):
    name = "heavy_load"
    description = "A resource's core usage over a window against its registered capacity (cores)"
    params_model = HeavyLoadParams
    scopes = frozenset({"site", "resource"})

    def evaluate(self, rule: AlertRule, ctx: EvaluationContext) -> list[Condition]:
        p: HeavyLoadParams = self.params(rule)
        start = hours_before(ctx.now, p.window_hours)
        scope_sql, scope_params = scope_filter(rule.scope, {"site": "site", "resource": "resource"})
        job_scope, _ = scope_filter(rule.scope, {"site": "j.site", "resource": "j.resource"})
        seconds = p.window_hours * 3600
        lo, hi = naive(start), naive(ctx.now)
        rows = ctx.query(
            HEAVY_LOAD.format(scope=scope_sql, job_scope=job_scope),
            [
                hi,
                hi,
                *scope_params,
                lo,
                hi,
                *partitions(start, ctx.now),
                *scope_params,
                p.load_percent,
                seconds,
            ],
        )
        out = []
        for r in rows:
            load = 100 * float(r["core_seconds"]) / (int(r["cores"]) * seconds)
            out.append(
                Condition(
                    rule_id=rule.rule_id,
                    kind=self.name,
                    subject=r["resource"],
                    summary=(
                        f"{r['site']}/{r['resource']} ran at {load:.1f}% of its {r['cores']} cores "
                        f"over the last {p.window_hours:g} h"
                    ),
                    site=r["site"],
                    resource=r["resource"],
                    measures={
                        "load_percent": round(load, 3),
                        "core_hours": round(float(r["core_seconds"]) / 3600, 4),
                        "capacity_cores": int(r["cores"]),
                    },
                )
            )
        return out
