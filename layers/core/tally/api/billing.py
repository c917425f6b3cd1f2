"""POST /v1/billing: one billing export (CSV, CSV.gz or Parquet) in, the `billing` table restated;
GET /v1/billing: the billing partitions the caller's site owns.

Who may post: a key with the scope `billing:write` (`tally keys create --site <finance-site>
--scope billing:write`, or the legacy `--resource billing`), and people with the finance or admin
role (their bills are the operator's). A billing key posts bills and reads nothing: listing needs a
key with `billing:read`, or finance or admin. Others get 403 (tally.people.authz decides).

The billing fence: a billing account (provider, billing account id) belongs to the site that first
stored it (recorded in the control store). A delivery holding an account another site (or the
operator, see tally.services.billing) owns is refused as a whole with 403 and nothing is written;
listing shows only the caller's own accounts, and asking for another's is 403.
Bills larger than the API limit go through the S3 landing bucket.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tally.adapters.billing_table import Manifest
from tally.api.body import decompress, read_capped
from tally.api.contract import billing_body, problems
from tally.api.deps import BillingReadAccess, BillingWriteAccess, ServicesDep
from tally.api.problems import Problem, bad_request, forbidden, not_found, unsupported
from tally.services.billing import BillingStoreResult, PartitionOutcome

router = APIRouter(prefix="/v1", tags=["billing"])

CSV_TYPES = {"text/csv", "application/csv", "text/plain"}
GZIP_TYPES = {"application/gzip", "application/x-gzip"}
PARQUET_TYPES = {"application/vnd.apache.parquet", "application/x-parquet"}
OCTET_TYPES = {"application/octet-stream"}
_DEFAULT_NAMES = {
    **dict.fromkeys(CSV_TYPES, "upload.csv"),
    **dict.fromkeys(GZIP_TYPES, "upload.csv.gz"),
    **dict.fromkeys(PARQUET_TYPES, "upload.parquet"),
}
_SAFE_NAME = re.compile(r"[^\w.@+=,-]")


class RowViolation(BaseModel):
    rule_id: str = Field(description="FOCUS validator rule id, or Tally-ROW-001 for a malformed record.")
    description: str


class RowError(BaseModel):
    source_file: str
    source_row: int = Field(description="1-based data record of the file (the header is not counted).")
    violations: list[RowViolation]


class PartitionResult(BaseModel):
    provider: str
    billing_account_id: str
    billing_period: str = Field(description="YYYY-MM of BillingPeriodStart.")
    rows: int = Field(description="Rows now stored for this partition.")
    action: str = Field(
        description=(
            "stored (new), replaced (a previous delivery's rows were replaced), unchanged (this very "
            "file was stored before), stale (this file had already been superseded here: nothing written)"
        )
    )
    replaced_deliveries: list[str]


class BillingResponse(BaseModel):
    delivery_id: str = Field(description="Derived from the file's content: the same file gets the same id.")
    source_file: str
    source_format: str = Field(description="Detected format, e.g. focus-1.0, aws-cur, azure-ea, gcp.")
    provider: str = Field(description="The file's provider, or `mixed`.")
    billing_periods: list[str]
    periods_replaced: list[PartitionResult] = Field(
        description="Partitions whose previously stored rows this file replaced (restatement)."
    )
    partitions: list[PartitionResult]
    source_rows: int
    accepted: int = Field(description="Source rows stored.")
    rejected: int = Field(description="Source rows refused; kept under quarantine/billing with their rules.")
    errors: list[RowError]
    errors_truncated: bool
    warnings: list[str]
    replayed: bool = Field(description="True when this file had been stored before: nothing changed.")


def _partition(p: PartitionOutcome) -> PartitionResult:
    return PartitionResult(
        provider=p.provider,
        billing_account_id=p.billing_account_id,
        billing_period=p.billing_period,
        rows=p.rows,
        action=p.action,
        replaced_deliveries=p.replaced_deliveries,
    )


def billing_response(result: BillingStoreResult) -> BillingResponse:
    errors = result.errors()
    return BillingResponse(
        delivery_id=result.delivery_id,
        source_file=", ".join(result.source_files),
        source_format=result.source_format,
        provider=result.provider,
        billing_periods=result.billing_periods,
        periods_replaced=[_partition(p) for p in result.periods_replaced],
        partitions=[_partition(p) for p in result.partitions],
        source_rows=result.source_rows,
        accepted=result.accepted,
        rejected=result.rejected,
        errors=[RowError.model_validate(e) for e in errors],
        errors_truncated=len(errors) < len(result.rejects),
        warnings=result.warnings,
        replayed=result.replayed,
    )


class StoredPartition(BaseModel):
    provider: str
    billing_account_id: str
    billing_period: str = Field(description="YYYY-MM of BillingPeriodStart.")
    rows: int
    delivery_id: str
    source_files: list[str]
    billed_cost: dict[str, str] = Field(description="Total BilledCost per currency (decimal text).")
    stored_at: str


def file_name(query: str | None, disposition: str | None, media: str) -> str:
    """The provenance name of the upload: ?filename=, else Content-Disposition, else by type."""
    name = query
    if not name and disposition:
        header = Message()
        header["content-disposition"] = disposition
        name = header.get_filename()
    if name:
        base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
        cleaned = _SAFE_NAME.sub("_", base)[:200]
        if cleaned.strip("._"):
            return cleaned
    if media in _DEFAULT_NAMES:
        return _DEFAULT_NAMES[media]
    raise bad_request(
        "an application/octet-stream upload needs a file name: add ?filename=<name> or a "
        "Content-Disposition header with a filename"
    )


@router.post(
    "/billing",
    response_model=BillingResponse,
    responses=problems(400, 401, 403, 413, 415, 422),
    openapi_extra=billing_body(),
    summary="Import a commercial-cloud billing export",
    description=(
        "Body: the export file as delivered (`text/csv`, `application/gzip`, "
        "`application/vnd.apache.parquet`, or `application/octet-stream` with `?filename=` or a "
        "Content-Disposition filename); the format is detected from the header. Rows are normalised to "
        "FOCUS 1.2 and stored in the `billing` table; for every (provider, billing account, billing "
        "period) in the file, previously stored rows are replaced (restatement). Rows that break a FOCUS "
        "rule are quarantined and listed in `errors`. Requires a key with the `billing:write` scope. "
        "A billing account belongs to the site that first stored it: a file holding an account of "
        "another site is refused with 403 and nothing is written. Posting the same file again "
        "changes nothing."
    ),
)
async def post_billing(
    request: Request,
    svc: ServicesDep,
    access: BillingWriteAccess,
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
    content_disposition: Annotated[str | None, Header()] = None,
    filename: Annotated[
        str | None, Query(max_length=255, description="Name recorded as source_file.")
    ] = None,
    currency: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z]{3}$", description="BillingCurrency for files that do not state it."),
    ] = None,
    provider_name: Annotated[
        str | None, Query(max_length=100, description="ProviderName for files that do not state it.")
    ] = None,
    billing_account_id: Annotated[
        str | None, Query(max_length=200, description="BillingAccountId for files that do not state it.")
    ] = None,
) -> BillingResponse:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in CSV_TYPES | GZIP_TYPES | PARQUET_TYPES | OCTET_TYPES:
        raise unsupported(
            f"Content-Type {content_type!r} is not accepted: send text/csv, application/gzip, "
            "application/vnd.apache.parquet, or application/octet-stream with a filename"
        )
    name = file_name(filename, content_disposition, media)
    settings = svc.settings
    raw = await read_capped(request, settings.max_body_bytes)
    if not raw:
        raise Problem(422, "Unusable billing file", "the body is empty: send the export file", code="empty")
    defaults = {
        k: v
        for k, v in {
            "billing_currency": currency.upper() if currency else None,
            "provider_name": provider_name,
            "billing_account_id": billing_account_id,
        }.items()
        if v
    }

    # A key's bills are its site's; finance's and admins' the operator's (tally.services.billing).
    owner = None if access.fence.everything else next(iter(sorted(access.fence.sites())))

    def work() -> BillingResponse:
        if raw[:2] == b"\x1f\x8b":
            _check_inflated_size(raw, settings.max_decompressed_bytes)
        # A foreign account (403) or an unusable file (422) is answered by tally.api.problem_handlers.
        result = svc.billing.import_files([(raw, name)], defaults=defaults, origin="api", site=owner)
        return billing_response(result)

    return await run_in_threadpool(work)


@router.get(
    "/billing",
    response_model=list[StoredPartition],
    responses=problems(401, 403, 404, 422),
    summary="The billing partitions the caller may read",
    description=(
        "One entry per (provider, billing account, billing period) stored for an account the key's "
        "site owns (finance and admins: every account). Filtering by `billing_account_id` (and "
        "`provider`) of an account another site owns is refused with 403; of an account nobody "
        "stored, 404. Requires a key with `billing:read` (a `billing:write` key posts bills and "
        "reads nothing), or the finance or admin role."
    ),
)
def list_billing(
    svc: ServicesDep,
    access: BillingReadAccess,
    provider: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    billing_account_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    billing_period: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
) -> list[StoredPartition]:
    accounts = [
        a
        for a in svc.control.list_billing_accounts()
        if (provider is None or a.provider == provider)
        and (billing_account_id is None or a.billing_account_id == billing_account_id)
    ]
    fence = access.fence
    own = {
        (a.provider, a.billing_account_id) for a in accounts if fence.everything or a.owner in fence.sites()
    }
    if billing_account_id is not None:
        if not accounts:
            raise not_found(f"no billing account {billing_account_id!r} is stored")
        if not own:
            raise forbidden(
                f"billing account {billing_account_id!r} belongs to another owner than "
                f"{', '.join(sorted(fence.sites()))}"
            )
    out = [
        _stored(m)
        for m in svc.billing.manifests_of(own)
        if billing_period is None or m.billing_period == billing_period
    ]
    return sorted(out, key=lambda p: (p.provider, p.billing_account_id, p.billing_period))


def _stored(manifest: Manifest) -> StoredPartition:
    return StoredPartition(
        provider=manifest.provider,
        billing_account_id=manifest.billing_account_id,
        billing_period=manifest.billing_period,
        rows=manifest.rows,
        delivery_id=manifest.delivery_id,
        source_files=manifest.source_files,
        billed_cost=manifest.billed_cost,
        stored_at=manifest.stored_at,
    )


def _check_inflated_size(raw: bytes, limit: int) -> None:
    """Refuse a gzip body that inflates past the limit (a bomb); leave broken gzip to the importer."""
    try:
        decompress(raw, "gzip", limit)
    except Problem as problem:
        if problem.status == 413:
            raise
