"""`tally serve`'s portal at `/` beside the API at `/v1`, over real HTTP: caching headers, the
single-page fallback, gzip, paths that leave the folder, and the page shown before any build."""

from __future__ import annotations

import gzip
import http.client
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tally.api.app import create_app
from tally.serving.portal import with_portal
from tests.support.deployments import local_settings
from tests.support.portal import running_asgi

INDEX = (
    b'<!doctype html><html><head><script type="module" src="/assets/app-3f9a1c.js"></script></head></html>'
)
SCRIPT = b"console.log('tally portal');\n" * 50


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_bytes(INDEX)
    (folder / "assets" / "app-3f9a1c.js").write_bytes(SCRIPT)
    (folder / "assets" / "app-3f9a1c.js.gz").write_bytes(gzip.compress(SCRIPT))
    (folder / "favicon.svg").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside the portal")
    return folder


@pytest.fixture
def served(dist: Path, tmp_path: Path) -> Iterator[str]:
    app = create_app(local_settings(tmp_path / "home"))
    with running_asgi(with_portal(app, dist)) as url:
        yield url


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """A GET of `path` exactly as written (httpx would normalise the dots away)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_index_and_app_paths_are_revalidated_and_assets_immutable(served: str) -> None:
    with httpx.Client(base_url=served) as http:
        home = http.get("/")
        assert home.status_code == 200
        assert home.content == INDEX
        assert home.headers["cache-control"] == "no-cache"
        assert home.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in home.headers["content-security-policy"]
        assert home.headers["x-content-type-options"] == "nosniff"
        # Pages of the single-page app are index.html too, query string and all.
        for page in ("/explore?kind=jobs&rows=site", "/login", "/some/deep/page"):
            answer = http.get(page)
            assert (answer.status_code, answer.content, answer.headers["cache-control"]) == (
                200,
                INDEX,
                "no-cache",
            )
        asset = http.get("/assets/app-3f9a1c.js", headers={"Accept-Encoding": "identity"})
        assert asset.status_code == 200
        assert asset.content == SCRIPT
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "javascript" in asset.headers["content-type"]
        assert "content-encoding" not in asset.headers
        icon = http.get("/favicon.svg")
        assert (icon.status_code, icon.headers["cache-control"]) == (200, "no-cache")


def test_a_browser_accepting_gzip_gets_the_compressed_copy(served: str) -> None:
    with httpx.Client(base_url=served) as http:
        asset = http.get("/assets/app-3f9a1c.js", headers={"Accept-Encoding": "gzip"})
    assert asset.headers["content-encoding"] == "gzip"
    assert int(asset.headers["content-length"]) == len(gzip.compress(SCRIPT))
    assert asset.content == SCRIPT  # httpx decompressed it: the same bytes
    assert asset.headers["vary"] == "Accept-Encoding"


def test_missing_assets_are_404_not_the_app_and_the_api_keeps_its_answers(served: str) -> None:
    with httpx.Client(base_url=served) as http:
        missing = http.get("/assets/app-000000.js")
        assert missing.status_code == 404
        assert missing.content != INDEX
        assert http.get("/robots.txt").status_code == 404
        health = http.get("/v1/health")
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        unknown = http.get("/v1/no-such-route")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/")
        assert unknown.content != INDEX
        refused = http.post("/", content=b"x")
        assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/.tally-source-hash"]
)
def test_paths_leaving_the_portal_folder_are_refused(served: str, path: str) -> None:
    status, body = raw_get(served, path)
    assert b"outside the portal" not in body
    assert status == 404


def test_before_a_build_the_root_says_how_to_build_and_the_api_serves(tmp_path: Path) -> None:
    app = create_app(local_settings(tmp_path / "home"))
    with running_asgi(with_portal(app, tmp_path / "never-built")) as url, httpx.Client(base_url=url) as http:
        page = http.get("/")
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert "The Tally portal is not built" in page.text
        assert "make run" in page.text and "portal_build" in page.text
        assert http.get("/explore").status_code == 503
        assert http.get("/v1/health").json()["status"] == "ok"
