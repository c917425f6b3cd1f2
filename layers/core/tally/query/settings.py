"""Settings sections of the query engines (`Settings.query` and `Settings.athena`).

Environment: TALLY_QUERY_TIMEOUT_SECONDS; TALLY_ATHENA_WORKGROUP (AWS mode queries run on Athena
when it is set), TALLY_ATHENA_DATABASE, TALLY_ATHENA_OUTPUT_LOCATION (optional when the workgroup
enforces one), TALLY_ATHENA_ENDPOINT_URL (tests).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class QuerySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: How long a query may run before the engine cancels it (Athena; DuckDB runs in-process).
    timeout_seconds: float = 600.0


class AthenaSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    workgroup: str | None = None
    database: str = "tally"
    output_location: str | None = None
    endpoint_url: str | None = None
