"""The services an app or a CLI command needs, built once from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from tally.adapters.control_store import ControlStore, open_control_store
from tally.adapters.warehouse import FsWarehouse, open_warehouse
from tally.domain.control import (
    BILLING_WRITE,
    DEFAULT_SCOPES,
    LEGACY_BILLING_RESOURCE,
    ApiKey,
    ControlError,
    NewKey,
    Site,
    check_scopes,
    granted,
    hash_secret,
    is_legacy_hash,
    mint_key,
    parse_key,
    secret_matches,
    validate_site_name,
)
from tally.services.ingest import IngestService, Principal
from tally.services.problems import unauthorized
from tally.settings import Settings

if TYPE_CHECKING:
    from tally.money.service import MoneyService
    from tally.registry.store import RegistryStore
    from tally.services.billing import BillingService


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

    @cached_property
    def billing(self) -> BillingService:
        """The billing store, fenced by account owner through the control store."""
        from tally.services.billing import BillingService  # the importers load only when used

        return BillingService(self.warehouse, self.control)

    @cached_property
    def registry(self) -> RegistryStore:
        """The registry, its edits serialised across processes by control-store leases."""
        from tally.registry.store import RegistryStore

        return RegistryStore(self.warehouse, leases=self.control, sites=self.control)

    @cached_property
    def money(self) -> MoneyService:
        """Tariffs and invoices, their edits and numbers serialised by control-store leases."""
        from tally.money.service import MoneyService

        return MoneyService(self.warehouse, self.control, self.control, self.settings.money)

    # -- sites and keys -----------------------------------------------------------------------

    def add_site(self, name: str) -> Site:
        site = Site(validate_site_name(name), datetime.now(UTC))
        self.control.add_site(site)
        return site

    def create_key(
        self, site: str, resources: tuple[str, ...] = (), scopes: tuple[str, ...] | None = None
    ) -> NewKey:
        """Mint and store a key. Without `scopes`: the agent defaults, except that the legacy form
        `resources=("billing",)` makes a bills-only key (billing:write, no resource restriction)."""
        if scopes is not None:
            check_scopes(scopes)
        if self.control.get_site(site) is None:
            raise ControlError(f"no site named {site!r}: create it first with `tally sites add {site}`")
        if scopes is None:
            if LEGACY_BILLING_RESOURCE in resources:
                if set(resources) != {LEGACY_BILLING_RESOURCE}:
                    raise ControlError(
                        "--resource billing makes a bills-only key: give it alone, or name scopes "
                        "with --scope"
                    )
                scopes, resources = (BILLING_WRITE,), ()
            else:
                scopes = DEFAULT_SCOPES
        if not scopes:
            raise ControlError("a key needs at least one scope")
        new = mint_key(site, resources, datetime.now(UTC), scopes)
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
        if is_legacy_hash(key.secret_hash):
            # Stored before salting: verified above, now rewritten in the salted form.
            self.control.upgrade_key_hash(key.key_id, key.secret_hash, hash_secret(key.key_id, parsed[1]))
        return Principal(key.site, key.key_id, key.resources, granted(key.effective_scopes))
