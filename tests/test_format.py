"""Markdown -> Telegram text and entities: what each construct becomes, and what never happens."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.telegram.format import MAX_NESTING, messages_for, render, web_url
from service.telegram.rendered import Message, utf16_len
from tests.fakes.botapi import check_entities, entity_faults, link_error
from tests.markdown_corpus import lost_words

MD_ATOMS = st.sampled_from(
    ["**", "*", "_", "__", "~~", "||", "`", "```", "```python\n", "~~~", "\n", "\n\n", " ", "<",
     ">", "&", "&amp;", "[", "](", ")", "(", "http://x.y/?a=1&b=2", "https://e.org/a_(b)", "# ",
     "> ", "- ", "1. ", "    ", "| a | b |\n|---|---|\n", "|", "😀", "<b>", "</i>", "word", "é",
     "\t", '"', "'", "![", "\\", "***", "---", "<https://x.y>", "[x]: /u\n", "【1】"]
)  # fmt: skip
MARKDOWN = st.lists(st.one_of(MD_ATOMS, st.text(max_size=5)), max_size=40).map("".join)


def sent(markdown: str) -> Message:
    """The one message `markdown` becomes."""
    [message] = messages_for(markdown)
    return message


def covered(message: Message, kind: str) -> list[str]:
    """The texts entities of `kind` cover (UTF-16 offsets converted back)."""
    units = message["text"].encode("utf-16-le")
    return [
        units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message["entities"]
        if e["type"] == kind
    ]


def accepted(message: Message) -> None:
    """Telegram takes it as it is: non-blank, within the limit, entities valid and unchanged."""
    assert message["text"].strip()
    assert utf16_len(message["text"]) <= 4096
    kept = check_entities(message["text"], message["entities"])
    assert len(kept) == len(message["entities"]), "no empty or ignored entities are sent"
    assert entity_faults(kept) == []


@settings(max_examples=400, deadline=None)
@given(MARKDOWN)
def test_any_markdown_gives_messages_telegram_takes_unchanged(md: str) -> None:
    messages = messages_for(md)
    # Blank as Telegram counts it (not Python's str.strip, which also drops \x1c-\x1f and more)
    assert bool(messages) == bool(md.strip(" \t\n\r\f\v"))
    for m in messages:
        accepted(m)
    assert lost_words(md, messages) == set()


def test_inline_formatting_becomes_entities() -> None:
    m = sent("**b** and *i* and _j_ and ~~s~~ and `x<y & z`")
    assert m["text"] == "b and i and j and s and x<y & z"
    assert covered(m, "bold") == ["b"]
    assert covered(m, "italic") == ["i", "j"]
    assert covered(m, "strikethrough") == ["s"]
    assert covered(m, "code") == ["x<y & z"]


def test_code_with_tag_like_text_stays_code() -> None:
    m = sent('Use `<blockquote>` or `<span class="tg-spoiler">` for that, then go on.')
    assert covered(m, "code") == ["<blockquote>", '<span class="tg-spoiler">']
    assert m["text"].endswith("for that, then go on.")
    assert not any(e["type"] in ("blockquote", "spoiler") for e in m["entities"])


@pytest.mark.parametrize(
    ("markdown", "url"),
    [
        ("[Wiki](https://en.wikipedia.org/wiki/A_(b))", "https://en.wikipedia.org/wiki/A_(b)"),
        ("[x](https://e.org/foo(and(bar)))", "https://e.org/foo(and(bar))"),
        ('[x](https://e.org/u "the title")', "https://e.org/u"),
        ("[x](https://e.org/a_b_c/d_e?x=1&y=2#f_g)", "https://e.org/a_b_c/d_e?x=1&y=2#f_g"),
        ("[x](<https://e.org/with space>)", "https://e.org/with%20space"),
        ("<https://e.org/auto_link>", "https://e.org/auto_link"),
    ],
)
def test_links_keep_their_whole_destination(markdown: str, url: str) -> None:
    m = sent(markdown)
    [link] = [e for e in m["entities"] if e["type"] == "text_link"]
    assert link.get("url") == url
    assert ")" not in m["text"]
    assert "title" not in m["text"]
    assert link_error(url) is None


def test_links_telegram_cannot_take_show_where_they_go() -> None:
    m = sent("See [setup](docs/setup_guide.md), [mail](mailto:a@b.org) and [intro](#intro).")
    assert m["text"] == "See setup (docs/setup_guide.md), mail (mailto:a@b.org) and intro."
    assert m["entities"] == []
    assert not web_url("docs/setup_guide.md")
    assert not web_url("http://localhost:8080/x")


def test_citation_marks_and_odd_characters_are_kept() -> None:
    text = "The docs【1】 say so【2†source】; see *.py files and a_b_c."
    assert sent(text)["text"] == "The docs【1】 say so【2†source】; see *.py files and a_b_c."


def test_blocks() -> None:
    m = sent("# Title `x`\n\npara\n\n- a\n- b\n  1. c\n\n> quote\n\n---\n\n<div>raw</div>")
    assert (
        m["text"] == "Title x\n\npara\n\n• a\n• b\n  1. c\n\nquote\n\n──────────\n\n<div>raw</div>"
    )
    assert covered(m, "bold") == ["Title "]  # bold stops at code: Telegram drops it inside
    assert covered(m, "code") == ["x"]
    assert covered(m, "blockquote") == ["quote"]


def test_code_blocks_keep_language_and_indentation() -> None:
    m = sent("Run:\n\n```python\ndef f():\n\treturn 1\n```\n\n    indented code")
    assert m["text"] == "Run:\n\ndef f():\n\treturn 1\n\nindented code"
    pres = [e for e in m["entities"] if e["type"] == "pre"]
    assert [p.get("language") for p in pres] == ["python", None]
    assert covered(m, "pre") == ["def f():\n\treturn 1", "indented code"]


def test_narrow_tables_are_monospace_and_wide_ones_lists() -> None:
    grid = sent("| k | value |\n|---|--:|\n| a | 1 |\n| bb | 22 |")
    assert grid["text"] == "k  │ value\n───┼──────\na  │     1\nbb │    22"
    assert covered(grid, "pre") == [grid["text"]]
    wide = sent(
        "| Option | Notes |\n|---|---|\n| **SQLite** | one writer; see [docs](https://sqlite.org) |"
    )
    assert wide["text"] == "• Option: SQLite\n  Notes: one writer; see docs"
    assert covered(wide, "bold") == ["SQLite"]
    assert [e.get("url") for e in wide["entities"] if e["type"] == "text_link"] == [
        "https://sqlite.org"
    ]


def test_images_become_links() -> None:
    m = sent("![chart](https://e.org/c.png) ![](https://e.org/d.png) ![local](img/x.png)")
    assert m["text"] == "chart https://e.org/d.png local (img/x.png)"
    assert covered(m, "text_link") == ["chart", "https://e.org/d.png"]


@pytest.mark.parametrize("markdown", ["```", "~~~~", "```\n\n```", "<!-- -->\n"])
def test_a_reply_that_renders_to_nothing_is_sent_as_written(markdown: str) -> None:
    as_written: Message = {"text": markdown.strip(), "entities": []}
    assert messages_for(markdown) == [as_written]


@pytest.mark.parametrize(
    ("markdown", "text"),
    [("****", "──────────"), ("[](https://example.com)", "https://example.com")],
)
def test_empty_looking_replies_show_something(markdown: str, text: str) -> None:
    assert sent(markdown)["text"] == text


def test_blank_input_gives_no_message() -> None:
    assert messages_for("") == messages_for(" \n\t\n") == []


def test_offsets_count_utf16_units() -> None:
    m = sent("😀 **b** 👩‍💻 `c`")
    assert m["entities"] == [
        {"type": "bold", "offset": 3, "length": 1},
        {"type": "code", "offset": 11, "length": 1},
    ]
    assert covered(m, "bold") == ["b"]
    assert covered(m, "code") == ["c"]


def test_nesting_past_the_parsers_limit_is_shown_as_written() -> None:
    deep = ">" * (MAX_NESTING + 5) + " deep words\n\nafter"
    m = sent(deep)
    assert "deep words" in m["text"]
    assert m["text"].endswith("after")


def test_nested_quotes_and_links_do_not_nest_entities() -> None:
    m = sent("> a\n> > b\n\n[`code` in **link**](https://e.org)")
    assert covered(m, "blockquote") == ["a\n\nb"]
    assert covered(m, "code") == []  # Telegram would drop the link with it
    assert covered(m, "text_link") == ["code in link"]
    accepted(m)


def test_a_long_reply_splits_at_blocks_and_code_stays_code() -> None:
    code = "\n".join(f"line_{n} = {n}" for n in range(600))
    md = "Intro paragraph.\n\n```python\n" + code + "\n```\n\n" + "Outro words. " * 400
    messages = messages_for(md)
    assert len(messages) >= 3
    for m in messages:
        accepted(m)
    assert messages[0]["text"] == "Intro paragraph."  # cut at the block, not inside the text
    code_parts = [m for m in messages if any(e["type"] == "pre" for e in m["entities"])]
    assert len(code_parts) >= 2
    for m in code_parts:
        [pre] = [e for e in m["entities"] if e["type"] == "pre"]
        assert pre.get("language") == "python"
        assert covered(m, "pre")[0].startswith("line_")
    joined = "\n".join(c for m in code_parts for c in covered(m, "pre"))
    assert joined == code
    assert _squash("".join(m["text"] for m in messages)) == _squash(render(md).text)


def test_a_huge_line_is_cut_hard_within_the_limit() -> None:
    messages = messages_for("x" * 10_000)
    assert [len(m["text"]) for m in messages] == [4096, 4096, 1808]


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)
