"""Markdown (what the model writes) -> what Telegram shows: text plus `MessageEntity` spans.

markdown-it-py parses: it passes every CommonMark spec example and stays near linear time on
input built to be slow, where the converter used before took seconds (README, "Formatting
replies"). GFM tables and ~~strikethrough~~ are on. Its tokens are walked once, one top-level
block at a time, so a growing reply can render only what changed (`stream.py`).

What Telegram cannot show is turned into what it can, losing no visible word: headings bold,
lists with bullets or numbers, tables a monospace grid (or, when wide or linked, one item per
row), images links, rules a line, raw HTML as the text it is. Links keep their whole destination;
one Telegram would refuse (relative, mailto:) is written after its text instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from markdown_it import MarkdownIt
from markdown_it.token import Token

from service.telegram.rendered import Message, Rendered, Span, join, to_message
from service.telegram.split import TELEGRAM_LIMIT, fit, split

log = structlog.get_logger(__name__)

MAX_NESTING = 40  # deeper blocks are shown as their source text (markdown-it would drop them)
TABLE_WIDTH = 44  # wider tables become lists: a monospace grid wraps unreadably on a phone
RULE = "──────────"
BULLETS = ("•", "◦", "▪")

_MD = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])
_WEB_URL = re.compile(r"https?://([^/?#\s]+)(?:[/?#]\S*)?", re.IGNORECASE)
_STYLES = {"em": "italic", "strong": "bold", "s": "strikethrough"}
_NEWLINE = re.compile(r"\r\n?")


def messages_for(markdown: str, limit: int = TELEGRAM_LIMIT) -> list[Message]:
    """Exactly what is sent for `markdown`: non-blank messages of at most `limit` characters.

    A reply that renders to nothing visible (an empty code fence, a lone rule marker) is sent
    as its source text; blank input gives no message.
    """
    return [to_message(part) for part in split(render(markdown), limit)]


def one_message_for(markdown: str, limit: int = TELEGRAM_LIMIT) -> Message:
    """`markdown` as one message (an edit cannot split): cut, with "…" marking the cut."""
    return to_message(fit(render(markdown), limit))


def plain_messages(text: str, limit: int = TELEGRAM_LIMIT) -> list[Message]:
    """`text` as it is, no formatting, in messages of at most `limit` characters."""
    return [to_message(part) for part in split(Rendered(text), limit)]


def render(markdown: str) -> Rendered:
    """The whole reply rendered; its source text when it renders to nothing visible."""
    try:
        rendered = join([r for block in parse(markdown) if (r := render_block(block)).text])
    except Exception:  # a parser bug must not cost the reply: show what was written
        log.warning("format.render_failed", chars=len(markdown), exc_info=True)
        rendered = Rendered("")
    return rendered if rendered.visible() else Rendered(markdown)


@dataclass(frozen=True, slots=True)
class Block:
    """One top-level block: its tokens, its first source line and its source."""

    tokens: list[Token]
    line: int
    source: str


def parse(markdown: str) -> list[Block]:
    """`markdown` parsed into top-level blocks."""
    tokens = _MD.parse(markdown)
    lines = _NEWLINE.sub("\n", markdown).split("\n")  # as markdown-it numbers them
    blocks: list[Block] = []
    start = 0
    for i, tok in enumerate(tokens):
        if tok.level == 0 and tok.nesting <= 0:
            group = tokens[start : i + 1]
            first, end = group[0].map or (0, 0)
            blocks.append(Block(group, first, "\n".join(lines[first:end])))
            start = i + 1
    return blocks


def render_block(block: Block) -> Rendered:
    """One top-level block as text and spans."""
    if max(t.level for t in block.tokens) >= MAX_NESTING - 1:
        return Rendered(block.source)  # nested past the parser's limit: it dropped content
    w = _Writer()
    w.blocks(block.tokens)
    return w.result()


def web_url(url: str) -> bool:
    """True if Telegram takes `url` for a text link (an absolute http(s) URL with a dotted host).

    A little stricter than Telegram's own check, so it never refuses what passes here.
    """
    m = _WEB_URL.fullmatch(url)
    if m is None:
        return False
    host, _, port = m.group(1).partition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return False
    return "." in host.strip(".") and all(c.isalnum() or c in "-._~" for c in host)


def _display_url(url: str) -> str:
    return str(_MD.normalizeLinkText(url))


@dataclass
class _Box:
    """A container blocks go into: the top level, a quote, a list item."""

    sep: str  # between its blocks
    indent: str  # after every line break inside it
    first: bool = True


@dataclass
class _List:
    ordered: bool
    number: int
    depth: int
    first: bool = True


@dataclass
class _Style:
    kind: str
    start: int | None  # None: nested in a span of the same kind, which covers it


@dataclass
class _Writer:
    """Builds text and spans from markdown-it tokens, in one pass."""

    parts: list[str] = field(default_factory=list)
    pos: int = 0
    spans: list[Span] = field(default_factory=list)
    boxes: list[_Box] = field(default_factory=lambda: [_Box("\n\n", "")])
    lists: list[_List] = field(default_factory=list)
    styles: list[_Style] = field(default_factory=list)
    links: list[tuple[int, int, str, bool]] = field(default_factory=list)
    in_link: int = 0  # open text links (no code spans inside one: Telegram would drop them)
    quote_start: int | None = None
    quotes: int = 0

    def result(self) -> Rendered:
        text = "".join(self.parts)
        return Rendered(text, sorted(self.spans, key=lambda s: (s.start, -s.end)))

    # ------------------------------------------------------------------ output
    def add(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.pos += len(text)

    def line_break(self) -> None:
        self.add("\n" + self.boxes[-1].indent)

    def span(self, kind: str, start: int, end: int, url: str = "", language: str = "") -> None:
        if start < end:
            self.spans.append(Span(kind, start, end, url, language))

    def begin_block(self, *, indent: bool = True) -> None:
        box = self.boxes[-1]
        if box.first:
            box.first = False
            return
        self.add(box.sep + (box.indent if indent else ""))

    # ------------------------------------------------------------------ blocks
    def blocks(self, tokens: Sequence[Token]) -> None:
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            i += 1
            kind = tok.type
            if kind == "paragraph_open":
                self.begin_block()
            elif kind == "heading_open":
                self.begin_block()
                self.open_style("bold")
            elif kind == "heading_close":
                self.end_style("bold")
            elif kind == "inline":
                self.inline(tok.children or [])
            elif kind in ("bullet_list_open", "ordered_list_open"):
                self.begin_block()
                start = tok.attrs.get("start", 1)
                number = start if isinstance(start, int) else 1
                self.lists.append(_List(kind == "ordered_list_open", number, len(self.lists)))
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
            elif kind == "list_item_open":
                self.list_item(tok)
            elif kind == "list_item_close":
                self.boxes.pop()
            elif kind == "blockquote_open":
                self.begin_block()
                self.boxes.append(_Box("\n\n", self.boxes[-1].indent))
                if self.quotes == 0:  # Telegram cannot nest quotes: the outermost one shows
                    self.quote_start = self.pos
                self.quotes += 1
            elif kind == "blockquote_close":
                self.boxes.pop()
                self.quotes -= 1
                if self.quotes == 0 and self.quote_start is not None:
                    self.span("blockquote", self.quote_start, self.pos)
            elif kind in ("fence", "code_block"):
                self.code(tok)
            elif kind == "hr":
                self.begin_block()
                self.add(RULE)
            elif kind == "table_open":
                end = next(j for j in range(i, len(tokens)) if tokens[j].type == "table_close")
                self.table(tokens[i:end])
                i = end + 1
            elif tok.content:  # html_block, and anything newer: its text, as written
                self.begin_block()
                self.add(tok.content.rstrip("\n").replace("\n", "\n" + self.boxes[-1].indent))

    def list_item(self, tok: Token) -> None:
        lst = self.lists[-1]
        if lst.first:
            lst.first = False  # the list's own begin_block put it on a fresh line
        else:
            self.line_break()
        if lst.ordered:  # numbered in order from the list's start, as written when it agrees
            written = tok.info if tok.info.isdigit() and int(tok.info) == lst.number else ""
            marker = f"{written or lst.number}."
            lst.number += 1
        else:
            marker = BULLETS[min(lst.depth, len(BULLETS) - 1)]
        self.add(marker + " ")
        self.boxes.append(_Box("\n", self.boxes[-1].indent + " " * (len(marker) + 1)))

    def code(self, tok: Token) -> None:
        text = tok.content.rstrip("\n")
        if not text:
            return
        self.begin_block(indent=False)  # a code block is a block of its own: no list indent
        language = tok.info.split()[0] if tok.type == "fence" and tok.info.strip() else ""
        start = self.pos
        self.add(text)
        self.span("pre", start, self.pos, language=language)

    def table(self, tokens: Sequence[Token]) -> None:
        rows: list[list[list[Token]]] = []
        aligns: list[str] = []
        for i, tok in enumerate(tokens):
            if tok.type == "tr_open":
                rows.append([])
            elif tok.type in ("th_open", "td_open"):
                rows[-1].append(tokens[i + 1].children or [])
                if len(rows) == 1:
                    aligns.append(str(tok.attrs.get("style", "")))
        if not rows:
            return
        self.begin_block(indent=False)
        plain = [[_plain(cell) for cell in row] for row in rows]
        widths = [max(_width(row[c]) for row in plain if c < len(row)) for c in range(len(aligns))]
        linked = any(t.type in ("link_open", "image") for row in rows for c in row for t in c)
        if linked or sum(widths) + 3 * (len(widths) - 1) > TABLE_WIDTH:
            self.table_as_list(rows)
        else:
            start = self.pos
            self.add(_grid(plain, widths, aligns))
            self.span("pre", start, self.pos)

    def table_as_list(self, rows: list[list[list[Token]]]) -> None:
        """One item per row: the first cell in bold, then the others, each after its header."""
        header, body = rows[0], rows[1:] or [rows[0]]
        indent = self.boxes[-1].indent
        for n, row in enumerate(body):
            self.add(("\n" + indent if n else "") + BULLETS[0] + " ")
            for c, cell in enumerate(row):
                if c:
                    self.add("\n" + indent + "  ")
                if body is not rows and _plain(header[c]).strip():
                    self.inline(header[c])
                    self.add(": ")
                if c == 0:
                    self.open_style("bold")
                self.inline(cell)
                if c == 0:
                    self.end_style("bold")

    # ------------------------------------------------------------------ inline
    def inline(self, tokens: Sequence[Token]) -> None:
        for tok in tokens:
            kind = tok.type
            if kind in ("softbreak", "hardbreak"):
                self.line_break()
            elif kind == "code_inline":
                self.code_span(tok.content)
            elif kind.endswith("_open") and kind[:-5] in _STYLES:
                self.open_style(_STYLES[kind[:-5]])
            elif kind.endswith("_close") and kind[:-6] in _STYLES:
                self.end_style(_STYLES[kind[:-6]])
            elif kind == "link_open":
                self.open_link(str(tok.attrs.get("href", "")))
            elif kind == "link_close":
                self.close_link()
            elif kind == "image":
                self.image(tok)
            else:  # text, html_inline, and anything newer: its text, as written
                self.add(tok.content)

    def code_span(self, text: str) -> None:
        start = self.pos
        self.add(text)
        if self.in_link:
            return  # inside a text link a code span would be dropped by Telegram with the link
        for style in self.styles:  # Telegram drops bold etc. inside code: stop them around it
            if style.start is not None:
                self.span(style.kind, style.start, start)
                style.start = self.pos
        self.span("code", start, self.pos)

    def open_style(self, kind: str) -> None:
        nested = any(s.kind == kind for s in self.styles)
        self.styles.append(_Style(kind, None if nested else self.pos))

    def end_style(self, kind: str) -> None:
        for k in range(len(self.styles) - 1, -1, -1):
            if self.styles[k].kind == kind:
                style = self.styles.pop(k)
                if style.start is not None:
                    self.span(kind, style.start, self.pos)
                return

    def open_link(self, url: str) -> None:
        usable = not self.in_link and web_url(url)
        if usable:
            self.in_link += 1
        self.links.append((self.pos, len(self.parts), url, usable))

    def close_link(self) -> None:
        start, first_part, url, usable = self.links.pop()
        shown = "".join(self.parts[first_part:])
        if not shown:
            self.add(_display_url(url))
        if usable:
            self.in_link -= 1
            self.span("text_link", start, self.pos, url=url)
        elif shown and url and not url.startswith("#") and shown != _display_url(url):
            self.add(f" ({_display_url(url)})")  # Telegram cannot link there: say where it goes

    def image(self, tok: Token) -> None:
        src = str(tok.attrs.get("src", ""))
        start, first_part = self.pos, len(self.parts)
        self.inline(tok.children or [])
        if self.pos == start:
            self.add(_display_url(src) if src and not self.in_link else "image")
        if self.in_link or not src:
            return
        if web_url(src):
            self.span("text_link", start, self.pos, url=src)
        elif "".join(self.parts[first_part:]) != _display_url(src):
            self.add(f" ({_display_url(src)})")


def _plain(tokens: Sequence[Token]) -> str:
    """The visible words of inline tokens, unformatted (for table layout)."""
    out: list[str] = []
    for tok in tokens:
        if tok.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif tok.type == "image":
            out.append(_plain(tok.children or []))
        else:
            out.append(tok.content)
    return "".join(out)


def _width(text: str) -> int:
    """Monospace columns `text` takes (wide East Asian characters take two)."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _grid(rows: list[list[str]], widths: list[int], aligns: list[str]) -> str:
    def cell(text: str, c: int) -> str:
        pad = widths[c] - _width(text)
        if aligns[c].endswith("right"):
            return " " * pad + text
        if aligns[c].endswith("center"):
            return " " * (pad // 2) + text + " " * (pad - pad // 2)
        return text + " " * pad

    def line(row: list[str]) -> str:
        cells = [cell(row[c] if c < len(row) else "", c) for c in range(len(widths))]
        return " │ ".join(cells).rstrip()

    rule = "─┼─".join("─" * w for w in widths)
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])
