"""Read a billing file (CSV, CSV.gz or Parquet; a path or bytes) as a stream of all-string record batches.

Every column is read as a string, exactly as written, so that no value is guessed (account ids
keep their leading zeros, money is never a float); the provider mappers convert explicitly.
Parquet columns that are not strings are rendered to strings: structs are flattened to
`parent.child` columns (as BigQuery's CSV export does), lists and maps become JSON text.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tally.billing.model import BillingImportError

Source: TypeAlias = str | os.PathLike[str] | bytes | pa.Buffer
#: A file's content in memory: bytes, or a buffer over a mapped file (`mapped`).
Data: TypeAlias = bytes | pa.Buffer

#: Bytes of CSV parsed per batch: large enough to vectorise well, small enough for 1M-row files.
CSV_BLOCK_BYTES = 16 << 20
PARQUET_BATCH_ROWS = 65_536
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_HEADER_LIMIT = 4 << 20


@dataclass(frozen=True, slots=True)
class InvalidRow:
    """A CSV record whose field count differs from the header (e.g. a truncated last line)."""

    source_row: int
    text: str
    expected_columns: int
    actual_columns: int


@dataclass
class SourceInfo:
    """What the reader learnt about the file besides its rows."""

    name: str
    kind: str  # "csv" | "parquet"
    compression: str | None
    encoding: str = "utf-8"
    header: list[str] = field(default_factory=list)
    invalid_rows: list[InvalidRow] = field(default_factory=list)


class EncodingMismatchError(Exception):
    """The CSV is not valid UTF-8; the caller retries with a single-byte Windows/Latin encoding."""


@contextmanager
def mapped(source: Source, filename: str | None = None) -> Iterator[Data]:
    """The file's content, opened once: a path is memory-mapped (nothing is read until used, and
    the sniff, the batches and a digest all read the one mapping); bytes are passed through."""
    if isinstance(source, Data):
        yield source
        return
    if not Path(source).is_file():
        raise BillingImportError("not-found", f"{source_name(source, filename)}: no such file")
    if Path(source).stat().st_size == 0:
        yield b""  # an empty file cannot be mapped; the sniff names it empty
        return
    with pa.memory_map(os.fspath(source), "r") as mapping:
        yield mapping.read_buffer()


def _raw_bytes_head(source: Source, size: int) -> bytes:
    if isinstance(source, Data):
        return bytes(source[:size])
    with Path(source).open("rb") as fh:
        return fh.read(size)


def source_name(source: Source, filename: str | None) -> str:
    if filename:
        return filename
    if isinstance(source, Data):
        return "<bytes>"
    return str(source)


def sniff(source: Source, filename: str | None) -> SourceInfo:
    """Decide container and compression from the magic bytes (the name is only a hint)."""
    name = source_name(source, filename)
    if not isinstance(source, Data) and not Path(source).is_file():
        raise BillingImportError("not-found", f"{name}: no such file")
    head = _raw_bytes_head(source, 4)
    if head == b"":
        raise BillingImportError("empty", f"{name}: the file is empty")
    if head.startswith(_PARQUET_MAGIC):
        return SourceInfo(name=name, kind="parquet", compression=None)
    if head.startswith(_GZIP_MAGIC):
        return SourceInfo(name=name, kind="csv", compression="gzip")
    return SourceInfo(name=name, kind="csv", compression=None)


def _open_stream(source: Source, info: SourceInfo) -> pa.NativeFile:
    raw: pa.NativeFile
    raw = pa.BufferReader(source) if isinstance(source, Data) else pa.OSFile(os.fspath(source), "rb")
    if info.compression == "gzip":
        return pa.CompressedInputStream(raw, "gzip")
    return raw


def _read_header(source: Source, info: SourceInfo, encoding: str) -> list[str]:
    """Parse the first CSV record (the header) with the csv module; it may hold quoted commas."""
    stream: Any = pa.BufferReader(source) if isinstance(source, Data) else Path(source).open("rb")  # noqa: SIM115
    try:
        if info.compression == "gzip":
            stream = gzip.GzipFile(fileobj=stream)
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        text = ""
        while len(text) < _HEADER_LIMIT:
            try:
                chunk = stream.read(64 << 10)
            except (EOFError, OSError) as exc:
                raise BillingImportError("truncated", f"{info.name}: compressed stream is truncated") from exc
            text += decoder.decode(chunk, final=not chunk)
            if "\n" in text or not chunk:
                try:
                    first = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))), None)
                except csv.Error:
                    first = None
                if first is not None and (not chunk or _complete_first_record(text)):
                    return [c.strip().strip("\ufeff") for c in first]
                if not chunk:
                    break
        raise BillingImportError("unreadable-header", f"{info.name}: no CSV header line found")
    finally:
        stream.close()


def _complete_first_record(text: str) -> bool:
    """True when the first record ends inside `text` (a newline outside quotes)."""
    in_quotes = False
    for ch in text:
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == "\n" and not in_quotes:
            return True
    return False


def _csv_batches(
    source: Source, info: SourceInfo, encoding: str, columns: list[str] | None
) -> Iterator[pa.RecordBatch]:
    header = _read_header(source, info, encoding)
    if not any(header):
        raise BillingImportError("empty", f"{info.name}: the file has no header")
    if columns is not None:
        header = columns
    info.header = header
    info.encoding = encoding
    info.invalid_rows = []
    skipped: list[int] = []

    def on_invalid(row: Any) -> str:
        data_row = int(row.number) - 1 if row.number is not None else -1
        try:
            text = str(row.text)[:10_000]
        except UnicodeDecodeError:
            text = "<undecodable bytes>"
        info.invalid_rows.append(
            InvalidRow(data_row, text, int(row.expected_columns), int(row.actual_columns))
        )
        skipped.append(data_row)
        return "skip"

    read_options = pacsv.ReadOptions(
        use_threads=False,
        block_size=CSV_BLOCK_BYTES,
        encoding="utf8" if encoding == "utf-8" else encoding,
        column_names=columns,
        skip_rows=1 if columns is not None else 0,
    )
    parse_options = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid)
    convert_options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    stream = _open_stream(source, info)
    try:
        reader = pacsv.open_csv(
            stream, read_options=read_options, parse_options=parse_options, convert_options=convert_options
        )
        emitted = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            rows = _source_rows(emitted, batch.num_rows, skipped)
            emitted += batch.num_rows
            yield _with_rows(_rename(batch, header), rows)
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "invalid UTF8" in message or "UnicodeDecodeError" in message:
            raise EncodingMismatchError(message) from exc
        raise BillingImportError("unparsable", f"{info.name}: CSV cannot be parsed: {message}") from exc
    except UnicodeDecodeError as exc:
        # Arrow hands back a header row that is not UTF-8 as bytes; Python fails when naming columns.
        raise EncodingMismatchError(str(exc)) from exc
    except (EOFError, OSError) as exc:
        raise BillingImportError("truncated", f"{info.name}: file is truncated or corrupt: {exc}") from exc
    finally:
        stream.close()


def _rename(batch: pa.RecordBatch, header: list[str]) -> pa.RecordBatch:
    if batch.schema.names == header:
        return batch
    return pa.RecordBatch.from_arrays(batch.columns, names=header)


ROW_COLUMN = "\x00source_row"


def _with_rows(batch: pa.RecordBatch, rows: pa.Array) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([*batch.columns, rows], names=[*batch.schema.names, ROW_COLUMN])


def _source_rows(emitted: int, count: int, skipped: list[int]) -> pa.Array:
    """1-based data-row numbers of `count` accepted records after `emitted` earlier ones."""
    if not skipped:
        return pa.array(range(emitted + 1, emitted + count + 1), pa.int64())
    skip = sorted(set(skipped))
    out: list[int] = []
    # Walk data rows from 1, skipping the invalid ones, until `emitted + count` valid rows are seen.
    row, valid, i = 0, 0, 0
    while len(out) < count:
        row += 1
        while i < len(skip) and skip[i] < row:
            i += 1
        if i < len(skip) and skip[i] == row:
            continue
        valid += 1
        if valid > emitted:
            out.append(row)
    return pa.array(out, pa.int64())


def _stringify(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    arr = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    t = arr.type
    if pa.types.is_string(t):
        return arr
    if pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return arr.cast(pa.string())
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t) or pa.types.is_struct(t):
        values = [None if v is None else orjson.dumps(_jsonable(v)).decode() for v in arr.to_pylist()]
        return pa.array(values, pa.string())
    if pa.types.is_timestamp(t):
        return _iso_text(arr, zone="" if t.tz is None else "Z")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return pa.array([None if v is None else v.decode("utf-8", "replace") for v in arr.to_pylist()])
    return arr.cast(pa.string())


_FRACTION_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def _iso_text(arr: pa.Array, zone: str) -> pa.Array:
    """Timestamps as Arrow's strftime `%Y-%m-%dT%H:%M:%S` (+ zone, in UTC) writes them.

    (Arrow's %S carries the unit's fraction: `00:00:00.000` for milliseconds.) A cast to text
    writes the same with a space for the T and is ~30x faster; strftime stays for what the cast
    does not write in that shape (years outside 0001-9999).
    """
    utc = arr if not zone else pc.cast(arr, pa.timestamp("us", tz="UTC"))
    fmt = "%Y-%m-%dT%H:%M:%S" + zone
    text = pc.cast(utc, pa.string())
    digits = _FRACTION_DIGITS[utc.type.unit]
    width = 19 + (digits + 1 if digits else 0) + len(zone)
    if not pc.all(pc.fill_null(pc.equal(pc.utf8_length(text), width), True)).as_py():
        return pc.strftime(utc, format=fmt)
    return pc.replace_substring(text, pattern=" ", replacement="T", max_replacements=1)


def _jsonable(value: Any) -> Any:
    if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return {str(k): _jsonable(v) for k, v in value}  # an Arrow map comes back as (key, value) pairs
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | bool) or value is None:
        return value
    return str(value)


def _flatten(batch: pa.RecordBatch) -> pa.RecordBatch:
    while any(pa.types.is_struct(f.type) for f in batch.schema):
        arrays: list[pa.Array] = []
        names: list[str] = []
        for name, col in zip(batch.schema.names, batch.columns, strict=True):
            if pa.types.is_struct(col.type):
                for i in range(col.type.num_fields):
                    arrays.append(col.field(i))
                    names.append(f"{name}.{col.type.field(i).name}")
            else:
                arrays.append(col)
                names.append(name)
        batch = pa.RecordBatch.from_arrays(arrays, names=names)
    return batch


def _flat_names(schema: pa.Schema) -> list[str]:
    names: list[str] = []

    def walk(prefix: str, t: pa.DataType, name: str) -> None:
        full = f"{prefix}{name}"
        if pa.types.is_struct(t):
            for i in range(t.num_fields):
                walk(f"{full}.", t.field(i).type, t.field(i).name)
        else:
            names.append(full)

    for f in schema:
        walk("", f.type, f.name)
    return names


def _parquet_batches(source: Source, info: SourceInfo) -> Iterator[pa.RecordBatch]:
    handle = pa.BufferReader(source) if isinstance(source, Data) else pa.OSFile(os.fspath(source), "rb")
    try:
        try:
            pf = pq.ParquetFile(handle)
        except (pa.ArrowInvalid, OSError) as exc:
            raise BillingImportError(
                "truncated", f"{info.name}: Parquet file is truncated or corrupt"
            ) from exc
        emitted = 0
        header: list[str] | None = None
        for raw in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            flat = _flatten(raw)
            batch = pa.RecordBatch.from_arrays([_stringify(c) for c in flat.columns], names=flat.schema.names)
            if header is None:
                header = list(batch.schema.names)
                info.header = header
            rows = pa.array(range(emitted + 1, emitted + batch.num_rows + 1), pa.int64())
            emitted += batch.num_rows
            yield _with_rows(batch, rows)
        if header is None:
            info.header = _flat_names(pf.schema_arrow)
    finally:
        handle.close()


def read_batches(
    source: Source, info: SourceInfo, encoding: str = "utf-8", columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Record batches of string columns named as in the file, plus a hidden 1-based row-number column.

    `columns` replaces the CSV header's names (used when every record is shorter than the header).
    """
    if info.kind == "parquet":
        return _parquet_batches(source, info)
    return _csv_batches(source, info, encoding, columns)
