"""Which engine runs queries: Athena when configured in AWS mode, else DuckDB on the local warehouse.

Read from `TALLY_*` environment variables, like `tally.settings.Settings`:
TALLY_ATHENA_WORKGROUP, TALLY_ATHENA_DATABASE, TALLY_ATHENA_OUTPUT_LOCATION (optional when the
workgroup enforces one), TALLY_ATHENA_ENDPOINT_URL (tests), TALLY_QUERY_TIMEOUT_SECONDS.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from tally.query.engine import QueryEngine
from tally.settings import Settings


class QuerySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TALLY_", frozen=True, extra="ignore")

    athena_workgroup: str | None = None
    athena_database: str = "tally"
    athena_output_location: str | None = None
    athena_endpoint_url: str | None = None
    query_timeout_seconds: float = 600.0


def open_engine(settings: Settings, query: QuerySettings | None = None) -> QueryEngine:
    query = query or QuerySettings()
    # Engines are imported on use: Lambda ships no DuckDB, and local mode needs no boto3.
    if settings.mode == "aws" and query.athena_workgroup:
        import boto3

        from tally.query.athena_engine import AthenaEngine

        client = boto3.client(
            "athena", region_name=settings.aws_region, endpoint_url=query.athena_endpoint_url
        )
        return AthenaEngine(
            client,
            workgroup=query.athena_workgroup,
            database=query.athena_database,
            output_location=query.athena_output_location,
            timeout_seconds=query.query_timeout_seconds,
        )
    if settings.mode == "aws":
        raise ValueError("AWS mode queries run on Athena: set TALLY_ATHENA_WORKGROUP")
    from tally.query.duckdb_engine import DuckDbEngine

    return DuckDbEngine(settings.local_warehouse, cache_dir=settings.resolved_home / "cache")
