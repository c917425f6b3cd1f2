"""`tally-agent parse slurm` output, byte for byte, against NDJSON recorded before the Slurm path was
made fast (commit "Agent: record Slurm parse output as golden files").

`data/slurm_golden/corpus.log` is a seeded mix of every case the parser treats apart (steps,
orphan steps, arrays and placeholders, heterogeneous jobs, every state, `CANCELLED by`, zero
cores, ReqMem flags and ReqTRES, Elapsed/Suspended mismatches, bad and local times around a DST
change, JSON-hostile job names, wrong field counts). Each case reads it in another layout or
zone; the summary line on stderr and the exit status must match too. A deliberate change of
output regenerates the golden files with `_regenerate` (below) and says so in its commit.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
from pathlib import Path

import pytest

from tally_agent import cli
from tests.support.paths import SHARED_DATA

DATA = Path(__file__).parent / "data" / "slurm_golden"
SHARED_SLURM = SHARED_DATA / "batch" / "apel_slurm.log"
APEL_FIELDS = (
    "JobID,JobName,User,Group,Start,End,Elapsed,CPUTimeRAW,"
    "Partition,NCPUS,NNodes,NodeList,MaxRSS,MaxVMSize,State"
)
# Positions of APEL's columns in the corpus header (MaxVMSize takes MaxRSS, CPUTimeRAW TotalCPU).
_APEL_COLUMNS = (0, 1, 2, 3, 8, 9, 10, 11, 5, 12, 13, 14, 15, 15, 19)


def _corpus() -> list[str]:
    return (DATA / "corpus.log").read_text(encoding="utf-8").splitlines(keepends=True)


def _headerless() -> str:
    """The corpus without its header and its last two columns: the agent's default layout."""
    out = []
    for line in _corpus()[1:]:
        parts = line.rstrip("\n").split("|")
        out.append("|".join(parts[:21]) + "\n" if len(parts) == 23 else line)
    return "".join(out)


def _apel_layout() -> str:
    """The corpus in the layout of APEL's sacct dumps (read with --fields)."""
    out = []
    for line in _corpus()[1:]:
        parts = line.rstrip("\n").split("|")
        if len(parts) == 23:
            out.append("|".join(parts[i] for i in _APEL_COLUMNS) + "\n")
    return "".join(out)


def _crlf() -> str:
    return "".join(line.replace("\n", "\r\n") for line in _corpus())


INPUTS = {
    "corpus": lambda: "".join(_corpus()),
    "headerless": _headerless,
    "apel_layout": _apel_layout,
    "crlf": _crlf,
}
# case name -> (input, extra CLI arguments)
CASES = {
    "utc": ("corpus", []),
    "berlin_benchmark": (
        "corpus",
        ["--timezone", "Europe/Berlin", "--benchmark-type", "HEPscore23", "--benchmark-per-core", "12.5"],
    ),
    "new_york": (
        "corpus",
        ["--timezone", "America/New_York", "--site", 'S\u00e9te "x"', "--resource", "r\\1"],
    ),
    "headerless": ("headerless", []),
    "apel_layout": ("apel_layout", ["--fields", APEL_FIELDS]),
    "crlf_int_benchmark": ("crlf", ["--benchmark-type", "HS06", "--benchmark-per-core", "10"]),
}


def _run(tmp: Path, text: str, extra: list[str]) -> tuple[int, bytes, list[str]]:
    """The CLI in-process, as `tally-agent parse slurm FILE ...` runs it."""
    path = tmp / "input.log"
    path.write_bytes(text.encode("utf-8"))
    out, err = io.StringIO(), io.StringIO()
    logging.getLogger("tally_agent").setLevel(logging.CRITICAL)  # per-line warnings: not compared
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["parse", "slurm", str(path), *extra])
    finally:
        logging.getLogger("tally_agent").setLevel(logging.NOTSET)
    summary = [line for line in err.getvalue().splitlines() if line.startswith("tally-agent parse")]
    return code, out.getvalue().encode("utf-8"), summary


def _golden(name: str) -> tuple[int, bytes, list[str]]:
    ndjson = gzip.decompress((DATA / f"{name}.ndjson.gz").read_bytes())
    head, *summary = (DATA / f"{name}.stderr").read_text(encoding="utf-8").splitlines()
    return int(head.removeprefix("exit ")), ndjson, summary


def _compare(got: tuple[int, bytes, list[str]], want: tuple[int, bytes, list[str]]) -> None:
    assert got[2] == want[2]
    assert got[0] == want[0]
    got_lines, want_lines = got[1].split(b"\n"), want[1].split(b"\n")
    for n, (a, b) in enumerate(zip(got_lines, want_lines, strict=False), 1):
        assert a == b, f"record {n} differs"
    assert len(got_lines) == len(want_lines)
    assert got[1] == want[1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_output_is_byte_identical(case: str, tmp_path: Path) -> None:
    source, extra = CASES[case]
    got = _run(tmp_path, INPUTS[source](), extra)
    want = _golden(case)
    assert want[1].count(b"\n") > 100  # the golden file holds real output
    _compare(got, want)


@pytest.mark.requires_shared  # so the pass without the samples (TALLY_SHARED_DATA missing) sees it skip
@pytest.mark.skipif(not SHARED_SLURM.exists(), reason=f"{SHARED_SLURM} not present")
def test_shared_sample_is_byte_identical(tmp_path: Path) -> None:
    got = _run(tmp_path, SHARED_SLURM.read_text(encoding="utf-8"), ["--fields", APEL_FIELDS])
    _compare(got, _golden("shared_apel_slurm"))


def _regenerate(tmp: Path) -> None:  # pragma: no cover - run by hand for a deliberate change
    """Rewrite the golden files from the code as it is (`tmp`: a scratch directory)."""
    runs = {case: (INPUTS[source](), extra) for case, (source, extra) in CASES.items()}
    if SHARED_SLURM.exists():
        runs["shared_apel_slurm"] = (SHARED_SLURM.read_text(encoding="utf-8"), ["--fields", APEL_FIELDS])
    for case, (text, extra) in runs.items():
        code, ndjson, summary = _run(tmp, text, extra)
        (DATA / f"{case}.ndjson.gz").write_bytes(gzip.compress(ndjson, mtime=0))
        (DATA / f"{case}.stderr").write_text("\n".join([f"exit {code}", *summary]) + "\n", encoding="utf-8")
