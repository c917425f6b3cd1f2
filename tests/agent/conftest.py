"""Fixtures of the agent tests: the agent package on sys.path, the shared sample data, a parse context
and a scripted HTTPS server standing in for Tally."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

AGENTS = Path(__file__).resolve().parents[2] / "agents"

if str(AGENTS) not in sys.path:
    sys.path.insert(0, str(AGENTS))

from tally_agent.context import ParseContext  # noqa: E402
from tests.agent.certs import make_certificates  # noqa: E402
from tests.agent.fake_tally import Fake, fake_tally  # noqa: E402
from tests.agent.parsing import make_ctx  # noqa: E402
from tests.support.paths import require_shared_data  # noqa: E402


@pytest.fixture
def data_dir() -> Path:
    """The shared sample data; tests that take it skip, saying why, when it is absent."""
    return require_shared_data()


@pytest.fixture
def ctx() -> Iterator[ParseContext]:
    yield make_ctx()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a loopback server certificate it signed (tests/agent/certs.py)."""
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def fake(certs: dict[str, Path]) -> Iterator[Fake]:
    """A scripted HTTPS server standing in for Tally (tests/agent/fake_tally.py)."""
    with fake_tally(certs) as state:
        yield state
