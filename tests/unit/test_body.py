"""Body decoding: content types, gzip streams and their failure modes, UTF-8, JSON shapes."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from isal import isal_zlib

from tally.api.body import check_utf8, decompress, media_type, split_lines
from tally.api.problems import Problem


def test_concatenated_gzip_members_are_one_stream() -> None:
    body = gzip.compress(b'{"a":1}\n') + gzip.compress(b'{"a":2}\n')
    assert decompress(body, "gzip", 1000) == b'{"a":1}\n{"a":2}\n'


# mtime=0: the same bytes (and test ids) in every process, as pytest-xdist's workers must collect.
@pytest.mark.parametrize(
    ("body", "status", "phrase"),
    [
        (gzip.compress(b"x" * 2000, mtime=0), 413, "decompresses to more than"),
        (gzip.compress(b"abc", mtime=0)[:-3], 400, "truncated"),
        (gzip.compress(b"abc", mtime=0) + b"trailing junk", 400, "not valid gzip"),
        (b"plain text", 400, "not valid gzip"),
    ],
)
def test_gzip_failures(body: bytes, status: int, phrase: str) -> None:
    with pytest.raises(Problem) as refused:
        decompress(body, "gzip", 1000)
    assert refused.value.status == status and phrase in refused.value.detail


def _zlib_says(body: bytes) -> str:
    """zlib's own complaint about a one-member gzip body, straight from zlib."""
    try:
        zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(body)
    except zlib.error as exc:
        return str(exc)
    raise AssertionError("zlib accepted the body")


_GOOD = gzip.compress(b'{"a":1}\n' * 50, mtime=0)


# Bodies the faster inflater refuses in words of its own (or reads as a truncated header): the
# answer is still zlib's, as it always was.
@pytest.mark.parametrize(
    "body",
    [
        _GOOD[:-8] + bytes(8),  # wrong CRC and length
        _GOOD[:-4] + (1).to_bytes(4, "little"),  # wrong length
        zlib.compress(b'{"a":1}\n'),  # zlib's format, not gzip's
        b"\x1f\x8b\x09" + _GOOD[3:],  # unknown compression method
        b"not gzip",  # shorter than a gzip header
    ],
    ids=["crc", "length", "zlib-format", "method", "short"],
)
def test_refused_gzip_is_explained_in_zlibs_words(body: bytes) -> None:
    with pytest.raises(Problem) as refused:
        decompress(body, "gzip", 1 << 20)
    assert refused.value.status == 400
    assert refused.value.detail == f"body is not valid gzip: {_zlib_says(body)}"


class CountingInflaters:
    """A real inflater factory (zlib's or ISA-L's) that counts the inflaters it makes."""

    def __init__(self, make: Callable[..., Any]) -> None:
        self.make, self.calls = make, 0

    def __call__(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.make(**kwargs)


def counting(monkeypatch: pytest.MonkeyPatch) -> tuple[CountingInflaters, CountingInflaters]:
    """(ISA-L's, zlib's) inflater factories, counting: the body module looks them up on these
    modules at each call."""
    isal, plain = CountingInflaters(isal_zlib.decompressobj), CountingInflaters(zlib.decompressobj)
    monkeypatch.setattr(isal_zlib, "decompressobj", isal)
    monkeypatch.setattr(zlib, "decompressobj", plain)
    return isal, plain


_LIMIT = 1 << 20


@pytest.mark.parametrize(
    "bomb",
    [
        gzip.compress(bytes(8 * _LIMIT), 9, mtime=0),  # one member, 8 times the limit
        # Two members each under the limit, over it together.
        gzip.compress(b" " * (_LIMIT - 10), mtime=0) + gzip.compress(b" " * 20, mtime=0),
        # Over the limit before a corrupt end: the size is what refuses it.
        gzip.compress(bytes(2 * _LIMIT), mtime=0)[:-8] + bytes(8),
    ],
    ids=["one-member", "two-members", "corrupt-after-the-limit"],
)
def test_a_body_over_the_limit_is_refused_from_the_first_pass(
    monkeypatch: pytest.MonkeyPatch, bomb: bytes
) -> None:
    isal, plain = counting(monkeypatch)
    with pytest.raises(Problem) as refused:
        decompress(bomb, "gzip", _LIMIT)
    assert refused.value.status == 413
    assert refused.value.title == "Request too large"
    assert refused.value.detail == f"body decompresses to more than the limit of {_LIMIT} bytes"
    # ISA-L inflated it (as far as the limit) and zlib never did.
    assert isal.calls >= 1 and plain.calls == 0


def test_a_corrupt_body_is_inflated_again_by_zlib_for_its_words(monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt = _GOOD[:-8] + bytes(8)
    expected = f"body is not valid gzip: {_zlib_says(corrupt)}"
    isal, plain = counting(monkeypatch)
    with pytest.raises(Problem) as refused:
        decompress(corrupt, "gzip", _LIMIT)
    assert (refused.value.status, refused.value.detail) == (400, expected)
    assert (isal.calls, plain.calls) == (1, 1)


def test_a_truncated_body_is_inflated_again_by_zlib(monkeypatch: pytest.MonkeyPatch) -> None:
    isal, plain = counting(monkeypatch)
    with pytest.raises(Problem) as refused:
        decompress(_GOOD[: len(_GOOD) // 2], "gzip", _LIMIT)
    expected = "gzip body is truncated: the stream ends before its end marker"
    assert (refused.value.status, refused.value.detail) == (400, expected)
    assert (isal.calls, plain.calls) == (1, 1)


def test_a_good_body_is_inflated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    isal, plain = counting(monkeypatch)
    assert decompress(_GOOD, "gzip", _LIMIT) == b'{"a":1}\n' * 50
    assert (isal.calls, plain.calls) == (1, 0)


def test_gzip_members_of_every_size_inflate_to_their_text() -> None:
    # Members small and large (more than one inflate window), and trailing zero padding.
    texts = [b"", b"x", bytes(range(256)) * 300, b'{"a":1}\n' * 20_000]
    body = b"".join(gzip.compress(t, level, mtime=0) for t, level in zip(texts, (1, 6, 9, 6), strict=True))
    assert decompress(body + bytes(16), "gzip", 1 << 22) == b"".join(texts)


def test_identity_body_over_the_limit() -> None:
    with pytest.raises(Problem) as refused:
        decompress(b"x" * 11, None, 10)
    assert refused.value.status == 413


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", "application/json"),
        ("application/x-ndjson; charset=utf-8", "application/x-ndjson"),
        ("APPLICATION/JSON", "application/json"),
    ],
)
def test_media_types(header: str, expected: str) -> None:
    assert media_type(header) == expected


def test_utf8_error_names_the_offset() -> None:
    with pytest.raises(Problem) as refused:
        check_utf8(b'{"a":"caf\xe9"}')
    assert "0xe9 at offset 9" in refused.value.detail


def test_blank_lines_are_dropped_by_the_split() -> None:
    lines = split_lines("application/x-ndjson", b'\n{"a":1}\n\n  \r\n{"a":2}\r\n\n')
    assert lines.count == 2 and lines.ndjson == b'{"a":1}\n{"a":2}' and lines.arrow_safe


@pytest.mark.parametrize(
    ("media", "body"),
    [
        ("application/json", b"[" + b",".join([b"{}"] * 11) + b"]"),
        ("application/json", b"[" + b",".join([b"null"] * 11) + b"]"),
        ("application/x-ndjson", b"\n".join([b"{}"] * 11)),
        ("application/x-ndjson", b"\n\n".join([b"null"] * 11)),
    ],
)
def test_a_batch_over_the_record_limit_is_refused_while_counting(media: str, body: bytes) -> None:
    with pytest.raises(Problem) as refused:
        split_lines(media, body, 10)
    assert refused.value.status == 413 and "more than 10 records" in refused.value.detail


def test_blank_lines_do_not_count_against_the_limit() -> None:
    lines = split_lines("application/x-ndjson", b'{"a":1}\n' + b"\n \n" * 50 + b'{"a":2}', 2)
    assert (lines.count, lines.ndjson, lines.arrow_safe) == (2, b'{"a":1}\n{"a":2}', True)


@pytest.mark.parametrize(
    ("body", "status", "phrase"),
    [
        (b"[" * 5000, 400, "nested more than 1024 deep"),
        (b"[" + b",".join([b'{"x":[[[[[]]]]]}'] * 10) + b"]", 413, "too many nested"),
        (b'[{"a":"unterminated}]', 400, "unterminated string"),
        (b"[{} {}]", 400, "expected ',' or ']'"),
        (b"[{}] x", 400, "trailing data"),
        (b'{"a": 1}', 422, "not a JSON dict"),
        (b"{broken", 400, "not valid JSON"),
        (b"[{},", 400, "not closed"),
    ],
)
def test_array_structure_is_checked_before_parsing(body: bytes, status: int, phrase: str) -> None:
    # 10 records allow 4 brackets each (104 in all); the depth case needs a larger allowance.
    with pytest.raises(Problem) as refused:
        split_lines("application/json", body, 10 if len(body) < 1000 else 1000)
    assert refused.value.status == status and phrase in refused.value.detail, refused.value.detail


def test_array_elements_keep_their_order_and_non_objects_are_marked() -> None:
    body = b'[ {"a": [1, "],}"]},\n  {"b":\n 2}, null, {"c": NaN} ]'
    lines = split_lines("application/json", body, 10)
    assert lines.ndjson.split(b"\n") == [b'{"a":[1,"],}"]}', b'{"b":2}', b"null", b'{"c": NaN}']
    assert (lines.count, lines.arrow_safe) == (4, False)


@pytest.mark.parametrize(
    "header", ["application/json; charset=latin-1", "application/x-ndjson;charset=utf-16"]
)
def test_charsets_other_than_utf8_are_refused(header: str) -> None:
    with pytest.raises(Problem) as refused:
        media_type(header)
    assert refused.value.status == 415
