"""The wheel alone runs Tally: built from the checkout, installed in a fresh venv outside it.

Nothing of the checkout is on the path there, so the SQL must come from the wheel (the
`athena_queries` package, found through importlib.resources) and every runtime import (numpy
among them) from the declared dependencies, installed at the versions of constraints.txt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

# Two jobs of 1 h and 2 h on 2 cores, written as the warehouse stores them (stored_schema, a
# month partition), with the installed package's schema.
SEED = """
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tally.domain.schema import stored_schema

schema = stored_schema("jobs")
end = datetime(2026, 3, 2, 12, tzinfo=UTC)
rows = [
    {"site": "SITE-A", "resource": "cluster1", "batch_system": "slurm", "local_job_id": str(n),
     "local_user": "alice", "end_time": end, "wall_seconds": 3600 * n, "cpu_seconds": 1800 * n,
     "cores": 2, "state": "COMPLETED", "ingested_at": end, "batch_id": "b1"}
    for n in (1, 2)
]
table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema)
folder = Path(sys.argv[1]) / "warehouse" / "jobs" / "dt=2026-03"
folder.mkdir(parents=True)
pq.write_table(table, folder / "seed.parquet")
"""


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{command[:3]}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A venv outside the checkout with only the built wheel (and its dependencies) installed."""
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TALLY_SQL_DIR", "VIRTUAL_ENV")}
    constraints = str(REPO / "constraints.txt")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run(
        [*pip, "wheel", "--no-deps", "--build-constraint", constraints, "-w", str(root / "dist"), str(REPO)],
        root,
        env,
    )
    [wheel] = sorted((root / "dist").glob("tally-*.whl"))
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], root, env)
    run(
        [
            str(venv / "bin/pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            constraints,
            str(wheel),
        ],
        root,
        env,
    )
    return venv, env


def test_the_wheel_ships_the_sql_and_declares_numpy(installed: tuple[Path, dict[str, str]]) -> None:
    venv, _ = installed
    [wheel] = sorted((venv.parent / "dist").glob("tally-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    views = {Path(n).stem for n in names if n.startswith("athena_queries/views/") and n.endswith(".sql")}
    assert views == {p.stem for p in (REPO / "athena_queries/views").glob("*.sql")}
    assert {"athena_queries/__init__.py", "athena_queries/tables/jobs.sql", "tally/py.typed"} <= names
    [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = [line for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()]
    assert "Requires-Dist: numpy" in requires


def test_query_and_report_run_from_the_installed_wheel(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    venv, env = installed
    tally = str(venv / "bin/tally")
    python = str(venv / "bin/python")
    env = {**env, "TALLY_HOME": str(tmp_path / "home")}
    where = run(
        [python, "-c", "from tally.query.sql_files import sql_root; print(sql_root())"], tmp_path, env
    )
    assert Path(where.strip()).is_relative_to(venv) and REPO not in Path(where.strip()).parents

    assert json.loads(run([tally, "query", "SELECT 1 AS one", "--format", "json"], tmp_path, env)) == [
        {"one": 1}
    ]
    period = ["--from", "2026-03-01", "--to", "2026-04-01", "-g", "site", "-m", "jobs", "-m", "core_hours"]
    empty = json.loads(run([tally, "report", "jobs", *period, "--format", "json"], tmp_path, env))
    assert empty["rows"] == []

    run([python, "-c", SEED, env["TALLY_HOME"]], tmp_path, env)
    report = json.loads(run([tally, "report", "jobs", *period, "--format", "json"], tmp_path, env))
    # (1 h + 2 h) x 2 cores.
    assert report["rows"] == [{"site": "SITE-A", "jobs": 2, "core_hours": 6.0}]
