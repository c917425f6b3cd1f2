from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tally.api.app import create_app
from tally.services.container import Services
from tests.sql.scenario import Scenario, build


@pytest.fixture(scope="package")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(Path(tmp_path_factory.mktemp("reports")))


@pytest.fixture(scope="package")
def client(scenario: Scenario) -> Iterator[TestClient]:
    with TestClient(create_app(scenario.settings)) as test_client:
        yield test_client


@pytest.fixture(scope="package")
def keys(scenario: Scenario) -> dict[str, str]:
    services = Services(scenario.settings)
    return {site: f"Bearer {services.create_key(site).plain}" for site in ("alpha", "beta")}
