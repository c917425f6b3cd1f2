"""Build dist/tally-agent.pyz: the agent as one file, runnable by any Python 3.9+ (stdlib only).

Usage: python agents/build_zipapp.py [--output dist/tally-agent.pyz]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import zipapp
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def build(output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        target = Path(staging) / "tally_agent"
        shutil.copytree(HERE / "tally_agent", target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        zipapp.create_archive(
            staging,
            target=output,
            interpreter="/usr/bin/env python3",
            main="tally_agent.cli:_zipapp_main",
            compressed=True,
        )
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=REPO / "dist" / "tally-agent.pyz")
    print(build(parser.parse_args().output))


if __name__ == "__main__":
    main()
