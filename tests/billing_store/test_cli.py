"""`tally billing` as a user runs it: a real process, TALLY_HOME, exit codes, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from tests.billing_store.helpers import CUR_FINAL, FINAL_ACCOUNT, GCP_EXPORT, not_final_of_final_account

TALLY = str(Path(sys.executable).parent / "tally")


def tally(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TALLY_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([TALLY, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def stored_rows(home: Path) -> list[dict[str, object]]:
    files = sorted((home / "warehouse" / "billing").glob("provider=*/billing_period=*/*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_import_restate_and_list(tmp_path: Path) -> None:
    home = tmp_path / "home"
    not_final = tmp_path / "june-not-final.csv"
    not_final.write_bytes(not_final_of_final_account())

    done = tally(home, "billing", "import", str(not_final), str(GCP_EXPORT), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [d["source_files"] for d in report["deliveries"]] == [[not_final.name], [GCP_EXPORT.name]]
    assert [d["provider"] for d in report["deliveries"]] == ["aws", "gcp"]
    assert report["failures"] == []
    assert len(stored_rows(home)) == sum(p["rows"] for d in report["deliveries"] for p in d["partitions"])

    # The final month, in the human format: a summary table and the replaced partition named.
    final = tally(home, "billing", "import", str(CUR_FINAL))
    assert final.returncode == 0, final.stderr
    assert CUR_FINAL.name in final.stdout and "replaced" in final.stdout
    assert f"replaced aws account {FINAL_ACCOUNT} period 2023-06" in final.stdout
    aws = [r for r in stored_rows(home) if r["provider"] == "aws"]
    assert len(aws) == 3 and {r["source_file"] for r in aws} == {CUR_FINAL.name}

    listed = json.loads(tally(home, "billing", "list", "--json").stdout)
    assert {(m["provider"], m["billing_period"], m["rows"]) for m in listed} == {
        ("aws", "2023-06", 3),
        ("gcp", "2026-02", sum(1 for r in stored_rows(home) if r["provider"] == "gcp")),
    }


def test_a_bad_file_fails_alone_with_exit_code_1(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = tmp_path / "notes.csv"
    bad.write_text("title,body\nhello,world\n")
    lab = tmp_path / "lab.csv"
    lab.write_text(
        "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,"
        "ChargeCategory,BilledCost,EffectiveCost,ProviderName\n"
        "lab-1,2025-05-01T00:00:00Z,2025-06-01T00:00:00Z,2025-05-02T00:00:00Z,2025-05-02T01:00:00Z,"
        "Usage,4.25,4.25,Lab Cloud\n"
    )
    done = tally(home, "billing", "import", str(bad), str(lab), "--currency", "chf")
    assert done.returncode == 1
    assert "notes.csv" in done.stderr and "error" in done.stderr.lower()
    assert "Traceback" not in done.stderr
    [row] = stored_rows(home)
    assert (row["provider"], row["billing_currency"], row["source_file"]) == ("lab-cloud", "CHF", "lab.csv")

    wrong = tally(home, "billing", "import", str(lab), "--default", "billing_period=2025-01")
    assert wrong.returncode == 1 and "billing_period" in wrong.stderr


def test_imports_are_attributed_to_the_operator_or_to_a_named_site(tmp_path: Path) -> None:
    home = tmp_path / "home"
    site_file = tmp_path / "site.csv"
    site_file.write_bytes(not_final_of_final_account())
    assert tally(home, "sites", "add", "FIN").returncode == 0
    assert tally(home, "billing", "import", str(site_file), "--site", "FIN").returncode == 0
    # The operator (no --site) may not restate FIN's account; nothing of the file is stored.
    refused = tally(home, "billing", "import", str(CUR_FINAL))
    assert refused.returncode == 1 and "belong to another owner" in refused.stderr
    assert {r["source_file"] for r in stored_rows(home)} == {site_file.name}
    # On FIN's behalf it may; a GCP account nobody had becomes the operator's.
    assert tally(home, "billing", "import", str(CUR_FINAL), "--site", "FIN").returncode == 0
    assert tally(home, "billing", "import", str(GCP_EXPORT)).returncode == 0
    owners = {m["provider"]: m["owner"] for m in json.loads(tally(home, "billing", "list", "--json").stdout)}
    assert owners == {"aws": "FIN", "gcp": "@operator"}
    unknown = tally(home, "billing", "import", str(GCP_EXPORT), "--site", "NOWHERE")
    assert unknown.returncode == 1 and "no site named 'NOWHERE'" in unknown.stderr
