"""The issuer's public signing keys (its JWKS), and which of them may check a given token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwk
from joserfc.errors import JoseError

from tally.auth.oidc.errors import OidcError

PublicKey = jwk.RSAKey | jwk.ECKey | jwk.OKPKey

#: The key type (and curve) each algorithm needs: an RS256 token never verifies against an EC key
#: nor an ES256 token against a P-384 one, whatever the token's header says.
_KEY_FOR_ALG: dict[str, tuple[str, frozenset[str] | None]] = {
    **{alg: ("RSA", None) for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
}
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class SigningKey:
    key: PublicKey
    kid: str | None
    #: The JWK's own `alg`, when it pins one.
    alg: str | None

    def fits(self, alg: str) -> bool:
        if self.alg is not None and self.alg != alg:
            return False
        wanted = _KEY_FOR_ALG.get(alg)
        if wanted is None or wanted[0] != self.key.key_type:
            return False
        curves = wanted[1]
        if curves is not None:
            return isinstance(self.key, jwk.ECKey | jwk.OKPKey) and self.key.curve_name in curves
        return isinstance(self.key, jwk.RSAKey) and self.key.raw_value.key_size >= MIN_RSA_BITS


@dataclass(frozen=True)
class KeySet:
    keys: tuple[SigningKey, ...] = ()
    #: How many published keys were left out (encryption keys, symmetric keys, weak or broken ones).
    skipped: int = 0
    _by_kid: Mapping[str, tuple[SigningKey, ...]] = field(default_factory=dict, repr=False)

    def find(self, kid: str | None, alg: str) -> SigningKey | None:
        """The key to check a token signed with `alg` under `kid`; without a kid, the only fitting one."""
        if kid is not None:
            return next((k for k in self._by_kid.get(kid, ()) if k.fits(alg)), None)
        fitting = [k for k in self.keys if k.fits(alg)]
        return fitting[0] if len(fitting) == 1 else None

    def kids(self) -> list[str]:
        return sorted(self._by_kid)


def _signing_key(entry: Mapping[str, Any]) -> SigningKey | None:
    if entry.get("kty") not in ("RSA", "EC", "OKP"):
        return None  # symmetric ("oct") keys never verify: their secret would be public
    if "d" in entry:
        return None  # a private key published by mistake: refuse to rely on that provider's key
    use, ops = entry.get("use"), entry.get("key_ops")
    if use is not None and use != "sig":
        return None
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    kid, alg = entry.get("kid"), entry.get("alg")
    if (kid is not None and not isinstance(kid, str)) or (alg is not None and not isinstance(alg, str)):
        return None
    public = {k: v for k, v in entry.items() if k in ("kty", "n", "e", "crv", "x", "y")}
    try:
        key = jwk.import_key(public)
    except (JoseError, ValueError, TypeError):
        return None
    if not isinstance(key, jwk.RSAKey | jwk.ECKey | jwk.OKPKey) or key.is_private:
        return None
    if isinstance(key, jwk.RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
        return None
    return SigningKey(key, kid, alg)


def parse_jwks(document: Mapping[str, Any]) -> KeySet:
    """The usable signing keys of a JWKS document; one that has none is an error."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise OidcError("discovery_failed", "the JWKS has no 'keys' list")
    keys: list[SigningKey] = []
    for entry in entries:
        key = _signing_key(entry) if isinstance(entry, dict) else None
        if key is not None:
            keys.append(key)
    if not keys:
        raise OidcError("discovery_failed", f"none of the JWKS's {len(entries)} keys can verify signatures")
    by_kid: dict[str, list[SigningKey]] = {}
    for key in keys:
        if key.kid is not None:
            by_kid.setdefault(key.kid, []).append(key)
    return KeySet(tuple(keys), len(entries) - len(keys), {k: tuple(v) for k, v in by_kid.items()})
