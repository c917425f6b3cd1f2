"""The short-lived cookie that carries one browser's sign-in in progress (state, nonce, PKCE
verifier, where to return), sealed with an HMAC so the browser can hold it but not change it.

Starting a sign-in writes nothing on the server: anyone may ask for the login page. The callback
marks the state used (tally.auth.sso), so a replayed callback is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

LOGIN_COOKIE = "tally_oidc_login"
#: Far beyond any value Tally writes (state, nonce, verifier, a 512-character return path).
MAX_COOKIE = 2048


@dataclass(frozen=True)
class PendingLogin:
    state: str
    nonce: str
    code_verifier: str
    return_to: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, b"tally-oidc-login." + body.encode("ascii"), hashlib.sha256).digest())


def seal(key: bytes, login: PendingLogin) -> str:
    body = _b64(
        json.dumps(
            {
                "s": login.state,
                "n": login.nonce,
                "v": login.code_verifier,
                "r": login.return_to,
                "e": int(login.expires_at.timestamp()),
            },
            separators=(",", ":"),
        ).encode()
    )
    return f"{body}.{_mac(key, body)}"


def unseal(key: bytes, cookie: str, now: datetime) -> PendingLogin | None:
    """The sign-in a cookie holds, or None when it is forged, altered, malformed or expired."""
    if len(cookie) > MAX_COOKIE or cookie.count(".") != 1:
        return None
    body, mac = cookie.split(".")
    if not body.isascii() or not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        return None
    try:
        doc = json.loads(_unb64(body))
        login = PendingLogin(
            str(doc["s"]), str(doc["n"]), str(doc["v"]), str(doc["r"]), datetime.fromtimestamp(doc["e"], UTC)
        )
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return None
    return login if now < login.expires_at else None
