"""The built artifacts, as Lambda loads them.

1. The arm64 layers as deployed: every native library is aarch64 code for CPython 3.12, the core
   layer stays under 120 MB unzipped (cold starts load less), and each function with its layers
   stays under Lambda's 250 MB unzipped limit.
2. The same build for this machine's architecture, loaded in a fresh virtual environment that
   holds nothing but the layer, one function folder and what the Lambda runtime provides (boto3):
   each handler imports and answers a real invocation.

pip fetches the wheels (from PyPI or the local cache), so this is marked slow; it takes well under
a minute with a warm cache.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tally.adapters.control_dynamodb import create_table
from tests.infra.sam import REPO, load_infra
from tests.support.paths import FIXTURES

pytestmark = pytest.mark.slow

LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes: function code and all its layers, unzipped
CORE_LAYER_BUDGET = 120_000_000  # bytes unzipped: what every function loads from
EM_AARCH64 = 183
FUNCTIONS = (
    "ingest_api",
    "site_ingest",
    "compaction",
    "view_deployer",
    "billing_importer",
    "invoice_verifier",
    "logs_importer",
    "alerts_evaluator",
    "apel_publisher",
    "people_authoriser",
)
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")


def python312() -> str | None:
    """A CPython 3.12 to load the artifacts with (Lambda's version), if this machine has one."""
    candidates = [shutil.which("python3.12") or ""]
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates += sorted(str(p) for p in pyenv.glob("3.12*/bin/python3.12"))
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == b"(3, 12)":
            return candidate
    return None


@pytest.fixture(scope="module")
def build() -> ModuleType:
    return load_infra("build")


@pytest.fixture(scope="module")
def arm_layer(build: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("layer-arm64")
    build.build_layer(out)
    return out


@pytest.fixture(scope="module")
def arm_auth_layer(build: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("auth-arm64")
    build.build_layer(out, name="auth")
    return out


@pytest.fixture(scope="module")
def arm_apel_layer(build: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("apel-arm64")
    build.build_layer(out, name="apel")
    return out


@pytest.fixture(scope="module")
def arm_documents_layer(build: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("documents-arm64")
    build.build_layer(out, name="documents")
    return out


@pytest.fixture(scope="module")
def arm_numeric_layer(build: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("numeric-arm64")
    build.build_layer(out, name="numeric")
    return out


@pytest.fixture(scope="module")
def arm_forecast_layer(build: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("forecast-arm64")
    build.build_layer(out, name="forecast")
    return out


def elf_machine(path: Path) -> int | None:
    with path.open("rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little")


def test_arm64_layers_are_aarch64_cpython312_code_within_lambda_limits(
    build: ModuleType,
    arm_layer: Path,
    arm_numeric_layer: Path,
    arm_auth_layer: Path,
    arm_apel_layer: Path,
    arm_documents_layer: Path,
    tmp_path: Path,
) -> None:
    python = arm_layer / "python"
    documents = arm_documents_layer / "python"
    folders = (python, arm_numeric_layer / "python", arm_auth_layer / "python", documents)
    libraries = [p for p in folders for p in p.rglob("*.so*") if p.is_file()]
    assert len(libraries) > 20
    wrong = [p.name for p in libraries if elf_machine(p) not in (EM_AARCH64, None)]
    assert not wrong, f"not aarch64: {wrong[:5]}"
    tags = {part for p in libraries for part in p.name.split(".") if part.startswith("cpython-")}
    assert tags and all(t.startswith("cpython-312-aarch64") for t in tags), tags
    assert (python / "tally" / "api" / "app.py").is_file()
    assert (python / "tally_agent" / "registry.py").is_file()  # the raw-log parsers
    assert (python / "athena_queries" / "views").is_dir()
    assert (python / "tally_agent" / "sources" / "storage.py").is_file()
    assert not (python / "duckdb").exists() and not (python / "pandas").exists()
    assert not (python / "numpy").exists() and (arm_numeric_layer / "python" / "numpy").is_dir()
    assert not (python / "jinja2").exists() and not (python / "markupsafe").exists()  # NOT_SHIPPED
    assert not list((arm_numeric_layer / "python").glob("tally*"))
    assert not (python / "cryptography").exists() and (arm_auth_layer / "python" / "cryptography").is_dir()
    assert (arm_auth_layer / "python" / "joserfc").is_dir() and not (
        arm_auth_layer / "python" / "tally"
    ).exists()
    assert (
        not (python / "argo_ams_library").exists()
        and (arm_apel_layer / "python" / "argo_ams_library").is_dir()
    )
    assert not (python / "dirq").exists() and not (arm_apel_layer / "python" / "dirq").exists()  # sdist only
    assert not (python / "reportlab").exists() and (documents / "reportlab").is_dir()
    assert (documents / "PIL").is_dir() and not (documents / "tally").exists()
    assert not list(python.rglob("__pycache__"))

    layer_size = build.tree_size(arm_layer)
    numeric_size = build.tree_size(arm_numeric_layer)
    auth_size = build.tree_size(arm_auth_layer)
    apel_size = build.tree_size(arm_apel_layer)
    documents_size = build.tree_size(arm_documents_layer)
    assert layer_size < CORE_LAYER_BUDGET, layer_size
    sizes = {
        "core layer": layer_size,
        "numeric layer": numeric_size,
        "auth layer": auth_size,
        "apel layer": apel_size,
        "documents layer": documents_size,
    }
    for name in FUNCTIONS:
        function = build.build_function(name, tmp_path / name)
        sizes[name] = build.tree_size(function)
        layers = layer_size + (numeric_size if name in ("invoice_verifier", "alerts_evaluator") else 0)
        with_auth = ("ingest_api", "site_ingest", "people_authoriser", "apel_publisher")
        layers += auth_size if name in with_auth else 0
        layers += documents_size if name in ("ingest_api", "alerts_evaluator") else 0
        layers += apel_size if name == "apel_publisher" else 0
        assert layers + sizes[name] < LAMBDA_UNZIPPED_LIMIT, name
    print("unzipped bytes:", json.dumps(sizes))


# -- loading in a fresh environment ------------------------------------------------------------


@pytest.fixture(scope="module")
def lambda_like(build: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A fresh venv plus the layer and the runtime's boto3, built for this machine."""
    interpreter = python312() or sys.executable
    version = subprocess.run(
        [interpreter, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    machine = platform.machine()
    platforms = [f"manylinux2014_{machine}", f"manylinux_2_28_{machine}", f"manylinux_2_34_{machine}"]
    root = tmp_path_factory.mktemp("lambda")
    build.build_layer(root / "opt", platforms, version)
    build.build_layer(root / "numeric", platforms, version, name="numeric")
    build.build_layer(root / "auth", platforms, version, name="auth")
    build.build_layer(root / "documents", platforms, version, name="documents")
    pins = build.read_constraints()
    runtime = root / "runtime"
    requirements = root / "runtime.txt"
    requirements.write_text("".join(f"{name}=={pins[name]}\n" for name in RUNTIME_PACKAGES))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", version, "--implementation", "cp", "--target", str(runtime),
         *[arg for p in platforms for arg in ("--platform", p)], "-r", str(requirements)],
        check=True,
    )  # fmt: skip
    venv = root / "venv"
    subprocess.run([interpreter, "-m", "venv", "--without-pip", str(venv)], check=True)
    yield {
        "python": venv / "bin" / "python",
        "layer": root / "opt" / "python",
        "numeric": root / "numeric" / "python",
        "auth": root / "auth" / "python",
        "documents": root / "documents" / "python",
        "runtime": runtime,
        "root": root,
    }


def invoke(env_paths: dict[str, Path], function: str, script: str, env: dict[str, str]) -> dict[str, Any]:
    """Run `script` in the fresh venv with sys.path as Lambda sets it; it prints one JSON line."""
    # Lambda puts each layer's python/ on sys.path; the numeric layer is the verifier's only, the
    # auth and documents layers the API's.
    layers = [str(env_paths["layer"])]
    if function in ("invoice_verifier", "alerts_evaluator"):
        layers.append(str(env_paths["numeric"]))
    if function == "ingest_api":
        layers += [str(env_paths["auth"]), str(env_paths["documents"])]
    if function in ("people_authoriser", "site_ingest"):
        layers.append(str(env_paths["auth"]))
    prelude = (
        "import sys, json\n"
        f"sys.path[:0] = [{str(REPO / 'functions' / function)!r}, *{layers!r}, "
        f"{str(env_paths['runtime'])!r}]\n"
        "class Context:\n"
        "    function_name = 'tally-test'; memory_limit_in_mb = 1769; aws_request_id = 'req-1'\n"
        "    invoked_function_arn = 'arn:aws:lambda:eu-west-1:123456789012:function:tally-test'\n"
        "    def get_remaining_time_in_millis(self): return 600000\n"
    )
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": str(env_paths["root"]), "AWS_REGION": "eu-west-1"}
    clean |= {
        "AWS_LAMBDA_FUNCTION_NAME": "tally-test",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    run = subprocess.run(
        [str(env_paths["python"]), "-I", "-c", prelude + script],
        capture_output=True,
        text=True,
        env=clean | env,
        cwd=env_paths["root"],
    )
    assert run.returncode == 0, run.stderr[-3000:]
    last = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert last, run.stdout[-2000:]
    result: dict[str, Any] = json.loads(last[-1].removeprefix("RESULT "))
    return result


@pytest.mark.parametrize("function", ["ingest_api", "site_ingest"])
def test_api_handler_answers_in_a_fresh_environment(lambda_like: dict[str, Path], function: str) -> None:
    event = {
        "version": "2.0",
        "routeKey": "ANY /v1/{proxy+}",
        "rawPath": "/v1/health",
        "rawQueryString": "",
        "headers": {"host": "api.example.org"},
        "requestContext": {
            "http": {"method": "GET", "path": "/v1/health", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "requestId": "corr-123",
            "routeKey": "ANY /v1/{proxy+}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    script = (
        "import app\n"
        f"answer = app.handler({event!r}, Context())\n"
        "print('RESULT ' + json.dumps({'status': answer['statusCode'], 'body': json.loads(answer['body']),\n"
        "      'headers': answer['headers'], 'duckdb': 'duckdb' in sys.modules,\n"
        "      'loaded': [m for m in ('sqlglot', 'xlsxwriter', 'reportlab') if m in sys.modules],\n"
        "      'files': sorted({m.__file__.split('/python/')[0] for m in list(sys.modules.values())\n"
        "                       if getattr(m, '__file__', None) and '/python/' in m.__file__})}))\n"
    )
    result = invoke(
        lambda_like,
        function,
        script,
        {
            "TALLY_MODE": "aws",
            "TALLY_WAREHOUSE_URI": "s3://bucket/warehouse",
            "TALLY_CONTROL_TABLE": "control",
            "TALLY_ATHENA_WORKGROUP": "wg",
        },
    )
    assert result["status"] == 200
    assert result["body"] == {"status": "ok", "mode": "aws"}
    assert result["headers"]["x-correlation-id"] == "corr-123"
    assert result["duckdb"] is False
    # SQL parsing and the Excel and PDF writers load with the first request that needs them.
    assert result["loaded"] == []
    # Everything third-party came from the layer (nothing leaked in from this machine).
    assert result["files"] == [str(lambda_like["layer"].parent)]


def test_people_authoriser_answers_in_a_fresh_environment(lambda_like: dict[str, Path]) -> None:
    """A request without a person's credential is refused before any store read, and without
    loading the web framework, DuckDB or the JWT library (the authoriser's cold start)."""
    event = {
        "version": "2.0",
        "type": "REQUEST",
        "routeKey": "GET /v1/me",
        "rawPath": "/v1/me",
        "headers": {"host": "api.example.org", "authorization": "Basic YWRhOnB3"},
        "requestContext": {"http": {"method": "GET", "path": "/v1/me"}, "requestId": "corr-9"},
    }
    script = (
        "import app\n"
        f"answer = app.handler({event!r}, Context())\n"
        "loaded = {name: name in sys.modules for name in ('fastapi', 'duckdb', 'joserfc', 'mangum')}\n"
        "print('RESULT ' + json.dumps({'answer': answer, 'loaded': loaded}))\n"
    )
    env = {
        "TALLY_MODE": "aws",
        "TALLY_WAREHOUSE_URI": "s3://bucket/warehouse",
        "TALLY_CONTROL_TABLE": "control",
    }
    result = invoke(lambda_like, "people_authoriser", script, env)
    assert result["answer"] == {"isAuthorized": False}
    assert result["loaded"] == {"fastapi": False, "duckdb": False, "joserfc": False, "mangum": False}


def test_api_layers_verify_an_identity_providers_token(lambda_like: dict[str, Path]) -> None:
    from joserfc import jwk, jws

    key = jwk.RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
    token = jws.serialize_compact({"alg": "RS256", "kid": "k1"}, json.dumps({"sub": "alice"}).encode(), key)
    jwks = {"keys": [key.as_dict(private=False)]}
    script = (
        "from tally.auth.oidc.keys import parse_jwks\n"
        "from tally.auth.oidc.tokens import split, verify_signature\n"
        f"keys = parse_jwks({jwks!r})\n"
        f"parsed = split({token!r}, max_bytes=16384, allowed_algorithms=('RS256',))\n"
        f"claims = verify_signature({token!r}, parsed, keys.find('k1', 'RS256'))\n"
        "import cryptography, joserfc\n"
        "files = [cryptography.__file__, joserfc.__file__]\n"
        "print('RESULT ' + json.dumps({'sub': claims['sub'], 'files': files}))\n"
    )
    result = invoke(lambda_like, "ingest_api", script, {})
    assert result["sub"] == "alice"
    assert all(f.startswith(str(lambda_like["auth"])) for f in result["files"]), result["files"]


def test_api_layers_render_an_invoice_pdf(lambda_like: dict[str, Path]) -> None:
    script = (
        "from datetime import datetime, timezone\n"
        "from tally.money.invoices import Invoice\n"
        "from tally.money.render import render\n"
        "at = datetime(2026, 4, 2, tzinfo=timezone.utc)\n"
        "invoice = Invoice(number='INV-000007', issuer='Tally', project='p1', period='2026-03',\n"
        "    period_start=at.date().replace(month=3, day=1), period_end=at.date().replace(day=1),\n"
        "    issue_date=at.date(), issued_at=at, lines=[], totals={})\n"
        "pdf = render(invoice, 'pdf')\n"
        "import reportlab, PIL\n"
        "print('RESULT ' + json.dumps({'head': pdf[:5].decode(), 'size': len(pdf),\n"
        "      'files': [reportlab.__file__, PIL.__file__]}))\n"
    )
    result = invoke(lambda_like, "ingest_api", script, {})
    assert result["head"] == "%PDF-" and result["size"] > 1000
    assert all(f.startswith(str(lambda_like["documents"])) for f in result["files"]), result["files"]


def test_compaction_handler_runs_on_pyarrow_from_the_layer(
    lambda_like: dict[str, Path], tmp_path: Path
) -> None:
    script = (
        "from datetime import datetime, timezone\n"
        "import pyarrow as pa\n"
        "from tally.adapters.warehouse import open_warehouse\n"
        "from tally.domain.schema import stored_schema\n"
        "from tally.settings import Settings\n"
        "import app\n"
        "wh = open_warehouse(Settings())\n"
        "row = dict(site='S', resource='r', batch_system='slurm', infrastructure='hpc', local_job_id='1',\n"
        "           end_time=datetime(2026, 3, 1, tzinfo=timezone.utc), wall_seconds=1, cpu_seconds=1,\n"
        "           cores=1, nodes=1, gpus=0, state='COMPLETED', batch_id='b')\n"
        "for n in (0, 1):\n"
        "    at = datetime(2026, 3, 2 + n, tzinfo=timezone.utc)\n"
        "    new = row | {'ingested_at': at, 'queue': f'q{n}'}\n"
        "    t = pa.Table.from_pylist([new], schema=stored_schema('jobs'))\n"
        "    wh.write_partitioned('jobs', t, 'end_time', f'batch{n}')\n"
        "summary = app.handler({'today': '2026-03-10'}, Context())\n"
        "rows = [wh.read_parquet(k).to_pylist() for k in wh.list_keys('jobs')]\n"
        "queues = [r['queue'] for f in rows for r in f]\n"
        "print('RESULT ' + json.dumps({'summary': summary, 'queues': queues}))\n"
    )
    result = invoke(lambda_like, "compaction", script, {"TALLY_MODE": "local", "TALLY_HOME": str(tmp_path)})
    assert result["summary"] == {
        "partitions": 1,
        "files_removed": 2,
        "duplicates_removed": 1,
        "complete": True,
    }
    assert result["queues"] == ["q1"]


def test_view_deployer_finds_the_view_sql_in_the_layer(lambda_like: dict[str, Path]) -> None:
    script = (
        "import app\n"
        "from tally.query.sql_files import sql_root, views_in_order\n"
        "views = [v.name for v in views_in_order()]\n"
        "print('RESULT ' + json.dumps({'root': str(sql_root()), 'views': views}))\n"
    )
    result = invoke(lambda_like, "view_deployer", script, {})
    assert result["root"] == str(lambda_like["layer"] / "athena_queries")
    assert sorted(result["views"]) == sorted(p.stem for p in (REPO / "athena_queries/views").glob("*.sql"))


def test_invoice_verifier_judges_a_period_with_the_layers_packages(
    lambda_like: dict[str, Path], tmp_path: Path
) -> None:
    """The verifier's whole path (numpy interval arithmetic, Excel report) from the layer."""
    script = (
        "import app\n"
        "answer = app.handler({'period': '2026-02', 'time': '2026-03-07T06:00:00Z'}, Context())\n"
        "from tally.adapters.warehouse import open_warehouse\n"
        "from tally.settings import Settings\n"
        "reports = open_warehouse(Settings()).list_keys('reports/reconciliation')\n"
        "print('RESULT ' + json.dumps({'runs': answer['runs'], 'reports': reports,\n"
        "      'numpy': sys.modules['numpy'].__file__}))\n"
    )
    result = invoke(
        lambda_like, "invoice_verifier", script, {"TALLY_MODE": "local", "TALLY_HOME": str(tmp_path)}
    )
    [run] = result["runs"]
    assert (run["period"], run["instance_days"], run["notified"]) == ("2026-02", 0, False)
    assert result["numpy"].startswith(str(lambda_like["numeric"]))
    assert sorted(k.rsplit(".", 1)[1] for k in result["reports"]) == ["csv", "xlsx"]


@pytest.mark.aws
def test_billing_importer_imports_a_landed_file_with_the_layers_packages(
    lambda_like: dict[str, Path], moto_endpoint: str
) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="eu-west-1")
    for bucket in ("artifacts-warehouse", "artifacts-landing"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    body = (FIXTURES / "billing" / "aws_cur" / "cur2-2026-01.csv").read_bytes()
    version = s3.put_object(Bucket="artifacts-landing", Key="aws/cur.csv", Body=body).get("VersionId")
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": "artifacts-landing"},
            "object": {"key": "aws/cur.csv", "version-id": version},
        },
    }
    script = f"import app\nprint('RESULT ' + json.dumps(app.handler({event!r}, Context())))\n"
    table = f"artifacts-control-{uuid.uuid4().hex[:8]}"  # billing account owners
    create_table(table, "eu-west-1", moto_endpoint)
    env = {
        "TALLY_MODE": "aws",
        "TALLY_WAREHOUSE_URI": "s3://artifacts-warehouse/warehouse",
        "TALLY_S3_ENDPOINT_URL": moto_endpoint,
        "TALLY_CONTROL_TABLE": table,
        "TALLY_DYNAMODB_ENDPOINT_URL": moto_endpoint,
    }
    [summary] = invoke(lambda_like, "billing_importer", script, env)["imported"]
    assert (summary["provider"], summary["accepted"], summary["rejected"]) == ("aws", 5, 0)
    listed = s3.list_objects_v2(Bucket="artifacts-warehouse", Prefix="warehouse/billing/provider=aws/")
    assert [o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".parquet")]


# -- the forecaster: its own layer, without the core layer -------------------------------------


def test_arm64_forecast_layer_holds_statsmodels_and_only_the_forecast_modules(
    build: ModuleType, arm_forecast_layer: Path, tmp_path: Path
) -> None:
    python = arm_forecast_layer / "python"
    for package in ("numpy", "scipy", "pandas", "patsy", "statsmodels"):
        assert (python / package).is_dir(), package
    libraries = [p for p in python.rglob("*.so*") if p.is_file()]
    wrong = [p.name for p in libraries if elf_machine(p) not in (EM_AARCH64, None)]
    assert libraries and not wrong, f"not aarch64: {wrong[:5]}"
    shipped = sorted(
        str(p.relative_to(python / "tally")) for p in (python / "tally").rglob("*") if p.is_file()
    )
    assert shipped == sorted(build.FORECAST_MODULES)
    # Pruned as the other layers are: no test suites, no bytecode.
    assert not list(python.rglob("tests")) and not list(python.rglob("__pycache__"))
    function = build.build_function("forecaster", tmp_path / "forecaster")
    size = build.tree_size(arm_forecast_layer) + build.tree_size(function)
    assert size < LAMBDA_UNZIPPED_LIMIT, size
    print("unzipped bytes:", json.dumps({"forecast layer + forecaster": size}))


@pytest.fixture(scope="module")
def forecast_like(build: ModuleType, lambda_like: dict[str, Path]) -> dict[str, Path]:
    """The forecast layer built for this machine beside the fresh venv and the runtime's boto3."""
    version = subprocess.run(
        [
            str(lambda_like["python"]),
            "-c",
            "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    machine = platform.machine()
    platforms = [f"manylinux2014_{machine}", f"manylinux_2_28_{machine}", f"manylinux_2_34_{machine}"]
    build.build_layer(lambda_like["root"] / "forecast", platforms, version, name="forecast")
    return {**lambda_like, "forecast": lambda_like["root"] / "forecast" / "python"}


def test_forecaster_answers_from_its_own_layer_alone(forecast_like: dict[str, Path]) -> None:
    """The handler on the forecast layer and the runtime only (no core layer): a real fit, the
    numbers forecast_total gives here, and a hostile request answered, not raised."""
    from tally.foresight.forecast import forecast_total

    history = [40.0 + 0.5 * i + (15.0 if i % 7 < 5 else 0.0) + (i * 37) % 11 for i in range(56)]
    event = {"history": history, "first_day": "2026-01-05", "horizon": 28, "first_counted": 2}
    script = (
        "import app\n"
        f"answer = app.handler({event!r}, None)\n"
        "nan = {'history': [float('nan')] * 10, 'first_day': '2026-01-05', 'horizon': 3}\n"
        "hostile = app.handler(nan, None)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pyarrow', 'fastapi'))\n"
        "tally = sorted(m for m in sys.modules if m.startswith('tally'))\n"
        "print('RESULT ' + json.dumps({'answer': answer, 'hostile': hostile, 'loaded': loaded,\n"
        "      'tally': tally, 'statsmodels': sys.modules['statsmodels'].__file__}))\n"
    )
    prelude = (
        "import sys, json\n"
        f"sys.path[:0] = [{str(REPO / 'functions' / 'forecaster')!r}, {str(forecast_like['forecast'])!r}, "
        f"{str(forecast_like['runtime'])!r}]\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(forecast_like["root"]),
        "OPENBLAS_NUM_THREADS": "1",
    }
    run = subprocess.run(
        [str(forecast_like["python"]), "-I", "-c", prelude + script],
        capture_output=True,
        text=True,
        env=env,
        cwd=forecast_like["root"],
    )
    assert run.returncode == 0, run.stderr[-3000:]
    [line] = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    want = forecast_total(history, date(2026, 1, 5), 28, 2)
    forecast = result["answer"]["forecast"]
    assert forecast["method"] == want.method and forecast["degrees_of_freedom"] == want.degrees_of_freedom
    for field in ("expected", "lower_80", "upper_80", "lower_95", "upper_95", "standard_error"):
        assert forecast[field] == pytest.approx(getattr(want, field), rel=1e-9), field
    assert result["hostile"]["error"]["kind"] == "invalid"
    assert result["loaded"] == []  # nothing of the core layer's packages
    assert result["tally"] == [
        "tally",
        "tally.foresight",
        "tally.foresight.forecast",
        "tally.foresight.forecast_wire",
    ]
    assert result["statsmodels"].startswith(str(forecast_like["forecast"]))
