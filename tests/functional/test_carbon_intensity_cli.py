"""`tally registry ... carbon_intensity`: the command a user runs, against a TALLY_HOME of its own.
Entries are checked (overlap, values, unknown site) and every change is in the audit log."""

from __future__ import annotations

import json
from pathlib import Path

from tally.services.container import Services
from tests.support.cli import tally
from tests.support.deployments import local_settings


def test_add_list_remove_and_audit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tally(home, "sites", "add", "north").returncode == 0
    first = (
        '{"site": "north", "grams_co2e_per_kwh": 200, "valid_from": "2026-01-01T00:00:00Z", '
        '"valid_to": "2026-01-15T12:00:00Z"}'
    )
    second = '{"site": "north", "grams_co2e_per_kwh": 50, "valid_from": "2026-01-15T12:00:00Z"}'
    for entry in (first, second):
        added = tally(home, "registry", "add", "carbon_intensity", entry)
        assert added.returncode == 0, added.stderr
    overlapping = '{"site": "north", "grams_co2e_per_kwh": 10, "valid_from": "2026-02-01T00:00:00Z"}'
    refused = {
        "overlap": tally(home, "registry", "add", "carbon_intensity", overlapping),
        "negative": tally(
            home,
            "registry",
            "add",
            "carbon_intensity",
            '{"site": "north", "grams_co2e_per_kwh": -5, "valid_from": "2027-01-01T00:00:00Z"}',
        ),
        "unknown site": tally(
            home,
            "registry",
            "add",
            "carbon_intensity",
            '{"site": "nowhere", "grams_co2e_per_kwh": 5, "valid_from": "2027-01-01T00:00:00Z"}',
        ),
        "not json": tally(home, "registry", "add", "carbon_intensity", '{"site": "north", '),
    }
    for why, result in refused.items():
        assert result.returncode != 0, why
        assert "Traceback" not in result.stderr, (why, result.stderr)
    listed = tally(home, "registry", "list", "carbon_intensity")
    entries = json.loads(listed.stdout)
    assert sorted(e["grams_co2e_per_kwh"] for e in entries) == [50.0, 200.0]
    gone = next(e["entry_id"] for e in entries if e["grams_co2e_per_kwh"] == 50.0)
    assert tally(home, "registry", "remove", "carbon_intensity", gone).returncode == 0
    assert [
        e["grams_co2e_per_kwh"]
        for e in json.loads(tally(home, "registry", "list", "carbon_intensity").stdout)
    ] == [200.0]
    events = [
        (e.action, e.actor.startswith("cli:"), e.detail["kind"], e.detail["site"])
        for e in Services(local_settings(home)).people.store.list_audit()
        if e.action.startswith("registry.")
    ]
    assert events == [
        ("registry.add", True, "carbon_intensity", "north"),
        ("registry.add", True, "carbon_intensity", "north"),
        ("registry.delete", True, "carbon_intensity", "north"),
    ]
