"""X-Ray traces of the Lambda handlers through Powertools `Tracer`: on in Lambda unless
`POWERTOOLS_TRACE_DISABLED` is true, off everywhere else.

Importing the X-Ray SDK (its sampler imports botocore) and patching the AWS SDK costs 0.15-0.2 s.
A function whose tracing is off never pays it. One whose tracing is on builds the tracer when its
first invocation arrives instead of while the handler module is imported: that invocation creates
the app's AWS clients anyway (botocore again), and the handler's import, which must stay under a
second, carries none of it. Every invocation, the first included, runs in the tracer's segment.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# What Powertools reads as true in POWERTOOLS_TRACE_DISABLED.
_TRUE = frozenset({"1", "y", "yes", "t", "true", "on"})


def tracing_enabled() -> bool:
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return False
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in _TRUE


@functools.cache
def tracer() -> Any:
    """The X-Ray tracer (built once; only where tracing is enabled)."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "tally"))


def traced(handler: F) -> F:
    """`handler` inside a trace segment where tracing is enabled, else `handler` itself."""
    if not tracing_enabled():
        return handler
    wrapped: Callable[..., Any] | None = None

    @functools.wraps(handler)
    def entry(event: Any, context: Any) -> Any:
        nonlocal wrapped
        if wrapped is None:
            wrapped = tracer().capture_lambda_handler(handler, capture_response=False)
        return wrapped(event, context)

    return entry  # type: ignore[return-value]
