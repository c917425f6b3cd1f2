"""Structured JSON logs with correlation ids, metrics and traces, through Powertools for AWS Lambda.

- Logs: one Powertools `Logger` (JSON, one object per line). In Lambda every line carries the
  function's context and the correlation id (API Gateway's request id, else the client's
  `X-Correlation-Id`/`X-Request-Id` header, else a fresh one); locally the level is WARNING unless
  `POWERTOOLS_LOG_LEVEL` says otherwise, so `tally serve` stays quiet.
- Metrics (CloudWatch embedded metric format, namespace `POWERTOOLS_METRICS_NAMESPACE`): per
  site and kind `RecordsAccepted`, `RecordsRejected`, `RecordsDuplicate` and `BatchLatency` (ms);
  `BatchesRefused` per kind and status for batches refused as a whole. Emitted in Lambda only, or
  locally when `TALLY_METRICS=1` (they are JSON lines on stdout).
- Traces: X-Ray through Powertools `Tracer`, enabled in Lambda only.

The ASGI middleware measures and reports the records route. The route marks its request as a
batch (a `BatchNote` in the request state, before the key is checked, so a refused batch is counted
too) and leaves the ingest service's result in that note; the middleware reads the note, so the
answer is never buffered or parsed, no path is matched here, and the service knows nothing of this.
"""

from __future__ import annotations

import functools
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from tally.tracing import traced

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "tally")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Tally")
CORRELATION_HEADER = "x-correlation-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:/=+-]{1,128}$")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def metrics_enabled() -> bool:
    flag = os.environ.get("TALLY_METRICS", "").strip().lower()
    if flag in {"0", "false", "no", "off"}:
        return False
    return in_lambda() or flag in {"1", "true", "yes", "on"}


def _log_level() -> str:
    return os.environ.get("POWERTOOLS_LOG_LEVEL") or ("INFO" if in_lambda() else "WARNING")


logger = Logger(service=SERVICE, level=_log_level())


def record_batch(
    site: str, kind: str, accepted: int, rejected: int, duplicates: int, latency_ms: float
) -> dict[str, Any] | None:
    """Emit the metrics of one ingested batch; return the EMF document (None when disabled)."""
    if not metrics_enabled():
        return None
    metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    metrics.add_dimension(name="site", value=site)
    metrics.add_dimension(name="kind", value=kind)
    metrics.add_metric(name="RecordsAccepted", unit=MetricUnit.Count, value=accepted)
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=rejected)
    metrics.add_metric(name="RecordsDuplicate", unit=MetricUnit.Count, value=duplicates)
    metrics.add_metric(name="BatchLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
    document = metrics.serialize_metric_set()
    metrics.flush_metrics()
    return dict(document)


def record_refusal(kind: str, status: int) -> dict[str, Any] | None:
    """Emit `BatchesRefused` for a batch refused as a whole (4xx problem answer)."""
    if not metrics_enabled():
        return None
    metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    metrics.add_dimension(name="kind", value=kind)
    metrics.add_dimension(name="status", value=str(status))
    metrics.add_metric(name="BatchesRefused", unit=MetricUnit.Count, value=1)
    document = metrics.serialize_metric_set()
    metrics.flush_metrics()
    return dict(document)


#: The request-state attribute under which the records route leaves its `BatchNote`.
BATCH_STATE = "tally_batch"


class BatchFigures(Protocol):
    """What the middleware reports of an ingested batch (the ingest service's result has these)."""

    @property
    def batch_id(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def accepted(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def duplicates(self) -> int: ...
    @property
    def replayed(self) -> bool: ...


@dataclass
class BatchNote:
    """The records route's note of one batch: its kind at once, the service's result once ingested."""

    kind: str
    result: BatchFigures | None = None

    def figures(self) -> dict[str, Any]:
        r = self.result
        if r is None:
            return {}
        return {
            "batch_id": r.batch_id,
            "site": r.site,
            "accepted": r.accepted,
            "rejected": r.rejected,
            "duplicates": r.duplicates,
            "replayed": r.replayed,
        }


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            text = value.decode("latin-1").strip()
            return text if _SAFE_ID.match(text) else None
    return None


def correlation_id(scope: Scope) -> str:
    """API Gateway's request id, else a well-formed client-sent id, else a new one."""
    event = scope.get("aws.event")
    if isinstance(event, dict):
        request_id = (event.get("requestContext") or {}).get("requestId")
        if isinstance(request_id, str) and request_id:
            return request_id
    return _header(scope, CORRELATION_HEADER.encode()) or _header(scope, b"x-request-id") or str(uuid.uuid4())


class ObservabilityMiddleware:
    """Pure ASGI middleware: correlation id in and out, batch metrics and one log line per batch."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        cid = correlation_id(scope)
        logger.set_correlation_id(cid)
        started = time.perf_counter()
        status = 0
        # The request state the route's `request.state` writes to (Starlette keeps it in the scope).
        state = scope.setdefault("state", {})

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers") or [])
                headers.append((CORRELATION_HEADER.encode(), cid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            note = state.get(BATCH_STATE) if isinstance(state, MutableMapping) else None
            if isinstance(note, BatchNote):
                latency_ms = (time.perf_counter() - started) * 1000
                self._report(note.kind, status, note.figures(), latency_ms)
            logger.set_correlation_id(None)

    @staticmethod
    def _report(kind: str, status: int, figures: dict[str, Any], latency_ms: float) -> None:
        if status != 200:
            logger.info(
                "batch refused", extra={"kind": kind, "status": status, "latency_ms": round(latency_ms)}
            )
            if 400 <= status < 500:
                record_refusal(kind, status)
            return
        if not figures:
            logger.warning("batch answered 200 without its figures", extra={"kind": kind})
            return
        logger.info("batch ingested", extra={"kind": kind, "latency_ms": round(latency_ms, 1), **figures})
        if not figures.get("replayed"):
            record_batch(
                str(figures.get("site")),
                kind,
                int(figures.get("accepted") or 0),
                int(figures.get("rejected") or 0),
                int(figures.get("duplicates") or 0),
                latency_ms,
            )


def install(app: Any) -> None:
    """Add the middleware to a Starlette/FastAPI app."""
    app.add_middleware(ObservabilityMiddleware)


def lambda_entry(handler: F, correlation_path: str | None = correlation_paths.API_GATEWAY_HTTP) -> F:
    """Wrap a Lambda handler: Lambda context and correlation id in every log line, and a trace."""
    wrapped: Callable[..., Any] = logger.inject_lambda_context(
        handler, correlation_id_path=correlation_path, clear_state=True
    )
    wrapped = traced(wrapped)  # in Lambda; the X-Ray SDK is loaded on the first call

    @functools.wraps(handler)
    def entry(event: Any, context: Any) -> Any:
        return wrapped(event, context)

    return entry  # type: ignore[return-value]
