"""Turning a request body into record lines: content type, gzip (with a bomb guard), UTF-8, JSON.

Memory is bounded before anything is parsed: the decompressed body is capped, records are counted
while the body is scanned (a JSON array by a bracket scanner that never builds Python values, NDJSON
by its lines), and a batch over the record limit is refused before any record is parsed or
re-encoded. After that, records are parsed one at a time and only their NDJSON re-encoding is kept,
so decoding costs at most about three times the decompressed body (body, lines, joined NDJSON).
The lines are `tally.domain.record_lines.RecordLines`, which the ingest service takes.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Protocol, cast

import orjson
from isal import isal_zlib
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tally.api.problems import bad_request, too_large, unprocessable, unsupported
from tally.domain.record_lines import MAX_RECORD_BYTES, RecordLines, arrow_safe, checked_lines

JSON_TYPES = {"application/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
# JSON is UTF-8 (RFC 8259 §8.1); a body declared in any other charset is refused, never misread.
UTF8_NAMES = {"utf-8", "utf8"}

# Records are flat objects (two brackets each); a body may hold this many brackets per record
# allowed in a batch before it is refused, which bounds the scanner's work on `[[[[...`.
BRACKETS_PER_RECORD = 4
# orjson refuses deeper nesting; the scanner stops at the same depth.
MAX_DEPTH = 1024
# A body that is not an array is parsed (to tell broken JSON from a wrong shape) only up to this size.
SHAPE_PARSE_BYTES = 1 << 20

_WS = re.compile(rb"[ \t\r\n]*+")
# Everything up to the next bracket or quote outside strings, skipping whole strings (possessive,
# so a long run never builds a backtracking stack).
_INSIDE = re.compile(rb'(?:[^"\[\]{}]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+', re.S)
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.S)
_ATOM = re.compile(rb"[^,\]\[{}\s\"]++")
# A line holding anything but whitespace.
_LINE = re.compile(rb"[^\S\n]*+\S[^\n]*+")
_OPEN, _CLOSE, _QUOTE = frozenset(b"[{"), frozenset(b"]}"), ord('"')
_FIRST_BYTE_TYPES = {ord("{"): "object", ord('"'): "string", ord("t"): "boolean", ord("f"): "boolean"}


async def parse_body(
    request: Request, *, max_body_bytes: int, max_decompressed_bytes: int, max_records: int
) -> RecordLines:
    """A records request's body as checked lines: its type first (415 before anything is read),
    then the raw body within `max_body_bytes`, then gzip, UTF-8 and JSON off the event loop."""
    media = media_type(request.headers.get("content-type"))
    raw = await read_capped(request, max_body_bytes)
    encoding = request.headers.get("content-encoding")

    def decode() -> RecordLines:
        body = decompress(raw, encoding, max_decompressed_bytes)
        check_utf8(body)
        return split_lines(media, body, max_records)

    return await run_in_threadpool(decode)


async def read_capped(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it passes `limit` bytes (before it is all in memory)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(f"body is {declared} bytes, more than the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"body is more than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(content_type: str | None) -> str:
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    if media not in JSON_TYPES and media not in NDJSON_TYPES:
        raise unsupported(
            f"Content-Type {content_type!r} is not accepted: send application/json (an array of records) "
            "or application/x-ndjson (one record per line)"
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in UTF8_NAMES:
            raise unsupported(f"charset {value.strip()!r} is not accepted: record bodies are UTF-8")
    return media


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > limit:
            raise too_large(f"body is {len(body)} bytes, more than the limit of {limit}")
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise unsupported(f"Content-Encoding {content_encoding!r} is not accepted: use gzip or none")
    try:
        # ISA-L's inflate (zlib's interface) takes about 0.4 of zlib's CPU on agents' batches.
        # (Its stub declares `error` as an instance; it is the exception class.) A body over the
        # limit is refused from this pass as it stands: inflating a bomb again would only repeat it.
        return _inflate(body, limit, isal_zlib.decompressobj, cast(type[Exception], isal_zlib.error))
    except GzipFormatError:
        pass
    # Not gzip to ISA-L: zlib inflates it again to say why in its words (ISA-L's differ, and it reads
    # a few bytes of junk after a member as a truncated header), as clients have always been told.
    try:
        return _inflate(body, limit, zlib.decompressobj, zlib.error)
    except GzipFormatError as exc:
        raise bad_request(str(exc)) from exc


class GzipFormatError(ValueError):
    """A body that is no complete gzip stream (corrupt or truncated), in the inflater's words."""


def _inflate(body: bytes, limit: int, inflater_of: Callable[..., Inflater], error: type[Exception]) -> bytes:
    """The inflated members of `body`: GzipFormatError if corrupt or truncated, 413 past `limit` bytes."""
    out = bytearray()
    rest = body
    # Concatenated gzip members are one valid stream (RFC 1952); inflate each, bounded in total.
    while True:
        inflater = inflater_of(wbits=16 + zlib.MAX_WBITS)
        try:
            # Bounded output: a decompression bomb stops at the limit instead of filling memory.
            out += inflater.decompress(rest, limit + 1 - len(out))
            if len(out) > limit or inflater.unconsumed_tail:
                raise too_large(f"body decompresses to more than the limit of {limit} bytes")
            out += inflater.flush()
        except error as exc:
            raise GzipFormatError(f"body is not valid gzip: {exc}") from exc
        if not inflater.eof:
            raise GzipFormatError("gzip body is truncated: the stream ends before its end marker")
        rest = inflater.unused_data
        if not rest.strip(b"\0"):
            return bytes(out)


class Inflater(Protocol):
    """What zlib's and ISA-L's decompression objects both offer."""

    @property
    def unconsumed_tail(self) -> bytes: ...
    @property
    def unused_data(self) -> bytes: ...
    @property
    def eof(self) -> bool: ...
    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...
    def flush(self, length: int = ..., /) -> bytes: ...


def check_utf8(body: bytes) -> None:
    if body.isascii():  # the usual body: a scan, without decoding a copy of it
        return
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(
            f"body is not UTF-8: invalid byte 0x{body[exc.start]:02x} at offset {exc.start}"
        ) from exc


def split_lines(media: str, body: bytes, max_records: int | None = None) -> RecordLines:
    """Normalise either accepted body form to checked NDJSON lines, refusing unusable bodies.

    A batch of more than `max_records` records is refused (413) while it is being counted, before
    any record is parsed.
    """
    limit = max_records if max_records is not None else len(body) + 1
    if media in JSON_TYPES:
        return _array_lines(body, limit)
    stripped = body.strip()
    if not stripped:
        raise unprocessable("batch is empty: send at least one record")
    newlines = stripped.count(b"\n")
    if newlines + 1 > limit:
        # Too many lines: refused unless blank ones make up the excess (counted, never copied).
        for seen, _ in enumerate(_LINE.finditer(stripped), 1):
            if seen > limit:
                raise _too_many(limit)
        # Mostly blank: split by matching the lines that hold something (never a list per newline).
        kept = [match.group() for match in _LINE.finditer(stripped)]
        ndjson = b"\n".join(kept)
        return RecordLines(ndjson, len(kept), arrow_safe(ndjson, kept), checked=True)
    return checked_lines(stripped, newlines)


def _too_many(limit: int) -> Exception:
    return too_large(f"batch has more than {limit} records, the limit")


def _array_lines(body: bytes, limit: int) -> RecordLines:
    spans = _array_spans(body, limit)
    view = memoryview(body)
    out: list[bytes] = []
    objects = True
    for start, end in spans:
        if end - start > MAX_RECORD_BYTES:
            objects = False
            out.append(_one_line(body[start:end]))
            continue
        try:
            value = orjson.loads(view[start:end])
        except orjson.JSONDecodeError:
            # Kept as its own line so the record gets its own error, as an NDJSON line would.
            objects = False
            out.append(_one_line(body[start:end]))
            continue
        objects = objects and isinstance(value, dict)
        out.append(orjson.dumps(value))
        del value
    return RecordLines(b"\n".join(out), len(out), objects, checked=True)


def _one_line(raw: bytes) -> bytes:
    return b" ".join(raw.splitlines()) if b"\n" in raw or b"\r" in raw else raw


def _array_spans(body: bytes, limit: int) -> list[tuple[int, int]]:
    """Byte spans of the top-level elements of a JSON array, without building any value.

    Only structure is checked here (brackets, commas, strings); each element is then parsed by
    orjson on its own, so the whole body is valid JSON exactly when every element is.
    """
    n = len(body)
    pos = _ws(body, 0)
    if pos == n:
        raise bad_request("body is not valid JSON: it is empty")
    if body[pos] != ord("["):
        if n <= SHAPE_PARSE_BYTES:
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise bad_request(f"body is not valid JSON: {exc}") from exc
            raise unprocessable(f"body must be a JSON array of records, not a JSON {type(value).__name__}")
        first = body[pos]
        what = _FIRST_BYTE_TYPES.get(first) or (
            "null" if first == ord("n") else "number" if first in b"-0123456789" else None
        )
        if what is None:
            raise bad_request(f"body is not valid JSON: unexpected byte at offset {pos}")
        raise unprocessable(f"body must be a JSON array of records, not a JSON {what}")
    pos = _ws(body, pos + 1)
    spans: list[tuple[int, int]] = []
    budget = BRACKETS_PER_RECORD * limit + 64
    if pos < n and body[pos] == ord("]"):
        pos = _ws(body, pos + 1)
        if pos != n:
            raise bad_request(f"body is not valid JSON: trailing data at offset {pos}")
        raise unprocessable("batch is empty: send at least one record")
    while True:
        if pos >= n:
            raise bad_request("body is not valid JSON: the array is not closed")
        start = pos
        if body[pos] in _OPEN:
            pos, budget = _container_end(body, pos, budget)
        elif body[pos] == _QUOTE:
            match = _STRING.match(body, pos)
            if match is None:
                raise bad_request(f"body is not valid JSON: unterminated string at offset {pos}")
            pos = match.end()
        else:
            pos = _ATOM.match(body, pos).end()  # type: ignore[union-attr]  # matches, possibly empty
            if pos == start:
                raise bad_request(f"body is not valid JSON: expected a value at offset {pos}")
        spans.append((start, pos))
        if len(spans) > limit:
            raise _too_many(limit)
        pos = _ws(body, pos)
        if pos < n and body[pos] == ord(","):
            pos = _ws(body, pos + 1)
            continue
        if pos < n and body[pos] == ord("]"):
            pos = _ws(body, pos + 1)
            if pos != n:
                raise bad_request(f"body is not valid JSON: trailing data at offset {pos}")
            return spans
        raise bad_request(f"body is not valid JSON: expected ',' or ']' at offset {pos}")


def _container_end(body: bytes, pos: int, budget: int) -> tuple[int, int]:
    """The offset just past the array or object opening at `pos`, and the bracket budget left."""
    n, depth = len(body), 0
    while True:
        char = body[pos]
        if char == _QUOTE:
            raise bad_request(f"body is not valid JSON: unterminated string at offset {pos}")
        budget -= 1
        if budget < 0:
            raise too_large("body holds too many nested arrays or objects for a batch of flat records")
        depth += 1 if char in _OPEN else -1
        if depth > MAX_DEPTH:
            raise bad_request(f"body is not valid JSON: nested more than {MAX_DEPTH} deep")
        pos += 1
        if depth == 0:
            return pos, budget
        pos = _INSIDE.match(body, pos).end()  # type: ignore[union-attr]  # matches, possibly empty
        if pos >= n:
            raise bad_request("body is not valid JSON: an array or object is not closed")


def _ws(body: bytes, pos: int) -> int:
    return _WS.match(body, pos).end()  # type: ignore[union-attr]  # matches, possibly empty
