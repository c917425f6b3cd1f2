"""Interpreters the agent must run under beside the suite's own."""

from __future__ import annotations

import shutil
from pathlib import Path


def python39() -> str:
    """A real Python 3.9 (the oldest the agent supports), if this machine has one."""
    candidates = sorted(Path.home().glob(".pyenv/versions/3.9*/bin/python3.9"))
    found = shutil.which("python3.9")
    return str(candidates[0]) if candidates else (found or "")
