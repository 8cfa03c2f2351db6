"""Replay view: filters, one-line formatting and folding of streamed text deltas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from eventstore.records import Event
from service.replay import EventFilter, format_json, format_line, format_timeline
from tests.test_archive import T0, Log, sample_session


def chat_event(
    seq: int, chat: int, type_: str, data: dict[str, Any], stream: str | None = None
) -> Event:
    return Event(
        seq=seq,
        stream=stream or f"chat:{chat}",
        version=seq,
        type=type_,
        schema_version=1,
        data=data,
        at=T0 + timedelta(seconds=seq),
    )


def mixed_log() -> list[Event]:
    """Two chats, two sessions, interleaved by seq as the real log would be."""
    a = sample_session("alpha")
    b = Log("beta", start=1000)
    b.add("session.created", {"name": "beta", "persona": "default", "cwd": "/x", "chat_id": 7})
    b.add("session.turn_started", {"turn_id": "b1", "text": "yo", "merged": 1})
    events = [
        chat_event(
            500, 42, "update.received", {"chat_id": 42, "update_id": 1, "text": "hi"}, "update:u1"
        ),
        chat_event(501, 7, "chat.active_session_changed", {"session": "beta"}),
        *a,
        *b.events,
    ]
    return sorted(events, key=lambda e: e.seq)


def test_filter_by_session() -> None:
    flt = EventFilter(session="beta")
    assert [e.seq for e in flt.select(mixed_log())] == [1000, 1001]


def test_filter_by_chat_includes_its_sessions() -> None:
    flt = EventFilter(chat_id=42)
    selected = list(flt.select(mixed_log()))
    streams = {e.stream for e in selected}
    assert streams == {"update:u1", "session:alpha"}, "its updates are in their own streams"
    assert len(selected) == len(sample_session()) + 1
    assert {e.stream for e in EventFilter(chat_id="7").select(mixed_log())} == {
        "chat:7",
        "session:beta",
    }


def test_filter_by_type_glob() -> None:
    flt = EventFilter(type_glob="session.turn_*")
    types = {e.type for e in flt.select(mixed_log())}
    assert types == {"session.turn_started", "session.turn_ended"}
    several = EventFilter(type_glob="update.*, chat.*, session.created")
    assert {e.type for e in several.select(mixed_log())} == {
        "update.received",
        "chat.active_session_changed",
        "session.created",
    }


def test_filter_by_time_window() -> None:
    since = T0 + timedelta(seconds=3)
    until = T0 + timedelta(seconds=6)
    selected = list(EventFilter(since=since, until=until).select(mixed_log()))
    assert [e.seq for e in selected] == [3, 4, 5]
    naive = EventFilter(since=since.replace(tzinfo=None), until=until.replace(tzinfo=None))
    assert [e.seq for e in naive.select(mixed_log())] == [3, 4, 5]


def test_filters_combine() -> None:
    flt = EventFilter(chat_id=42, session="beta")
    assert list(flt.select(mixed_log())) == []
    second_start = [e for e in sample_session() if e.type == "session.process_started"][1]
    flt = EventFilter(session="alpha", type_glob="session.process_*", since=second_start.at)
    assert [e.type for e in flt.select(mixed_log())] == ["session.process_started"]


def streaming_turn(n_deltas: int) -> list[Event]:
    log = Log("demo")
    log.add("session.turn_started", {"turn_id": "t1", "text": "count", "merged": 1})
    log.out({"type": "stream_event", "event": {"type": "message_start"}})
    for i in range(n_deltas):
        log.delta(f"w{i:03d} ")
    log.out({"type": "assistant", "message": {"content": [{"type": "text", "text": "..."}]}})
    log.result("done", 0.1)
    log.add("session.turn_ended", {"turn_id": "t1", "outcome": "completed"})
    return log.events


def test_deltas_fold_into_one_line() -> None:
    lines = list(format_timeline(streaming_turn(37)))
    # turn_started, assistant, then the fold (printed when the turn's result arrives), result...
    assert len(lines) == 5
    folded = lines[2]
    assert '… 37 deltas, 185 chars: "w000 w001' in folded
    assert folded.endswith('…" (+1 other stream events)')
    assert folded.split()[0] == "2"  # seq of the first folded event
    assert "session:demo session.stdout" in folded
    assert "assistant text" in lines[1]
    assert "result success" in lines[3]
    assert "t1 completed" in lines[4]


def test_fold_preview_is_short_and_thousands_separated() -> None:
    log = Log()
    for _ in range(1204):
        log.delta("x")
    [line] = list(format_timeline(log.events))  # flushed at end of input
    assert '… 1,204 deltas, 1,204 chars: "' + "x" * 60 + '…"' in line


def test_verbose_shows_every_delta() -> None:
    lines = list(format_timeline(streaming_turn(5), verbose=True))
    assert len(lines) == 1 + 1 + 5 + 3
    assert sum("text_delta 'w00" in line for line in lines) == 5


def test_folds_are_per_stream() -> None:
    a, b = Log("a"), Log("b", start=100)
    a.delta("alpha ")
    b.delta("beta ")
    a.delta("again")
    a.result("alpha again", 0.0)
    lines = list(format_timeline(sorted(a.events + b.events, key=lambda e: e.seq)))
    assert '… 2 deltas, 11 chars: "alpha again"' in lines[0]
    assert "result success" in lines[1]
    assert '… 1 deltas, 5 chars: "beta"' in lines[2]


def test_line_shape_and_summaries() -> None:
    lines = list(format_timeline(sample_session()))
    for line in lines:
        assert "\n" not in line
    first = lines[0].split(maxsplit=5)
    assert first[0] == "1"
    assert first[1:5] == ["2026-11-24", "12:49:01.000", "session:demo", "session.created"]
    text = "\n".join(lines)
    assert "assistant tool_use Bash: ls -la" in text
    assert "control_response deny" in text
    assert "returncode=-9 UNEXPECTED" in text
    assert "t3 failed 'claude exited with code -9'" in text


def test_format_json_round_trips() -> None:
    for event in sample_session():
        assert Event.from_json(json.loads(format_json(event))) == event
        assert "\n" not in format_json(event)


def test_timeline_is_lazy() -> None:
    def endless() -> Iterator[Event]:
        seq = 0
        while True:
            seq += 1
            yield Event(
                seq=seq,
                stream="chat:1",
                version=seq,
                type="update.received",
                schema_version=1,
                data={"update_id": seq, "text": "x"},
                at=datetime(2026, 1, 1, tzinfo=UTC),
            )

    timeline = format_timeline(EventFilter(chat_id=1).select(endless()))
    assert next(timeline).startswith("       1 ")
    assert format_line(next(endless())).endswith("update=1 'x'")
