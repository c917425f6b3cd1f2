"""Fixtures shared by the whole suite: settings for local and AWS mode, the app over real HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest

from tally.adapters.control_dynamodb import create_table
from tally.api.app import create_app
from tally.services.container import Services
from tally.settings import Settings
from tests.support.servers import running_app

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
# The real sample data beside a checkout (../shared/data). TALLY_SHARED_DATA points elsewhere; CI sets it
# to a missing folder to prove the suite runs on a clone alone. Only a path: nothing is read on import.
SHARED_DATA = Path(os.environ.get("TALLY_SHARED_DATA") or REPO.parent / "shared" / "data")


def shared_data_available() -> bool:
    return SHARED_DATA.is_dir()


def skip_reason() -> str:
    return f"shared sample data not found at {SHARED_DATA} (set TALLY_SHARED_DATA to use another folder)"


def require_shared_data() -> Path:
    """The shared data folder, or skip the calling test with a one-line reason."""
    if not shared_data_available():
        pytest.skip(skip_reason())
    return SHARED_DATA


@pytest.fixture
def shared_data() -> Path:
    """The shared sample data (`../shared/data`); the test skips, saying why, when it is absent."""
    return require_shared_data()


# Fixtures that hand a test the shared data: taking one marks the test `requires_shared`.
SHARED_FIXTURES = frozenset({"shared_data", "data_dir", "shared_path"})


@pytest.hookimpl(tryfirst=True)  # before `-m` selects: `-m requires_shared` finds every such test
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = None if shared_data_available() else pytest.mark.skip(reason=skip_reason())
    for item in items:
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.requires_shared)
        if skip is not None and item.get_closest_marker("requires_shared") is not None:
            item.add_marker(skip)


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


def local_settings(home: Path, **overrides: object) -> Settings:
    return Settings(mode="local", home=home, **overrides)  # type: ignore[arg-type]


def aws_settings(endpoint: str, **overrides: object) -> Settings:
    """Fresh bucket and control table per call, so tests never see each other's data."""
    name = f"tally-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    create_table(name, "eu-west-1", endpoint)
    return Settings(
        mode="aws",
        warehouse_uri=f"s3://{name}/warehouse",
        control_table=name,
        s3_endpoint_url=endpoint,
        dynamodb_endpoint_url=endpoint,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["local", pytest.param("aws", marks=pytest.mark.aws)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "local":
        return local_settings(tmp_path / "home")
    endpoint = request.getfixturevalue("moto_endpoint")
    return aws_settings(endpoint)


@dataclass
class Deployment:
    """A running Tally: its base URL, services (to inspect state) and one site with a key."""

    url: str
    services: Services
    site: str
    key: str

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=60
        )


@pytest.fixture
def deployment(settings: Settings) -> Iterator[Deployment]:
    app = create_app(settings)
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    svc.add_site("SITE-B")
    key = svc.create_key("SITE-A").plain
    with running_app(app) as url:
        yield Deployment(url, svc, "SITE-A", key)
