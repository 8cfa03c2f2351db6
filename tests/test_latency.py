"""The latency profile from hand-made events with fixed times (pure functions only)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from eventstore.records import Event
from service.latency import STAGES, percentile, shown_times, summarize, turn_timings

T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


class Log:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.versions: dict[str, int] = {}

    def add(
        self,
        stream: str,
        type_: str,
        ms: float,
        data: dict[str, Any] | None = None,
        cid: str | None = None,
    ) -> None:
        version = self.versions[stream] = self.versions.get(stream, 0) + 1
        self.events.append(
            Event(
                seq=len(self.events) + 1,
                stream=stream,
                version=version,
                type=type_,
                schema_version=1,
                data=data or {},
                at=T0 + timedelta(milliseconds=ms),
                correlation_id=cid,
            )
        )

    def turn(self, session: str, turn_id: str, update: int, t: float, *, deltas: int = 2) -> None:
        """A turn whose points are at t, +10 (written), +300 (first delta), +900 (result)."""
        stream = f"session:{session}"
        cid = f"upd-{update}"
        self.add("chat:1", "update.received", t, {"update_id": update, "text": "hi"}, cid)
        self.add(stream, "session.message_queued", t + 2, {"text": "hi"}, cid)
        self.add(stream, "session.turn_started", t + 5, {"turn_id": turn_id, "text": "hi"}, cid)
        self.add(stream, "session.stdin", t + 8, {"line": {"type": "control_request"}})
        self.add(stream, "session.stdin", t + 10, {"line": {"type": "user", "message": {}}})
        self.add(stream, "session.stdout", t + 100, {"line": {"type": "system"}})
        tool_delta = {"type": "content_block_delta", "delta": {"type": "input_json_delta"}}
        self.add(
            stream,
            "session.stdout",
            t + 200,
            {"line": {"type": "stream_event", "event": tool_delta}},
        )
        for i in range(deltas):
            text_delta = {
                "type": "content_block_delta",
                "delta": {"type": "text_delta", "text": f"w{i}"},
            }
            self.add(
                stream,
                "session.stdout",
                t + 300 + i,
                {"line": {"type": "stream_event", "event": text_delta}},
            )
        self.add(stream, "session.stdout", t + 900, {"line": {"type": "result", "result": "ok"}})
        self.add(
            stream, "session.turn_ended", t + 905, {"turn_id": turn_id, "outcome": "completed"}, cid
        )


def log_line(event: str, turn: str, ms: float) -> str:
    at = (T0 + timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z")
    return json.dumps({"event": event, "turn": turn, "timestamp": at, "level": "info"})


def test_points_of_one_turn() -> None:
    log = Log()
    log.turn("work", "t1", 1, 0)
    [timing] = turn_timings(log.events)
    assert timing.turn_id == "t1"
    assert timing.session == "work"
    assert timing.outcome == "completed"
    assert timing.since_received_ms("written") == 10
    assert timing.since_received_ms("first_delta") == 300
    assert timing.since_received_ms("result") == 900
    assert timing.since_received_ms("first_shown") is None
    assert timing.step_ms("first_delta") == 290
    assert timing.step_ms("result") == 600, "from the first delta: first shown is unknown"
    assert timing.step_ms("first_shown") is None
    assert timing.total_ms == 900


def test_shown_points_come_from_log_lines() -> None:
    log = Log()
    log.turn("work", "t1", 1, 0)
    lines = [
        "not json at all",
        "",
        log_line("reply.first_shown", "t1", 450),
        log_line("reply.first_shown", "t1", 999),  # only the first one counts
        json.dumps({"event": "something.else", "turn": "t1", "timestamp": "x"}),
        log_line("reply.final_shown", "t1", 1200),
        log_line("reply.final_shown", "other", 5),
    ]
    [timing] = turn_timings(log.events, lines)
    assert timing.since_received_ms("first_shown") == 450
    assert timing.step_ms("first_shown") == 150
    assert timing.step_ms("result") == 450
    assert timing.since_received_ms("final_shown") == 1200
    assert timing.total_ms == 1200
    assert set(shown_times(lines)) == {"t1", "other"}


def test_interleaved_sessions_and_an_open_turn() -> None:
    log = Log()
    log.turn("a", "ta", 1, 0)
    log.turn("b", "tb", 2, 50, deltas=0)  # no text at all
    log.add("chat:1", "update.received", 3000, {"update_id": 3}, "upd-3")
    log.add("session:a", "session.turn_started", 3010, {"turn_id": "tc"}, "upd-3")
    # A turn started without a logged update (e.g. resumed after a restart).
    log.add("session:b", "session.turn_started", 4000, {"turn_id": "td"}, None)
    timings = turn_timings(log.events)
    assert [t.turn_id for t in timings] == ["ta", "tb", "tc", "td"]
    tb = timings[1]
    assert tb.first_delta is None
    assert tb.since_received_ms("result") == 900
    tc = timings[2]
    assert tc.outcome is None
    assert tc.written is None
    assert tc.total_ms is None
    assert timings[3].received is None


def test_summarize_percentiles_and_slowest() -> None:
    log = Log()
    for i in range(10):
        log.turn("work", f"t{i}", i + 1, i * 10_000)
    # Make turn t7 slow: its final shown is 5 s after the update.
    lines = [log_line("reply.final_shown", "t7", 7 * 10_000 + 5000)]
    timings = turn_timings(log.events, lines)
    summary = summarize(timings)
    assert summary["turns"] == 10
    written = summary["since_received_ms"]["written"]
    assert written == {"n": 10, "p50": 10.0, "p90": 10.0, "p99": 10.0}
    assert summary["since_received_ms"]["first_shown"] == {
        "n": 0,
        "p50": None,
        "p90": None,
        "p99": None,
    }
    assert summary["since_received_ms"]["final_shown"]["n"] == 1
    assert set(summary["since_received_ms"]) == set(STAGES)
    slowest = summary["slowest"]
    assert len(slowest) == 5
    assert slowest[0]["turn_id"] == "t7"
    assert slowest[0]["total_ms"] == 5000
    json.dumps(summary)  # everything is JSON-ready


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 90) == 90
    assert percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7.0
    assert percentile([3, 1, 2], 50) == 2
