"""`install-cron`: the crontab line that runs the agent, printed or added to the user's crontab.

`install` runs `crontab -l` / `crontab -`; the environment variable TALLY_AGENT_CRONTAB names
another program with the same interface (for tests and packaging).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

MARK = "# tally-agent"


def agent_command(config_path: Optional[str]) -> List[str]:
    """How this very agent is started: the zipapp file, the console script, or `-m tally_agent`."""
    entry = Path(sys.argv[0]).resolve()
    if entry.suffix == ".pyz":
        command = [sys.executable, str(entry)]
    elif entry.name == "tally-agent":
        command = [str(entry)]
    else:
        command = [sys.executable, "-m", "tally_agent"]
    command.append("run")  # options belong to the subcommand: `tally-agent run --config FILE`
    if config_path:
        command += ["--config", str(Path(config_path).resolve())]
    return command


def cron_line(config_path: Optional[str], minutes: int = 15) -> str:
    if not 1 <= minutes <= 60:
        raise ValueError("interval must be 1..60 minutes")
    schedule = "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    command = " ".join(shlex.quote(part) for part in agent_command(config_path))
    return f"{schedule} {command} >/dev/null 2>&1 {MARK}"


def install(line: str) -> str:
    """Replace any earlier tally-agent line in the user's crontab with `line`."""
    crontab = shlex.split(os.environ.get("TALLY_AGENT_CRONTAB") or "crontab")
    current = subprocess.run([*crontab, "-l"], capture_output=True, text=True, check=False)
    if current.returncode != 0 and "no crontab" not in current.stderr.lower():
        # Reading failed for another reason: writing now could wipe the user's other lines.
        raise ValueError(
            f"cannot read the crontab ({current.stderr.strip() or current.returncode}); not changed"
        )
    kept = [row for row in current.stdout.splitlines() if MARK not in row] if current.returncode == 0 else []
    text = "\n".join([*kept, line]) + "\n"
    written = subprocess.run([*crontab, "-"], input=text, capture_output=True, text=True, check=False)
    if written.returncode != 0:
        raise ValueError(f"crontab refused the new table: {written.stderr.strip() or written.returncode}")
    return text
