"""The compaction section of the settings (`Settings.compaction`, TALLY_COMPACTION_*; sizes in MiB)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tally.compaction.compactor import CompactionPolicy, MiB

#: The defaults are the policy's own (one source of truth).
_POLICY = CompactionPolicy()


class CompactionSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    target_mib: int = Field(default=_POLICY.target_file_bytes // MiB, ge=1)
    small_mib: int = Field(default=_POLICY.small_file_bytes // MiB, ge=1)
    max_input_mib: int = Field(default=_POLICY.max_input_bytes // MiB, ge=1)
    min_age_days: int = Field(default=_POLICY.min_age_days, ge=0)
    #: Stop starting new merges when less than this many seconds of the Lambda budget remain.
    reserve_seconds: int = Field(default=120, ge=0)

    def policy(self) -> CompactionPolicy:
        return CompactionPolicy(
            target_file_bytes=self.target_mib * MiB,
            small_file_bytes=self.small_mib * MiB,
            max_input_bytes=self.max_input_mib * MiB,
            min_age_days=self.min_age_days,
        )
