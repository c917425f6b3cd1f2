"""`tally-agent parse gpu` fills measured GPU time from nvidia-smi files named in the [gpu] options."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

from tally_agent import cli
from tests.agent.nvidia_samples import ACCOUNTING, JOB_MAP, MIB
from tests.agent.sacct_rows import HEADER, row


def test_parse_gpu_uses_accounting_files(tmp_path: Path) -> None:
    sacct = tmp_path / "sacct.txt"
    # Job 101 held two A100s for an hour (10:00 to 11:00 UTC).
    sacct.write_text("\n".join([HEADER, row("101", tres="cpu=4,gres/gpu:a100=2")]) + "\n")
    (tmp_path / "map").write_text(JOB_MAP)
    (tmp_path / "acct.csv").write_text(ACCOUNTING)
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(
            [
                "parse",
                "gpu",
                str(sacct),
                "--site",
                "TEST-SITE",
                "--resource",
                "cluster1",
                "--timezone",
                "UTC",
                "-o",
                f"gpu.job_map={tmp_path / 'map'}",
                "-o",
                f"gpu.accounting_files={tmp_path / 'acct.csv'}",
            ]
        )
    (record,) = [json.loads(line) for line in out.getvalue().splitlines() if line]
    # Worked by hand in test_nvidia: GPU A 1500.084 s busy, GPU B 3600 s, per device (sum / 2).
    assert record["associated_id"] == "101" and record["count"] == 2
    assert record["active_seconds"] == 2550
    assert record["memory_bytes"] == (20480 + 30000) * MIB
    assert code in (0, 3)  # 3: the shared accounting fixture holds deliberately broken lines
