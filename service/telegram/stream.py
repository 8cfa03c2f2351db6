"""A reply that grows while it streams, rendered in time proportional to what was added.

Re-rendering the whole reply on every progress update is quadratic over a long reply. A
top-level block followed by another block that starts on a complete line can no longer change
(CommonMark decides a block's extent line by line), so it is rendered once and kept; only the
blocks after it are parsed again when more text arrives. One block can still grow without end
(a long code block): once it is long, it is parsed again only after it grew by a quarter, and
the newest text shows unformatted until then, so the cost stays linear overall. The final reply
is rendered from scratch by `format.messages_for` (link definitions may reach back).
"""

from __future__ import annotations

import re

from service.telegram.format import parse, render_block
from service.telegram.rendered import Rendered, join, tail

OPEN_REPARSE = 16_000  # an unfinished part longer than this is re-parsed only after growing 25%
_EDGE = 32  # characters remembered to notice a reply that was replaced, not extended
_NEWLINE = re.compile(r"\r\n?")


class ReplyStream:
    """Feed it the reply so far, again and again; `shown` is how its end looks now."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._done: list[Rendered] = []  # finished top-level blocks, each rendered once
        self._src = ""  # the source from the first unfinished block on
        self._parsed = 0  # how much of _src the last parse saw
        self._open = Rendered("")  # _src[:_parsed] rendered
        self._seen = 0  # characters of the reply fed so far
        self._edge = ""

    def feed(self, text: str) -> None:
        """The whole reply so far."""
        if text[max(0, self._seen - _EDGE) : self._seen] != self._edge:
            self._reset()  # replaced, not extended: start over
        if len(text) == self._seen:
            return
        self._src += _NEWLINE.sub("\n", text[self._seen :])
        self._seen, self._edge = len(text), text[max(0, len(text) - _EDGE) :]
        if self._parsed > OPEN_REPARSE and len(self._src) - self._parsed < self._parsed // 4:
            return
        blocks = parse(self._src)
        complete = self._src.count("\n")  # lines that can no longer change
        keep = 0
        while keep + 1 < len(blocks) and blocks[keep + 1].line < complete:
            keep += 1  # the next block began on a complete line: this one is finished
        self._done.extend(r for b in blocks[:keep] if (r := render_block(b)).text)
        if keep:
            self._src = self._src.split("\n", blocks[keep].line)[-1]
        self._parsed = len(self._src)
        self._open = join([r for b in blocks[keep:] if (r := render_block(b)).text])

    def work(self, text: str) -> int:
        """About how many characters ``feed(text)`` parses: the unfinished part and the new."""
        return len(self._src) + max(0, len(text) - self._seen)

    def visible(self) -> bool:
        return bool(self._done) or self._open.visible() or bool(self._src[self._parsed :].strip())

    def shown(self, limit: int) -> Rendered:
        """The end of the reply: at most `limit` characters, "…" in front when cut."""
        fresh = self._src[self._parsed :]
        last = join([self._open, Rendered(fresh)], sep="") if fresh else self._open
        parts = [last] if last.text else []
        size = len(last.text)
        for done in reversed(self._done):
            if size >= limit:
                break
            parts.append(done)
            size += len(done.text) + 2
        return tail(join(parts[::-1]), limit)
