"""Split long replies into messages Telegram accepts.

Telegram counts the 4096 limit in Unicode code points of the *visible* text (tags removed,
entities decoded). Cuts prefer paragraph, then line, then word boundaries, never fall inside a
tag or an entity, and tags open at a cut are closed at the end of one chunk and reopened at the
start of the next, so every chunk is valid HTML on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.telegram.format import Token, check_nesting, repair_nesting, tokenize

TELEGRAM_LIMIT = 4096


def _best_cut(chars: Sequence[str | None], start: int, end: int) -> int:
    """Pick where to cut within chars[start:end] (end exclusive, the hard maximum).

    A None entry is a tag (no visible width). Returns an index in (start, end].
    """
    if end >= len(chars):
        return len(chars)
    for boundary in ("\n\n", "\n", " "):
        for k in range(end, start, -1):
            if boundary == "\n\n":
                if chars[k - 1] == "\n" and k - 2 > start and chars[k - 2] == "\n":
                    return k
            elif chars[k - 1] == boundary:
                return k
    return end


def _ranges(chars: Sequence[str | None], limit: int) -> list[tuple[int, int]]:
    """Cut a sequence of visible chars (None = zero-width tag) into ranges of <= limit chars."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    out: list[tuple[int, int]] = []
    start, n = 0, len(chars)
    while start < n:
        width, end = 0, start
        while end < n and (chars[end] is None or width < limit):
            if chars[end] is not None:
                width += 1
            end += 1
        # a tag right after the last char that fits belongs to the next chunk unless it closes
        cut = _best_cut(chars, start, end)
        out.append((start, cut))
        start = cut
    return out


def _trim(chars: Sequence[str | None], start: int, end: int) -> tuple[int, int]:
    """Drop whitespace chars at both ends of a range (whitespace at cut points is not kept)."""
    while start < end and (c := chars[start]) is not None and c.isspace():
        start += 1
    while end > start and (c := chars[end - 1]) is not None and c.isspace():
        end -= 1
    return start, end


def split_plain(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split plain text into non-empty chunks of at most `limit` code points."""
    chars: list[str | None] = list(text)
    chunks: list[str] = []
    for start, end in _ranges(chars, limit):
        s, e = _trim(chars, start, end)
        if s < e:
            chunks.append(text[s:e])
    return chunks


def split_html(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split Telegram HTML into chunks, each valid on its own and within `limit` visible chars.

    Raises HTMLError if `html` cannot be tokenized (e.g. a stray '<'); mis-nested tags are
    repaired first. Chunks whose visible text would be only whitespace are left out.
    """
    tokens = repair_nesting(tokenize(html))
    check_nesting(tokens)
    chars: list[str | None] = [t.char if t.kind == "char" else None for t in tokens]
    # open-tag stack before each token index (shared tuples; changes only at tags)
    stacks: list[tuple[Token, ...]] = []
    stack: tuple[Token, ...] = ()
    for tok in tokens:
        stacks.append(stack)
        if tok.kind == "open":
            stack = (*stack, tok)
        elif tok.kind == "close":
            stack = stack[:-1]
    stacks.append(stack)

    chunks: list[str] = []
    for start, end in _ranges(chars, limit):
        s, e = _trim(chars, start, end)
        if not any(c is not None and not c.isspace() for c in chars[s:e]):
            continue
        body = "".join(t.raw for t in tokens[s:e])
        prefix = "".join(t.raw for t in stacks[s])
        suffix = "".join(f"</{t.name}>" for t in reversed(stacks[e]))
        chunks.append(prefix + body + suffix)
    return chunks
