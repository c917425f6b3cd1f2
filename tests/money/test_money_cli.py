"""`tally tariffs ...` and `tally invoices ...` as a person runs them: the real console script on the
same TALLY_HOME as a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pypdf

from tests.support.money import PROJECT, Money, put_tariffs


def _tally(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TALLY_HOME": str(home)}
    tally = Path(sys.executable).with_name("tally")
    return subprocess.run([str(tally), *args], env=env, capture_output=True, text=True, timeout=120)


def test_tariffs_and_invoices_from_the_command_line(money: Money, tmp_path: Path) -> None:
    home = money.services.settings.home
    put_tariffs(money)
    # One more tariff by the CLI: VM memory at SITE-A, none used in the test data, so totals hold.
    made = _tally(
        home, "tariffs", "set", "a-mem", "--site", "SITE-A", "--resource", "cloud1", "--unit", "vm_gb_hour",
        "--rate", "0.001", "--currency", "EUR", "--from", "2026-01-01T00:00:00Z",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    listed = json.loads(_tally(home, "tariffs", "list", "--site", "SITE-B").stdout)
    assert [t["tariff_id"] for t in listed] == ["b-core"]
    bad = _tally(home, "tariffs", "set", "x", "--site", "SITE-A", "--resource", "r", "--unit", "gpu_hour",
                 "--rate", "NaN", "--currency", "EUR", "--from", "2026-01-01T00:00:00Z")  # fmt: skip
    assert bad.returncode == 1 and "rate" in bad.stderr and "Traceback" not in bad.stderr

    issued = _tally(home, "invoices", "issue", PROJECT, "2026-03")
    assert issued.returncode == 0, issued.stderr
    invoice = json.loads(issued.stdout)
    assert (invoice["number"], invoice["totals"]) == ("INV-000001", {"CHF": "3.20", "EUR": "7.62"})
    target = tmp_path / "out.pdf"
    assert (
        _tally(home, "invoices", "download", "INV-000001", "--format", "pdf", "-o", str(target)).returncode
        == 0
    )
    assert "7.62" in pypdf.PdfReader(target).pages[0].extract_text()
    credited = json.loads(_tally(home, "invoices", "credit", "INV-000001").stdout)
    assert credited["credit_note"]["totals"] == {"CHF": "-3.20", "EUR": "-7.62"}
    numbers = [i["number"] for i in json.loads(_tally(home, "invoices", "list").stdout)]
    assert numbers == ["INV-000001", "INV-000002", "INV-000003"]
    shown = json.loads(_tally(home, "invoices", "show", "INV-000002").stdout)
    assert shown["credits"] == "INV-000001"
    again = _tally(home, "invoices", "credit", "INV-000001")
    assert again.returncode == 1 and "credited already" in again.stderr
    assert _tally(home, "tariffs", "remove", "a-mem").returncode == 0
    assert _tally(home, "tariffs", "show", "a-mem").returncode == 1


def test_a_token_makes_the_command_act_as_its_person(money: Money) -> None:
    home = money.services.settings.home
    put_tariffs(money)
    assert _tally(home, "invoices", "issue", PROJECT, "2026-03").returncode == 0  # INV-000001
    assert _tally(home, "invoices", "issue", "other", "2026-03").returncode == 0  # INV-000002
    manager = money.tokens["project_manager"]
    listed = _tally(home, "invoices", "list", "--token", manager)
    assert listed.returncode == 0, listed.stderr
    assert [i["number"] for i in json.loads(listed.stdout)] == ["INV-000001"]
    hidden = _tally(home, "invoices", "show", "INV-000002", "--token", manager)
    assert hidden.returncode == 1 and "no invoice 'INV-000002'" in hidden.stderr
    refused = _tally(home, "invoices", "issue", PROJECT, "2026-03", "--token", money.tokens["user"])
    assert refused.returncode == 1 and "no grant allows money:manage" in refused.stderr
    site_a = json.loads(_tally(home, "tariffs", "list", "--token", money.tokens["site_manager"]).stdout)
    assert {t["site"] for t in site_a} == {"SITE-A"}
    bad = _tally(home, "tariffs", "list", "--token", "tlp_0000000000000000_nothing")
    assert bad.returncode == 1 and "not valid" in bad.stderr
    # The cost tag mapping, set by finance's token and read back.
    tags = _tally(home, "tariffs", "cost-tags", "--key", "project", "--key", "team", "--value",
                  f"lqcd={PROJECT}", "--token", money.finance)  # fmt: skip
    assert tags.returncode == 0, tags.stderr
    assert json.loads(tags.stdout)["tag_keys"] == ["project", "team"]
    assert json.loads(_tally(home, "tariffs", "cost-tags").stdout)["values"] == {"lqcd": PROJECT}
    twice = _tally(home, "tariffs", "cost-tags", "--key", "Team", "--key", "team")
    assert twice.returncode == 1 and "twice" in twice.stderr
