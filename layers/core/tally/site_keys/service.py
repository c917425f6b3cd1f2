"""A site's API keys: list, create (the key is shown once), revoke; every change audited.

The rules are those of `tally keys` (tally.services.container.Services.create_key: scopes checked,
the site must exist, the agent defaults when no scope is named); the API and the CLI both come
here, so both write the same audit events (`key.create`, `key.revoke`, target `site:<name>`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from tally.domain.control import ApiKey, ControlError, NewKey, check_scopes
from tally.domain.errors import Conflict, NotFound

MAX_RESOURCES = 100

Mint = Callable[[str, tuple[str, ...], tuple[str, ...] | None], NewKey]


class Audit(Protocol):
    def __call__(self, actor: str, action: str, target: str, **detail: object) -> None: ...


class KeyStore(Protocol):
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def list_keys(self, site: str | None = None) -> list[ApiKey]: ...
    def revoke_key(self, key_id: str, at: datetime) -> bool: ...
    def get_site(self, name: str) -> object | None: ...


class SiteKeyService:
    def __init__(self, keys: KeyStore, mint: Mint, audit: Audit) -> None:
        self.keys = keys
        self.mint = mint
        self.audit = audit

    def _site(self, site: str) -> str:
        if self.keys.get_site(site) is None:
            raise NotFound(f"no site named {site!r}: create it first with `tally sites add {site}`")
        return site

    def list(self, site: str) -> list[ApiKey]:
        return self.keys.list_keys(self._site(site))

    def create(
        self, site: str, resources: tuple[str, ...], scopes: tuple[str, ...] | None, actor: str
    ) -> NewKey:
        """A new key of `site` (ControlError for what `tally keys create` refuses too, in its order:
        the scopes, then the site)."""
        if scopes is not None:
            check_scopes(scopes)
        self._site(site)
        if len(resources) > MAX_RESOURCES:
            raise ControlError(f"a key names at most {MAX_RESOURCES} resources")
        new = self.mint(site, resources, scopes)
        record = new.record
        self.audit(
            actor,
            "key.create",
            f"site:{site}",
            key_id=record.key_id,
            resources=list(record.resources),
            scopes=list(record.scopes),
        )
        return new

    def revoke(self, site: str | None, key_id: str, actor: str) -> ApiKey:
        """Revoke a key of `site` (None: of any site, as the operator's CLI does)."""
        key = self.keys.get_key(key_id)
        if key is None or (site is not None and key.site != self._site(site)):
            raise NotFound(f"no key with id {key_id!r}" + (f" at site {site}" if site else ""))
        site = key.site
        if not key.active:
            raise Conflict(f"key {key_id} was revoked already")
        now = datetime.now(UTC)
        self.keys.revoke_key(key_id, now)
        self.audit(actor, "key.revoke", f"site:{site}", key_id=key_id)
        revoked = self.keys.get_key(key_id)
        assert revoked is not None
        return revoked
