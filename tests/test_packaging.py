"""Packaging metadata that setuptools reads without deprecation warnings, built with pinned tools."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import REPO


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
