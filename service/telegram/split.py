"""Cut a rendered reply into messages Telegram accepts: at most 4096 characters each.

Telegram counts its limit in characters of the visible text; counting UTF-16 code units here
(never fewer) keeps every message within it whichever way it is counted. Cuts prefer the end of
a block (paragraph, list, code block), then a blank line, a line end, a space. A span cut in two
goes on in the next message, so a code block split across messages is a code block in each.
Whitespace at a cut is dropped (Telegram would trim it), except indentation inside code.
"""

from __future__ import annotations

from bisect import bisect_right

from service.telegram.rendered import Rendered, Span, Utf16, clip

TELEGRAM_LIMIT = 4096
_SPACE = " \t\n\r\f\v"


def split(part: Rendered, limit: int = TELEGRAM_LIMIT) -> list[Rendered]:
    """Non-blank pieces of `part`, each at most `limit` UTF-16 units, in order."""
    if limit < 2:
        raise ValueError("limit must be at least 2")
    text, n = part.text, len(part.text)
    to16 = Utf16(text)
    spans = sorted(part.spans, key=lambda s: (s.start, -s.end))
    code = [(s.start, s.end) for s in spans if s.kind == "pre"]
    out: list[Rendered] = []
    carry: list[Span] = []  # spans that go on past the last cut
    taken = pos = 0
    while True:
        pos = _skip_space(text, pos, code)
        if pos >= n:
            return out
        end = _window_end(to16, pos, n, limit)
        cut = n if end >= n else _best_cut(part, pos, end, limit)
        stop = pos + len(text[pos:cut].rstrip(_SPACE))
        upto = bisect_right(spans, cut - 1, lo=taken, key=lambda s: s.start)
        here = carry + spans[taken:upto]
        taken = upto
        carry = [s for s in here if s.end > cut]
        if stop > pos:
            out.append(Rendered(text[pos:stop], clip(here, pos, stop)))
        pos = cut


def fit(part: Rendered, limit: int = TELEGRAM_LIMIT) -> Rendered:
    """`part` as one message (an edit cannot split): cut, with "…" marking the cut."""
    pieces = split(part, limit)
    if len(pieces) <= 1:
        return pieces[0] if pieces else Rendered("")
    first = split(part, limit - 1)[0]
    return Rendered(first.text + "…", first.spans)


def split_plain(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Plain text in non-blank chunks of at most `limit` UTF-16 units."""
    return [p.text for p in split(Rendered(text), limit)]


def _skip_space(text: str, pos: int, code: list[tuple[int, int]]) -> int:
    """Past whitespace at a cut; inside a code block only past line ends (keep indentation)."""
    while pos < len(text) and text[pos] in _SPACE:
        k = bisect_right(code, (pos, len(text) + 1)) - 1
        if text[pos] != "\n" and k >= 0 and code[k][1] > pos:
            break
        pos += 1
    return pos


def _window_end(to16: Utf16, pos: int, n: int, limit: int) -> int:
    """The furthest end such that text[pos:end] fits in `limit` UTF-16 units."""
    end = min(n, pos + limit)
    while (over := to16.count(pos, end) - limit) > 0:
        end -= (over + 1) // 2  # as few characters as may do it: each is one or two units
    return end


def _best_cut(part: Rendered, pos: int, end: int, limit: int) -> int:
    """Where to end the message that starts at `pos` and may not go past `end`."""
    k = bisect_right(part.breaks, end) - 1
    if k >= 0 and part.breaks[k] > pos:
        return part.breaks[k]  # even early: better a short message than a block cut in two
    floor = pos + limit // 4  # within a block, an earlier cut makes a needlessly short message
    for sep in ("\n\n", "\n", " "):
        at = part.text.rfind(sep, floor, end + len(sep))  # the separator itself is dropped
        if at > floor:
            return at
    return end
