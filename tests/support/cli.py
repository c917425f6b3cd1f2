"""The `tally` command of this venv, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TALLY = str(Path(sys.executable).parent / "tally")


def tally(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TALLY_HOME": str(home)}
    return subprocess.run([TALLY, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
