"""The Markdown corpus the formatting is tested and measured on, and what "nothing lost" means.

Inputs written by others (tests/fixtures/markdown: the CommonMark spec examples, converters'
test inputs, public READMEs; each with its source and licence) and LLM-style replies: written
by hand in replies/, and generated here from fragments with a fixed seed.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote

from markdown_it import MarkdownIt

from service.telegram.rendered import Message

FIXTURES = Path(__file__).parent / "fixtures" / "markdown"


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    markdown: str


@cache
def corpus() -> tuple[Sample, ...]:
    """Every input, named by where it comes from."""
    return (*others(), *replies(), *generated())


def others() -> list[Sample]:
    """Inputs written by others."""
    out: list[Sample] = []
    for ex in json.loads((FIXTURES / "commonmark-spec" / "examples.json").read_text("utf-8")):
        out.append(Sample(f"spec:{ex['example']}", ex["markdown"]))
    for path in sorted((FIXTURES / "markdown-it-py" / "fixtures").glob("*.md")):
        for n, md in enumerate(_fixture_inputs(path.read_text("utf-8"))):
            out.append(Sample(f"markdown-it:{path.stem}:{n}", md))
    for folder in ("markdown-it-py/samples", "telegramify-markdown"):
        for path in sorted((FIXTURES / folder).glob("*.*")):
            if path.suffix in (".md", ".txt"):
                out.append(Sample(f"{folder}:{path.name}", path.read_text("utf-8")))
    inputs = json.loads((FIXTURES / "chatgpt-md-converter" / "inputs.json").read_text("utf-8"))
    out.extend(Sample(f"chatgpt-md-converter:{x['test']}", x["markdown"]) for x in inputs)
    for path in sorted((FIXTURES / "readmes").glob("*.md")):
        text = path.read_text("utf-8")
        out.append(Sample(f"readme:{path.stem}", text))
        for n, section in enumerate(re.split(r"\n(?=## )", text)):
            out.append(Sample(f"readme:{path.stem}:{n}", section))
    return out


def replies() -> list[Sample]:
    """LLM-style replies written by hand."""
    return [
        Sample(f"reply:{p.stem}", p.read_text("utf-8"))
        for p in sorted((FIXTURES / "replies").glob("*.md"))
    ]


def _fixture_inputs(text: str) -> Iterable[str]:
    """The Markdown inputs of a markdown-it fixture file (title, '.', input, '.', HTML, '.')."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i] != ".":
            i += 1
            continue
        j = lines.index(".", i + 1)
        yield "\n".join(lines[i + 1 : j]) + "\n"
        i = lines.index(".", j + 1) + 1


# --------------------------------------------------------------------------- generated replies

_WORDS = [
    "the", "config", "file", "session", "persona", "token", "claude", "reply", "stream", "event",
    "log", "actor", "draft", "message", "retry", "flood", "limit", "chunk", "parser", "entity",
    "offset", "worker", "thread", "budget", "cache", "index",
]  # fmt: skip
_INLINE = [
    "**{w}**", "*{w}*", "_{w}_", "`{w}`", "~~{w}~~", "***{w}***", "**{w} `x_{w}` {w}**",
    "[{w}](https://example.com/{w}_(v2))", "[{w}](https://docs.example.org/{w}?a=1&b=2#frag)",
    "[{w}](/relative/{w}.md)", "[{w}](https://example.com/{w} \"a title\")", "<https://x.org/{w}>",
    "`<{w}>`", "`<span class=\"tg-spoiler\">`", "{w}【1】", "{w}_{w}_{w}", "*.{w}", "2 * {w}",
    "a < {w} & b > c", "&amp;{w}", "{w}😀", "__{w}__", "![{w}](https://img.example.com/{w}.png)",
    "{w}\\*", "**unclosed {w}", "<b>{w}</b>",
]  # fmt: skip
_CODE = [
    ("python", "def {w}(x: int) -> int:\n    if x < 0:\n        return -x\n\n    return x * 2"),
    ("bash", "$ ./ops/test tests/test_{w}.py -q\n40 passed in 1.2s"),
    ("json", '{{"{w}": [1, 2, 3], "ok": true, "path": "C:\\\\tmp\\\\{w}"}}'),
    ("", "plain code block with <tags> & ampersands for {w}"),
    ("diff", "-    old_{w} = 1\n+    new_{w} = 2"),
    ("go", 'func {w}() {{\n\tfmt.Println("tab-indented")\n}}'),
]


def _sentence(rng: random.Random) -> str:
    words = []
    for _ in range(rng.randint(4, 14)):
        w = rng.choice(_WORDS)
        words.append(rng.choice(_INLINE).format(w=w) if rng.random() < 0.3 else w)
    return " ".join(words).capitalize() + rng.choice([".", ".", "!", "?", ":"])


def _block(rng: random.Random, depth: int = 0) -> str:
    kind = rng.choice(
        ["para", "para", "para", "list", "olist", "code", "heading", "quote", "table", "rule"]
    )
    w = rng.choice(_WORDS)
    if kind == "para":
        return "\n".join(_sentence(rng) for _ in range(rng.randint(1, 4)))
    if kind in ("list", "olist"):
        items = []
        for n in range(rng.randint(2, 5)):
            marker = f"{n + 1}." if kind == "olist" else rng.choice("-*+")
            item = f"{marker} {_sentence(rng)}"
            if depth < 2 and rng.random() < 0.3:
                nested = _block(rng, depth + 1) if rng.random() < 0.5 else f"- {_sentence(rng)}"
                item += "\n" + "\n".join("   " + line for line in nested.split("\n"))
            items.append(item)
        return "\n".join(items)
    if kind == "code":
        language, body = rng.choice(_CODE)
        return f"```{language}\n{body.format(w=w)}\n```"
    if kind == "heading":
        return "#" * rng.randint(1, 4) + " " + _sentence(rng).rstrip(".!?:")
    if kind == "quote":
        return "\n".join("> " + line for line in _block(rng, depth + 1).split("\n"))
    if kind == "table":
        cols = rng.randint(2, 4)
        wide = rng.random() < 0.5
        header = "| " + " | ".join(rng.choice(_WORDS) for _ in range(cols)) + " |"
        rows = [
            "| "
            + " | ".join(
                _sentence(rng) if wide else rng.choice(_INLINE[:5]).format(w=rng.choice(_WORDS))
                for _ in range(cols)
            )
            + " |"
            for _ in range(rng.randint(1, 4))
        ]
        return "\n".join([header, "|" + "---|" * cols, *rows])
    return rng.choice(["---", "***", "___"])


def generated(count: int = 400, seed: int = 18) -> list[Sample]:
    """LLM-style replies built from fragments; every fifth is cut short like a stopped turn."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        text = "\n\n".join(_block(rng) for _ in range(rng.randint(1, 12)))
        if n % 5 == 4:
            text = text[: rng.randint(1, len(text))]
        out.append(Sample(f"generated:{n}", text))
    return out


# --------------------------------------------------------------------------- nothing lost

_WORD = re.compile(r"[^\W_]+")  # letters and digits: "_" is markup as often as not
_CHAR_REF = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}


def shown_words(messages: list[Message]) -> set[str]:
    """Words the chat shows: the texts, and where their links go (a link's destination is
    kept whole in its entity)."""
    out: set[str] = set()
    for m in messages:
        out |= words(m["text"]) | words(" ".join(_targets(m)))
    return out


def _targets(m: Message) -> list[str]:
    """Link destinations (as sent and decoded) and code languages of a message."""
    out: list[str] = []
    for e in m["entities"]:
        url = e.get("url", "")
        out += [url, unquote(url), _MD.normalizeLinkText(url), e.get("language", "")]
    return out


def unshown_words(markdown: str) -> set[str]:
    """Words of `markdown` that no renderer shows, each for a reason:

    - character references (`&amp;`, `&#123;`) show the character, not their name;
    - link titles (`[x](/u "title")`) are tooltips, and link reference definitions
      (`[id]: /url "title"`, the lines no block was made of) are not shown at all: their
      words count only where used;
    - in-page destinations (`[Intro](#intro)`): an anchor means nothing in a chat;
    - a code fence's info string after its first word (the language), all of it when the
      fence is empty (no code to label);
    - sources of images inside links (`[![badge](badge.svg)](https://ci)`): the alt text shows;
    - cells past a table's header width, which GFM (and GitHub) drop.
    """
    env: dict[str, object] = {}
    tokens = _MD.parse(markdown, env)
    hidden = words(" ".join(_CHAR_REF.findall(markdown)))
    refs = env.get("references", {})
    assert isinstance(refs, dict)
    for label, ref in refs.items():
        hidden |= words(f"{label} {ref.get('href', '')} {ref.get('title', '')}")
    shown_lines = {n for t in tokens if t.level == 0 and t.map for n in range(*t.map)}
    lines = markdown.split("\n")
    hidden |= source_words(" ".join(x for n, x in enumerate(lines) if n not in shown_lines))
    for tok in tokens:
        if tok.type == "fence":  # the language shows (on the code), if there is code
            hidden |= words(" ".join(tok.info.split()[bool(tok.content.strip()) :]))
        in_link = False
        for child in tok.children or []:
            href = str(child.attrs.get("href", child.attrs.get("src", "")))
            hidden |= words(str(child.attrs.get("title", "")))
            if child.type == "link_open":
                in_link = True
                if href.startswith("#"):
                    hidden |= words(unquote(href))
            elif child.type == "link_close":
                in_link = False
            elif child.type == "image" and in_link:
                hidden |= words(unquote(href))
        if tok.type == "table_open" and tok.map:
            hidden |= _dropped_cells(markdown, tok.map)
    return hidden


def _dropped_cells(markdown: str, lines: list[int]) -> set[str]:
    rows = markdown.split("\n")[lines[0] : lines[1]]
    width = len(_cells(rows[0]))
    return words(" ".join(" ".join(_cells(row)[width:]) for row in rows[2:]))


def _cells(row: str) -> list[str]:
    return re.split(r"(?<!\\)\|", row.strip().strip("|"))


def lost_words(markdown: str, messages: list[Message]) -> set[str]:
    """Words of `markdown` a reader of `messages` would not see.

    A word is seen when the chat shows it whole, or inside a longer run of letters and digits
    (markup between words goes: `5*6*78` shows as 5678 with 6 in italics).
    """
    missing = source_words(markdown) - unshown_words(markdown) - shown_words(messages)
    if not missing:
        return missing
    shown = " ".join(m["text"] + " " + " ".join(_targets(m)) for m in messages)
    run = "".join(_WORD.findall(shown.casefold()))
    return {w for w in missing if w not in run}


def source_words(text: str) -> set[str]:
    """Words of Markdown source; escapes (`&amp;`, `%20`) show as what they mean, not as words."""
    return words(_CHAR_REF.sub(" ", _PERCENT.sub(" ", text)))
