"""Shared fixtures of the agent tests: the agent package on sys.path and the shared sample data."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
AGENTS = REPO / "agents"

if str(AGENTS) not in sys.path:
    sys.path.insert(0, str(AGENTS))

from tally_agent.context import ParseContext  # noqa: E402
from tally_agent.timeutil import site_zone  # noqa: E402
from tests.support.paths import require_shared_data  # noqa: E402


@pytest.fixture
def data_dir() -> Path:
    """The shared sample data; tests that take it skip, saying why, when it is absent."""
    return require_shared_data()


def make_ctx(zone: str = "UTC", **options: str) -> ParseContext:
    return ParseContext(site="TEST-SITE", resource="cluster1", zone=site_zone(zone), options=dict(options))


def parse_all(parse: Any, lines: Any, ctx: ParseContext | None = None) -> list[dict[str, Any]]:
    ctx = ctx or make_ctx()
    return list(parse(iter(lines), ctx))


@pytest.fixture
def ctx() -> Iterator[ParseContext]:
    yield make_ctx()
