from __future__ import annotations

from pathlib import Path

import pytest

from tally.query.duckdb_engine import DuckDbEngine
from tests.sql.scenario import Scenario, build


@pytest.fixture(scope="package")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(Path(tmp_path_factory.mktemp("scenario")))


@pytest.fixture(scope="package")
def engine(scenario: Scenario) -> DuckDbEngine:
    return DuckDbEngine(scenario.settings.local_warehouse)
