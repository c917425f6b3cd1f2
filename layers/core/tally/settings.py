"""Configuration, read once from `TALLY_*` environment variables into one model.

A section (a pydantic model, in the module of the part it configures) is one field here; its
variables are `TALLY_<SECTION>_<FIELD>`, e.g. TALLY_RECONCILE_SETTLE_HOURS -> reconcile.settle_hours.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tally.alerts.settings import AlertsSettings
from tally.auth.oidc.config import OidcConfig
from tally.auth.sso_settings import SsoSettings
from tally.compaction.settings import CompactionSettings
from tally.foresight.settings import ForesightSettings
from tally.ingest_health.settings import IngestHealthSettings
from tally.interop.apel.settings import ApelSettings
from tally.kinds.settings import KindsSettings
from tally.money.settings import MoneySettings
from tally.people.settings import PeopleSettings
from tally.query.settings import AthenaSettings, QuerySettings
from tally.services.reconcile_settings import ReconcileSettings
from tally.subscriptions.settings import SubscriptionsSettings


class Settings(BaseSettings):
    """Local mode keeps everything under `home`; AWS mode uses S3 and DynamoDB."""

    # One level of sections: the first `_` after the section's name separates it from the field.
    model_config = SettingsConfigDict(
        env_prefix="TALLY_", frozen=True, env_nested_delimiter="_", env_nested_max_split=1
    )

    mode: Literal["local", "aws"] = "local"
    home: Path = Path("var")

    # AWS mode: `s3://bucket/prefix` for the warehouse, one DynamoDB table for the control store.
    warehouse_uri: str | None = None
    control_table: str | None = None
    aws_region: str = Field(default="eu-west-1", validation_alias="AWS_REGION")
    # Only for tests and S3-compatible stores: an explicit endpoint (moto's server, MinIO, ...).
    s3_endpoint_url: str | None = None
    dynamodb_endpoint_url: str | None = None
    sns_endpoint_url: str | None = None
    # The forecaster function (AWS: the API and the alerts evaluator have no statsmodels): its
    # name or ARN; None forecasts in this process. The endpoint only for tests.
    forecaster_function: str | None = None
    lambda_endpoint_url: str | None = None
    # The forecaster's answer is awaited this long; past it, no forecast (503, or a status note).
    forecaster_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # The SNS topic the invoice verifier tells finance on when a bill needs a look.
    finance_topic_arn: str | None = None

    # Request limits. API Gateway refuses bodies over 10 MB and Lambda events over 6 MB (a
    # base64 body grows by a third), so the compressed body limit sits below both.
    max_body_bytes: int = 4_500_000
    max_decompressed_bytes: int = 64 * 1024 * 1024
    max_records_per_batch: int = 100_000
    # How far in the future an event time may lie (clock skew between a site and us).
    future_tolerance_seconds: int = 86_400

    # Slow clients (`tally serve`; API Gateway bounds them on AWS): the time a client may take to
    # send a request's headers and its body, how long an idle keep-alive connection stays open,
    # and how many connections are served at once (more are answered 503).
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=60.0, gt=0)
    keep_alive_timeout_seconds: int = Field(default=5, ge=1)
    max_connections: int = Field(default=200, ge=1)

    query: QuerySettings = QuerySettings()
    athena: AthenaSettings = AthenaSettings()
    compaction: CompactionSettings = CompactionSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    # APEL interop (signers, outgoing queue): `TALLY_APEL` as a JSON object.
    apel: ApelSettings = ApelSettings()
    # Single sign-on with an OpenID provider, as JSON: TALLY_OIDC='{"issuer": "https://...",
    # "client_id": "...", "redirect_uri": "https://.../v1/auth/oidc/callback"}'. None: no provider.
    oidc: OidcConfig | None = None
    # What happens around that sign-in (unlinked subjects, logout): TALLY_SSO, JSON.
    sso: SsoSettings = SsoSettings()
    # Custom record kinds (tally.kinds): the Glue database their tables are published to on AWS.
    kinds: KindsSettings = KindsSettings()
    # People: sessions, sign-in throttling, personal access tokens (TALLY_PEOPLE, JSON).
    people: PeopleSettings = PeopleSettings()
    # Allocations, forecasts and fair share: history window, half-life (TALLY_FORESIGHT, JSON).
    foresight: ForesightSettings = ForesightSettings()
    # Alerts: the serve scheduler's interval and the delivery channels (TALLY_ALERTS, JSON).
    alerts: AlertsSettings = AlertsSettings()
    # Ingest health: when a resource counts as quiet, how far back resources are looked for.
    health: IngestHealthSettings = IngestHealthSettings()
    # Invoices: the issuer printed on them and its number prefix (TALLY_MONEY as JSON).
    money: MoneySettings = MoneySettings()
    # Scheduled reports: webhook prefixes, retries, a person's limit (TALLY_SUBSCRIPTIONS, JSON).
    subscriptions: SubscriptionsSettings = SubscriptionsSettings()

    @cached_property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def local_warehouse(self) -> Path:
        return self.resolved_home / "warehouse"

    @property
    def local_control_db(self) -> Path:
        return self.resolved_home / "control.sqlite3"
