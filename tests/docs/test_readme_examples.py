"""Every shell example in README.md, agents/README.md and infra/DEPLOY.md runs as written, or says why not.

The examples are read from the documents themselves (fenced and indented code blocks). Those that
can run on one machine run against a real server started with `make run PORT=<free port>` over a
demo warehouse in a temporary TALLY_HOME. They run in a folder laid out like the checkout's root
for what they touch: `var/` (the demo home) and `.venv` (a link to the checkout's), so
`. .venv/bin/activate` and `var/demo-keys.json` mean what they mean after `make run`. The only
change made to an example is the port (`127.0.0.1:8000` becomes the free port). Blocks that need
an AWS account, a site's login node or the suite itself are listed in NOT_RUN with the reason; a
test fails when a block is neither run nor listed, or a listed block is gone from the documents.
The command synopses are checked against each command's `--help`.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import typer
import typer.main
from typer.core import TyperGroup

from tally.cli.main import app as tally_app
from tests.support.deployments import aws_settings
from tests.support.paths import REPO

DOCS = ("README.md", "agents/README.md", "infra/DEPLOY.md")
VENV_BIN = REPO / ".venv" / "bin"
AWS_ONLY = "AWS only: needs an AWS account and the SAM or AWS CLI"

# (document, first line of the block without its comment) -> why it does not run here.
NOT_RUN: dict[tuple[str, str], str] = {
    ("README.md", "make run"): "runs in the foreground; the `served` fixture runs it with PORT=",
    ("README.md", "make test"): "this suite itself",
    ("README.md", ".venv/bin/tally serve --demo --self-signed"): (
        "runs in the foreground; tests/functional/test_serve_https.py starts it as written"
    ),
    ("README.md", "cat > sacct.txt <<'EOF'"): (
        "posts with the agent to `serve --self-signed`: tests/functional/test_serve_https.py runs it verbatim"
    ),
    ("README.md", ".venv/bin/python bench/ingest.py"): "benchmarks: minutes of load each, run by hand",
    ("agents/README.md", "python agents/build_zipapp.py"): (
        "needs a site: /etc/tally-agent.ini, cron, accounting files (commands checked against --help)"
    ),
    ("agents/README.md", "[vm]"): "a configuration file excerpt, not commands",
    ("agents/README.md", ".venv/bin/python bench/parse.py"): "a benchmark: minutes of parsing, run by hand",
    ("infra/DEPLOY.md", "sam build"): AWS_ONLY,
    ("infra/DEPLOY.md", "sam deploy --guided --capabilities CAPABILITY_IAM"): AWS_ONLY,
    ("infra/DEPLOY.md", "sam deploy --config-file infra/samconfig.toml"): AWS_ONLY,
    ("infra/DEPLOY.md", "aws cloudformation describe-stacks --stack-name tally \\"): AWS_ONLY,
    ("infra/DEPLOY.md", "python agents/build_zipapp.py"): (
        "copies the agent to a cluster login node, writes /etc and posts to the deployed ApiUrl"
    ),
    (
        "infra/DEPLOY.md",
        'aws s3 cp export.csv.gz "s3://<BillingLandingBucketName>/azure/2026-03/export.csv.gz"',
    ): (AWS_ONLY),
    ("infra/DEPLOY.md", "aws lambda invoke --function-name <InvoiceVerifierFunctionName> \\"): AWS_ONLY,
    (
        "infra/DEPLOY.md",
        "aws sns subscribe --topic-arn <FinanceTopicArn> --protocol email"
        " --notification-endpoint finance@example.org",
    ): (AWS_ONLY),
    ("infra/DEPLOY.md", "aws cognito-idp admin-create-user --user-pool-id <PeopleUserPoolId> \\"): AWS_ONLY,
}
# (document, first line) -> text the block's output must contain.
EXPECT: dict[tuple[str, str], tuple[str, ...]] = {
    ("README.md", ". .venv/bin/activate"): ("NORTH-HPC", "LAKESIDE-GRID", "RIVERSIDE-UNI"),
    (
        "README.md",
        """KEY=$(python3 -c 'import json; print(json.load(open("var/demo-keys.json"))["NORTH-HPC"])')""",
    ): (
        '"accepted":1',
        '"resource":"hex"',
    ),
    ("README.md", "tally keys create --site NORTH-HPC --resource hex --json"): (
        '"resources": [\n    "hex"\n  ]',
        "site,core_hours\nLAKESIDE-GRID,",
        '"benchmark_type": "HEPscore23"',
    ),
    (
        "README.md",
        'tally query "SELECT provider, instance_key, day, billed_hours, measured_hours, presence',
    ): ("billed_only",),
    (
        "README.md",
        'tally registry add carbon_intensity \'{"site": "LAKESIDE-GRID", "grams_co2e_per_kwh": 120, '
        '"valid_from": "2020-01-01T00:00:00Z", "source": "grid operator"}\'',
    ): ("added carbon_intensity entry", "site,kwh,kg_co2e\nLAKESIDE-GRID,,\nNORTH-HPC,"),
    ("infra/DEPLOY.md", 'curl -s "$API_URL/v1/health"'): ('"status":"ok"',),
    ("infra/DEPLOY.md", "export TALLY_MODE=aws AWS_REGION=eu-west-1"): (
        '"site": "EXAMPLE-SITE"',
        '"cluster1"',
    ),
    (
        "infra/DEPLOY.md",
        '.venv/bin/tally query "SELECT site, count(*) AS jobs FROM jobs_dedup GROUP BY site"',
    ): ("NORTH-HPC",),
}
# Blocks that run in AWS mode against moto's server, the stack's outputs filled in.
ON_MOTO = {("infra/DEPLOY.md", "export TALLY_MODE=aws AWS_REGION=eu-west-1")}


@dataclass(frozen=True)
class Block:
    doc: str
    line: int  # 1-based line of the block's first line
    lang: str  # the fence's language; "" for indented blocks
    text: str

    @property
    def key(self) -> tuple[str, str]:
        """The document and the block's first line without its comment, spaces collapsed."""
        first = re.split(r"\s+#\s", self.text.splitlines()[0])[0]
        return (self.doc, " ".join(first.split()))


def code_blocks(doc: str) -> list[Block]:
    """Fenced (```lang) and indented (4 spaces after a blank line) code blocks, in document order."""
    lines = (REPO / doc).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if fence:
            end = lines.index("```", i + 1)
            blocks.append(Block(doc, i + 2, fence.group(1), "\n".join(lines[i + 1 : end]) + "\n"))
            i = end + 1
            continue
        after_break = i == 0 or not lines[i - 1].strip() or lines[i - 1].startswith("#")
        if lines[i].startswith("    ") and lines[i].strip() and after_break:
            start, body = i, []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            while body and not body[-1].strip():
                body.pop()
            blocks.append(Block(doc, start + 1, "", "\n".join(body) + "\n"))
            continue
        i += 1
    return blocks


def shell_blocks() -> list[Block]:
    return [b for d in DOCS for b in code_blocks(d) if b.lang in ("", "sh", "bash", "shell")]


def runnable() -> list[Block]:
    return [b for b in shell_blocks() if b.key not in NOT_RUN]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def quiet_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb", **extra)
    return env


@dataclass(frozen=True)
class Served:
    root: Path  # holds var/ and .venv, like a checkout after `make run`
    url: str
    banner: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`make run PORT=<free>` over a demo loaded into a temporary home (2,000 jobs, to keep it quick)."""
    root = tmp_path_factory.mktemp("checkout")
    (root / ".venv").symlink_to(REPO / ".venv")
    home = root / "var"
    env = quiet_env(TALLY_HOME=str(home))
    subprocess.run(
        [str(VENV_BIN / "tally"), "demo", "--jobs", "2000"], env=env, check=True, capture_output=True
    )
    port = free_port()
    log = root / "make-run.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "-C", str(REPO), "run", f"PORT={port}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: make and tally serve stop together
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert make.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield Served(root, url, log.read_text())
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=30)


def run_block(block: Block, cwd: Path, env: dict[str, str], port: int | None = None) -> str:
    text = block.text if port is None else block.text.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    done = subprocess.run(
        ["bash", "-e", "-c", text], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, (
        f"{block.doc}:{block.line} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


def test_every_shell_block_is_run_or_says_why_not() -> None:
    blocks = shell_blocks()
    keys = {b.key for b in blocks}
    assert not [k for k in NOT_RUN if k not in keys], "NOT_RUN names blocks no longer in the documents"
    assert not [k for k in EXPECT if k not in keys], "EXPECT names blocks no longer in the documents"
    unchecked = [f"{b.doc}:{b.line}" for b in runnable() if b.key not in EXPECT]
    assert not unchecked, f"blocks that run but check nothing: {unchecked}"
    assert len(blocks) == len(keys), "two blocks start with the same line"


def test_make_run_serves_on_the_port_it_was_given(served: Served) -> None:
    port = served.url.rsplit(":", 1)[1]
    assert f"tally serve --demo --host 127.0.0.1 --port {port}" in served.banner  # what make ran
    assert httpx.get(f"{served.url}/v1/health").json()["status"] == "ok"


LOCAL = [b for b in runnable() if b.key not in ON_MOTO]


@pytest.mark.slow
@pytest.mark.parametrize("block", LOCAL, ids=[f"{b.doc}:{b.line}" for b in LOCAL])
def test_example_runs_as_written(block: Block, served: Served) -> None:
    env = quiet_env(API_URL=served.url)  # TALLY_HOME unset: the default ./var is the demo's home
    if re.search(r"^tally |\$\(tally ", block.text, re.M) and ". .venv/bin/activate" not in block.text:
        env["PATH"] = f"{served.root / '.venv' / 'bin'}:{env['PATH']}"  # the README's activated shell
    out = run_block(block, served.root, env, port=int(served.url.rsplit(":", 1)[1]))
    for expected in EXPECT[block.key]:
        assert expected in out, f"{block.doc}:{block.line}: {expected!r} not in\n{out}"


MOTO = [b for b in runnable() if b.key in ON_MOTO]


@pytest.mark.aws
@pytest.mark.parametrize("block", MOTO, ids=[f"{b.doc}:{b.line}" for b in MOTO])
def test_aws_example_runs_against_moto(block: Block, moto_endpoint: str, tmp_path: Path) -> None:
    """DEPLOY.md's first site and keys, in AWS mode, against moto's S3 and DynamoDB."""
    settings = aws_settings(moto_endpoint)
    outputs = {
        "<WarehouseUri output>": settings.warehouse_uri,
        "<ControlTableName output>": settings.control_table,
    }
    text = block.text
    for placeholder, value in outputs.items():
        assert placeholder in text and value
        text = text.replace(placeholder, value)
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    env = quiet_env(TALLY_S3_ENDPOINT_URL=moto_endpoint, TALLY_DYNAMODB_ENDPOINT_URL=moto_endpoint)
    out = run_block(Block(block.doc, block.line, block.lang, text), tmp_path, env)
    assert len(re.findall(r"tly_[0-9a-f]{16}_\S+", out)) == 2  # two keys, each printed once
    listed = subprocess.run(
        [str(VENV_BIN / "tally"), "keys", "list", "--site", "EXAMPLE-SITE", "--json"],
        env={
            **env,
            "TALLY_MODE": "aws",
            "TALLY_WAREHOUSE_URI": str(settings.warehouse_uri),
            "TALLY_CONTROL_TABLE": str(settings.control_table),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for expected in EXPECT[block.key]:
        assert expected in listed.stdout, f"{expected!r} not in\n{listed.stdout}"


# --- synopses: every command and option they name exists --------------------------------------

SYNOPSES: dict[tuple[str, str], str] = {
    (
        "README.md",
        "tally serve [--host H] [--port P] [--demo] [--self-signed | --tls-cert FILE --tls-key FILE]",
    ): "tally",
    ("agents/README.md", "python agents/build_zipapp.py"): "tally-agent",
}
GROUPS = {
    "tally": {"sites", "keys", "registry", "billing", "logs", "kinds", "people", "tariffs", "invoices"},
    "tally-agent": set(),
}


def synopsis_commands(text: str, program: str) -> list[tuple[list[str], list[str]]]:
    """(sub-command path, options) for every command line in a synopsis block."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found: list[tuple[list[str], list[str]]] = []
    for raw in joined.splitlines():
        line = raw.split("  #", 1)[0].strip()
        line = re.sub(r"^python3 \S*tally-agent\.pyz", "tally-agent", line)
        for part in re.split(r"\s\|\s", line):
            words = shlex.split(part)
            if not words or words[0] != program:
                continue
            path = [words[1]]
            if words[1] in GROUPS[program] and len(words) > 2 and re.fullmatch(r"[a-z|-]+", words[2]):
                path.append(words[2])
            options = re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?=[\s\]=]|$)", part)
            for alternative in path[-1].split("|"):
                found.append(([*path[:-1], alternative], options))
    return found


def tally_options(path: list[str]) -> set[str]:
    """The options of a `tally` sub-command, read from its click command (no process per command)."""
    command = typer.main.get_command(tally_app)
    for name in path:
        # get_command, not .commands: the root imports its commands only when asked for one.
        found = command.get_command(typer.Context(command), name) if isinstance(command, TyperGroup) else None
        assert found is not None, f"tally has no command {' '.join(path)}"
        command = found
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def agent_options(path: list[str]) -> set[str]:
    """The options of a `tally-agent` sub-command, from its --help (the agent starts in milliseconds)."""
    done = subprocess.run(
        [str(VENV_BIN / "tally-agent"), *path, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"tally-agent {' '.join(path)}: {done.stderr}"
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])", done.stdout))


@pytest.mark.parametrize("key", list(SYNOPSES), ids=[k[0] for k in SYNOPSES])
def test_synopsis_names_real_commands_and_options(key: tuple[str, str]) -> None:
    [block] = [b for b in code_blocks(key[0]) if b.key == key]
    program = SYNOPSES[key]
    commands = synopsis_commands(block.text, program)
    assert len(commands) >= 4
    for path, options in commands:
        known = tally_options(path) if program == "tally" else agent_options(path)
        missing = [o for o in options if o not in known]
        assert not missing, f"{program} {' '.join(path)} has no {missing}"
