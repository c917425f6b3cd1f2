"""Tags as one JSON object string per row (FOCUS KeyValueFormat), from the shapes providers write.

- one column per tag (legacy CUR `resourceTags/user:app`, Athena `resource_tags_user_app`),
- a JSON object (FOCUS, CUR 2.0 map columns, Azure MCA),
- Azure EA's object without braces (`"k": "v","k2": "v2"`),
- GCP's list of {key, value} records, as JSON or as a Python literal in flattened BigQuery CSVs.

Unparsable text is never dropped: it is kept as {"x_unparsed": "<text>"} and flagged as a quirk.
"""

from __future__ import annotations

import ast
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tally.billing.values import as_mask, join_present, map_unique

UNPARSED_KEY = "x_unparsed"
_MAX_LITERAL = 64 << 10


def _dump(obj: dict[str, Any]) -> str | None:
    if not obj:
        return None
    return orjson.dumps({str(k): v for k, v in obj.items()}).decode()


def _loads_relaxed(text: str) -> Any:
    """JSON, else a Python literal (BigQuery CSV flattening writes repr()); never evaluates code."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    if len(text) > _MAX_LITERAL:
        raise ValueError("literal too large")
    return ast.literal_eval(text)


def parse_tag_text(text: str) -> str | None:
    """Any supported textual tag shape -> JSON object text."""
    stripped = text.strip()
    try:
        if stripped.startswith('"'):
            stripped = "{" + stripped + "}"  # Azure EA writes the object without its braces
        value = _loads_relaxed(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return _dump({UNPARSED_KEY: text})
    if isinstance(value, dict):
        return _dump({str(k): _scalar(v) for k, v in value.items()})
    if isinstance(value, list):
        pairs: dict[str, Any] = {}
        for item in value:
            if isinstance(item, dict) and "key" in item:
                pairs[str(item["key"])] = _scalar(item.get("value"))
            else:
                return _dump({UNPARSED_KEY: text})
        return _dump(pairs)
    return _dump({UNPARSED_KEY: text})


def _scalar(v: Any) -> Any:
    if v is None or isinstance(v, str | bool | int | float):
        return v
    return str(v)


def from_text(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Textual tags -> (JSON object strings, mask of rows kept unparsed)."""
    tags = map_unique(arr, parse_tag_text)
    unparsed = as_mask(pc.starts_with(tags, '{"' + UNPARSED_KEY + '"'))
    return tags, unparsed


def _json_string(arr: pa.Array) -> pa.Array:
    """Quote strings as JSON string literals, vectorised for the common characters."""
    escaped = pc.replace_substring(arr, pattern="\\", replacement="\\\\")
    escaped = pc.replace_substring(escaped, pattern='"', replacement='\\"')
    escaped = pc.replace_substring(escaped, pattern="\n", replacement="\\n")
    escaped = pc.replace_substring(escaped, pattern="\r", replacement="\\r")
    escaped = pc.replace_substring(escaped, pattern="\t", replacement="\\t")
    controls = as_mask(pc.match_substring_regex(escaped, r"[\x00-\x08\x0b\x0c\x0e-\x1f]"))
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    if pc.any(controls).as_py():
        exact = map_unique(arr, lambda v: orjson.dumps(v).decode())
        quoted = pc.if_else(controls, exact, quoted)
    return quoted


def from_columns(columns: list[tuple[str, pa.Array]], num_rows: int) -> pa.Array:
    """One column per tag key -> JSON object strings (null where a row has no tag)."""
    if not columns:
        return pa.nulls(num_rows, pa.string())
    fragments = [
        pc.binary_join_element_wise(pa.scalar(orjson.dumps(key).decode() + ":"), _json_string(col), "")
        for key, col in columns
    ]
    body = join_present(fragments, ",")
    return pc.binary_join_element_wise("{", body, "}", "")


def merge(*tag_arrays: pa.Array | None) -> pa.Array | None:
    """Merge JSON object columns row by row (later keys win)."""
    arrays = [a for a in tag_arrays if a is not None]
    if not arrays:
        return None
    if len(arrays) == 1:
        return arrays[0]
    rows = [
        [v for v in values if v is not None] for values in zip(*(a.to_pylist() for a in arrays), strict=True)
    ]
    out: list[str | None] = []
    for parts in rows:
        merged: dict[str, Any] = {}
        for part in parts:
            merged.update(orjson.loads(part))
        out.append(_dump(merged))
    return pa.array(out, pa.string())


def prefix_keys(arr: pa.Array, prefix: str) -> pa.Array:
    """Prefix every key of JSON object strings."""

    def one(text: str) -> str | None:
        return _dump({prefix + str(k): v for k, v in orjson.loads(text).items()})

    return map_unique(arr, one)
