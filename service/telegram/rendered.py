"""A reply as Telegram shows it: plain text plus formatted spans, and the messages that carry it.

Telegram takes formatting as `MessageEntity` lists beside the text, with offsets and lengths in
UTF-16 code units. Nothing is escaped, so nothing can be escaped wrongly. Spans here count code
points (Python's indices); `to_message` converts when a message is made.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 code units each


class Entity(TypedDict):
    """A Bot API `MessageEntity` as sent: offset and length in UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: NotRequired[str]
    language: NotRequired[str]


class Message(TypedDict):
    """The text part of a sendMessage call."""

    text: str
    entities: list[Entity]


@dataclass(frozen=True, slots=True)
class Span:
    """`kind` (an entity type) over text[start:end], in code points."""

    kind: str
    start: int
    end: int
    url: str = ""
    language: str = ""


@dataclass(slots=True)
class Rendered:
    """Visible text, its spans (sorted by start), and where whole blocks end (cut there first)."""

    text: str
    spans: list[Span] = field(default_factory=list)
    breaks: list[int] = field(default_factory=list)

    def visible(self) -> bool:
        return bool(self.text) and not self.text.isspace()


def utf16_len(text: str) -> int:
    return len(text) + len(_ASTRAL.findall(text))


class Utf16:
    """Code-point index -> UTF-16 offset for one text, in O(log n) per lookup."""

    def __init__(self, text: str) -> None:
        self._astral = [] if text.isascii() else [m.start() for m in _ASTRAL.finditer(text)]

    def __call__(self, index: int) -> int:
        return index + bisect_left(self._astral, index)

    def count(self, start: int, end: int) -> int:
        """UTF-16 units of text[start:end]."""
        return self(end) - self(start)


def clip(spans: list[Span], start: int, end: int) -> list[Span]:
    """The parts of `spans` inside [start, end), shifted to start at 0; empty parts dropped."""
    out: list[Span] = []
    for s in spans:
        a, b = max(s.start, start), min(s.end, end)
        if a < b:
            out.append(Span(s.kind, a - start, b - start, s.url, s.language))
    return out


def to_message(part: Rendered) -> Message:
    """The sendMessage text and entities for `part` (offsets converted to UTF-16)."""
    to16 = Utf16(part.text)
    entities: list[Entity] = []
    for s in part.spans:
        offset = to16(s.start)
        entity: Entity = {"type": s.kind, "offset": offset, "length": to16(s.end) - offset}
        if s.url:
            entity["url"] = s.url
        if s.language:
            entity["language"] = s.language
        entities.append(entity)
    return {"text": part.text, "entities": entities}


def tail(part: Rendered, limit: int) -> Rendered:
    """The last `limit` UTF-16 units of `part`, from a line start when one is near, after "…"."""
    to16 = Utf16(part.text)
    total = to16(len(part.text))
    if total <= limit:
        return part
    start = len(part.text) - (limit - 1)
    while to16.count(start, len(part.text)) > limit - 1:
        start += 1
    newline = part.text.find("\n", start, start + 200)
    if newline != -1:
        start = newline + 1
    spans = clip(part.spans, start, len(part.text))
    return Rendered("…" + part.text[start:], [_shift(s, 1) for s in spans])


def _shift(s: Span, by: int) -> Span:
    return Span(s.kind, s.start + by, s.end + by, s.url, s.language)


def join(parts: list[Rendered], sep: str = "\n\n") -> Rendered:
    """Parts one after another, `sep` between them; each join is a block break."""
    texts: list[str] = []
    spans: list[Span] = []
    breaks: list[int] = []
    pos = 0
    for n, part in enumerate(parts):
        if n:
            breaks.append(pos)
            texts.append(sep)
            pos += len(sep)
        texts.append(part.text)
        spans.extend(_shift(s, pos) for s in part.spans)
        breaks.extend(b + pos for b in part.breaks)
        pos += len(part.text)
    return Rendered("".join(texts), spans, breaks)
