"""Which engine runs queries: Athena when configured in AWS mode, else DuckDB on the local warehouse.

The container (`tally.services.container.Services.engine`) calls this once per process.
"""

from __future__ import annotations

from tally.query.engine import QueryEngine
from tally.settings import Settings


def open_engine(settings: Settings) -> QueryEngine:
    # Engines are imported on use: Lambda ships no DuckDB, and local mode needs no boto3.
    athena = settings.athena
    if settings.mode == "aws" and athena.workgroup:
        import boto3

        from tally.query.athena_engine import AthenaEngine

        client = boto3.client("athena", region_name=settings.aws_region, endpoint_url=athena.endpoint_url)
        return AthenaEngine(
            client,
            workgroup=athena.workgroup,
            database=athena.database,
            output_location=athena.output_location,
            timeout_seconds=settings.query.timeout_seconds,
        )
    if settings.mode == "aws":
        raise ValueError("AWS mode queries run on Athena: set TALLY_ATHENA_WORKGROUP")
    from tally.query.duckdb_engine import DuckDbEngine

    return DuckDbEngine(settings.local_warehouse, cache_dir=settings.resolved_home / "cache")
