"""The `apel` section of Tally's settings (`TALLY_APEL` as a JSON object)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ApelSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Per site, the DNs whose S/MIME signatures it accepts (`/C=UK/O=eScience/CN=host` or RFC 4514).
    # A site listed here must sign every message; the signer's chain must lead to `ca_file`.
    signers: dict[str, list[str]] = Field(default_factory=dict)
    ca_file: Path | None = None
    # The SSM outgoing directory queue publishing writes to (`tally apel publish --out` overrides).
    outgoing_dir: Path | None = None
    # APEL's unloader writes at most 1,000 records a message (`apel/db/unloader.py`).
    records_per_message: int = Field(default=1000, ge=1, le=1000)
    # Sites the scheduled publisher covers; all sites when empty.
    publish_sites: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _signers_need_a_ca(self) -> ApelSettings:
        if self.signers and self.ca_file is None:
            raise ValueError("apel.signers needs apel.ca_file: a signer's DN proves nothing without its CA")
        return self
