"""The benchmarks' verdicts: a missed target makes a bench exit non-zero, and says which."""

from __future__ import annotations

import json
import math

import pytest

from bench.common import MIN_P99_SAMPLES, Report, at_least, at_most, exactly


def test_a_missed_target_fails_the_bench_and_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    report = Report("demo")
    report.add("ratio", 0.39, "x", "grouped / raw", at_least(0.4))
    report.add("lag_p99_ms", 900.0, "ms", "loop lag", at_most(1000))
    report.add("lost", 0, "", "replies lost", exactly(0))
    report.add("rate", 5.0, "/s", "no target")
    assert report.finish(as_json=True) == 1
    out = capsys.readouterr().out.splitlines()
    row = next(line for line in out if line.startswith("ratio"))
    assert row.split()[1:] == ["0.39", "x", ">=", "0.40", "FAIL", "grouped", "/", "raw"]
    assert "PASS" in next(line for line in out if line.startswith("lag_p99_ms"))
    assert "FAIL: 2 of 3 targets met; missed: ratio" in out
    assert json.loads(out[-1])["failed"] == ["ratio"]


def test_all_targets_met_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    report = Report("demo")
    report.add("ratio", 0.4, "x", "grouped / raw", at_least(0.4))
    assert report.finish() == 0
    assert "PASS: 1 of 1 targets met" in capsys.readouterr().out


def test_a_p99_needs_enough_samples_and_unmeasured_is_a_failure() -> None:
    few = Report("few")
    few.percentiles("shown", [10.0] * (MIN_P99_SAMPLES - 1), "update -> shown", p99=at_most(50))
    p50, p99 = few.figures
    assert p50.value == 10.0
    assert p99.value is None
    assert "p99 needs >= 100" in p99.label
    assert p99.verdict == "FAIL"
    enough = Report("enough")
    samples = [float(i) for i in range(1, 201)]
    enough.percentiles("shown", samples, "update -> shown", p50=at_most(250), p99=at_most(150))
    p50, p99 = enough.figures
    assert (p50.value, p50.verdict) == (101.0, "PASS")
    assert (p99.value, p99.verdict) == (198.0, "FAIL")
    assert "(200 samples)" in p99.label
    nothing = Report("nothing")
    nothing.add("rate", math.nan, "/s", "", at_least(1))
    assert nothing.failed()[0].name == "rate"


def test_the_topics_run_counts_a_reply_only_whole_and_in_its_own_topic() -> None:
    from datetime import UTC, datetime, timedelta

    from bench.load import REPLY_CHARS
    from bench.load_topics import Final, judge
    from bench.telegram import filler

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    whole = filler(REPLY_CHARS)

    def final(thread: int | None, session: str, seconds: float, text: str = whole) -> Final:
        return Final(
            thread, t0 + timedelta(seconds=seconds), f"{text}\n\n$0.1 this turn · $1 in {session}"
        )

    threads = {"t0": 10, "t1": 11}
    turns: dict[str, list[datetime | None]] = {"t0": [t0, t0 + timedelta(seconds=5)], "t1": [t0]}
    finals = [
        final(10, "t0", 0.25),
        final(10, "t0", 6.0),
        final(11, "t0", 1.0),  # t0's reply in t1's topic
        final(None, "t1", 1.0),  # in General
        final(11, "t1", 2.0, text=whole[:100]),  # cut short
    ]
    waits, good, misplaced = judge(finals, threads, turns)
    assert good == 2
    assert misplaced == 2
    assert waits == [250.0, 1000.0, 2000.0], "a misplaced final times no turn"
