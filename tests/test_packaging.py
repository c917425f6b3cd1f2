"""Packaging metadata that setuptools reads without deprecation warnings, built with pinned tools."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.support.paths import REPO


def pinned(name: str) -> Version:
    for line in (REPO / "constraints.txt").read_text().splitlines():
        match = re.fullmatch(rf"{re.escape(name)}==(\S+)", line.strip(), re.I)
        if match:
            return Version(match.group(1))
    raise AssertionError(f"{name} is not pinned in constraints.txt")


def test_licence_is_an_spdx_expression_read_by_the_pinned_setuptools() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    # A TOML table (`{ text = ... }`) makes setuptools >= 77 warn that it is deprecated.
    assert project["project"]["license"] == "Apache-2.0"
    [setuptools] = [Requirement(r) for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert not setuptools.specifier.contains("76.1.0")  # SPDX strings need setuptools 77 or later
    assert setuptools.specifier.contains(pinned("setuptools"))


def test_make_setup_builds_with_the_pinned_build_tools() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "--build-constraint constraints.txt" in makefile
    # pip itself is pinned too: --build-constraint is recent, and the first step upgrades pip.
    assert "-c constraints.txt --upgrade pip" in makefile and pinned("pip") >= Version("26")


def test_numpy_which_the_reconciliation_imports_is_a_declared_runtime_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    declared = {Requirement(r).name for r in project["project"]["dependencies"]}
    assert "import numpy" in (REPO / "layers/core/tally/reconcile/measured.py").read_text()
    assert "numpy" in declared
    assert pinned("numpy") >= Version("2")


def test_every_package_data_pattern_names_files_that_exist() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    roots = setuptools["packages"]["find"]["where"]
    for package, patterns in setuptools["package-data"].items():
        [folder] = [
            REPO / root / package for root in roots if (REPO / root / package / "__init__.py").is_file()
        ]
        for pattern in patterns:
            assert [p for p in folder.glob(pattern) if p.is_file()], f"{package}: {pattern} matches nothing"


def test_without_tally_sql_dir_the_sql_is_the_athena_queries_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from tally.query import sql_files

    monkeypatch.delenv("TALLY_SQL_DIR", raising=False)
    sql_files.sql_root.cache_clear()
    try:
        assert sql_files.sql_root() == REPO / "athena_queries"
    finally:
        sql_files.sql_root.cache_clear()
