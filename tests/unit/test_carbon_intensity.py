"""The rules a set of carbon intensity entries keeps (pure domain, no storage)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tally.registry.entries import CarbonIntensity, Entry, RegistryError, check_entries


def entry(
    entry_id: str, site: str, start: str, end: str | None = None, grams: Any = 100.0
) -> CarbonIntensity:
    return CarbonIntensity.model_validate(
        {
            "entry_id": entry_id,
            "site": site,
            "grams_co2e_per_kwh": grams,
            "valid_from": start,
            "valid_to": end,
        }
    )


def test_back_to_back_intervals_and_other_sites_stand_together() -> None:
    entries: list[Entry] = [
        entry("a", "north", "2026-01-01T00:00:00Z", "2026-01-15T12:00:00Z"),
        entry("b", "north", "2026-01-15T12:00:00Z"),  # starts where the first ends: no overlap
        entry("c", "south", "2026-01-01T00:00:00Z"),  # same time, another site
    ]
    check_entries(entries)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-01-15T11:59:59Z", None),  # one second inside the first
        ("2025-12-01T00:00:00Z", "2026-01-01T00:00:01Z"),  # ends one second into it
        ("2025-01-01T00:00:00Z", None),  # open-ended around it
    ],
)
def test_overlapping_intervals_of_one_site_are_refused(start: str, end: str | None) -> None:
    first = entry("a", "north", "2026-01-01T00:00:00Z", "2026-01-15T12:00:00Z")
    with pytest.raises(RegistryError, match="overlap"):
        check_entries([first, entry("b", "north", start, end)])


@pytest.mark.parametrize(
    "grams", [-0.1, 2000.5, float("nan"), float("inf"), "NaN", "200", None, "lots", True]
)
def test_unusable_intensities_are_refused(grams: Any) -> None:
    with pytest.raises(ValidationError):
        entry("a", "north", "2026-01-01T00:00:00Z", grams=grams)


def test_zero_is_a_real_intensity_and_an_empty_interval_is_not() -> None:
    assert entry("a", "north", "2026-01-01T00:00:00Z", grams=0).grams_co2e_per_kwh == 0.0
    with pytest.raises(ValidationError, match="valid_to must be after valid_from"):
        entry("a", "north", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
