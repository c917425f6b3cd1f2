"""Vectorised conversions of raw billing strings: nulls, decimals, timestamps, per-unique-value maps.

Each converter returns the converted array and a mask of values that were present but could not be
converted, so the caller can reject those rows with the right rule instead of losing them.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from tally.billing.focus_schema import MONEY, MONEY_LIMIT_DIGITS, MONEY_SCALE, TIMESTAMP

#: Strings that mean "no value" in the exports we read (the FOCUS 1.0 sample writes "NULL").
NULL_TOKENS = pa.array(["", "NULL", "null", "Null"], pa.string())

_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
# Spreadsheet-formatted money: optional currency sign, thousands separators in groups of three,
# a dot for decimals ("$10,000.00"). Only this unambiguous shape is accepted and normalised.
_FORMATTED_MONEY = r"^[+-]?[$€£¥]?[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$"
_QUANT = decimal.Decimal(1).scaleb(-MONEY_SCALE)
#: Read numbers exactly to 40 places (35 integer digits; a sum still fits 76) before fitting MONEY.
_WIDE = pa.decimal256(75, 40)
_DEC_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN, Emax=10_000, Emin=-10_000)


def false_mask(n: int) -> pa.Array:
    return pa.repeat(pa.scalar(False, pa.bool_()), n)


def as_mask(mask: pa.Array) -> pa.Array:
    """A boolean mask with nulls read as False."""
    return pc.fill_null(mask, False)


def clean(arr: pa.Array) -> pa.Array:
    """Trim whitespace and turn empty strings and NULL tokens into nulls."""
    trimmed = pc.utf8_trim_whitespace(arr)
    tokens = pc.is_in(trimmed, value_set=NULL_TOKENS)
    if not pc.any(tokens).as_py():
        return trimmed  # most columns hold no "no value" token: skip building a second array
    return pc.if_else(tokens, pa.scalar(None, pa.string()), trimmed)


def present(arr: pa.Array) -> pa.Array:
    return pc.is_valid(arr)


def _py_decimal(text: str) -> tuple[decimal.Decimal | None, bool]:
    """(value at MONEY_SCALE, whether that rounded it); None when not a finite number that fits."""
    try:
        value = _DEC_CONTEXT.create_decimal(text)
    except (decimal.DecimalException, ValueError):  # not a number, or an exponent beyond Emax
        return None, False
    if not value.is_finite():
        return None, False
    try:
        rounded = value.quantize(_QUANT, context=_DEC_CONTEXT)
    except decimal.InvalidOperation:
        return None, False
    if rounded != 0 and rounded.adjusted() >= MONEY_LIMIT_DIGITS:
        return None, False
    return rounded, rounded != value


class Decimals(NamedTuple):
    """What `to_decimal` read: the values, and masks and texts of the values that needed care."""

    #: MONEY; a value written with more than MONEY_SCALE places is rounded half-even there ...
    values: pa.Array
    #: present but not a number, or beyond MONEY_LIMIT_DIGITS integer digits (the value is null)
    bad: pa.Array
    #: spreadsheet-formatted money ("$10,000.00") that was normalised
    reformatted: pa.Array
    #: ... and flagged here ...
    too_precise: pa.Array
    #: ... with the exact text kept here (null where the decimal is exact)
    exact: pa.Array


def to_decimal(arr: pa.Array) -> Decimals:
    """Cleaned strings -> decimal128(38, 18) and the masks of `Decimals`.

    A value with at most 18 decimal places (after its exponent: "1.6E-7" is 0.00000016) is kept
    exactly as written. One with more (AWS and GCP print some floats with 19-22 places) is never
    rounded silently: the decimal holds it rounded half-even at 18 places, `too_precise` flags it
    and `exact` keeps its text, which the importer stores in `x_exact_amounts`. Spreadsheet-
    formatted money ("$10,000.00 ") is normalised and flagged. Anything else that is not a plain
    decimal number (with optional exponent), or does not fit 20 integer digits, is bad.
    """
    no = false_mask(len(arr))
    if pa.types.is_decimal(arr.type):
        return Decimals(arr.cast(MONEY), no, no, no, pa.nulls(len(arr), pa.string()))
    try:
        # The common case, in one pass: every value a plain number that fits MONEY exactly (Arrow
        # refuses a cast that would drop digits or overflow). Arrow's grammar is _NUMBER's except
        # that it also takes a doubled exponent sign ("7e+-5"), so values with an exponent are
        # checked against _NUMBER as well.
        values = arr.cast(MONEY)
        exponent = as_mask(pc.match_substring(arr, "e", ignore_case=True))
        if (
            not pc.any(exponent).as_py()
            or pc.all(as_mask(pc.match_substring_regex(pc.filter(arr, exponent), _NUMBER))).as_py()
        ):
            return Decimals(values, no, no, no, pa.nulls(len(arr), pa.string()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    plain = as_mask(pc.match_substring_regex(arr, _NUMBER))
    formatted = pc.and_(pc.invert(plain), as_mask(pc.match_substring_regex(arr, _FORMATTED_MONEY)))
    text = arr
    if pc.any(formatted).as_py():
        stripped = pc.replace_substring_regex(arr, pattern=r"[$€£¥,]", replacement="")
        text = pc.if_else(formatted, stripped, arr)
    good = pc.or_(plain, formatted)
    candidates = pc.if_else(good, text, pa.scalar(None, pa.string()))
    bad_text = pc.and_(present(arr), pc.invert(good))
    try:
        # Arrow refuses casts that would drop digits or overflow; those batches take the slow path.
        wide = candidates.cast(_WIDE)
        rounded = pc.round(wide, ndigits=MONEY_SCALE, round_mode="half_to_even")
        values = rounded.cast(MONEY)
        too_precise = as_mask(pc.not_equal(rounded, wide))
        exact = pc.if_else(too_precise, candidates, pa.scalar(None, pa.string()))
        return Decimals(values, bad_text, formatted, too_precise, exact)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out: list[decimal.Decimal | None] = []
    bad_list: list[bool] = []
    precise_list: list[bool] = []
    for raw, ok in zip(candidates.to_pylist(), good.to_pylist(), strict=True):
        value, was_rounded = _py_decimal(raw) if ok and raw is not None else (None, False)
        out.append(value)
        bad_list.append(raw is not None and value is None)
        precise_list.append(was_rounded)
    too_precise = pa.array(precise_list, pa.bool_())
    exact = pc.if_else(too_precise, candidates, pa.scalar(None, pa.string()))
    bad = pc.or_(pa.array(bad_list, pa.bool_()), bad_text)
    return Decimals(pa.array(out, MONEY), bad, formatted, too_precise, exact)


def exact_or_rounded(values: list[decimal.Decimal | None]) -> tuple[pa.Array, pa.Array]:
    """Computed decimals -> (MONEY rounded half-even at 18 places, exact text where that rounded)."""
    out: list[decimal.Decimal | None] = []
    texts: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            texts.append(None)
            continue
        rounded = value.quantize(_QUANT, context=_DEC_CONTEXT)
        out.append(rounded)
        texts.append(None if rounded == value else format(value, "f"))
    return pa.array(out, MONEY), pa.array(texts, pa.string())


_SLASH_DAY_FIRST = r"^(1[3-9]|2\d|3[01])/\d{1,2}/\d{2,4}"
_ZONE = r"(Z|[+-]\d\d:?\d\d)$"
#: What Arrow casts to a UTC timestamp as is (and `_iso_text` would leave meaning the same).
_ISO_ZONED = r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)$"
_ISO_NAIVE = r"^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?)?$"
_PY_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%d/%m/%Y %I:%M:%S %p",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M%z",
)


def _iso_text(arr: pa.Array, day_first: bool) -> pa.Array:
    s = arr
    # Zero-pad and expand slash dates (US month-first unless a day > 12 shows day-first), "5/1/25" too.
    s = pc.replace_substring_regex(s, pattern=r"^(\d)/", replacement=r"0\1/")
    s = pc.replace_substring_regex(s, pattern=r"^(\d\d)/(\d)/", replacement=r"\1/0\2/")
    s = pc.replace_substring_regex(s, pattern=r"^(\d\d)/(\d\d)/(\d\d)( |T|$)", replacement=r"\1/\2/20\3\4")
    order = r"\3-\2-\1" if day_first else r"\3-\1-\2"
    s = pc.replace_substring_regex(s, pattern=r"^(\d\d)/(\d\d)/(\d{4})", replacement=order)
    # Dotted (European) dates are always day first.
    s = pc.replace_substring_regex(s, pattern=r"^(\d\d)\.(\d\d)\.(\d{4})", replacement=r"\3-\2-\1")
    s = pc.replace_substring_regex(s, pattern=r"^(\d{4}-\d\d-\d\d)$", replacement=r"\1T00:00:00")
    s = pc.replace_substring_regex(s, pattern=r"^(\d{4}-\d\d-\d\d) +", replacement=r"\1T")
    s = pc.replace_substring_regex(
        s, pattern=r"^(\d{4}-\d\d-\d\dT\d\d:\d\d)(Z|[+-]|$)", replacement=r"\1:00\2"
    )
    s = pc.replace_substring_regex(s, pattern=r" ?(UTC|GMT)$", replacement="Z")
    s = pc.replace_substring_regex(s, pattern=r" ([+-]\d\d:?\d\d)$", replacement=r"\1")
    has_zone = as_mask(pc.match_substring_regex(s, _ZONE))
    return pc.if_else(has_zone, s, pc.binary_join_element_wise(s, pa.scalar("Z"), ""))


def _py_timestamp(text: str) -> datetime | None:
    for fmt in _PY_FORMATS:
        try:
            value = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return None


def to_timestamp(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Cleaned strings -> (timestamp[us, UTC], bad mask). A value without a zone is read as UTC.

    ISO 8601 with a zone (what CUR, FOCUS and most exports write) is cast by Arrow directly; only
    the rows that are not in that shape go through the normalising rewrites, so a batch of clean
    timestamps costs one cast instead of eleven regex passes.
    """
    if pa.types.is_timestamp(arr.type):
        return pc.cast(arr, TIMESTAMP), false_mask(len(arr))
    try:
        return arr.cast(TIMESTAMP), false_mask(len(arr))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    naive = as_mask(pc.match_substring_regex(arr, _ISO_NAIVE))
    if pc.all(pc.or_(naive, pc.is_null(arr))).as_py():
        try:  # all zone-less ISO (as Parquet timestamps without a zone are rendered): UTC
            return arr.cast(pa.timestamp("us")).cast(TIMESTAMP), false_mask(len(arr))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _normalised_timestamp(arr)
    zoned = as_mask(pc.match_substring_regex(arr, _ISO_ZONED))
    rest = pc.invert(pc.or_(zoned, naive))
    try:
        # Zone-less ISO is UTC (what `_iso_text` means by appending "Z").
        out = pa.nulls(len(arr), TIMESTAMP)
        for mask, via in ((zoned, TIMESTAMP), (naive, pa.timestamp("us"))):
            if pc.any(mask).as_py():
                values = pc.filter(arr, mask).cast(via).cast(TIMESTAMP)
                out = pc.replace_with_mask(out, mask, values)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _normalised_timestamp(arr)  # e.g. a 30 February in ISO shape: row by row below
    bad = false_mask(len(arr))
    if pc.any(rest).as_py():
        rest_values, rest_bad = _normalised_timestamp(pc.filter(arr, rest))
        out = pc.replace_with_mask(out, rest, rest_values)
        bad = pc.replace_with_mask(bad, rest, rest_bad)
    return out, bad


def _normalised_timestamp(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Rows in any accepted shape -> (timestamp[us, UTC], bad mask), through `_iso_text`."""
    if len(arr) == 0:
        return pa.array([], TIMESTAMP), pa.array([], pa.bool_())
    day_first = bool(pc.any(as_mask(pc.match_substring_regex(arr, _SLASH_DAY_FIRST))).as_py())
    iso = _iso_text(arr, day_first)
    try:
        return iso.cast(TIMESTAMP), false_mask(len(arr))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out: list[datetime | None] = []
    bad: list[bool] = []
    for raw, text in zip(arr.to_pylist(), iso.to_pylist(), strict=True):
        value: datetime | None = None
        if text is not None:
            try:
                value = pa.scalar(text).cast(TIMESTAMP).as_py()
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                value = _py_timestamp(raw) if raw is not None else None
        out.append(value)
        bad.append(raw is not None and value is None)
    return pa.array(out, TIMESTAMP), pa.array(bad, pa.bool_())


def to_wide(text: pa.Array) -> pa.Array:
    """Decimal texts -> decimal256(75, 40), exact (null where a text does not fit or is no number)."""
    try:
        return pc.cast(text, _WIDE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values: list[decimal.Decimal | None] = []
        for raw in text.to_pylist():
            value = None
            if raw is not None:
                try:
                    value = pa.scalar(raw).cast(_WIDE).as_py()
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    value = None
            values.append(value)
        return pa.array(values, _WIDE)


def _arith(op: str, a: pa.Array, b: pa.Array) -> pa.Array:
    """Exact decimal + or - (decimal256: 40 places, and MONEY's 38 digits do not overflow)."""
    if a.type != _WIDE:
        a = a.cast(_WIDE)
    if b.type != _WIDE:
        b = b.cast(_WIDE)
    return pc.call_function(op, [a, b])


def dec_add(a: pa.Array, b: pa.Array) -> pa.Array:
    return _arith("add_checked", a, b)


def dec_sub(a: pa.Array, b: pa.Array) -> pa.Array:
    return _arith("subtract_checked", a, b)


_SEP = "\x1e"


def join_present(parts: list[pa.Array], separator: str) -> pa.Array:
    """Join strings element-wise, skipping nulls; null where every part is null.

    (pyarrow 25's binary_join_element_wise(null_handling="skip") returned a short array here, so
    nulls are joined as empty strings with a control-character separator that is then collapsed.)
    """
    filled = [pc.fill_null(p, "") for p in parts]
    joined = pc.binary_join_element_wise(*filled, _SEP) if len(filled) > 1 else filled[0]
    joined = pc.replace_substring_regex(joined, pattern=f"{_SEP}{{2,}}", replacement=_SEP)
    joined = pc.replace_substring_regex(joined, pattern=f"^{_SEP}|{_SEP}$", replacement="")
    joined = pc.replace_substring(joined, pattern=_SEP, replacement=separator)
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)


def add_days(ts: pa.Array, days: int) -> pa.Array:
    return pc.add(ts, pa.scalar(timedelta(days=days), pa.duration("us")))


def month_start(ts: pa.Array) -> pa.Array:
    """First instant (UTC) of the month of each timestamp."""
    return pc.floor_temporal(ts, unit="month")


def next_month_start(ts: pa.Array) -> pa.Array:
    start = month_start(ts)
    return pc.floor_temporal(add_days(start, 32), unit="month")


def map_unique(arr: pa.Array, fn: Callable[[str], str | None]) -> pa.Array:
    """Apply a Python function once per distinct value (billing columns repeat a lot)."""
    if len(arr) == 0:
        return pa.array([], pa.string())
    encoded = pc.dictionary_encode(arr)
    dictionary = encoded.dictionary.to_pylist()
    mapped = pa.array([fn(v) for v in dictionary], pa.string())
    return pc.take(mapped, encoded.indices)


def const(value: str | None, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def first_present(*arrays: pa.Array | None) -> pa.Array | None:
    """Element-wise first non-null value of the given columns (None when no column exists)."""
    existing = [a for a in arrays if a is not None]
    if not existing:
        return None
    if len(existing) == 1:
        return existing[0]
    return pc.coalesce(*existing)


def lookup(arr: pa.Array, table: dict[str, str], *, case_insensitive: bool = True) -> pa.Array:
    """Map values through a dict (unknown -> null)."""
    if case_insensitive:
        lowered = {k.lower(): v for k, v in table.items()}
        return map_unique(arr, lambda v: lowered.get(v.lower()))
    return map_unique(arr, table.get)
