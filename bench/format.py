"""Markdown -> Telegram formatting: time per reply over the corpus, and a 100k reply streamed.

Run ``python -m bench.format [--json] [--compare]``. Each figure is printed with its target and
PASS or FAIL; the exit code is 1 when a target is missed. The corpus is the tests' one
(tests/markdown_corpus.py: the CommonMark spec examples, converters' test inputs, READMEs,
LLM-style replies). The stream feeds a 100k-character LLM-style reply 100 characters at a time
and times what each progress update costs (`view.progress_message`), then the final render.

``--compare`` also times the candidates for the parser on the same inputs, where installed:
markdown-it-py (used), mistletoe, and chatgpt-md-converter (the converter used before), with
their CommonMark spec pass counts and inputs built to be slow.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import Report, at_most, parser, percentile
from service.telegram.format import messages_for
from service.telegram.stream import ReplyStream
from service.telegram.view import progress_message
from tests.markdown_corpus import FIXTURES, corpus, generated

PER_REPLY_P99_MS = 20.0
PER_REPLY_MAX_MS = 250.0
FINAL_100K_MS = 500.0  # "well under a second"
STREAM_CHARS = 100_000
DELTA = 100

#: inputs built to be slow (the old converter took 4.7 s on the first)
SLOW = {
    "see *.py files x4000": "see *.py files\n" * 4000,
    "'*a ' x20000": "*a " * 20000,
    "'[a](' x10000": "[a](" * 10000,
    "'![' x10000": "![" * 10000,
    "'**a' x20000": "**a" * 20000,
}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def long_reply() -> str:
    """An LLM-style reply of at least 100k characters (generated replies, one after another)."""
    parts: list[str] = []
    for sample in generated(count=2000, seed=100):
        parts.append(sample.markdown)
        if sum(map(len, parts)) >= STREAM_CHARS:
            break
    return "\n\n".join(parts)


def bench(report: Report) -> None:
    samples = corpus()
    per_reply = [timed(partial(messages_for, s.markdown)) for s in samples]
    report.note(f"corpus: {len(samples)} replies, {sum(len(s.markdown) for s in samples):,} chars")
    label = "one reply of the corpus -> the messages sent (messages_for)"
    report.percentiles("per_reply", per_reply, label, p99=at_most(PER_REPLY_P99_MS))
    report.add("per_reply_max_ms", max(per_reply), "ms", label, at_most(PER_REPLY_MAX_MS))

    text = long_reply()
    stream = ReplyStream()
    updates = [
        timed(partial(progress_message, stream, text[:end], "Bash: make test"))
        for end in range(DELTA, len(text) + DELTA, DELTA)
    ]
    report.note(f"stream: {len(text):,} chars fed {DELTA} at a time, {len(updates)} updates")
    label = f"one update of a streamed {len(text):,}-char reply -> the draft shown"
    report.percentiles("stream_update", updates, label, p99=at_most(PER_REPLY_P99_MS))
    report.add("stream_update_max_ms", max(updates), "ms", label, at_most(PER_REPLY_MAX_MS))
    report.add("stream_updates_total_ms", sum(updates), "ms", "all updates of that reply")
    final = sorted(timed(lambda: messages_for(text)) for _ in range(3))[1]
    report.add(
        "final_render_100k_ms", final, "ms", "the whole reply, median of 3", at_most(FINAL_100K_MS)
    )
    for name, slow in SLOW.items():
        report.add(
            f"slow input {name}", timed(partial(messages_for, slow)), "ms", "built to be slow"
        )


def compare(report: Report) -> None:
    """The candidate parsers on the same corpus: time per reply, spec examples passed."""
    import json

    from markdown_it import MarkdownIt

    samples = [s.markdown for s in corpus()]
    spec = json.loads((FIXTURES / "commonmark-spec" / "examples.json").read_text("utf-8"))
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    plain = MarkdownIt("commonmark")
    candidates: dict[str, tuple[Callable[[str], object], Callable[[str], str] | None]] = {
        "markdown-it-py": (md.parse, plain.render)
    }
    mistletoe = _optional("mistletoe")
    if mistletoe is not None:
        candidates["mistletoe"] = (mistletoe.Document, mistletoe.markdown)
    converter = _optional("chatgpt_md_converter")
    if converter is not None:
        candidates["chatgpt-md-converter"] = (converter.telegram_format, None)
    for name, (convert, to_html) in candidates.items():
        times = [timed(partial(convert, s)) for s in samples]
        report.add(f"{name}: p99 per reply", percentile(times, 0.99), "ms")
        report.add(f"{name}: max per reply", max(times), "ms")
        if to_html is not None:
            passed = sum(_norm(to_html(ex["markdown"])) == _norm(ex["html"]) for ex in spec)
            report.add(f"{name}: spec examples passed (of {len(spec)})", passed)
        for slow_name, slow in SLOW.items():
            report.add(f"{name}: {slow_name}", _time_or_nan(convert, slow), "ms")
    if len(candidates) < 3:
        report.note("install mistletoe and chatgpt-md-converter to compare with them too")


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _time_or_nan(convert: Callable[[str], object], text: str) -> float:
    try:
        return timed(partial(convert, text))
    except RecursionError:
        return float("nan")


def _norm(html: str) -> str:
    return re.sub(r"\s+", " ", html).replace("> <", "><").strip()


def main(argv: list[str] | None = None) -> int:
    p = parser("Markdown -> Telegram formatting: time per reply and per streamed update.")
    p.add_argument("--compare", action="store_true", help="also time the candidate parsers")
    args = p.parse_args(argv)
    sys.setrecursionlimit(10_000)
    report = Report("Markdown -> Telegram text and entities (bench/format.py)")
    bench(report)
    if args.compare:
        compare(report)
    return report.finish(as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
