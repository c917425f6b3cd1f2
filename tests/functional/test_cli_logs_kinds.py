"""`tally logs import` and `tally kinds define|list|show` as a user runs them (real processes)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tally.services.container import Services
from tests.functional.kind_specs import ENERGY
from tests.support.cli import tally
from tests.support.deployments import local_settings
from tests.support.paths import FIXTURES
from tests.support.warehouse import rows


def test_logs_import_stores_a_sites_log_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tally(home, "sites", "add", "NORTH-HPC").returncode == 0
    log = tmp_path / "accounting.gz"
    log.write_bytes(gzip.compress((FIXTURES / "batch" / "sacct_parsable2.txt").read_bytes()))
    args = ("logs", "import", "slurm", str(log), "--site", "NORTH-HPC", "--resource", "hex")
    first = tally(home, *args, "--json")
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert (result["records"], result["accepted"], result["unparsable"], result["replayed"]) == (
        3,
        3,
        1,
        False,
    )
    again = tally(home, *args)
    assert again.returncode == 0 and "already imported, nothing new written" in again.stdout
    assert "line 6: 1 fields, expected 16" in again.stdout
    stored = rows(Services(local_settings(home)).warehouse, "jobs")
    assert sorted(str(r["local_job_id"]) for r in stored) == ["7001", "7002", "7004"]
    assert {(r["site"], r["resource"]) for r in stored} == {("NORTH-HPC", "hex")}
    unknown = tally(home, "logs", "import", "slurm", str(log), "--site", "NOWHERE", "--resource", "hex")
    assert unknown.returncode == 1 and "no site named 'NOWHERE'" in unknown.stderr
    garbage = tmp_path / "garbage.log"
    garbage.write_text("hello\n")
    refused = tally(home, "logs", "import", "pbs", str(garbage), "--site", "NORTH-HPC", "--resource", "hex")
    assert refused.returncode == 1 and "nothing in 1 non-blank lines was recognised" in refused.stderr


def test_kinds_define_list_show_and_refuse(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tally(home, "sites", "add", "NORTH-HPC").returncode == 0
    spec = tmp_path / "energy.json"
    spec.write_text(json.dumps(ENERGY))
    defined = tally(home, "kinds", "define", "rack_energy", "--file", str(spec), "--site", "NORTH-HPC")
    assert defined.returncode == 0 and "kind rack_energy: defined" in defined.stdout
    listed = json.loads(tally(home, "kinds", "list", "--json").stdout)
    assert [(k["name"], k["owner_site"], k["version"]) for k in listed] == [("rack_energy", "NORTH-HPC", 1)]
    shown = json.loads(tally(home, "kinds", "show", "rack_energy").stdout)
    assert shown["spec"]["identity"] == ["rack", "hour_start"]
    spec.write_text(json.dumps({**ENERGY, "identity": ["rack"]}))
    changed = tally(home, "kinds", "define", "rack_energy", "--file", str(spec), "--site", "NORTH-HPC")
    assert changed.returncode == 1 and "identity changes" in changed.stderr
    spec.write_text(json.dumps({**ENERGY, "fields": [{"name": "select", "type": "string"}]}))
    keyword = tally(home, "kinds", "define", "rack_energy", "--file", str(spec), "--site", "NORTH-HPC")
    assert keyword.returncode == 1 and "SQL keyword" in keyword.stderr
    bad_name = tally(home, "kinds", "define", "Drop;", "--file", str(spec), "--site", "NORTH-HPC")
    assert bad_name.returncode == 1 and "not a valid name" in bad_name.stderr
    assert tally(home, "kinds", "show", "nothing").returncode == 1
