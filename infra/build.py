"""Build the Lambda artifacts without Docker and without the runtime's Python installed.

`sam build` calls this through `infra/Makefile` (BuildMethod: makefile), and it also runs alone:

    python infra/build.py layer OUT_DIR            # the core layer: OUT_DIR/python/...
    python infra/build.py layer OUT_DIR --name numeric   # numpy, for the invoice verifier only
    python infra/build.py layer OUT_DIR --name auth      # JWT verification, for the API only
    python infra/build.py layer OUT_DIR --name apel      # ARGO AMS client, for the APEL publisher only
    python infra/build.py layer OUT_DIR --name documents # PDFs (ReportLab): the API, the alerts evaluator
    python infra/build.py layer OUT_DIR --name forecast  # statsmodels & co: the forecaster alone
    python infra/build.py function NAME OUT_DIR    # one folder of functions/
    python infra/build.py lock                     # regenerate layers/*/requirements.txt

Four layers: `core` (the tally package, its SQL and what every function imports), `numeric`
(numpy, which only the invoice verifier's interval arithmetic needs), so the API, compaction and
the importers load without 47 MB of numpy, and `auth` (joserfc, cryptography and argon2: the API
verifies the identity provider's tokens and local passwords; 18 MB no other function loads), and
`apel` (argo-ams-library and requests, for the scheduled APEL publisher's direct AMS publishing:
the core layer is within a megabyte of its budget). `dirq` (the SSM directory queue) ships only
as an sdist, so no layer carries it: on AWS the publisher writes the queue's layout to S3 itself
(tally.interop.apel.outbox) or publishes to AMS.
`documents` (ReportLab and Pillow: the API renders invoice PDFs; the core layer has no room for
them within its budget, and tally.money.render imports them only when a PDF is asked for).
`forecast` (numpy, scipy, pandas, patsy, statsmodels: about 200 MB, which no function with the
core layer has room for) is the forecaster function's only layer: it carries its own copy of the
few pure modules of Tally it runs (FORECAST_MODULES), not the core layer. A
layer's third-party packages are installed by pip for the Lambda platform (`--platform
manylinux..._aarch64 --python-version 3.12 --only-binary=:all:`), so any Python 3 with pip on any
OS can build it. Every version is pinned in
`layers/<name>/requirements.txt`, generated from the project's `constraints.txt` (a test checks
they agree) and installed with `--no-deps`, so each layer holds exactly its locked set.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "layers" / "core"
FUNCTIONS = REPO / "functions"
AGENT = REPO / "agents" / "tally_agent"
#: What tally_agent.registry and its parsers import (tests/infra/test_artifacts.py imports them).
AGENT_PARSER_MODULES = ("__init__.py", "registry.py", "context.py", "inputs.py", "timeutil.py", "units.py")
SQL = REPO / "athena_queries"
NUMERIC = REPO / "layers" / "numeric"
AUTH = REPO / "layers" / "auth"
APEL = REPO / "layers" / "apel"
DOCUMENTS = REPO / "layers" / "documents"
FORECAST = REPO / "layers" / "forecast"
REQUIREMENTS = CORE / "requirements.txt"
CONSTRAINTS = REPO / "constraints.txt"

#: What the Lambda functions import from outside the standard library. Not in the layer: duckdb
#: (the local query engine; Lambda queries Athena), uvicorn, typer and rich (local server and CLI).
LAYER_ROOTS: tuple[str, ...] = (
    "fastapi",
    "mangum",
    "pydantic",
    "pydantic-settings",
    "pyarrow",
    "orjson",
    "isal",  # gzip bodies (tally.api.body)
    "sqlglot",
    "xlsxwriter",
    "aws-lambda-powertools",
    "aws-xray-sdk",
    "swagger-ui-bundle-v2",  # /v1/docs serves Swagger UI from it (no CDN)
)
#: The numeric layer: the invoice verifier's interval arithmetic (tally.reconcile). pyarrow does not
#: require numpy, so no other function carries it.
NUMERIC_ROOTS: tuple[str, ...] = ("numpy",)
#: The auth layer, the API function's alone: it verifies the identity provider's JWTs
#: (tally.auth.oidc) and local accounts' argon2 password hashes (tally.people.passwords).
AUTH_ROOTS: tuple[str, ...] = ("joserfc", "argon2-cffi")
#: The apel layer, the APEL publisher's alone: ARGO AMS's client (tally.interop.apel.ams).
APEL_ROOTS: tuple[str, ...] = ("argo-ams-library",)
#: The documents layer, the API's and the alerts evaluator's: PDFs of invoices (tally.money.render)
#: and of report subscriptions (tally.subscriptions.document), ReportLab loaded lazily by both.
DOCUMENTS_ROOTS: tuple[str, ...] = ("reportlab",)
#: The forecast layer, the forecaster function's alone (without the core layer, so its whole
#: closure is locked, not the part beyond the core layer's).
FORECAST_ROOTS: tuple[str, ...] = ("statsmodels",)
#: What the forecaster function runs of Tally (standard library and FORECAST_ROOTS only).
FORECAST_MODULES: tuple[str, ...] = (
    "__init__.py",
    "foresight/__init__.py",
    "foresight/forecast.py",
    "foresight/forecast_wire.py",
)
#: Provided by the Lambda Python runtime (boto3 and its dependencies): not shipped again.
RUNTIME_PROVIDED: frozenset[str] = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)
#: Declared by a root but never imported on Lambda, so not shipped: swagger-ui-bundle-v2 requires
#: Jinja2 (and through it MarkupSafe) for a templating helper Tally does not call (tally.api.docs
#: takes only the package's folder of files); Starlette imports Jinja2 only for its templates,
#: which Tally does not use. The handler import test loads every function without them.
NOT_SHIPPED: frozenset[str] = frozenset({"jinja2"})
#: Lambda runs Python 3.12 on Amazon Linux 2023 (glibc 2.34): wheels up to manylinux_2_34 load.
DEFAULT_PLATFORMS: tuple[str, ...] = (
    "manylinux2014_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_34_aarch64",
)
DEFAULT_PYTHON = "3.12"
#: Files a Lambda never needs: bytecode is rebuilt, headers and tests are for building.
_PRUNE_DIRS = {"__pycache__", "tests", "include"}
_PRUNE_SUFFIXES = (".pyc", ".pyx", ".pxd", ".pxi", ".h", ".hpp", ".cc", ".cpp")
#: Parts of pyarrow no function imports: Arrow Flight RPC and C++ test hooks (about 30 MB
#: unzipped); the ORC, Feather, HDFS, GCS and Azure modules (Tally reads Parquet on S3 or a local
#: folder, and pyarrow imports these optionally); its C++ sources; and the unversioned and
#: full-version copies of libarrow_python*, which the wheel ships as three identical files while
#: every extension module links the `.so.NNNN` soname only. Nothing else links against them; the
#: import test loads pyarrow's compute, dataset, parquet, json and fs modules from a layer pruned
#: this way.
_PRUNE_GLOBS = (
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_flight.*.so",
    "pyarrow/flight.py",
    "pyarrow/_pyarrow_cpp_tests.*.so",
    "pyarrow/_orc.*.so",
    "pyarrow/_dataset_orc.*.so",
    "pyarrow/orc.py",
    "pyarrow/_feather.*.so",
    "pyarrow/feather.py",
    "pyarrow/_hdfs.*.so",
    "pyarrow/_gcsfs.*.so",
    "pyarrow/_azurefs.*.so",
    "pyarrow/src",
    "pyarrow/libarrow_python.so",
    "pyarrow/libarrow_python.so.*.*.*",
    "pyarrow/libarrow_python_parquet_encryption.so",
    "pyarrow/libarrow_python_parquet_encryption.so.*.*.*",
    # Swagger UI: /v1/docs serves swagger-ui-bundle.js, swagger-ui.css and the favicon only
    # (tally.api.docs); source maps and the ES-module builds are 10 MB of the package's 12.
    "swagger_ui_bundle/vendor/*/*.map",
    "swagger_ui_bundle/vendor/*/swagger-ui-es-bundle*",
    "swagger_ui_bundle/vendor/*/swagger-ui.js",
)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_constraints(path: Path = CONSTRAINTS) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonical(name)] = version.strip()
    return pins


def _requirements_of(dist: str, python_version: str) -> list[str]:
    """Direct dependencies of an installed distribution whose markers hold on Lambda."""
    from packaging.requirements import Requirement

    env = {
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "aarch64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    out = []
    for text in metadata.requires(dist) or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(env):
            out.append(canonical(req.name))
    return out


def _closure(roots: Iterable[str], python_version: str) -> set[str]:
    seen: set[str] = set()
    todo = [canonical(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen or name in RUNTIME_PROVIDED or name in NOT_SHIPPED:
            continue
        seen.add(name)
        todo.extend(_requirements_of(name, python_version))
    return seen


def lock(layer: str = "core", python_version: str = DEFAULT_PYTHON) -> list[str]:
    """The pinned closure of a layer's roots (minus what the runtime or the core layer provides)."""
    pins = read_constraints()
    core = _closure(LAYER_ROOTS, python_version)
    if layer == "core":
        seen = core
    elif layer == "numeric":
        seen = _closure(NUMERIC_ROOTS, python_version) - core
    elif layer == "auth":
        seen = _closure(AUTH_ROOTS, python_version) - core
    elif layer == "apel":
        seen = _closure(APEL_ROOTS, python_version) - core
    elif layer == "documents":
        seen = _closure(DOCUMENTS_ROOTS, python_version) - core
    elif layer == "forecast":
        seen = _closure(FORECAST_ROOTS, python_version)
    else:
        raise SystemExit(f"unknown layer {layer!r}; known: {', '.join(LAYERS)}")
    missing = sorted(n for n in seen if n not in pins)
    if missing:
        raise SystemExit(f"not pinned in constraints.txt: {', '.join(missing)}")
    return [f"{n}=={pins[n]}" for n in sorted(seen)]


def render_lock(layer: str = "core") -> str:
    header = (
        f"# The {layer} layer's third-party packages for Lambda (Python 3.12, arm64), "
        "installed with --no-deps.\n"
        "# Generated from constraints.txt by `python infra/build.py lock`; do not edit by hand.\n"
    )
    return header + "\n".join(lock(layer)) + "\n"


#: Each layer's folder (its requirements.txt is the lock; the template's ContentUri points here).
LAYERS: dict[str, Path] = {
    "core": CORE,
    "numeric": NUMERIC,
    "auth": AUTH,
    "apel": APEL,
    "documents": DOCUMENTS,
    "forecast": FORECAST,
}


def _prune(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir() and (
            path.name == "__pycache__" or (path.name in _PRUNE_DIRS and path.parent != root)
        ):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in _PRUNE_SUFFIXES:
            path.unlink()
    for pattern in _PRUNE_GLOBS:
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


#: Tools that remove the symbol tables of shared libraries (a dynamic library links through its
#: dynamic symbols, which stay); llvm-strip reads every architecture, GNU strip only its own.
_STRIP_TOOLS = ("llvm-strip", *(f"llvm-strip-{v}" for v in range(21, 13, -1)), "strip")


def _native_libraries(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*.so*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def load_segments(data: bytes) -> list[tuple[int, int, int, int, int, int]] | None:
    """The PT_LOAD program headers of a 64-bit ELF file as (offset, vaddr, filesz, memsz, flags,
    align); None for anything else."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] not in (1, 2):
        return None
    order = "<" if data[5] == 1 else ">"
    (phoff,) = struct.unpack_from(order + "Q", data, 32)
    phentsize, phnum = struct.unpack_from(order + "HH", data, 54)
    out = []
    for n in range(phnum):
        kind, flags, offset, vaddr, _paddr, filesz, memsz, align = struct.unpack_from(
            order + "IIQQQQQQ", data, phoff + n * phentsize
        )
        if kind == 1:  # PT_LOAD
            out.append((offset, vaddr, filesz, memsz, flags, align))
    return out


def stripped_safely(before: bytes, after: bytes) -> bool:
    """A stripped library loads as the original did: the same segments at the same addresses, each
    at a file offset congruent to its address (llvm-strip can move the extra segments that
    patchelf adds to a wheel's library so that the loader refuses them: 'ELF load command
    address/offset not page-aligned')."""
    old, new = load_segments(before), load_segments(after)
    if not old or not new or len(old) != len(new):
        return False
    for was, now in zip(old, new, strict=True):
        if was[1:] != now[1:]:
            return False
        vaddr, align = now[1], now[5]
        # Congruent modulo the segment's alignment, and modulo 64 KiB (the largest page size of
        # arm64 kernels) wherever the original was.
        for modulus in {max(align, 1), 65536}:
            if (vaddr - was[0]) % modulus == 0 and (vaddr - now[0]) % modulus:
                return False
            if modulus == max(align, 1) and (vaddr - now[0]) % modulus:
                return False
    return True


def strip_libraries(root: Path) -> tuple[str | None, int]:
    """Strip the symbol tables of the layer's native libraries (pyarrow's wheels ship them: 10 MB
    of its 48 MB libarrow); a dynamic library links through its dynamic symbols, which stay.
    Returns the tool used (None when none could) and the bytes saved. A library the tool cannot
    read, or whose stripped copy fails `stripped_safely`, is kept as it was: the layer works
    either way, only larger."""
    tool = next((name for name in _STRIP_TOOLS if shutil.which(name)), None)
    if tool is None:
        return None, 0
    saved = 0
    stripped = 0
    for path in _native_libraries(root):
        copy = path.with_name(path.name + ".stripped")
        done = subprocess.run([tool, "--strip-unneeded", "-o", str(copy), str(path)], capture_output=True)
        if done.returncode == 0 and stripped_safely(path.read_bytes(), copy.read_bytes()):
            saved += path.stat().st_size - copy.stat().st_size
            stripped += 1
            copy.replace(path)
        else:
            copy.unlink(missing_ok=True)
    return (tool if stripped else None), saved


def _copy_package(src: Path, dst: Path) -> None:
    shutil.copytree(
        src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp", ".*.tmp"), dirs_exist_ok=True
    )


def _not_sql(folder: str, names: list[str]) -> set[str]:
    """Everything but the SQL, its folders and the package marker that makes it importable."""
    keep = {"__init__.py"} if Path(folder) == SQL else set()
    return {n for n in names if not n.endswith(".sql") and n not in keep and not (Path(folder) / n).is_dir()}


def build_layer(
    out: Path,
    platforms: Iterable[str] = DEFAULT_PLATFORMS,
    python_version: str = DEFAULT_PYTHON,
    name: str = "core",
) -> Path:
    """Install a layer's locked packages for the Lambda platform into out/python; the core layer
    also carries the `tally` package, the agent's parsers (`tally_agent`) and the SQL."""
    if name not in LAYERS:
        raise SystemExit(f"unknown layer {name!r}; known: {', '.join(LAYERS)}")
    requirements = LAYERS[name] / "requirements.txt"
    target = out / "python"
    target.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--target",
        str(target),
        "--upgrade",
        "-r",
        str(requirements),
    ]
    for platform in platforms:
        command += ["--platform", platform]
    subprocess.run(command, check=True)
    if name == "forecast":
        for module in FORECAST_MODULES:
            (target / "tally" / module).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(CORE / "tally" / module, target / "tally" / module)
    if name != "core":
        _prune(target)
        _report_strip(name, strip_libraries(target))
        return target
    _copy_package(CORE / "tally", target / "tally")
    # The site agent's parsers (stdlib only): /v1/logs and the logs importer parse raw logs with
    # them. Only the parsers' closure: the agent's collectors, transport and CLI stay out.
    (target / "tally_agent").mkdir(exist_ok=True)
    for module in AGENT_PARSER_MODULES:
        shutil.copy2(AGENT / module, target / "tally_agent" / module)
    _copy_package(AGENT / "sources", target / "tally_agent" / "sources")
    # The Athena SQL (tables, views, reports) as the `athena_queries` package next to `tally`,
    # where tally.query.sql_files finds it through importlib.resources: the reports API and the
    # view deployer read it from the layer.
    shutil.copytree(SQL, target / "athena_queries", ignore=_not_sql, dirs_exist_ok=True)
    _prune(target)
    _report_strip(name, strip_libraries(target))
    return target


def _report_strip(layer: str, result: tuple[str | None, int]) -> None:
    tool, saved = result
    if tool is None:
        print(f"layer {layer}: native libraries not stripped (no llvm-strip, or strip for another CPU)")
    else:
        print(f"layer {layer}: native libraries stripped with {tool}, {saved / 1e6:.1f} MB less")


def build_function(name: str, out: Path) -> Path:
    """Copy a function's handler modules (everything else comes from the core layer)."""
    src = FUNCTIONS / name
    if not (src / "app.py").is_file():
        raise SystemExit(f"no functions/{name}/app.py")
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.py")):
        shutil.copy2(path, out / path.name)
    return out


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    layer = sub.add_parser("layer", help="build a layer (core by default)")
    layer.add_argument("out", type=Path)
    layer.add_argument("--name", choices=sorted(LAYERS), default="core")
    layer.add_argument("--platform", action="append", help=f"repeatable; default {DEFAULT_PLATFORMS}")
    layer.add_argument("--python-version", default=os.environ.get("LAYER_PYTHON_VERSION", DEFAULT_PYTHON))
    function = sub.add_parser("function", help="build one function folder")
    function.add_argument("name")
    function.add_argument("out", type=Path)
    sub.add_parser("lock", help="regenerate layers/*/requirements.txt from constraints.txt")
    args = parser.parse_args(argv)

    if args.command == "layer":
        target = build_layer(args.out, args.platform or DEFAULT_PLATFORMS, args.python_version, args.name)
        print(f"layer {args.name}: {tree_size(args.out) / 1e6:.1f} MB unzipped in {target}")
    elif args.command == "function":
        built = build_function(args.name, args.out)
        print(f"function {args.name}: {tree_size(built) / 1e3:.1f} kB unzipped in {built}")
    else:
        for name, folder in LAYERS.items():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "requirements.txt").write_text(render_lock(name))
            print(f"wrote {(folder / 'requirements.txt').relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
