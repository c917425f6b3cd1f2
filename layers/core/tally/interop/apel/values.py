"""APEL field values: integers, epoch times, months, benchmark maps, FQANs.

Rules from APEL 2.5.0 `apel/db/records/record.py` (`checked`, `_check_fields`,
`_clean_up_dict`, `_extract_benchmark_dict`) and `apel/common/parsing_utils.py` (`parse_fqan`).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from tally.interop.apel.messages import is_null

#: APEL's benchmark names (lower case) -> Tally's. APEL accepts si2k, hepspec and hepscore23 in any
#: case (`JobRecord._valid_slts`); `HEPSPEC` is its name for HS06.
BENCHMARKS: dict[str, str] = {"si2k": "si2k", "hepspec": "HS06", "hs06": "HS06", "hepscore23": "HEPscore23"}
#: Tally's benchmark names -> the spelling APEL writes in its messages.
APEL_BENCHMARK: dict[str, str] = {"si2k": "si2k", "HS06": "HEPSPEC", "HEPscore23": "HEPscore23"}
#: When a map names several benchmarks, APEL takes the first known of these (`_extract_benchmark_dict`).
PRIORITY: tuple[str, ...] = ("hepscore23", "hepspec", "hs06", "si2k")
MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z, the last instant Tally's times can hold
INT64_MAX = 2**63 - 1  # the largest count a Parquet INT64 column holds


class FieldProblem(ValueError):  # noqa: N818 (a problem of one field, reported, not raised out)
    """One field of one record is unusable: quarantined with the APEL field name and the reason."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class Fields:
    """A record's `Key: Value` fields with typed, null-aware, mandatory-aware accessors."""

    def __init__(self, values: dict[str, str], mandatory: tuple[str, ...], aliases: dict[str, str]) -> None:
        self.values = {aliases.get(k, k): v for k, v in values.items()}
        self.used: set[str] = set()
        for name in mandatory:
            if is_null(self.values.get(name)):
                raise FieldProblem(name, f"mandatory field {name} is missing or null")

    def text(self, name: str) -> str | None:
        self.used.add(name)
        value = self.values.get(name)
        return None if is_null(value) else str(value).strip()

    def integer(self, name: str, minimum: int | None = 0) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise FieldProblem(name, f"{name} is not an integer: {value[:40]!r}") from None
        if minimum is not None and number < minimum:
            raise FieldProblem(name, f"{name} is {number}, less than {minimum}")
        if number > INT64_MAX:
            raise FieldProblem(name, f"{name} is larger than {INT64_MAX}")
        return number

    def number(self, name: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise FieldProblem(name, f"{name} is not a number: {value[:40]!r}") from None
        if not number == number or number in (float("inf"), float("-inf")) or number < 0:
            raise FieldProblem(name, f"{name} is not a finite number of at least 0: {value[:40]!r}")
        return number

    def epoch(self, name: str) -> datetime | None:
        """An epoch-seconds time (APEL also reads ISO 8601 `...Z`, as CAR and StAR carry)."""
        value = self.text(name)
        if value is None:
            return None
        try:
            seconds = int(value)
        except ValueError:
            try:
                return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except ValueError:
                raise FieldProblem(
                    name, f"{name} is neither epoch seconds nor ISO 8601: {value[:40]!r}"
                ) from None
        if not 0 <= seconds <= MAX_EPOCH:
            raise FieldProblem(name, f"{name} is {seconds}: epoch seconds must lie in 0 to {MAX_EPOCH}")
        return datetime.fromtimestamp(seconds, UTC)

    def month_start(self) -> datetime:
        """The first instant of `Year`/`Month` (zero-padded months such as `03` are fine)."""
        month = self.integer("Month")
        year = self.integer("Year")
        if month is None or not 1 <= month <= 12:
            raise FieldProblem("Month", f"Month is {month}: it must be 1 to 12")
        if year is None or not 1970 <= year <= 9999:
            raise FieldProblem("Year", f"Year is {year}: it must be 1970 to 9999")
        return datetime(year, month, 1, tzinfo=UTC)

    def benchmark_map(self, name: str) -> dict[str, float] | None:
        """A v0.4 map such as `{HEPscore23: 10.4, hepspec: 11.3}`, keyed by Tally's benchmark names."""
        value = self.text(name)
        if value is None:
            return None
        inner = value.strip()
        if not (inner.startswith("{") and inner.endswith("}")):
            raise FieldProblem(name, f"{name} is not a `{{benchmark: value}}` map: {value[:60]!r}")
        out: dict[str, float] = {}
        for element in inner[1:-1].split(","):
            key, colon, number = element.partition(":")
            key = key.strip().lower()
            try:
                parsed = float(number)
            except ValueError:
                raise FieldProblem(
                    name, f"{name} has an entry that is not `name: number`: {element.strip()[:40]!r}"
                ) from None
            if not colon or key not in BENCHMARKS:
                raise FieldProblem(
                    name, f"{name} names an unknown benchmark {key[:40]!r} (known: si2k, hepspec, hepscore23)"
                )
            if not parsed == parsed or parsed in (float("inf"), float("-inf")) or parsed < 0:
                raise FieldProblem(name, f"{name} has a value that is not a finite number of at least 0")
            tally = BENCHMARKS[key]
            if tally in out:
                raise FieldProblem(name, f"{name} names {tally} twice")
            out[tally] = parsed
        return out

    def unused(self) -> dict[str, str]:
        """Fields no accessor read: kept aside, never silently dropped."""
        return {k: v for k, v in self.values.items() if k not in self.used and not is_null(v)}


def preferred(values: dict[str, float]) -> tuple[str, float] | None:
    """The benchmark APEL would keep from a map (HEPscore23, then HEPSPEC, then si2k)."""
    for name in PRIORITY:
        tally = BENCHMARKS[name]
        if tally in values:
            return tally, values[tally]
    return None


def benchmark_name(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    name = BENCHMARKS.get(value.strip().lower())
    if name is None:
        raise FieldProblem(
            field, f"{field} {value[:40]!r} is not a benchmark Tally knows (si2k, hepspec, hepscore23)"
        )
    return name


def parse_fqan(fqan: str) -> tuple[str | None, str | None, str | None]:
    """(vo, vo_group, vo_role) of the first FQAN, as APEL's `parse_fqan` reads it: a FQAN not
    starting with `/` is all VO; the group is every piece before `Role=`."""
    first = fqan.split(";")[0].strip()
    if not first:
        return None, None, None
    if not first.startswith("/"):
        return first, None, None
    pieces = [p for p in first.split("/") if p]
    if not pieces:
        return None, None, None
    group, role = "", None
    for piece in pieces:
        if piece.lower().startswith("role="):
            role = piece
            break
        group += "/" + piece
    return pieces[0], group or None, role


def epoch_seconds(value: datetime) -> int:
    return calendar.timegm(value.utctimetuple())
