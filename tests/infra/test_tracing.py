"""X-Ray tracing of the handlers: on in Lambda (unless POWERTOOLS_TRACE_DISABLED), loaded on the
first invocation, which runs inside the handler's segment like every later one; never loaded
while a handler module is imported, nor anywhere tracing is off. Each case runs in a fresh
interpreter, since what matters is which modules get imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
# A handler traced by tally.tracing, called twice: whether the X-Ray SDK was loaded before the
# first call and after it, and the subsegment each call ran in.
PROBE = """
import json, sys
from tally.tracing import traced

def handler(event, context):
    if "aws_xray_sdk.core" not in sys.modules:
        return None
    from aws_xray_sdk.core import xray_recorder
    return xray_recorder.current_subsegment().name

entry = traced(handler)
loaded = "aws_xray_sdk.core" in sys.modules
names = [entry({}, None), entry({}, None)]
print(json.dumps([loaded, names, "aws_xray_sdk.core" in sys.modules]))
"""


def _run(code: str, tmp: Path, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN"))}
    # The SDK sends finished subsegments over UDP to the daemon address: loopback, nothing listens.
    base |= {"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "TALLY_MODE": "local", "TALLY_HOME": str(tmp)}
    if "AWS_LAMBDA_FUNCTION_NAME" in env:
        base["LAMBDA_TASK_ROOT"] = str(tmp)  # how the X-Ray SDK knows it runs in Lambda
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=base | env, check=True, cwd=tmp
    )
    return done.stdout.strip().splitlines()[-1]


def test_in_lambda_the_first_call_loads_the_tracer_and_every_call_is_traced(tmp_path: Path) -> None:
    out = _run(
        PROBE, tmp_path, AWS_LAMBDA_FUNCTION_NAME="f", _X_AMZN_TRACE_ID=TRACE_ID, AWS_REGION="eu-west-1"
    )
    assert json.loads(out) == [False, ["## handler", "## handler"], True]


@pytest.mark.parametrize("env", [{}, {"AWS_LAMBDA_FUNCTION_NAME": "f", "POWERTOOLS_TRACE_DISABLED": "true"}])
def test_where_tracing_is_off_the_sdk_is_never_loaded(tmp_path: Path, env: dict[str, str]) -> None:
    assert json.loads(_run(PROBE, tmp_path, **env)) == [False, [None, None], False]


def test_importing_the_api_handler_in_lambda_loads_no_xray_sdk(tmp_path: Path) -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(REPO / 'functions' / 'ingest_api')!r}); import app; "
        "print(callable(app.handler), 'aws_xray_sdk.core' in sys.modules)"
    )
    out = _run(
        code, tmp_path, AWS_LAMBDA_FUNCTION_NAME="f", AWS_REGION="eu-west-1", _X_AMZN_TRACE_ID=TRACE_ID
    )
    assert out.split() == ["True", "False"]
