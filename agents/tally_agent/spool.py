"""The on-disk outbox: every batch is written here (atomically) before it is posted, and removed
only once the server has answered for it, so a crash, a kill or an outage loses nothing.

Layout: `<spool>/outbox/<kind>/<ns>-<digest>.ndjson.gz` (the exact gzip body that is posted, so a
resend is byte-identical and the server's content-derived batch id makes it idempotent), failed
batches the server refused go to `<spool>/refused/`, and `<spool>/backoff.json` holds the retry
schedule between runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from pathlib import Path
from typing import Iterator, List, Tuple


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    try:
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.outbox = root / "outbox"
        self.refused = root / "refused"

    def put(self, kind: str, gzip_body: bytes) -> Path:
        digest = hashlib.sha256(gzip_body).hexdigest()[:20]
        path = self.outbox / kind / f"{time.time_ns():020d}-{digest}.ndjson.gz"
        atomic_write(path, gzip_body)
        return path

    def pending(self) -> Iterator[Tuple[str, Path]]:
        """(kind, file), oldest first across kinds."""
        entries: List[Tuple[str, str, Path]] = []
        if self.outbox.is_dir():
            for kind_dir in self.outbox.iterdir():
                if kind_dir.is_dir():
                    entries += [(p.name, kind_dir.name, p) for p in kind_dir.glob("*.ndjson.gz")]
        for _, kind, path in sorted(entries):
            yield kind, path

    def count(self) -> int:
        return sum(1 for _ in self.pending())

    def done(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def refuse(self, kind: str, path: Path, reason: str) -> None:
        target = self.refused / kind / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
        atomic_write(target.with_name(target.name + ".reason.json"), json.dumps({"reason": reason}).encode())


class Backoff:
    """Exponential backoff with jitter between runs, persisted next to the spool."""

    def __init__(self, path: Path, base: float, cap: float) -> None:
        self.path = path
        self.base = base
        self.cap = cap

    def _load(self) -> Tuple[int, float]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return int(data.get("failures", 0)), float(data.get("next_attempt", 0.0))
        except (OSError, ValueError):
            return 0, 0.0

    def wait_left(self) -> float:
        _, next_attempt = self._load()
        return max(0.0, next_attempt - time.time())

    def failed(self) -> float:
        failures, _ = self._load()
        failures += 1
        delay = delay_for(failures, self.base, self.cap)
        atomic_write(
            self.path, json.dumps({"failures": failures, "next_attempt": time.time() + delay}).encode()
        )
        return delay

    def succeeded(self) -> None:
        if self.path.exists():
            self.path.unlink()


def delay_for(attempt: int, base: float, cap: float) -> float:
    """`base * 2**(attempt-1)`, capped, times a random factor in [0.5, 1.0): never over the cap,
    and agents that failed together still spread their retries out (also once at the cap)."""
    if base <= 0:
        return 0.0
    return float(min(cap, base * (2 ** max(attempt - 1, 0))) * (0.5 + random.random() / 2))
