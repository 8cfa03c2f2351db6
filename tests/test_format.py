"""Markdown conversion and splitting always yield HTML the stand-in (tdlib's parser) accepts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.telegram.format import is_valid_html, to_telegram_html, visible_text
from service.telegram.split import split_html, split_plain
from tests.fakes.botapi import parse_html

MD_ATOMS = st.sampled_from(
    ["**", "*", "_", "__", "~~", "||", "`", "```", "```python\n", "\n", "\n\n", " ", "<", ">",
     "&", "&amp;", "[", "](", ")", "http://x.y/?a=1&b=2", "# ", "> ", "- ", "| a | b |", "😀",
     "<b>", "</i>", "word", "é", "\t", '"', "'"]
)  # fmt: skip
MARKDOWN = st.lists(st.one_of(MD_ATOMS, st.text(max_size=5)), max_size=40).map("".join)


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


@settings(max_examples=400, deadline=None)
@given(MARKDOWN)
def test_markdown_always_gives_valid_telegram_html(md: str) -> None:
    html = to_telegram_html(md)
    assert is_valid_html(html)
    parse_html(html)  # the stand-in's tdlib port accepts it too


def test_known_conversions() -> None:
    assert to_telegram_html("**b** and `x<y`") == "<b>b</b> and <code>x&lt;y</code>"
    code = to_telegram_html("```python\nprint(1 & 2)\n```")
    assert code.startswith('<pre><code class="language-python">print(1 &amp; 2)')
    assert is_valid_html(to_telegram_html("_a **b_ c**"))  # mis-nested: repaired
    assert to_telegram_html("a < b & c") == "a &lt; b &amp; c"


@settings(max_examples=300, deadline=None)
@given(MARKDOWN, st.integers(min_value=1, max_value=60))
def test_split_html_chunks_are_valid_and_complete(md: str, limit: int) -> None:
    html = to_telegram_html(md * 3)
    chunks = split_html(html, limit)
    for chunk in chunks:
        parsed = parse_html(chunk)
        assert parsed.text.strip()
        assert len(parsed.text) <= limit
    joined = "".join(parse_html(c).text for c in chunks)
    assert _squash(joined) == _squash(visible_text(html))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=1, max_value=50))
def test_split_plain(text: str, limit: int) -> None:
    chunks = split_plain(text, limit)
    assert all(c.strip() and len(c) <= limit for c in chunks)
    assert _squash("".join(chunks)) == _squash(text)


def test_split_prefers_paragraphs_and_reopens_tags() -> None:
    text = "para one\n\npara two is longer\nline"
    assert split_plain(text, 20) == ["para one", "para two is longer", "line"]
    html = "<b>" + "word " * 10 + "</b>"
    chunks = split_html(html, 12)
    assert all(c.startswith("<b>") and c.endswith("</b>") for c in chunks)
    pre = '<pre><code class="language-py">' + "x = 1\n" * 10 + "</code></pre>"
    for chunk in split_html(pre, 14):
        assert parse_html(chunk).entities[0] == {
            "type": "pre", "offset": 0, "length": len(parse_html(chunk).text), "language": "py",
        }  # fmt: skip


def test_split_counts_visible_characters() -> None:
    html = "&lt;" * 4096 + "<b>x</b>"
    chunks = split_html(html)
    assert [len(visible_text(c)) for c in chunks] == [4096, 1]


@pytest.mark.parametrize(
    "markdown",
    [
        "**bold _italic `code <b> & [link](",
        "unclosed `code span with words after it",
        "```python\nprint('x')\n",
    ],
)
def test_no_words_are_lost_to_the_converter(markdown: str) -> None:
    shown = visible_text(to_telegram_html(markdown))
    assert "PLACEHOLDER" not in shown
    for word in ("bold", "italic", "code", "words", "print"):
        if word in markdown:
            assert word in shown
