"""The composition root: every service an app, a CLI command or a Lambda handler needs, each built
once from the settings on first use and cached. Nothing else builds stores, engines or services.

Components are imported where they are built, so a process loads only what it uses (Lambda's
compaction never loads the control store's DynamoDB client, the API never loads the verifier).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

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
from tally.domain.errors import NotAuthenticated
from tally.domain.ports import ControlStore
from tally.services.ingest import IngestService, Principal
from tally.settings import Settings

if TYPE_CHECKING:
    from tally.adapters.s3_landing import S3Landing
    from tally.adapters.warehouse import FsWarehouse
    from tally.alerts.service import AlertsService
    from tally.auth.sso import SsoService
    from tally.compaction.compactor import Compactor
    from tally.findings.service import FindingsService
    from tally.foresight.forecaster import Forecaster
    from tally.foresight.service import ForesightService
    from tally.ingest_health.service import IngestHealthService
    from tally.interop.apel.publish import ApelPublisher
    from tally.interop.apel.service import ApelService
    from tally.kinds.service import KindService
    from tally.listing.service import RecordListingService
    from tally.logs.service import LogImportService
    from tally.money.service import MoneyService
    from tally.people.audit import AuditLog
    from tally.people.service import PeopleService
    from tally.query.engine import QueryEngine
    from tally.registry.store import RegistryStore
    from tally.saved_views.service import SavedViewService
    from tally.services.billing import BillingService
    from tally.services.billing_landing import LandedBills
    from tally.services.reconcile import ReconcileService
    from tally.site_keys.service import SiteKeyService
    from tally.subscriptions.service import SubscriptionService


@dataclass
class Services:
    settings: Settings
    # Request threads share the one query engine: it is built under this lock (DuckDB loads its
    # views once; a second engine would repeat that and hold a second connection).
    _engine_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _engine: QueryEngine | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_env(cls) -> Services:
        """The container of a process configured by its environment (a CLI run, a Lambda sandbox)."""
        return cls(Settings())

    @cached_property
    def warehouse(self) -> FsWarehouse:
        from tally.adapters.warehouse import open_warehouse

        return open_warehouse(self.settings)

    @cached_property
    def control(self) -> ControlStore:
        from tally.adapters.control_store import open_control_store

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
    def landing(self) -> S3Landing:
        """The billing landing bucket (AWS mode), read through boto3."""
        import boto3

        from tally.adapters.s3_landing import S3Landing

        settings = self.settings
        return S3Landing(
            boto3.client("s3", region_name=settings.aws_region, endpoint_url=settings.s3_endpoint_url)
        )

    @cached_property
    def landed_bills(self) -> LandedBills:
        """Landed billing files into the billing store, as the operator's deliveries."""
        from tally.services.billing_landing import LandedBills

        return LandedBills(self.billing, self.landing)

    @cached_property
    def logs(self) -> LogImportService:
        """Raw accounting logs parsed with the agent's parsers, ingested as agents' batches."""
        from tally.logs.service import LogImportService  # the agent's parsers load only when used

        return LogImportService(self.ingest, self.warehouse, self.settings.max_records_per_batch)

    @cached_property
    def kinds(self) -> KindService:
        """Custom record kinds: their definitions and the ingest of their records."""
        from tally.kinds.service import KindService

        catalog = None
        section = self.settings.kinds
        if self.settings.mode == "aws" and section.glue_database:
            import boto3

            from tally.kinds.glue import GlueCatalog

            client = boto3.client(
                "glue", region_name=self.settings.aws_region, endpoint_url=section.glue_endpoint_url
            )
            catalog = GlueCatalog(client, section.glue_database, self.warehouse.uri)
        return KindService(self.warehouse, self.control, self.settings.max_records_per_batch, catalog)

    @cached_property
    def registry(self) -> RegistryStore:
        """The registry, its edits serialised across processes by control-store leases."""
        from tally.registry.store import RegistryStore

        return RegistryStore(self.warehouse, leases=self.control, sites=self.control)

    @property
    def engine(self) -> QueryEngine:
        """The query engine (DuckDB locally, Athena in AWS mode), one per container."""
        with self._engine_lock:
            if self._engine is None:
                from tally.query.open_engine import open_engine

                self._engine = open_engine(self.settings)
            return self._engine

    @cached_property
    def athena_client(self) -> Any:
        """boto3's Athena client for this region (the view deployer's; the engine makes its own)."""
        import boto3

        settings = self.settings
        return boto3.client(
            "athena", region_name=settings.aws_region, endpoint_url=settings.athena.endpoint_url
        )

    @cached_property
    def reconcile(self) -> ReconcileService:
        """The invoice verifier, telling finance through SNS when a topic is configured."""
        from tally.adapters.sns import sns_notifier
        from tally.services.reconcile import ReconcileService

        section = self.settings.reconcile
        topic = self.settings.finance_topic_arn
        notifier = (
            sns_notifier(topic, self.settings.aws_region, self.settings.sns_endpoint_url) if topic else None
        )
        config, chunk = section.reconcile_config(), section.samples_per_chunk()
        return ReconcileService(self.warehouse, config, notifier, chunk_samples=chunk)

    @cached_property
    def compaction(self) -> Compactor:
        """The compactor of every record table, with the configured size policy."""
        from tally.compaction.compactor import Compactor

        return Compactor(self.warehouse, self.settings.compaction.policy())

    @cached_property
    def apel(self) -> ApelService:
        """APEL messages in, through the ingest service (out: `apel_publisher`)."""
        from tally.interop.apel.service import ApelService

        return ApelService(self.ingest, self.warehouse, self.settings.apel)

    @cached_property
    def apel_publisher(self) -> ApelPublisher:
        """APEL messages out: queries through the container's engine, into a local SSM queue, an S3
        prefix in its layout (the scheduled run on AWS) or ARGO AMS."""
        from tally.interop.apel.publish import ApelPublisher

        settings = self.settings
        return ApelPublisher(
            lambda: self.engine,
            settings.apel,
            sites=lambda: [site.name for site in self.control.list_sites()],
            s3_client=lambda: self.landing.client,
            region=settings.aws_region,
        )

    @cached_property
    def people(self) -> PeopleService:
        """People, identities, grants, sessions and tokens, kept in the control store."""
        from tally.people.service import PeopleService
        from tally.people.store import PeopleStore

        return PeopleService(PeopleStore(self.control), self.warehouse, self.control, self.settings.people)

    @cached_property
    def sso(self) -> SsoService | None:
        """Single sign-on with the configured OpenID provider, or None when there is none."""
        if self.settings.oidc is None:
            return None
        from tally.auth.sso import SsoService

        return SsoService(self.settings.oidc, self.settings.sso, self.people, self.control)

    @cached_property
    def audit_log(self) -> AuditLog:
        """The append-only audit log, for components that audit their changes without needing the
        people service (and its passwords)."""
        from tally.people.audit import AuditLog
        from tally.people.store import PeopleStore

        return AuditLog(PeopleStore(self.control))

    @cached_property
    def foresight(self) -> ForesightService:
        """Allocations (in the control store), their status and forecasts, and fair share."""
        from tally.foresight.service import ForesightService
        from tally.foresight.store import AllocationStore

        return ForesightService(
            lambda: self.engine,
            AllocationStore(self.control),
            self.settings.foresight,
            self.audit_log,
            self.forecaster,
        )

    @cached_property
    def forecaster(self) -> Forecaster:
        """The forecaster function when the settings name one (AWS), else this process."""
        from tally.foresight.forecaster import InProcessForecaster, LambdaForecaster

        settings = self.settings
        if settings.forecaster_function is None:
            return InProcessForecaster()

        def client() -> Any:
            import boto3
            from botocore.config import Config

            timeout = settings.forecaster_timeout_seconds
            config = Config(
                connect_timeout=min(timeout, 5.0),
                read_timeout=timeout,
                retries={"max_attempts": 1, "mode": "standard"},  # no retry: the caller waits
            )
            return boto3.client(
                "lambda",
                region_name=settings.aws_region,
                endpoint_url=settings.lambda_endpoint_url,
                config=config,
            )

        return LambdaForecaster(client, settings.forecaster_function)

    @cached_property
    def alerts(self) -> AlertsService:
        """Alert rules and alerts in the control store, evaluated over the query engine (allocation
        rules over the foresight service), priced by the tariff (GPUs) or else the billed rate,
        delivered through the configured channels."""
        from tally.alerts.delivery import Deliverer, channels_of
        from tally.alerts.pricing import BilledRates, FirstRate, Pricer, TariffRates
        from tally.alerts.recipients import Recipients
        from tally.alerts.service import AlertsService
        from tally.alerts.store import AlertStore
        from tally.people.store import PeopleStore

        settings = self.settings

        def sns() -> Any:
            import boto3

            return boto3.client(
                "sns", region_name=settings.aws_region, endpoint_url=settings.sns_endpoint_url
            )

        def pricer(engine: QueryEngine) -> Pricer:
            return FirstRate(TariffRates(engine), BilledRates(engine))

        return AlertsService(
            AlertStore(self.control),
            lambda: self.engine,
            pricer,
            Deliverer(channels_of(settings.alerts, sns)),
            Recipients(PeopleStore(self.control)),
            leases=self.control,
            sites=self.control,
            foresight=lambda: self.foresight,
            resolved_retention_days=settings.alerts.resolved_retention_days,
        )

    @cached_property
    def record_listing(self) -> RecordListingService:
        """Record listings and a record's detail, over the one query engine."""
        from tally.listing.service import RecordListingService

        return RecordListingService(self.engine)

    @cached_property
    def saved_views(self) -> SavedViewService:
        """People's saved portal views, kept in the control store."""
        from tally.saved_views.service import SavedViewService

        return SavedViewService(self.control)

    @cached_property
    def subscriptions(self) -> SubscriptionService:
        """Scheduled reports: people's saved views delivered weekly or monthly, within their grants."""
        from tally.people.model import PersonPrincipal
        from tally.people.store import PeopleStore
        from tally.subscriptions.delivery import ReportSender
        from tally.subscriptions.service import SubscriptionService
        from tally.subscriptions.store import SubscriptionStore

        people = PeopleStore(self.control)

        def principal(person_id: str) -> PersonPrincipal | None:
            person = people.get_person(person_id)
            # All their grants, as a provider's access token carries them (no token subset).
            return (
                None
                if person is None
                else PersonPrincipal(person, tuple(people.list_grants(person_id)), "oidc")
            )

        settings = self.settings
        return SubscriptionService(
            SubscriptionStore(self.control),
            self.saved_views,
            principal,
            lambda: self.engine,
            ReportSender(settings.alerts, settings.subscriptions),
            self.control,
            settings.subscriptions,
        )

    @cached_property
    def ingest_health(self) -> IngestHealthService:
        """Ingest health per resource (last records, quiet agents, quarantine), over the query engine."""
        from tally.ingest_health.service import IngestHealthService

        return IngestHealthService(self.engine, self.settings.health)

    @cached_property
    def site_keys(self) -> SiteKeyService:
        """A site's keys managed by people and the CLI alike, each change in the audit log."""
        from tally.site_keys.service import SiteKeyService

        return SiteKeyService(self.control, self.create_key, self.audit_log)

    @cached_property
    def reconciliation_findings(self) -> FindingsService:
        """The verifier's findings read by site (its VMs' and its billing accounts), over the engine."""
        from tally.findings.service import FindingsService

        return FindingsService(self.engine, self.control)

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
            raise NotAuthenticated("send the site's API key as `Authorization: Bearer <key>`")
        parsed = parse_key(token.strip())
        key: ApiKey | None = self.control.get_key(parsed[0]) if parsed else None
        if parsed is None or key is None or not secret_matches(key, parsed[1]):
            raise NotAuthenticated("the API key is not valid")
        if not key.active:
            raise NotAuthenticated("the API key has been revoked")
        if is_legacy_hash(key.secret_hash):
            # Stored before salting: verified above, now rewritten in the salted form.
            self.control.upgrade_key_hash(key.key_id, key.secret_hash, hash_secret(key.key_id, parsed[1]))
        return Principal(key.site, key.key_id, key.resources, granted(key.effective_scopes))
