"""The invoice verifier's section of the settings (`Settings.reconcile`, TALLY_RECONCILE_*).

A value left unset is the verifier's own default (`tally.reconcile.ReconcileConfig`, and the
chunk size of `tally.reconcile.streamed`): the defaults live there, once. This module imports
neither, so reading the settings does not load the verifier (numpy) into every process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from tally.reconcile import ReconcileConfig


class ReconcileSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    settle_hours: float | None = None
    sampling_seconds: int | None = None
    min_tolerance_hours: float | None = None
    relative_tolerance: float | None = None
    rate_tolerance: float | None = None
    idle_cpu_fraction: float | None = None
    #: The previous period is judged again until this many days into the next (restated bills).
    restatement_days: int = 10
    #: Samples judged at once (the verifier's memory follows this, not the fleet).
    chunk_samples: int | None = None

    def reconcile_config(self) -> ReconcileConfig:
        from tally.reconcile import ReconcileConfig

        given: dict[str, Any] = {
            "sampling_interval_seconds": self.sampling_seconds,
            "min_tolerance_hours": self.min_tolerance_hours,
            "relative_tolerance": self.relative_tolerance,
            "rate_tolerance": self.rate_tolerance,
            "idle_cpu_fraction": self.idle_cpu_fraction,
            "settle_hours": self.settle_hours,
        }
        return ReconcileConfig(**{name: value for name, value in given.items() if value is not None})

    def samples_per_chunk(self) -> int:
        from tally.reconcile.streamed import DEFAULT_CHUNK_SAMPLES

        return DEFAULT_CHUNK_SAMPLES if self.chunk_samples is None else self.chunk_samples
