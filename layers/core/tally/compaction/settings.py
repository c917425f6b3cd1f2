"""Compaction settings from `TALLY_COMPACTION_*` environment variables (sizes in MiB)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tally.compaction.compactor import CompactionPolicy, MiB


class CompactionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TALLY_COMPACTION_", frozen=True)

    target_mib: int = Field(default=256, ge=1)
    small_mib: int = Field(default=128, ge=1)
    max_input_mib: int = Field(default=512, ge=1)
    min_age_days: int = Field(default=1, ge=0)
    #: Stop starting new merges when less than this many seconds of the Lambda budget remain.
    reserve_seconds: int = Field(default=120, ge=0)

    def policy(self) -> CompactionPolicy:
        return CompactionPolicy(
            target_file_bytes=self.target_mib * MiB,
            small_file_bytes=self.small_mib * MiB,
            max_input_bytes=self.max_input_mib * MiB,
            min_age_days=self.min_age_days,
        )
