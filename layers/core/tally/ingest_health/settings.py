"""Settings of ingest health (`TALLY_HEALTH_QUIET_HOURS`, `TALLY_HEALTH_LOOKBACK_DAYS`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IngestHealthSettings(BaseModel):
    # A resource that sent nothing for this long is reported quiet (its agent stopped, or its cron).
    quiet_hours: int = Field(default=24, ge=1, le=24 * 90)
    # How far back resources are looked for: one silent for longer is not listed at all.
    lookback_days: int = Field(default=31, ge=14, le=366)
