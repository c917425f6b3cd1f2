"""Every test is in exactly one lane, so `make check` (unit, sql) and `make test` (all) mean what they say."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest

from tests.support.lanes import BY_FOLDER, LANES, TESTS, folder_lane, folder_of
from tests.support.paths import REPO


def test_every_folder_with_tests_has_a_lane_and_every_lane_folder_exists() -> None:
    with_tests = {folder_of(path) for path in TESTS.rglob("test_*.py")}
    assert with_tests, "no test files found"
    assert sorted(with_tests - set(BY_FOLDER)) == [], "folders without a lane in BY_FOLDER"
    assert sorted(set(BY_FOLDER) - with_tests) == [], "BY_FOLDER names folders that hold no tests"
    assert set(BY_FOLDER.values()) == set(LANES)
    assert folder_lane(TESTS / "sql" / "test_jobs_views.py") == "sql"
    assert folder_lane(TESTS / "test_lanes.py") == "unit"


def test_lanes_are_registered_markers_and_unknown_markers_are_refused() -> None:
    pytest_options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    registered = {line.split(":", 1)[0] for line in pytest_options["markers"]}
    assert set(LANES) <= registered
    assert "--strict-markers" in pytest_options["addopts"].split()


@pytest.mark.slow  # collects the whole suite once more; every run's own collection refuses too
def test_the_whole_suite_collects_with_no_test_outside_a_lane() -> None:
    # The collection hook puts each test in its folder's lane and refuses a folder without one or a
    # test in two; selecting "in no lane" over the whole suite must therefore find nothing.
    outside = " or ".join(LANES)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            f"not ({outside})",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"no tests collected \(\d+ deselected\) in [\d.]+s", last), (
        result.stdout + result.stderr
    )
