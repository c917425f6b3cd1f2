"""Schemathesis hooks for Tally's contract, loaded through SCHEMATHESIS_HOOKS by tests/contract/test_fuzz.py.

- Serializers: the records API takes NDJSON (the contract gives its schema as the array of records,
  each sent as one line); billing exports are binary and go as the bytes generated.
- KNOWN_OPEN: defects already filed and being fixed elsewhere. Each names the issue item and says
  which requests it covers; the fuzz run skips (crashers) or tolerates (5xx) exactly those and
  counts every hit, and the test prints the counts. Remove an entry when its fix lands.
- Depth: most generated records name some random site, which the fence refuses (403) before any
  validation. Every other batch is given the running key's site ($TALLY_FUZZ_SITE), and every other
  report query a valid period, so the validation, storage and query paths are fuzzed too.
- Every 5xx answer is logged (with a curl reproducer) to $TALLY_FUZZ_LOG, so the test can check
  that none is left unexplained.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import schemathesis
from hypothesis.internal import lambda_sources
from schemathesis import Case as AnyCase
from schemathesis import HookContext, Response
from schemathesis.core.failures import Failure
from schemathesis.transport import SerializationContext

from tally.api.body import NDJSON_TYPES

Case = AnyCase[Any]

# hypothesis describes lambdas by parsing their source with ast.parse, which CPython 3.11.7 can fail
# deep in a recursive draw ("SystemError: AST constructor recursion depth mismatch"): the description
# only labels a strategy, so the run goes on with a plain label instead of ending in that error.
_describe: Callable[[Any], str] = lambda_sources.lambda_description


def _lambda_description(f: Any) -> str:
    try:
        return _describe(f)
    except SystemError:
        return "lambda"


lambda_sources.lambda_description = _lambda_description


@schemathesis.serializer(*NDJSON_TYPES)
def ndjson(ctx: SerializationContext, value: Any) -> bytes:
    items = value if isinstance(value, list) else [value]
    return b"\n".join(json.dumps(item).encode() for item in items)


@schemathesis.serializer("text/csv", "application/gzip", "application/vnd.apache.parquet")
def raw_bytes(ctx: SerializationContext, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode()


@dataclass(frozen=True)
class KnownOpen:
    """A filed defect: `matches` picks out the requests that reach it."""

    name: str
    issue: str
    crashes_server: bool  # True: never sent (it would kill the server for the rest of the run)
    matches: Callable[[Case], bool]


#: Empty since the ingest hardening landed: `null` records (which crashed pyarrow's JSON reader)
#: and non-string `site`/`resource` (a 500) are now sent like every other request and answered.
KNOWN_OPEN: tuple[KnownOpen, ...] = ()


def _log(entry: dict[str, Any]) -> None:
    path = os.environ.get("TALLY_FUZZ_LOG")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(entry) + "\n")


def known_open(case: Case) -> KnownOpen | None:
    return next((k for k in KNOWN_OPEN if k.matches(case)), None)


_turns = itertools.count()


def _own_site(value: Any, site: str) -> Any:
    if isinstance(value, dict) and isinstance(value.get("site"), str):
        return {**value, "site": site}
    return value


@schemathesis.hook
def map_case(context: HookContext, case: Case) -> Case:
    site = os.environ.get("TALLY_FUZZ_SITE")
    if next(_turns) % 2 or not site:
        return case
    if case.path.startswith(("/v1/records/", "/v1/registry/")):
        body = case.body
        case.body = [_own_site(v, site) for v in body] if isinstance(body, list) else _own_site(body, site)
    elif case.path == "/v1/reports/{kind}" and isinstance(case.query, dict):
        case.query = {**case.query, "from": "2026-01-01", "to": "2026-02-01T00:00:00Z"}
    return case


@schemathesis.hook
def filter_case(context: HookContext, case: Case) -> bool:
    known = known_open(case)
    if known is not None and known.crashes_server:
        _log({"event": "skipped", "known_open": known.name})
        return False
    return True


@schemathesis.hook
def after_call(context: HookContext, case: Case, response: Response) -> None:
    if response.status_code >= 500:
        known = known_open(case)
        _log(
            {
                "event": "5xx",
                "status": response.status_code,
                "operation": f"{case.method} {case.path}",
                "known_open": known.name if known else None,
                "reproduce": case.as_curl_command(),
            }
        )


@schemathesis.hook
def filter_failure(context: HookContext, failure: Failure, case: Case, response: Response) -> bool:
    known = known_open(case)
    if known is not None and response.status_code >= 500:
        _log({"event": "tolerated", "known_open": known.name, "failure": failure.title})
        return False
    return True
