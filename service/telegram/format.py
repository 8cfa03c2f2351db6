"""Markdown → Telegram HTML, plus a strict reader of Telegram's HTML subset.

The model writes Markdown; Telegram accepts only a small HTML subset and refuses the whole
message on any error. `chatgpt-md-converter` does the conversion; its output is then checked
by a strict tokenizer (stricter than Telegram's own parser, so anything it accepts Telegram
accepts) and mis-nested tags are repaired. If repair is impossible the text is sent escaped.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass
from typing import Literal

from aiogram.utils.text_decorations import html_decoration
from chatgpt_md_converter import telegram_format

ALLOWED_TAGS: frozenset[str] = frozenset(
    [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    ]
)

_VALUE = r'"(?:[^"<>&]|&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});)*"'
_TAG_RE = re.compile(rf"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:={_VALUE})?)*)\s*>")
_ATTR_RE = re.compile(rf"([a-zA-Z-]+)(?:=({_VALUE}))?")
_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class HTMLError(ValueError):
    """The text is not valid Telegram HTML (Telegram would refuse it)."""


@dataclass(frozen=True, slots=True)
class Token:
    """One piece of Telegram HTML: a tag, or one visible character (maybe an entity)."""

    kind: Literal["open", "close", "char"]
    raw: str
    name: str = ""  # tag name for open/close
    char: str = ""  # decoded character for kind == "char"


def _decode_entity(raw: str) -> str:
    body = raw[1:-1]
    if body in _NAMED:
        return _NAMED[body]
    code = int(body[2:], 16) if body[1:2] == "x" else int(body[1:])
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise HTMLError(f"invalid numeric entity {raw!r}")
    return chr(code)


def _check_attrs(name: str, attrs: str) -> None:
    found = {k: _html.unescape(v[1:-1]) for k, v in _ATTR_RE.findall(attrs)}
    if name == "span" and found.get("class") != "tg-spoiler":
        raise HTMLError('tag "span" must have class "tg-spoiler"')
    if name == "tg-emoji" and not found.get("emoji-id"):
        raise HTMLError('tag "tg-emoji" needs emoji-id')
    if name == "a" and not found.get("href"):
        raise HTMLError('tag "a" needs href')


def tokenize(html: str) -> list[Token]:
    """Split Telegram HTML into tokens; raise HTMLError on anything Telegram may refuse.

    Nesting is not checked here (see `check_nesting`), so mis-nested input can be repaired.
    """
    tokens: list[Token] = []
    i, n = 0, len(html)
    while i < n:
        c = html[i]
        if c == "<":
            m = _TAG_RE.match(html, i)
            if not m:
                raise HTMLError(f"stray '<' at {i}")
            closing, name, attrs = m.group(1) == "/", m.group(2).lower(), m.group(3)
            if name not in ALLOWED_TAGS:
                raise HTMLError(f"unsupported tag {name!r} at {i}")
            if closing:
                if attrs.strip():
                    raise HTMLError(f"attributes in end tag at {i}")
                tokens.append(Token("close", m.group(0), name))
            else:
                _check_attrs(name, attrs)
                tokens.append(Token("open", m.group(0), name))
            i = m.end()
        elif c == "&":
            m = _ENTITY_RE.match(html, i)
            if not m:
                raise HTMLError(f"unescaped '&' at {i}")
            tokens.append(Token("char", m.group(0), char=_decode_entity(m.group(0))))
            i = m.end()
        elif c == ">":
            raise HTMLError(f"unescaped '>' at {i}")
        else:
            tokens.append(Token("char", c, char=c))
            i += 1
    return tokens


def check_nesting(tokens: list[Token]) -> None:
    """Raise HTMLError unless every tag is closed in the right order."""
    stack: list[str] = []
    for tok in tokens:
        if tok.kind == "open":
            stack.append(tok.name)
        elif tok.kind == "close":
            if not stack or stack[-1] != tok.name:
                raise HTMLError(f"unexpected end tag </{tok.name}>")
            stack.pop()
    if stack:
        raise HTMLError(f"unclosed tag <{stack[-1]}>")


def is_valid_html(html: str) -> bool:
    """True if Telegram would accept `html` with parse_mode=HTML (strict check)."""
    try:
        check_nesting(tokenize(html))
    except HTMLError:
        return False
    return True


def visible_text(html: str) -> str:
    """The text Telegram shows for valid `html`: tags removed, entities decoded."""
    return "".join(t.char for t in tokenize(html) if t.kind == "char")


def repair_nesting(tokens: list[Token]) -> list[Token]:
    """Re-nest tags: close-and-reopen across mis-nested ends, drop stray ends, close the rest."""
    out: list[Token] = []
    stack: list[Token] = []
    for tok in tokens:
        if tok.kind == "open":
            stack.append(tok)
            out.append(tok)
        elif tok.kind == "close":
            names = [t.name for t in stack]
            if tok.name not in names:
                continue  # stray end tag: drop it
            idx = len(names) - 1 - names[::-1].index(tok.name)
            reopen = stack[idx + 1 :]
            for t in reversed(stack[idx:]):
                out.append(Token("close", f"</{t.name}>", t.name))
            del stack[idx:]
            for t in reopen:
                stack.append(t)
                out.append(t)
        else:
            out.append(tok)
    for t in reversed(stack):
        out.append(Token("close", f"</{t.name}>", t.name))
    return out


def render(tokens: list[Token]) -> str:
    """Join tokens back into HTML."""
    return "".join(t.raw for t in tokens)


def escape(text: str) -> str:
    """Escape plain text for parse_mode=HTML."""
    return html_decoration.quote(text)


def to_telegram_html(markdown: str) -> str:
    """Convert the model's Markdown to HTML that Telegram accepts, whatever the input.

    Falls back to the escaped source text when the converter's output cannot be repaired.
    """
    try:
        converted = telegram_format(markdown)
        fixed = render(repair_nesting(tokenize(converted)))
        check_nesting(tokenize(fixed))
    except Exception:  # any converter bug must not cost us the message
        return escape(markdown)
    if _lost_text(markdown, visible_text(fixed)):
        return escape(markdown)
    return fixed


_LINK_TARGET = re.compile(r"\]\([^)]*\)|^\s*(```|~~~)\S*", re.MULTILINE)


def _lost_text(markdown: str, shown: str) -> bool:
    """True when the converter dropped words (it does, on some unclosed code spans)."""
    if "PLACEHOLDER" in shown and "PLACEHOLDER" not in markdown:
        return True
    expected = sum(ch.isalnum() for ch in _LINK_TARGET.sub("", markdown))
    return sum(ch.isalnum() for ch in shown) < expected * 0.9
