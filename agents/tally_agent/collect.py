"""Reading a source live: the command it runs (sacct, condor_history) or the files it writes."""

from __future__ import annotations

import os
import shlex
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Dict, Iterable, Iterator, List, Optional

from tally_agent.inputs import FileLines
from tally_agent.sources import htcondor, slurm

DEFAULT_FILES: Dict[str, str] = {
    "pbs": "/var/spool/pbs/server_priv/accounting",
    "torque": "/var/spool/torque/server_priv/accounting",
    "pbspro": "/var/spool/pbs/server_priv/accounting",
    "sge": "/opt/sge/default/common/accounting",
    "uge": "/opt/uge/default/common/accounting",
    "lsf": "/usr/share/lsf/work/cluster/logdir/lsb.acct",
}


class CollectError(RuntimeError):
    """The source command failed or its files are missing."""


def live_command(source: str, options: Dict[str, str], since: datetime) -> Optional[List[str]]:
    """The command that prints the source's accounting since `since`, or None for file sources."""
    if options.get("command"):
        return [*shlex.split(options["command"]), since.strftime("%Y-%m-%dT%H:%M:%S")]
    if source == "slurm":
        sacct = options.get("sacct", "sacct")
        return [
            *shlex.split(sacct),
            "--allusers",
            "--parsable2",
            f"--format={slurm.LIVE_FIELDS}",
            "--starttime",
            since.strftime("%Y-%m-%dT%H:%M:%S"),
            "--endtime",
            "now",
        ]
    if source == "htcondor":
        return htcondor.history_command(int(since.timestamp()))
    return None


def lines_since(source: str, options: Dict[str, str], since: datetime) -> Iterator[str]:
    """Lines of the source that may hold jobs ended after `since` (a superset; callers filter)."""
    command = live_command(source, options, since)
    if command is not None:
        yield from _run(command)
        return
    path = Path(options.get("file") or options.get("accounting") or DEFAULT_FILES.get(source, ""))
    if not str(path) or not path.exists():
        raise CollectError(f"{source}: accounting file or directory {path} not found (set `file`)")
    for file in _files(path, since):
        with open(file, encoding="utf-8", errors="replace") as handle:
            yield from handle


def _files(path: Path, since: datetime) -> List[Path]:
    """A file, or the daily files of a PBS accounting directory (YYYYMMDD) from `since` on."""
    if path.is_file():
        return [path]
    first = (since - timedelta(days=1)).strftime("%Y%m%d")
    return sorted(p for p in path.iterdir() if p.is_file() and p.name[:8].isdigit() and p.name[:8] >= first)


def _run(command: List[str]) -> Iterator[str]:
    env = dict(os.environ, TZ="UTC", SLURM_TIME_FORMAT="%Y-%m-%dT%H:%M:%S", LC_ALL="C")
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, errors="replace"
        )
    except OSError as exc:
        raise CollectError(f"cannot run {command[0]}: {exc}") from exc
    stdout: IO[str] = process.stdout  # type: ignore[assignment]
    yield from stdout
    _, err = process.communicate()
    if process.returncode != 0:
        raise CollectError(f"{command[0]} exited with {process.returncode}: {err.strip()[:500]}")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def read_files(paths: Iterable[str]) -> FileLines:
    """Lines of every file in turn (`-` is standard input); parsers may also take them file by file."""
    return FileLines(paths)
