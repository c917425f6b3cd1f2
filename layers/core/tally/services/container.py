"""The services an app or a CLI command needs, built once from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from tally.adapters.control_store import ControlStore, open_control_store
from tally.adapters.warehouse import FsWarehouse, open_warehouse
from tally.domain.control import (
    ApiKey,
    ControlError,
    NewKey,
    Site,
    mint_key,
    parse_key,
    secret_matches,
    validate_site_name,
)
from tally.services.ingest import IngestService, Principal
from tally.services.problems import unauthorized
from tally.settings import Settings


@dataclass
class Services:
    settings: Settings

    @cached_property
    def warehouse(self) -> FsWarehouse:
        return open_warehouse(self.settings)

    @cached_property
    def control(self) -> ControlStore:
        return open_control_store(self.settings)

    @cached_property
    def ingest(self) -> IngestService:
        return IngestService(
            self.warehouse,
            self.control,
            max_records=self.settings.max_records_per_batch,
            future_tolerance_seconds=self.settings.future_tolerance_seconds,
        )

    # -- sites and keys -----------------------------------------------------------------------

    def add_site(self, name: str) -> Site:
        site = Site(validate_site_name(name), datetime.now(UTC))
        self.control.add_site(site)
        return site

    def create_key(self, site: str, resources: tuple[str, ...] = ()) -> NewKey:
        if self.control.get_site(site) is None:
            raise ControlError(f"no site named {site!r}: create it first with `tally sites add {site}`")
        new = mint_key(site, resources, datetime.now(UTC))
        self.control.add_key(new.record)
        return new

    def authenticate(self, authorization: str | None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("send the site's API key as `Authorization: Bearer <key>`")
        parsed = parse_key(token.strip())
        key: ApiKey | None = self.control.get_key(parsed[0]) if parsed else None
        if parsed is None or key is None or not secret_matches(key, parsed[1]):
            raise unauthorized("the API key is not valid")
        if not key.active:
            raise unauthorized("the API key has been revoked")
        return Principal(key.site, key.key_id, key.resources)
