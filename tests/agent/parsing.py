"""Running an agent parser the way its command does: a parse context for a test site, and every record."""

from __future__ import annotations

from typing import Any

from tally_agent.context import ParseContext
from tally_agent.timeutil import site_zone


def make_ctx(zone: str = "UTC", **options: str) -> ParseContext:
    return ParseContext(site="TEST-SITE", resource="cluster1", zone=site_zone(zone), options=dict(options))


def parse_all(parse: Any, lines: Any, ctx: ParseContext | None = None) -> list[dict[str, Any]]:
    ctx = ctx or make_ctx()
    return list(parse(iter(lines), ctx))
