"""A streamed reply renders only what is new, and shows what a full render would."""

from __future__ import annotations

import random

import pytest

import service.telegram.stream as stream_mod
from service.telegram.format import Block, parse, render, render_block
from service.telegram.rendered import Rendered, join, tail
from service.telegram.stream import OPEN_REPARSE, ReplyStream
from tests.markdown_corpus import Sample, generated, replies

LIMIT = 3800


def fed_in_pieces(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    cuts, at = [], 0
    while at < len(text):
        at += rng.choice([1, 2, 7, 30, 200])
        cuts.append(text[:at])
    return cuts


def shown_by_full_render(text: str) -> Rendered:
    """The tail of `text` rendered whole (a draft shows nothing, not the source, until a block
    renders to something)."""
    whole = join([r for b in parse(text) if (r := render_block(b)).text])
    return tail(whole, LIMIT) if whole.visible() else Rendered("")


#: a link reference definition may come after the link that uses it: the stream has shown that
#: link's block by then, as written; only the final render resolves it (next test)
SAMPLES = [s for s in replies() + generated(count=120) if "]: " not in s.markdown]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_every_step_shows_what_a_full_render_shows(sample: Sample) -> None:
    stream = ReplyStream()
    for n, prefix in enumerate(fed_in_pieces(sample.markdown, seed=len(sample.markdown))):
        stream.feed(prefix)
        if n % 3 == 0 or len(prefix) == len(sample.markdown):
            expected = shown_by_full_render(prefix)
            shown = stream.shown(LIMIT) if stream.visible() else Rendered("")
            assert (shown.text, shown.spans) == (expected.text, expected.spans), prefix


def test_a_late_link_definition_is_left_to_the_final_render() -> None:
    text = "See [the docs][d].\n\nMore.\n\n[d]: https://e.org/docs\n"
    stream = ReplyStream()
    for end in range(len(text) + 1):
        stream.feed(text[:end])
    assert stream.shown(LIMIT).text.startswith("See [the docs][d].")
    assert render(text).text.startswith("See the docs.")


def test_a_replaced_reply_starts_over() -> None:
    stream = ReplyStream()
    stream.feed("first **draft**\n\nsecond paragraph\n\n")
    stream.feed("[work] a new text")
    assert stream.shown(LIMIT).text == "[work] a new text"


@pytest.mark.parametrize(
    "unit",
    [
        "A paragraph with **bold**, `code` and a [link](https://e.org/a_(b)).\n\n",
        "    indented code line that never ends\n",
        "- a list item that goes on and on\n",
        "see *.py files and more * stars\n",
    ],
    ids=["paragraphs", "one-growing-code-block", "one-growing-list", "one-growing-paragraph"],
)
def test_work_per_update_is_proportional_to_what_was_added(
    unit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Characters parsed over a 100k-character reply streamed 200 at a time: bounded by a
    constant times its length, where re-rendering everything would be ~25M."""
    parsed: list[int] = []

    def counting_parse(markdown: str) -> list[Block]:
        parsed.append(len(markdown))
        return parse(markdown)

    monkeypatch.setattr(stream_mod, "parse", counting_parse)
    text = unit * (100_000 // len(unit))
    stream = ReplyStream()
    for end in range(200, len(text) + 200, 200):
        stream.feed(text[:end])
    assert sum(parsed) <= 8 * len(text) + OPEN_REPARSE * OPEN_REPARSE // 200
    assert stream.visible()
    assert len(stream.shown(LIMIT).text) <= LIMIT
