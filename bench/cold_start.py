"""Cold-start benchmark: each Lambda handler's import time from the built layers, and the layers' sizes.

    .venv/bin/python bench/cold_start.py [--runs 7] [--dir /tmp/tally-bench-cold]

Builds the core, numeric and forecast layers for this machine's architecture (the arm64 build is the same
packages for another CPU), lays them out as Lambda does (each layer's python/ on sys.path, boto3
from the runtime), and runs every handler's `import app` in a fresh interpreter under
`python -X importtime`, best of --runs. The baseline, measured in the same run, is the bare
interpreter start (`-c pass`) and `import pyarrow` alone: what no handler can go below. `CPU` is
the least user + system time of the process less the bare start's: on a shared machine it moves
less than wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = (
    "ingest_api",
    "site_ingest",
    "compaction",
    "view_deployer",
    "billing_importer",
    "invoice_verifier",
    "people_authoriser",
)
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")
#: A forecaster invocation as the API sends one: 56 days of history, a month ahead.
FORECAST_EVENT = {
    "history": [40.0 + 0.5 * i + (15.0 if i % 7 < 5 else 0.0) + (i * 37) % 11 for i in range(56)],
    "first_day": "2026-01-05",
    "horizon": 31,
    "first_counted": 0,
}
_IMPORTTIME = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)")


def load_build() -> ModuleType:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tally_infra_build", REPO / "infra" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lay_out(build: ModuleType, root: Path) -> dict[str, Path]:
    """The core and numeric layers and the runtime's boto3, built for this machine."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    machine = platform.machine()
    platforms = [f"manylinux2014_{machine}", f"manylinux_2_28_{machine}", f"manylinux_2_34_{machine}"]
    build.build_layer(root / "core", platforms, version)
    build.build_layer(root / "numeric", platforms, version, name="numeric")
    build.build_layer(root / "forecast", platforms, version, name="forecast")
    pins = build.read_constraints()
    requirements = root / "runtime.txt"
    requirements.write_text("".join(f"{n}=={pins[n]}\n" for n in RUNTIME_PACKAGES))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--only-binary=:all:", "--target", str(root / "runtime"), "-r", str(requirements)],
        check=True,
    )  # fmt: skip
    # A fresh venv, so nothing of this checkout's .venv (pandas, duckdb) can be imported.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    return {
        "core": root / "core" / "python",
        "numeric": root / "numeric" / "python",
        "forecast": root / "forecast" / "python",
        "runtime": root / "runtime",
        "python": root / "venv" / "bin" / "python",
    }


def import_seconds(
    python: Path, paths: list[Path], statement: str, module: str | None, tracing: bool = False
) -> float:
    """Wall time of one fresh interpreter running `statement`; with `module`, that import's own
    cumulative time as -X importtime reports it (interpreter start excluded). `tracing`: X-Ray
    tracing on, as the template deploys the functions (Tracing: Active), else switched off."""
    prelude = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}; {statement}"
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": "bench"}
    env |= {"TALLY_MODE": "local", "TALLY_HOME": "/tmp/tally-bench-cold-home"}
    if tracing:
        env |= {"LAMBDA_TASK_ROOT": "/tmp", "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793"}
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [str(python), "-I", "-X", "importtime", "-c", prelude],
            stderr=err,
            stdout=subprocess.DEVNULL,
            env=env,
        )
        _, status, usage = os.wait4(child.pid, 0)
        err.seek(0)
        stderr = err.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{statement} failed:\n{stderr[-2000:]}")
    # CPU time of the whole process (user + system): steadier than wall time on a shared machine.
    CPU_SECONDS.append(usage.ru_utime + usage.ru_stime)
    if module is None:
        total = sum(int(m.group(1)) for m in map(_IMPORTTIME.match, stderr.splitlines()) if m)
        return total / 1e6
    for line in stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if m and m.group(3) == module:
            return int(m.group(2)) / 1e6
    raise SystemExit(f"{module} not in the import profile:\n{stderr[-2000:]}")


CPU_SECONDS: list[float] = []


def best(
    runs: int, python: Path, paths: list[Path], statement: str, module: str | None, tracing: bool = False
) -> tuple[float, float]:
    """Best and median wall time of `runs` fresh processes; CPU_SECONDS ends with their CPU times."""
    CPU_SECONDS.clear()
    times = [import_seconds(python, paths, statement, module, tracing) for _ in range(runs)]
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/tally-bench-cold"))
    args = parser.parse_args()
    build = load_build()
    shutil.rmtree(args.dir, ignore_errors=True)
    paths = lay_out(build, args.dir)
    core_mb = build.tree_size(paths["core"].parent) / 1e6
    numeric_mb = build.tree_size(paths["numeric"].parent) / 1e6
    forecast_mb = build.tree_size(paths["forecast"].parent) / 1e6
    print(f"core layer {core_mb:.1f} MB unzipped, numeric layer {numeric_mb:.1f} MB (verifier only)")
    print(f"forecast layer {forecast_mb:.1f} MB unzipped (the forecaster's only layer)")
    print(f"python {platform.python_version()} on {platform.machine()}, best and median of {args.runs}")

    base = [paths["core"], paths["runtime"]]
    floor, _ = best(args.runs, paths["python"], base, "pass", None)
    floor_cpu = min(CPU_SECONDS)
    arrow, arrow_median = best(args.runs, paths["python"], base, "import pyarrow", "pyarrow")
    print(f"{'baseline: interpreter start (all imports)':44} {floor * 1000:8.0f} ms")
    print(
        f"{'baseline: import pyarrow':44} {arrow * 1000:8.0f} ms (median {arrow_median * 1000:.0f}); "
        f"CPU {(min(CPU_SECONDS) - floor_cpu) * 1000:.0f} ms"
    )
    for name in FUNCTIONS:
        layers = [paths["core"]] + ([paths["numeric"]] if name == "invoice_verifier" else [])
        where = [REPO / "functions" / name, *layers, paths["runtime"]]
        low, median = best(args.runs, paths["python"], where, "import app", "app")
        print(
            f"{'handler ' + name + ': import app':44} {low * 1000:8.0f} ms (median {median * 1000:.0f}), "
            f"{low / arrow:.2f}x import pyarrow; CPU {(min(CPU_SECONDS) - floor_cpu) * 1000:.0f} ms"
        )
    # The forecaster on its own layer: `import app` (Lambda's init phase) imports numpy, scipy,
    # pandas and statsmodels; the first forecast adds the fit.
    where = [REPO / "functions" / "forecaster", paths["forecast"], paths["runtime"]]
    low, median = best(args.runs, paths["python"], where, "import app", "app")
    cpu = (min(CPU_SECONDS) - floor_cpu) * 1000
    label = "handler forecaster: import app"
    print(f"{label:44} {_ms(low, median)}, {low / arrow:.2f}x import pyarrow; CPU {cpu:.0f} ms")
    first = f"import app; app.handler({FORECAST_EVENT!r}, None)"
    low, median = best(args.runs, paths["python"], where, first, None)
    cpu = (min(CPU_SECONDS) - floor_cpu) * 1000
    label = "forecaster: import app + first forecast"
    print(
        f"{label:44} {_ms(low, median)}, {low / arrow:.2f}x import pyarrow; CPU {cpu:.0f} ms (with the fit)"
    )
    # The API handler as deployed, X-Ray tracing on: its import, and what the X-Ray SDK and its
    # patching cost on their own (where they are paid depends on the code: at import, or on the
    # first invocation); the modules that import before it are excluded from its figure.
    where = [REPO / "functions" / "ingest_api", paths["core"], paths["runtime"]]
    low, median = best(args.runs, paths["python"], where, "import app", "app", tracing=True)
    cpu = (min(CPU_SECONDS) - floor_cpu) * 1000
    label = "handler ingest_api, tracing on: import app"
    print(f"{label:44} {_ms(low, median)}, {low / arrow:.2f}x import pyarrow; CPU {cpu:.0f} ms")
    sdk = "import app; from aws_lambda_powertools import Tracer; Tracer(service='tally')"
    low, median = best(args.runs, paths["python"], where, sdk, "aws_xray_sdk.core", tracing=True)
    print(f"{'X-Ray SDK import (at import or 1st call)':44} {_ms(low, median)}")


def _ms(low: float, median: float) -> str:
    return f"{low * 1000:8.0f} ms (median {median * 1000:.0f})"


if __name__ == "__main__":
    main()
