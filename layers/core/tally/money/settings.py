"""The money section of the settings (`TALLY_MONEY` as JSON, e.g. '{"issuer": "Example Lab"}')."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class MoneySettings(BaseModel):
    """Who issues the invoices: the name and address printed on them, and the number prefix of its
    gap-free sequence (`<prefix>-000001`, credit notes included)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: Annotated[str, Field(min_length=1, max_length=200)] = "Tally"
    issuer_address: Annotated[str, Field(max_length=1000)] = ""
    number_prefix: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{0,15}$")] = "INV"
