"""Timestamps: local or UTC text and epoch numbers in, ISO-8601 UTC with `Z` out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Optional

from tally_agent.units import UnitError

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_UNSET = ("", "Unknown", "None", "NONE", "0", "-", "N/A")


def site_zone(name: str) -> tzinfo:
    """The site's time zone from an IANA name (`UTC` when empty)."""
    if not name or name.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def iso_z(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` in UTC, seconds precision."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_epoch(seconds: float) -> datetime:
    """A UTC datetime from epoch seconds (rounded to the nearest second)."""
    return EPOCH + timedelta(seconds=int(seconds + 0.5) if seconds >= 0 else int(seconds))


def parse_epoch(text: str) -> Optional[datetime]:
    """Epoch seconds (or milliseconds, recognised by size) as text; None for 0 or a placeholder."""
    value = text.strip()
    if value in _UNSET:
        return None
    try:
        number = float(value)
    except ValueError:
        raise UnitError(f"bad epoch time {text!r}") from None
    if number <= 0:
        return None
    if number > 1e11:  # milliseconds (Univa/Altair Grid Engine >= 8.2): 1e11 s is the year 5138
        number /= 1000.0
    return from_epoch(number)


def parse_local(text: str, zone: tzinfo, fmt: str = "%Y-%m-%dT%H:%M:%S") -> Optional[datetime]:
    """A wall-clock time as the site printed it; an explicit `Z` or offset wins over `zone`."""
    value = text.strip()
    if value in _UNSET:
        return None
    if value.endswith("Z"):
        return datetime.strptime(value[:-1], fmt).replace(tzinfo=timezone.utc)
    try:
        moment = datetime.strptime(value, fmt)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise UnitError(f"bad time {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(timezone.utc)


def parse_iso_z(text: str) -> datetime:
    """The inverse of `iso_z` (also accepts fractions and offsets)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


class LocalTimes:
    """Fast `YYYY-MM-DDTHH:MM:SS` (site wall clock) to ISO UTC text, for millions of lines.

    UTC input passes through after a shape check; other zones convert through a per-hour cache
    of UTC offsets (an offset only changes on the hour in every real zone; an hour that happens
    twice at a DST change is read as its first occurrence).
    """

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self.utc = zone is timezone.utc
        self._offsets: dict[str, timedelta] = {}

    def to_iso(self, text: str) -> Optional[str]:
        if len(text) != 19 or text[10] != "T" or text[4] != "-" or text[13] != ":":
            if text.endswith("Z") and len(text) == 20:
                return self.to_iso_utc(text[:-1])
            if text in _UNSET:
                return None
            moment = parse_local(text, self.zone)
            return None if moment is None else iso_z(moment)
        if self.utc:
            self._check(text)
            return text + "Z"
        naive = self._check(text)
        hour = text[:13]
        offset = self._offsets.get(hour)
        if offset is None:
            offset = naive.replace(tzinfo=self.zone).utcoffset() or timedelta(0)
            if len(self._offsets) > 10_000:
                self._offsets.clear()
            self._offsets[hour] = offset
        return (naive - offset).isoformat() + "Z"

    def to_iso_utc(self, text: str) -> str:
        self._check(text)
        return text + "Z"

    @staticmethod
    def _check(text: str) -> datetime:
        try:
            return datetime(
                int(text[0:4]),
                int(text[5:7]),
                int(text[8:10]),
                int(text[11:13]),
                int(text[14:16]),
                int(text[17:19]),
            )
        except ValueError:
            raise UnitError(f"bad time {text!r}") from None
