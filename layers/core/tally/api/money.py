"""Tariffs under /v1/tariffs and invoices under /v1/invoices, for people (tally.api.money_access)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tally.api.capped_route import CappedBodyRoute
from tally.api.contract import problems
from tally.api.deps import ServicesDep
from tally.api.money_access import (
    InvoicesReader,
    MoneyManager,
    TariffsReader,
    invoice_reach,
    tariff_sites,
)
from tally.api.problems import Problem, not_found
from tally.money.cost_rules import CostAttribution
from tally.money.invoices import Invoice, InvoiceError, InvoiceNotFoundError, NothingToInvoiceError
from tally.money.leases import MoneyBusyError
from tally.money.render import MEDIA_TYPES, Format, PdfUnavailableError, render
from tally.money.tariff_store import TariffNotFoundError, TariffUnknownSiteError
from tally.money.tariffs import Tariff, TariffError, TariffId
from tally.query.engine import QueryError

router = APIRouter(tags=["money"], route_class=CappedBodyRoute)


def _invalid(what: str, error: ValidationError) -> Problem:
    found = [
        {"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
        for e in error.errors(include_url=False)
    ]
    return Problem(422, f"Invalid {what}", f"the {what} is not valid", errors=found)


def _guard(error: Exception) -> Problem:
    if isinstance(error, TariffNotFoundError | InvoiceNotFoundError):
        return not_found(str(error))
    if isinstance(error, MoneyBusyError):
        return Problem(503, "Busy", str(error))
    if isinstance(error, QueryError):
        return Problem(502, "Query failed", str(error))
    if isinstance(error, TariffUnknownSiteError):
        return Problem(422, "Invalid tariff", str(error))
    if isinstance(error, NothingToInvoiceError):
        return Problem(422, "Nothing to invoice", str(error))
    return Problem(409, "Conflict", str(error))


def _tariff_body() -> dict[str, Any]:
    schema = Tariff.model_json_schema()
    schema["required"] = [r for r in schema.get("required", []) if r != "tariff_id"]
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.get("/v1/tariffs", responses=problems(401, 403, 422), summary="The price list (the caller's sites)")
def list_tariffs(svc: ServicesDep, access: TariffsReader) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json") for t in svc.money.tariffs.list_tariffs(tariff_sites(access.fence))]


@router.get("/v1/tariffs/{tariff_id}", responses=problems(401, 403, 404, 422), summary="One tariff")
def get_tariff(tariff_id: TariffId, svc: ServicesDep, access: TariffsReader) -> dict[str, Any]:
    try:
        return svc.money.tariffs.get(tariff_id, tariff_sites(access.fence)).model_dump(mode="json")
    except TariffError as error:
        raise _guard(error) from error


@router.put(
    "/v1/tariffs/{tariff_id}",
    responses={201: {"description": "Created"}, **problems(400, 401, 403, 409, 422)},
    openapi_extra=_tariff_body(),
    summary="Create or replace a tariff (one price per resource, unit and class at a time)",
)
def put_tariff(
    tariff_id: TariffId,
    body: Annotated[Any, Body()],
    response: Response,
    svc: ServicesDep,
    access: MoneyManager,
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Problem(422, "Invalid tariff", "the body must be one JSON object")
    data = {k: v for k, v in body.items() if k not in ("tariff_id", "updated_at")}
    try:
        tariff = Tariff.model_validate({**data, "tariff_id": tariff_id})
    except ValidationError as error:
        raise _invalid("tariff", error) from error
    try:
        stored, created = svc.money.tariffs.put(tariff)
    except (TariffError, MoneyBusyError) as error:
        raise _guard(error) from error
    response.status_code = 201 if created else 200
    return stored.model_dump(mode="json")


@router.delete(
    "/v1/tariffs/{tariff_id}",
    status_code=204,
    responses=problems(401, 403, 404, 422),
    summary="Remove a tariff",
)
def delete_tariff(tariff_id: TariffId, svc: ServicesDep, access: MoneyManager) -> Response:
    try:
        svc.money.tariffs.remove(tariff_id)
    except (TariffError, MoneyBusyError) as error:
        raise _guard(error) from error
    return Response(status_code=204)


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: Annotated[str, Field(min_length=1, max_length=256)]
    period: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="the month, YYYY-MM")]
    user: Annotated[str | None, Field(default=None, min_length=1, max_length=512)] = None
    person: Annotated[
        str | None,
        Field(
            default=None,
            pattern=r"^p-[0-9a-f]{12}$",
            description="a per-person invoice: the person id whose jobs it prices (that person may read it)",
        ),
    ] = None
    project_class: Annotated[str | None, Field(default=None, min_length=1, max_length=64)] = None


def _summary(invoice: Invoice) -> dict[str, Any]:
    document = invoice.model_dump(mode="json", exclude={"lines", "issuer_address"})
    document["sites"] = sorted(invoice.sites)
    return document


@router.get("/v1/invoices", responses=problems(401, 403, 422), summary="Issued invoices and credit notes")
def list_invoices(svc: ServicesDep, access: InvoicesReader) -> list[dict[str, Any]]:
    return [_summary(i) for i in svc.money.visible(invoice_reach(access.fence))]


@router.post(
    "/v1/invoices",
    status_code=201,
    responses=problems(400, 401, 403, 409, 422, 502),
    summary="Issue the invoice of a project's month (optionally of one of its users or people)",
)
async def issue_invoice(body: IssueRequest, svc: ServicesDep, access: MoneyManager) -> dict[str, Any]:
    if body.person is not None and svc.people.store.get_person(body.person) is None:
        raise not_found(f"no person {body.person!r}")
    engine = svc.engine
    try:
        invoice = await run_in_threadpool(
            lambda: svc.money.issue(
                engine, body.project, body.period, body.project_class, body.user, person_id=body.person
            )
        )
    except (InvoiceError, QueryError, MoneyBusyError) as error:
        raise _guard(error) from error
    return invoice.model_dump(mode="json")


@router.post(
    "/v1/invoices/{number}/credit",
    status_code=201,
    responses=problems(401, 403, 404, 409, 422, 502),
    summary="Cancel an invoice with a credit note and issue its correction",
)
async def credit_invoice(number: str, svc: ServicesDep, access: MoneyManager) -> dict[str, Any]:
    engine = svc.engine
    try:
        note, fixed = await run_in_threadpool(svc.money.credit, engine, number)
    except (InvoiceError, QueryError, MoneyBusyError) as error:
        raise _guard(error) from error
    return {
        "credit_note": note.model_dump(mode="json"),
        "invoice": fixed.model_dump(mode="json") if fixed else None,
    }


@router.get(
    "/v1/invoices/{number}.{format}",
    responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}}, **problems(401, 403, 404, 422)},
    summary="Download an invoice as PDF, CSV or Excel",
)
def download_invoice(
    number: str, format: Literal["pdf", "csv", "xlsx"], svc: ServicesDep, access: InvoicesReader
) -> Response:
    fmt: Format = format
    try:
        invoice = svc.money.find(number, invoice_reach(access.fence))
    except InvoiceError as error:
        raise _guard(error) from error
    headers = {"Content-Disposition": f'attachment; filename="{invoice.number}.{fmt}"'}
    try:
        content = render(invoice, fmt)
    except PdfUnavailableError as error:
        raise Problem(501, "Not available here", str(error)) from error
    return Response(content, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get("/v1/invoices/{number}", responses=problems(401, 403, 404, 422), summary="One invoice, as JSON")
def get_invoice(number: str, svc: ServicesDep, access: InvoicesReader) -> dict[str, Any]:
    try:
        return svc.money.find(number, invoice_reach(access.fence)).model_dump(mode="json")
    except InvoiceError as error:
        raise _guard(error) from error


@router.get(
    "/v1/cost-attribution",
    responses=problems(401, 403, 422),
    summary="The tag-to-project mapping of commercial-cloud cost (report kind cloud_cost)",
)
def get_cost_attribution(svc: ServicesDep, access: MoneyManager) -> dict[str, Any]:
    return svc.money.cost_rules.get().model_dump(mode="json")


@router.put(
    "/v1/cost-attribution",
    responses=problems(400, 401, 403, 422),
    summary="Replace the tag-to-project mapping: tag keys in priority order, tag value -> project",
)
def put_cost_attribution(body: CostAttribution, svc: ServicesDep, access: MoneyManager) -> dict[str, Any]:
    try:
        return svc.money.cost_rules.put(body.model_copy(update={"updated_at": None})).model_dump(mode="json")
    except MoneyBusyError as error:
        raise _guard(error) from error
