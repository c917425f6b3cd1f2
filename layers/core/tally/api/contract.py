"""What the OpenAPI document declares beyond the route signatures: auth, problem answers, record bodies.

Routes read their bodies raw (to stream, cap and decompress them), so FastAPI cannot infer the body
schema or the problem+json answers from the signatures. Routes declare them here with `responses=`
and `openapi_extra`; `install` adds the component schemas those declarations refer to, generated
from the same pydantic models that validate requests and shape answers, so the document cannot
drift from the code.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.security import HTTPBearer
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tally.api.body import NDJSON_TYPES
from tally.api.models import ProblemDetails
from tally.domain.records import KINDS, MODELS
from tally.registry.entries import ENTRY_TYPES

PROBLEM_JSON = "application/problem+json"
COMPONENTS = "#/components/schemas/"

#: Documents the key in the OpenAPI document (so Swagger UI's "Authorize" sends it); checking it is
#: the `principal` dependency's job, hence `auto_error=False`: this one never refuses a request.
BEARER = HTTPBearer(
    scheme_name="siteKey",
    bearerFormat="tly_<key id>_<secret>",
    description=(
        "A site's API key, `tly_<16 hex digits: key id>_<secret>`, as made by `tally keys create`; "
        "sent as `Authorization: Bearer <key>`. A key belongs to one site (and optionally to some of "
        "its resources) and reads and writes only that site's data."
    ),
    auto_error=False,
)

_WHY: dict[int, str] = {
    400: "Malformed body: not JSON, not UTF-8, or broken gzip.",
    401: "No API key, or one that is unknown or revoked.",
    403: "The key may not do this: another site's data, or a resource or scope the key lacks.",
    404: "Unknown kind or entry.",
    409: "Conflicts with what is stored.",
    413: "Body (or what it decompresses to, or its record count) is over the limit.",
    415: "Content-Type or Content-Encoding not accepted.",
    422: "Well-formed but unusable: failed validation, empty batch, bad parameters.",
    429: "Too many failed sign-ins for this account: wait for Retry-After seconds.",
    502: "The query engine or the OpenID provider failed.",
    503: "A part this request needs is not installed in this deployment (forecasts: statsmodels).",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries: each status answered with an RFC 9457 problem document."""
    return {
        status: {
            "description": _WHY[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": f"{COMPONENTS}ProblemDetails"}}},
        }
        for status in statuses
    }


def _array_of(name: str, max_items: int) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "maxItems": max_items, "items": {"$ref": f"{COMPONENTS}{name}"}}


def records_body(max_records: int) -> dict[str, Any]:
    """`openapi_extra` for POST /v1/records/{kind}: the records of the path's kind, two encodings."""
    by_kind = {"anyOf": [_array_of(MODELS[kind].__name__, max_records) for kind in KINDS]}
    kinds = ", ".join(f"`{kind}`: {MODELS[kind].__name__}" for kind in KINDS)
    return {
        "requestBody": {
            "required": True,
            "description": (
                f"The records of the path's kind ({kinds}), at most {max_records:,} per batch. "
                "`application/json`: a JSON array. NDJSON types: the array's records, one JSON object "
                "per line. Either may be sent with `Content-Encoding: gzip`; limits apply to the "
                "compressed body and to what it inflates to."
            ),
            "content": {media: {"schema": by_kind} for media in ("application/json", *sorted(NDJSON_TYPES))},
        }
    }


def registry_body() -> dict[str, Any]:
    """`openapi_extra` for registry writes: one entry of the path's kind."""
    names = [model.__name__ for model in ENTRY_TYPES.values()]
    return {
        "requestBody": {
            "required": True,
            "description": "One entry of the path's kind: "
            + ", ".join(f"`{kind}`: {model.__name__}" for kind, model in ENTRY_TYPES.items())
            + ". `site` may be omitted (it is the key's site); `entry_id` and `updated_at` are set by "
            "the server.",
            "content": {
                "application/json": {"schema": {"anyOf": [{"$ref": f"{COMPONENTS}{n}"} for n in names]}}
            },
        }
    }


def billing_body() -> dict[str, Any]:
    """`openapi_extra` for POST /v1/billing: the export file as delivered."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    types = ("text/csv", "application/gzip", "application/vnd.apache.parquet", "application/octet-stream")
    return {"requestBody": {"required": True, "content": dict.fromkeys(types, binary)}}


def _component_schemas() -> dict[str, Any]:
    models: list[type[BaseModel]] = [ProblemDetails, *MODELS.values(), *ENTRY_TYPES.values()]
    _, schema = models_json_schema([(m, "validation") for m in models], ref_template=COMPONENTS + "{model}")
    defs: dict[str, Any] = schema.get("$defs", {})
    for model in ENTRY_TYPES.values():
        # A registry write may leave out `site` (the server sets the key's site) and may carry
        # `entry_id` and `updated_at` back as read: the server sets those and ignores what is sent.
        entry = defs[model.__name__]
        entry["required"] = [name for name in entry["required"] if name != "site"]
        for name in ("entry_id", "updated_at"):
            entry["properties"][name] = {
                "readOnly": True,
                "description": "Set by the server; ignored if sent.",
            }
    return defs


def install(app: FastAPI) -> None:
    """Add the component schemas the route declarations refer to (once, on first request)."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = generate()
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in _component_schemas().items():
                schemas.setdefault(name, schema)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
