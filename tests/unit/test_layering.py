"""HTTP stays at the edge: no module under tally/services imports the web framework."""

from __future__ import annotations

import ast
from pathlib import Path

import tally.services

SERVICES = Path(tally.services.__file__).parent
WEB = ("fastapi", "starlette")


def _imported(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_services_import_nothing_from_the_web_framework() -> None:
    modules = sorted(SERVICES.rglob("*.py"))
    assert len(modules) >= 4  # the walk found the package, not an empty folder
    offending = {
        str(path.relative_to(SERVICES)): name
        for path in modules
        for name in _imported(ast.parse(path.read_text(), str(path)))
        if name.split(".")[0] in WEB
    }
    assert offending == {}


def test_the_walk_sees_a_web_import_where_there_is_one() -> None:
    tree = ast.parse("def f():\n    from starlette.requests import Request\nimport fastapi.routing\n")
    assert sorted(_imported(tree)) == ["fastapi.routing", "starlette.requests"]
