"""Bodies that once killed or bloated the server, posted to a server in its own process: it answers
each with a 2xx or 4xx, stays alive, and its peak memory stays under the documented bound."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tally.domain.records import KINDS
from tests.support.records import job
from tests.support.server_process import REPO, ServerProcess, server_process

MiB = 1 << 20
# The bound README.md states for one request over the idle server: ten times the 64 MiB
# decompressed-body limit (measured worst, 100k records with every field wrong: about 7.5 times).
MEMORY_BOUND = 10 * 64 * MiB

# Lines Arrow's JSON reader (pyarrow 25) crashes on, or that once reached it through the array form.
CRASHERS = [
    b"null",
    b"[null]",
    b"[null,null]",
    b" null ",
    b"null\nnull",
    b"[1]",
    b'["x"]',
    b"[[]]",
    b"[true]",
    # Past the one-object-per-line guard (each line starts with `{`), a null later in a line.
    b"{}null",
    b'{"site":"SITE-A"} null',
    b"{}\n{} null\nnull",
]


def _crasher_bodies() -> Iterator[tuple[str, bytes, dict[str, str]]]:
    for body in CRASHERS:
        for media in ("application/json", "application/x-ndjson"):
            for gz in (False, True):
                headers = {"Content-Type": media}
                if gz:
                    headers["Content-Encoding"] = "gzip"
                yield f"{body!r} {media} gzip={gz}", gzip.compress(body) if gz else body, headers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process(tmp_path_factory.mktemp("survive")) as running:
        yield running


def _post(server: ServerProcess, kind: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    auth = {"Authorization": f"Bearer {server.key}", **headers}
    return httpx.post(f"{server.url}/v1/records/{kind}", content=body, headers=auth, timeout=300)


def test_arrow_crashers_never_reach_the_reader(server: ServerProcess) -> None:
    for kind in KINDS:
        for label, body, headers in _crasher_bodies():
            answer = _post(server, kind, body, headers)
            assert 200 <= answer.status_code < 500, (kind, label, answer.status_code)
            assert answer.json().get("accepted", 0) == 0, (kind, label)
            assert server.alive(), (kind, label)
    good = _post(server, "jobs", orjson.dumps([job(1)]), {"Content-Type": "application/json"})
    assert good.status_code == 200 and good.json()["accepted"] == 1


# The ingest path, run in a child process on each crasher: a regression segfaults the child (a
# failed test), not pytest.
_CHILD = """
import sys
from tally.domain.records import KINDS
from tally.api.body import split_lines
from tally.services.ingest import IngestService, Principal
from tally.api.problems import Problem
from tally.api.problem_handlers import problem_for
from tally.domain.errors import RequestRefused
from tally.services.container import Services
from tally.settings import Settings
from pathlib import Path
svc = Services(Settings(mode="local", home=Path(sys.argv[1])))
body = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
for kind in KINDS:
    for media in ("application/json", "application/x-ndjson"):
        try:
            lines = split_lines(media, body, 1000)
            result = svc.ingest.ingest(kind, lines, Principal("SITE-A", "k"))
            assert result.accepted == 0, result
        except (Problem, RequestRefused) as refused:
            problem = refused if isinstance(refused, Problem) else problem_for(refused)
            assert 400 <= problem.status < 500, problem
print("survived")
"""


@pytest.mark.parametrize("body", CRASHERS, ids=repr)
def test_the_ingest_path_survives_each_crasher_in_a_child_process(tmp_path: Path, body: bytes) -> None:
    escaped = body.decode().encode("unicode_escape").decode()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path), escaped],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "survived"


def _worst_bodies() -> Iterator[tuple[str, bytes, str, set[int]]]:
    """(label, decompressed body, media type, acceptable statuses), each at most 64 MiB."""
    array, nd = "application/json", "application/x-ndjson"
    yield "5M {} array", b"[" + b",".join([b"{}"] * 5_000_000) + b"]", array, {413}
    yield "5M {} ndjson", b"\n".join([b"{}"] * 5_000_000), nd, {413}
    yield "5M null array", b"[" + b",".join([b"null"] * 5_000_000) + b"]", array, {413}
    yield "60M [", b"[" * 60_000_000, array, {400}
    nested = b'{"x":' + b"[" * 1000 + b"]" * 1000 + b"}"
    yield "nested records", b"[" + b",".join([nested] * 30_000) + b"]", array, {413}
    huge = b'{"site":"SITE-A","job_name":"' + b"a" * 60_000_000 + b'"}'
    yield "60 MB string array", b"[" + huge + b"]", array, {200}
    yield "60 MB string ndjson", huge, nd, {200}
    many = b"{" + b",".join(b'"k%d":0' % i for i in range(1_000_000)) + b"}"
    yield "1M keys one record", many, nd, {200}
    wide = b"{" + b",".join(b'"k%d":0' % i for i in range(90_000)) + b"}"
    yield "15 records of 90k keys", b"\n".join([wide] * 15), nd, {200}
    valid = [orjson.dumps(job(n, job_name=f"j{n}", node_list="node[001-128]")) for n in range(100_000)]
    yield "100k valid records", b"\n".join(valid), nd, {200}
    wrong = [orjson.dumps({k: [] for k in job(n)}) for n in range(100_000)]
    yield "100k records, every field wrong", b"\n".join(wrong), nd, {200}


def test_memory_stays_bounded_under_the_worst_bodies(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = server.peak_rss_bytes()
    figures = []
    for label, body, media, statuses in _worst_bodies():
        compressed = gzip.compress(body, compresslevel=6)
        assert len(compressed) < 4_500_000, (label, len(compressed))
        answer = _post(server, "jobs", compressed, {"Content-Type": media, "Content-Encoding": "gzip"})
        assert answer.status_code in statuses, (label, answer.status_code, answer.text[:300])
        assert server.alive(), label
        peak = server.peak_rss_bytes()
        figures.append(
            f"{label}: {len(body) / MiB:.0f} MiB -> {answer.status_code}, peak RSS {peak / MiB:.0f} MiB"
        )
        print(figures[-1], flush=True)
        assert peak - baseline < MEMORY_BOUND, figures
    with capsys.disabled():
        print(f"\nidle server {baseline / MiB:.0f} MiB; " + "; ".join(figures))
