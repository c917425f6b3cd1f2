"""The people section of Tally's settings (`TALLY_PEOPLE` as JSON, e.g. '{"session_hours": 4}')."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PeopleSettings(BaseModel):
    model_config = {"frozen": True}

    #: A browser session ends this long after sign-in, whatever its use.
    session_hours: float = Field(default=8.0, gt=0, le=24 * 7)
    #: Sign-in failures per account within the window before further tries are refused (429).
    login_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    #: The longest a personal access token may live.
    token_max_days: int = Field(default=365, ge=1)
