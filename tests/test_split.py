"""The splitter: every piece fits, nothing is lost, every character keeps its formatting."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.telegram.rendered import Rendered, Span, tail, to_message, utf16_len
from service.telegram.split import fit, split, split_plain
from tests.fakes.botapi import check_entities

KINDS = [("bold", "", ""), ("italic", "", ""), ("code", "", ""), ("pre", "", "py"),
         ("text_link", "https://e.org/a_(b)", ""), ("blockquote", "", "")]  # fmt: skip
TEXT = st.text(alphabet=st.sampled_from("ab c\n\n\t😀é-"), min_size=0, max_size=300)


@st.composite
def rendered(draw: st.DrawFn) -> Rendered:
    """Text with properly nested spans and some block breaks."""
    text = draw(TEXT)
    n = len(text)
    spans: list[Span] = []
    for _ in range(draw(st.integers(0, 12))):
        a = draw(st.integers(0, n))
        b = draw(st.integers(a, n))
        kind, url, language = draw(st.sampled_from(KINDS))
        crosses = any(s.start < a < s.end < b or a < s.start < b < s.end for s in spans)
        if a < b and not crosses:
            spans.append(Span(kind, a, b, url, language))
    breaks = sorted(set(draw(st.lists(st.integers(0, n), max_size=6))))
    return Rendered(text, sorted(spans, key=lambda s: (s.start, -s.end)), breaks)


def formats(part: Rendered) -> list[tuple[str, frozenset[tuple[str, str, str]]]]:
    """Each visible character with the formatting on it."""
    return [
        (c, frozenset((s.kind, s.url, s.language) for s in part.spans if s.start <= i < s.end))
        for i, c in enumerate(part.text)
        if not c.isspace()
    ]


@settings(max_examples=500, deadline=None)
@given(rendered(), st.integers(min_value=2, max_value=80))
def test_pieces_fit_lose_nothing_and_keep_formatting(part: Rendered, limit: int) -> None:
    pieces = split(part, limit)
    for piece in pieces:
        assert piece.text.strip(), "never a blank message"
        assert utf16_len(piece.text) <= limit
        assert piece.text[0] != "\n"
        assert not piece.text[-1].isspace()
        assert all(0 <= s.start < s.end <= len(piece.text) for s in piece.spans)
        message = to_message(piece)
        assert len(check_entities(message["text"], message["entities"])) == len(piece.spans)
    assert [f for p in pieces for f in formats(p)] == formats(part)


@settings(max_examples=200, deadline=None)
@given(rendered(), st.integers(min_value=3, max_value=80))
def test_fit_and_tail_stay_within_the_limit(part: Rendered, limit: int) -> None:
    one = fit(part, limit)
    assert utf16_len(one.text) <= limit
    if len(split(part, limit)) > 1:
        assert one.text.endswith("…")
    end = tail(part, limit)
    assert utf16_len(end.text) <= limit
    assert part.text.endswith(end.text.removeprefix("…"))
    if end is not part:
        assert formats(end)[1:] == formats(part)[len(formats(part)) - len(formats(end)) + 1 :]


def test_cut_prefers_block_ends_then_lines_then_spaces() -> None:
    text = "first block\n\nsecond block is longer\nwith a line"
    part = Rendered(text, breaks=[11])
    assert [p.text for p in split(part, 30)] == [
        "first block",
        "second block is longer",
        "with a line",
    ]
    assert split_plain("aaaa bbbb cccc", 9) == ["aaaa bbbb", "cccc"]


def test_a_code_block_cut_in_two_keeps_indentation_and_language() -> None:
    code = "def f():\n    return 1\n    return 2"
    part = Rendered(code, [Span("pre", 0, len(code), language="py")])
    pieces = split(part, 22)
    assert [p.text for p in pieces] == ["def f():\n    return 1", "    return 2"]
    assert [p.spans for p in pieces] == [
        [Span("pre", 0, 21, language="py")],
        [Span("pre", 0, 12, language="py")],
    ]


def test_astral_characters_count_twice() -> None:
    assert [p.text for p in split(Rendered("😀" * 5), 4)] == ["😀😀", "😀😀", "😀"]
    message = to_message(Rendered("😀b", [Span("bold", 1, 2)]))
    assert message["entities"] == [{"type": "bold", "offset": 2, "length": 1}]
