"""Records into gzip NDJSON batches that stay well under the API limits."""

from __future__ import annotations

import gzip
import json
from typing import Any, Dict, Iterable, Iterator

from tally_agent.output import ndjson_line

# API Gateway carries 10 MB; Lambda takes 6 MB, and a binary body is base64-encoded on the way
# (x 4/3). Capping the *uncompressed* batch at 4 MB keeps the compressed body far below both.
MAX_RECORDS = 5000
MAX_BYTES = 4_000_000


def encode(record: Dict[str, Any]) -> bytes:
    return ndjson_line(record).encode("utf-8")


def batches(
    records: Iterable[Dict[str, Any]], max_records: int = MAX_RECORDS, max_bytes: int = MAX_BYTES
) -> Iterator[bytes]:
    """Gzip-compressed NDJSON bodies of at most `max_records` records and `max_bytes` raw bytes."""
    max_records = max(1, min(max_records, MAX_RECORDS))
    max_bytes = max(1024, min(max_bytes, MAX_BYTES))
    lines: list[bytes] = []
    size = 0
    for record in records:
        line = encode(record)
        if lines and (len(lines) >= max_records or size + len(line) > max_bytes):
            yield compress(lines)
            lines, size = [], 0
        lines.append(line)
        size += len(line)
    if lines:
        yield compress(lines)


def compress(lines: Iterable[bytes]) -> bytes:
    # mtime=0: the same records always give the same bytes, so a retried batch is identical.
    return gzip.compress(b"".join(lines), compresslevel=6, mtime=0)


def decode(gzip_body: bytes) -> Iterator[Dict[str, Any]]:
    for line in gzip.decompress(gzip_body).splitlines():
        if line.strip():
            yield json.loads(line)
