"""The custom kinds' settings section (`Settings.kinds`; from the environment as
`TALLY_KINDS_GLUE_DATABASE=tally`, or as JSON in `TALLY_KINDS`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class KindsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # AWS mode: the Glue database that gets each kind's table (Athena queries it); None: no Glue.
    glue_database: str | None = None
    # Only for tests: moto's server.
    glue_endpoint_url: str | None = None
