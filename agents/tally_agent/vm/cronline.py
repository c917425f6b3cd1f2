"""The crontab line that runs `tally-agent vm` (every 15 minutes by default).

The options follow the subcommand: `tally-agent vm --config FILE` (they belong to it, not to
the top-level parser). The line carries the same mark as the `run` line, so `--install`
replaces an earlier tally-agent line in the crontab."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

from tally_agent import cron


def cron_line(config_path: Optional[str], minutes: int = 15) -> str:
    if not 1 <= minutes <= 60:
        raise ValueError("interval must be 1..60 minutes")
    schedule = "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    command = [*cron.agent_command(None)[:-1], "vm"]
    if config_path:
        command += ["--config", str(Path(config_path).resolve())]
    return f"{schedule} {' '.join(shlex.quote(p) for p in command)} >/dev/null 2>&1 {cron.MARK}"
