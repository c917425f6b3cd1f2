"""Response models of the HTTP API (they also document it in the OpenAPI contract)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class RecordError(BaseModel):
    index: int = Field(description="Position of the record in the batch (0-based).")
    field: str | None = Field(description="The offending field, or null for the record as a whole.")
    message: str


class IngestResponse(BaseModel):
    batch_id: str = Field(
        description="Derived from the batch's content: the same batch always gets the same id."
    )
    kind: str
    site: str
    accepted: int = Field(description="Records written (after removing duplicates within the batch).")
    duplicates: int = Field(
        description="Records dropped because another record of the batch has the same identity."
    )
    rejected: int = Field(description="Records refused; kept under quarantine/ with their reasons.")
    errors: list[RecordError]
    errors_truncated: bool = Field(description="True when more errors exist than are listed here.")
    replayed: bool = Field(
        description="True when this batch had been stored before and nothing new was written."
    )


class SyncStateResponse(BaseModel):
    site: str
    kind: str
    resource: str
    latest_event_time: datetime | None = Field(
        description=("Latest event time stored (jobs, storage: end_time; vms, accelerators: interval_end).")
    )
    record_count: int


class ProblemDetails(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class Health(BaseModel):
    status: str
    mode: str
