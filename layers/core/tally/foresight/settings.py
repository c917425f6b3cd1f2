"""The foresight section of Tally's settings (`TALLY_FORESIGHT` as JSON, e.g.
'{"history_days": 84, "half_life_days": 14}')."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ForesightSettings(BaseModel):
    model_config = {"frozen": True}

    #: Complete days of a project's own history a forecast is fitted on (8 weeks: a trend and
    #: eight weekly cycles).
    history_days: int = Field(default=56, ge=7, le=730)
    #: The recent burn rate is the mean daily usage over this many complete days.
    burn_window_days: int = Field(default=7, ge=1, le=365)
    #: Simulated future paths behind a forecast's prediction interval.
    simulations: int = Field(default=2000, ge=200, le=20_000)
    #: A user belongs to the projects their jobs were charged to in this many days before now.
    membership_days: int = Field(default=365, ge=1, le=3660)
    #: Fair share: usage counts half after this many days (Slurm's PriorityDecayHalfLife, 7 days).
    half_life_days: float = Field(default=7.0, gt=0, le=3650)
    #: Fair share looks back this many half-lives (2^-10: older usage weighs under 0.1 %).
    fairshare_half_lives: int = Field(default=10, ge=1, le=64)
