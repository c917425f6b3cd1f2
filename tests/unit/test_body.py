"""Body decoding: content types, gzip streams and their failure modes, UTF-8, JSON shapes."""

from __future__ import annotations

import gzip

import pytest

from tally.services.body import check_utf8, decompress, media_type, split_lines
from tally.services.problems import Problem


def test_concatenated_gzip_members_are_one_stream() -> None:
    body = gzip.compress(b'{"a":1}\n') + gzip.compress(b'{"a":2}\n')
    assert decompress(body, "gzip", 1000) == b'{"a":1}\n{"a":2}\n'


@pytest.mark.parametrize(
    ("body", "status", "phrase"),
    [
        (gzip.compress(b"x" * 2000), 413, "decompresses to more than"),
        (gzip.compress(b"abc")[:-3], 400, "truncated"),
        (gzip.compress(b"abc") + b"trailing junk", 400, "not valid gzip"),
        (b"plain text", 400, "not valid gzip"),
    ],
)
def test_gzip_failures(body: bytes, status: int, phrase: str) -> None:
    with pytest.raises(Problem) as refused:
        decompress(body, "gzip", 1000)
    assert refused.value.status == status and phrase in refused.value.detail


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
    assert lines.count == 2 and lines.ndjson == b'{"a":1}\n{"a":2}' and lines.objects
