"""Every field of every fixture replaced by hostile values: each message gets an answer (records
accepted or quarantined, or the message refused with a 4xx problem), never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from tally.api.problem_handlers import problem_for
from tally.domain.errors import RequestRefused
from tally.services.container import Services
from tests.apel.helpers import APEL_FIXTURES, fresh, who

HOSTILE = (
    "",
    "-1",
    "9" * 30,
    "9" * 5000,
    "1e400",
    "nan",
    "inf",
    "{",
    "{a:1}",
    "{HEPscore23: -1}",
    "{HEPscore23: 1, HEPscore23: 2}",
    "\x00\x1b[31m",
    "253402300800",
    "None",
    "3.5",
    "０",
)
TEXT_FIXTURES = sorted(p.name for p in APEL_FIXTURES.glob("*.txt"))


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Services:
    return fresh(tmp_path_factory.mktemp("mutations"))


@pytest.mark.parametrize("name", TEXT_FIXTURES)
def test_hostile_values_in_every_field(svc: Services, name: str) -> None:
    lines = (APEL_FIXTURES / name).read_text().splitlines()
    answered = 0
    for number, line in enumerate(lines[1:], start=1):
        key, colon, _ = line.partition(":")
        if not colon or key == "Site" or key == "SiteName":
            continue
        for value in HOSTILE:
            mutated = [*lines[:number], f"{key}: {value}", *lines[number + 1 :]]
            try:
                result = svc.apel.import_message("\n".join(mutated).encode(), who())
            except RequestRefused as refused:
                problem = problem_for(refused)
                assert 400 <= problem.status < 500, (name, key, value, problem.detail)
                continue
            assert result.accepted + result.rejected + result.duplicates >= 1, (name, key, value)
            answered += 1
    assert answered > 0


def test_the_fixtures_are_all_exercised() -> None:
    assert len(TEXT_FIXTURES) >= 11 and Path(APEL_FIXTURES / "star.xml").is_file()
