"""The test lanes: every test is in exactly one, named by a pytest marker.

A test's folder under `tests/` gives its lane; a module whose tests belong elsewhere (an agent test
that starts a server, a Lambda handler on moto's server) names its lane in `pytestmark`.
`make check` runs the `unit` and `sql` lanes less moto and the slow tests; `make test` runs all.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# In-process tests of one part: parsers, validation, services over a folder warehouse, static checks.
UNIT = "unit"
# The Athena SQL (views, reports) run on DuckDB over fixture tables.
SQL = "sql"
# A running Tally: real HTTP, CLI processes, the agent against a server, Lambda handlers, moto.
FUNCTIONAL = "functional"
# The deployment: the SAM template, IAM as enforced, build artifacts, the wheel.
INFRA = "infra"
LANES = (UNIT, SQL, FUNCTIONAL, INFRA)

# Folder directly under tests/ ("" for tests/ itself) -> the lane of the tests in it.
BY_FOLDER: dict[str, str] = {
    "": UNIT,
    "agent": UNIT,
    "billing": UNIT,
    "compaction": UNIT,
    "query": UNIT,
    "reconcile": UNIT,
    "unit": UNIT,
    "reports": SQL,
    "sql": SQL,
    "alerts": FUNCTIONAL,
    "apel": FUNCTIONAL,
    "auth": FUNCTIONAL,
    "billing_store": FUNCTIONAL,
    "contract": FUNCTIONAL,
    "docs": FUNCTIONAL,
    "functional": FUNCTIONAL,
    "money": FUNCTIONAL,
    "subscriptions": FUNCTIONAL,
    "infra": INFRA,
    "packaging": INFRA,
}


def folder_of(path: Path) -> str:
    """The folder directly under tests/ that holds a test file ("" for tests/ itself)."""
    parts = path.resolve().relative_to(TESTS).parts
    return parts[0] if len(parts) > 1 else ""


def folder_lane(path: Path) -> str | None:
    """The lane of a test file by its folder, or None when its folder has none."""
    return BY_FOLDER.get(folder_of(path))
