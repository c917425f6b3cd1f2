"""Which server URLs the agent accepts: https:// anywhere, plain http:// only to loopback."""

from __future__ import annotations

import ssl

import pytest

from tally_agent.config import ConfigError, load
from tally_agent.transport import Client, server_url_problem

LOOPBACK = (
    "http://127.0.0.1:8000",
    "http://127.9.8.7:8000/",
    "http://[::1]:8000",
    "http://localhost:8000",
    "http://LOCALHOST",
)
REFUSED = (
    "http://tally.example.org",
    "http://10.0.0.1:8000",
    "http://[::2]:8000",
    "http://128.0.0.1",
    "http://localhost.example.org",
    "http://127.0.0.1.nip.io",
    "ftp://127.0.0.1",
    "127.0.0.1:8000",
    "https://",
    "http://127.0.0.1:99999",
)


@pytest.mark.parametrize("url", [*LOOPBACK, "https://tally.example.org", "https://10.0.0.1:8443"])
def test_accepted(url: str) -> None:
    assert server_url_problem(url) is None
    load(None, {"server": url}).require("server")


@pytest.mark.parametrize("url", REFUSED)
def test_refused_by_config_and_client(url: str) -> None:
    problem = server_url_problem(url)
    assert problem is not None and url in problem
    with pytest.raises(ConfigError):
        load(None, {"server": url}).require("server")
    with pytest.raises(ValueError):
        Client(url, "k", ssl.create_default_context())


def test_plain_http_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="tally_agent"):
        Client("http://127.0.0.1:8000", "k", ssl.create_default_context())
        Client("https://tally.example.org", "k", ssl.create_default_context())
    assert [r.getMessage() for r in caplog.records] == [
        "sending to http://127.0.0.1:8000 over plain HTTP (loopback only); use https:// elsewhere"
    ]
