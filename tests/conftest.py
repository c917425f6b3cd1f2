"""Fixtures shared by the whole suite: settings for local and AWS mode, the app over real HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 set; a rich console made on import
# (tally.cli.common) would keep those 80 columns for good, where one process measures at each print.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)

from tally.api.app import create_app
from tally.services.container import Services
from tally.settings import Settings
from tests.support.deployments import Deployment, aws_settings, local_settings
from tests.support.lanes import LANES, folder_lane, folder_of
from tests.support.paths import require_shared_data, shared_data_available, skip_reason
from tests.support.servers import running_app


@pytest.fixture
def shared_data() -> Path:
    """The shared sample data (`../shared/data`); the test skips, saying why, when it is absent."""
    return require_shared_data()


# Fixtures that hand a test the shared data: taking one marks the test `requires_shared`.
SHARED_FIXTURES = frozenset({"shared_data", "data_dir", "shared_path"})


@pytest.hookimpl(tryfirst=True)  # before `-m` selects, so `-m requires_shared` or `-m unit` finds all
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = None if shared_data_available() else pytest.mark.skip(reason=skip_reason())
    for item in items:
        put_in_lane(item)
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.requires_shared)
        if skip is not None and item.get_closest_marker("requires_shared") is not None:
            item.add_marker(skip)


def put_in_lane(item: pytest.Item) -> None:
    """Mark a test with its folder's lane unless its module names one; refuse none or two."""
    named = {mark.name for mark in item.iter_markers() if mark.name in LANES}
    if len(named) > 1:
        raise pytest.UsageError(f"{item.nodeid} is in more than one lane: {sorted(named)}")
    if named:
        return
    lane = folder_lane(item.path)
    if lane is None:
        raise pytest.UsageError(
            f"{item.nodeid}: tests/{folder_of(item.path)}/ has no lane in tests/support/lanes.py BY_FOLDER"
        )
    item.add_marker(lane)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server over HTTP, so pyarrow's C++ S3 client reaches it too."""
    from moto.server import ThreadedMotoServer

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_REGION="eu-west-1",
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["local", pytest.param("aws", marks=pytest.mark.aws)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "local":
        return local_settings(tmp_path / "home")
    endpoint = request.getfixturevalue("moto_endpoint")
    return aws_settings(endpoint)


@pytest.fixture
def deployment(settings: Settings) -> Iterator[Deployment]:
    app = create_app(settings)
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    svc.add_site("SITE-B")
    key = svc.create_key("SITE-A").plain
    with running_app(app) as url:
        yield Deployment(url, svc, "SITE-A", key)
