"""Durations and memory sizes as batch systems print them, turned into seconds and bytes."""

from __future__ import annotations

from typing import Optional

_BINARY = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5, "E": 1024**6}


class UnitError(ValueError):
    """A value that cannot be read as the unit it should carry."""


def parse_duration(text: str) -> int:
    """Seconds from every form Slurm and PBS print: `SS`, `MM:SS`, `HH:MM:SS`, `D-HH:MM:SS`,
    `D-HH`, `D-HH:MM`, each with an optional `.fff` fraction (rounded), or plain seconds."""
    value = text.strip()
    if not value:
        raise UnitError("empty duration")
    days = 0
    if "-" in value:
        day_text, _, value = value.partition("-")
        if not day_text.isdigit():
            raise UnitError(f"bad duration {text!r}")
        days = int(day_text)
        parts = value.split(":")
        # After a day count, the first field is always hours (D-HH, D-HH:MM, D-HH:MM:SS).
        while len(parts) < 3:
            parts.append("0")
    else:
        parts = value.split(":")
        if len(parts) > 3:
            raise UnitError(f"bad duration {text!r}")
        while len(parts) < 3:
            parts.insert(0, "0")
    hours, minutes = parts[0], parts[1]
    seconds, _, fraction = parts[2].partition(".")
    seconds = seconds or "0"
    if not (hours.isdigit() and minutes.isdigit() and seconds.isdigit()) or not (
        fraction.isdigit() or not fraction
    ):
        raise UnitError(f"bad duration {text!r}")
    rounding = 1 if fraction and fraction[0] >= "5" else 0  # `01:05.753` is 66 s
    return ((days * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds) + rounding


def parse_memory(text: str, default_unit: str = "") -> Optional[int]:
    """Bytes from `123`, `438.50M`, `1567524K`, `2.22G`, `1000kb`, `2000mb`; None when empty.

    Suffixes are binary (K = 1024), as Slurm, PBS and LSF print them; `default_unit` applies to a
    bare number. A value that is not a number with a known suffix (e.g. `16?`) raises UnitError.
    """
    value = text.strip()
    if not value:
        return None
    upper = value.upper()
    if upper.endswith("B") and len(upper) > 1 and upper[-2] in _BINARY:
        upper = upper[:-1]
    suffix = upper[-1] if upper[-1].isalpha() else ""
    number = upper[:-1] if suffix else upper
    if suffix not in _BINARY:
        raise UnitError(f"bad memory value {text!r}")
    try:
        amount = float(number)
    except ValueError:
        raise UnitError(f"bad memory value {text!r}") from None
    if amount < 0 or amount != amount:
        raise UnitError(f"bad memory value {text!r}")
    return int(amount * _BINARY[suffix or default_unit.upper()])


def parse_int(text: str) -> Optional[int]:
    """An integer, None when empty or when the source printed a placeholder."""
    value = text.strip()
    if not value or value in ("-", "None", "NONE", "Unknown", "N/A"):
        return None
    return int(value)
