"""Event payloads as compact JSON text: the one encoding both database recorders store."""

from __future__ import annotations

import json
from json.scanner import make_scanner
from typing import Any

#: Same output as ``json.dumps(data, ensure_ascii=False, separators=(",", ":"))``, without
#: building a new encoder per event.
_encode_utf8 = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_encode_ascii = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def encode(data: Any) -> str:
    """Compact JSON; a lone surrogate (not valid UTF-8) is kept as its escape, never an error."""
    text = _encode_utf8(data)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return _encode_ascii(data)
    return text


#: The C scanner behind ``json.loads``, called directly for the compact JSON we write; anything
#: else (leading/trailing whitespace, a BOM, invalid text) goes through ``json.loads``.
_scan = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed: the C variant


def decode(text: str) -> Any:
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)
