"""Records as NDJSON lines: one encoder, built once, for every line the agent writes or sends.

The text is exactly `json.dumps(record, separators=(",", ":"), ensure_ascii=False,
sort_keys=True)`. `json.dumps` sets up a new encoder on every call, which costs about as much as
encoding a small record; here the C encoder that `json` itself uses is made once (the pure-Python
one when the interpreter has no C accelerator).
"""

from __future__ import annotations

import json
from json import encoder as _json_encoder
from typing import Any, Callable, Dict

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _build() -> Callable[[Dict[str, Any]], str]:
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    # The arguments JSONEncoder.iterencode passes for a one-shot encode (check_circular aside:
    # a record is a flat dict, it cannot hold itself).
    chunks = make(None, _ENCODER.default, _json_encoder.encode_basestring, None, ":", ",", True, False, True)

    def encode(record: Dict[str, Any]) -> str:
        return "".join(chunks(record, 0))

    return encode


encode = _build()


def ndjson_line(record: Dict[str, Any]) -> str:
    """One record as a line of NDJSON text (newline included)."""
    return encode(record) + "\n"
