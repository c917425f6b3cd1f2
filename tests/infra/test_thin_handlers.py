"""Every Lambda handler under functions/ stays thin: parse the event, call the core, shape the answer.

The work lives in the core package (layers/core/tally), where it is tested and reused; a handler
module holds at most 30 lines, its docstring and imports included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.sam import REPO, source

MAX_LINES = 30
HANDLERS = sorted((REPO / "functions").glob("*/app.py"))


def test_every_function_of_the_template_has_its_handler_here() -> None:
    code_uris = {
        Path(r["Properties"]["CodeUri"]).name
        for r in source()["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }
    # The forecaster is a plain Lambda function (its layer does not fit beside the Globals' core).
    code_uris |= {
        Path(r["Properties"]["Code"]).name
        for r in source()["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and isinstance(r["Properties"]["Code"], str)
    }
    assert len(code_uris) == 11
    assert {p.parent.name for p in HANDLERS} == code_uris


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: p.parent.name)
def test_a_handler_module_is_at_most_30_lines(path: Path) -> None:
    lines = path.read_text().splitlines()
    assert len(lines) <= MAX_LINES, f"{path.relative_to(REPO)} has {len(lines)} lines"
