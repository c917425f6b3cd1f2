"""How strict the verifier is: hour tolerance, price tolerance, idleness, settle time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class ReconcileConfig:
    """Defaults follow the issue: tolerance = max(2 sampling intervals, 0.1 h) + 2 %, settle 48 h.

    The hour tolerance also absorbs clock skew between the agent and the provider: a skewed agent
    moves some minutes of one day into its neighbour, never more than the tolerance allows for.
    """

    sampling_interval_seconds: int = 900
    min_tolerance_hours: float = 0.1
    relative_tolerance: float = 0.02
    #: Relative deviation of cost from hours x (contracted or list) price that is a rate anomaly.
    rate_tolerance: float = 0.02
    #: Absolute slack of the price check, in the billing currency (rounding of hourly lines).
    rate_slack: float = 0.01
    #: Billed and running, but busy CPU below this fraction of the vCPU time: idle.
    idle_cpu_fraction: float = 0.05
    settle_hours: float = 48.0

    def __post_init__(self) -> None:
        if self.sampling_interval_seconds <= 0:
            raise ValueError("sampling_interval_seconds must be positive")
        for name in ("min_tolerance_hours", "relative_tolerance", "rate_tolerance", "rate_slack"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if not 0 <= self.idle_cpu_fraction <= 1:
            raise ValueError("idle_cpu_fraction must lie in [0, 1]")
        if self.settle_hours < 0:
            raise ValueError("settle_hours must not be negative")

    @property
    def base_tolerance_hours(self) -> float:
        return max(2 * self.sampling_interval_seconds / 3600, self.min_tolerance_hours)

    def hour_tolerance(self, hours: float) -> float:
        """Allowed difference between billed and measured hours when the larger of them is `hours`."""
        return self.base_tolerance_hours + self.relative_tolerance * hours

    def last_closed_day(self, now: datetime) -> date:
        """The latest UTC day that ended at least `settle_hours` before `now`."""
        cutoff = now - timedelta(hours=self.settle_hours)
        return cutoff.date() - timedelta(days=1)
