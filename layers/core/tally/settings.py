"""Configuration, read once from `TALLY_*` environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tally.money.settings import MoneySettings


class Settings(BaseSettings):
    """Local mode keeps everything under `home`; AWS mode uses S3 and DynamoDB."""

    model_config = SettingsConfigDict(env_prefix="TALLY_", frozen=True)

    mode: Literal["local", "aws"] = "local"
    home: Path = Path("var")

    # AWS mode: `s3://bucket/prefix` for the warehouse, one DynamoDB table for the control store.
    warehouse_uri: str | None = None
    control_table: str | None = None
    aws_region: str = Field(default="eu-west-1", validation_alias="AWS_REGION")
    # Only for tests and S3-compatible stores: an explicit endpoint (moto's server, MinIO, ...).
    s3_endpoint_url: str | None = None
    dynamodb_endpoint_url: str | None = None

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

    # Invoices: the issuer printed on them and its number prefix (TALLY_MONEY as JSON).
    money: MoneySettings = MoneySettings()

    @cached_property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def local_warehouse(self) -> Path:
        return self.resolved_home / "warehouse"

    @property
    def local_control_db(self) -> Path:
        return self.resolved_home / "control.sqlite3"
