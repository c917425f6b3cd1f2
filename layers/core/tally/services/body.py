"""Turning a request body into record lines: content type, gzip (with a bomb guard), UTF-8, JSON."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import orjson

from tally.services.problems import bad_request, too_large, unprocessable, unsupported

JSON_TYPES = {"application/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}


@dataclass(frozen=True)
class RecordLines:
    """A batch as one JSON value per line (NDJSON), plus the parsed values when already known."""

    ndjson: bytes
    count: int
    parsed: list[object] | None = None


def media_type(content_type: str | None) -> str:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in JSON_TYPES or media in NDJSON_TYPES:
        return media
    raise unsupported(
        f"Content-Type {content_type!r} is not accepted: send application/json (an array of records) "
        "or application/x-ndjson (one record per line)"
    )


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > limit:
            raise too_large(f"body is {len(body)} bytes, more than the limit of {limit}")
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise unsupported(f"Content-Encoding {content_encoding!r} is not accepted: use gzip or none")
    out = bytearray()
    rest = body
    # Concatenated gzip members are one valid stream (RFC 1952); inflate each, bounded in total.
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            # Bounded output: a decompression bomb stops at the limit instead of filling memory.
            out += inflater.decompress(rest, limit + 1 - len(out))
            if len(out) > limit or inflater.unconsumed_tail:
                raise too_large(f"body decompresses to more than the limit of {limit} bytes")
            out += inflater.flush()
        except zlib.error as exc:
            raise bad_request(f"body is not valid gzip: {exc}") from exc
        if not inflater.eof:
            raise bad_request("gzip body is truncated: the stream ends before its end marker")
        rest = inflater.unused_data
        if not rest.strip(b"\0"):
            return bytes(out)


def check_utf8(body: bytes) -> None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(
            f"body is not UTF-8: invalid byte 0x{body[exc.start]:02x} at offset {exc.start}"
        ) from exc


def split_lines(media: str, body: bytes) -> RecordLines:
    """Normalise either accepted body form to NDJSON lines, refusing unusable bodies."""
    if media in JSON_TYPES:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"body is not valid JSON: {exc}") from exc
        if not isinstance(value, list):
            raise unprocessable(f"body must be a JSON array of records, not a JSON {type(value).__name__}")
        if not value:
            raise unprocessable("batch is empty: send at least one record")
        return RecordLines(b"\n".join(orjson.dumps(v) for v in value), len(value), value)
    stripped = body.strip()
    if not stripped:
        raise unprocessable("batch is empty: send at least one record")
    # Optimistic: one record per line. If blank lines hide inside, the Arrow reader's row count
    # will not match and the ingest falls back to `exact_lines`.
    return RecordLines(stripped, stripped.count(b"\n") + 1)


def exact_lines(lines: RecordLines) -> RecordLines:
    """The batch with blank and whitespace-only lines removed (the careful, slower split)."""
    if lines.parsed is not None:
        return lines
    kept = [line for line in lines.ndjson.split(b"\n") if line.strip()]
    return RecordLines(b"\n".join(kept), len(kept))
