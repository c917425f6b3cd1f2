"""Ruff and mypy are part of the test suite, so CI fails on lint or type errors."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


def test_ruff_lint() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    # Helpers shared across modules live in support modules (tests/support/, or a folder's own
    # helpers such as tests/reconcile/scenarios.py); importing a test module runs its collection-time
    # code twice and ties one module's tests to another's, and a conftest is pytest's, not a library.
    offenders = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in sorted((REPO / "tests").rglob("*.py"))
        for line, module in _imported_modules(path)
        if _is_test_module(module)
    ]
    assert offenders == [], "\n".join(offenders)


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, by absolute dotted name (relative imports resolved)."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.append((node.lineno, base))
            # `from tests.reconcile import test_scenarios` names a module, not an attribute
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _is_test_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "tests" and (parts[-1].startswith("test_") or parts[-1] == "conftest")
