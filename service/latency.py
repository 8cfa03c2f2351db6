"""The latency profile of turns, computed from the event log (and, optionally, the bot's log).

A turn passes six points; each is found in the log when it was recorded:

* ``received``    — ``update.received`` whose correlation id the turn carries
* ``written``     — the first ``session.stdin`` user line after ``session.turn_started``
* ``first_delta`` — the first ``session.stdout`` text delta of the turn
* ``first_shown`` — ``reply.first_shown`` in the bot's JSON-lines log (``--log``)
* ``result``      — the ``session.stdout`` ``result`` line
* ``final_shown`` — ``reply.final_shown`` in the bot's JSON-lines log

Everything here is pure: events and log lines in, numbers out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actors.claude import codec
from eventstore.records import Event

UPDATE_RECEIVED = "update.received"
TURN_STARTED = "session.turn_started"
TURN_ENDED = "session.turn_ended"
STDIN = "session.stdin"
STDOUT = "session.stdout"
STREAM = "session.stream"

#: The event types a profile needs (for ``read_all(types=...)``).
EVENT_TYPES = frozenset({UPDATE_RECEIVED, TURN_STARTED, TURN_ENDED, STDIN, STDOUT, STREAM})

#: The points of a turn, in the order they normally happen.
POINTS = ("received", "written", "first_delta", "first_shown", "result", "final_shown")
#: Stages reported: each point after ``received``.
STAGES = POINTS[1:]
PERCENTILES = (50, 90, 99)

FIRST_SHOWN = "reply.first_shown"
FINAL_SHOWN = "reply.final_shown"


def _aware(value: datetime) -> datetime:
    return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (_aware(end) - _aware(start)).total_seconds() * 1000.0


@dataclass(slots=True)
class TurnTiming:
    """When one turn passed each point (``None``: not in the log)."""

    turn_id: str
    session: str
    correlation_id: str | None
    started: datetime
    received: datetime | None = None
    written: datetime | None = None
    first_delta: datetime | None = None
    first_shown: datetime | None = None
    result: datetime | None = None
    final_shown: datetime | None = None
    ended: datetime | None = None
    outcome: str | None = None
    seq: int = 0

    def point(self, name: str) -> datetime | None:
        value: datetime | None = getattr(self, name)
        return value

    def since_received_ms(self, stage: str) -> float | None:
        """Milliseconds from the update being received to ``stage``."""
        return _ms(self.received, self.point(stage))

    def step_ms(self, stage: str) -> float | None:
        """Milliseconds from the previous point known (first/final shown may be missing)."""
        end = self.point(stage)
        if end is None:
            return None
        for earlier in reversed(POINTS[: POINTS.index(stage)]):
            if (start := self.point(earlier)) is not None:
                return _ms(start, end)
        return None

    @property
    def total_ms(self) -> float | None:
        """Received to the last point we know of (final shown, else result, else ended)."""
        end = self.final_shown or self.result or self.ended
        return _ms(self.received, end)

    def to_json(self) -> dict[str, Any]:
        return {
            "turn_id": self.turn_id,
            "session": self.session,
            "correlation_id": self.correlation_id,
            "outcome": self.outcome,
            "points": {
                name: (value.isoformat() if (value := self.point(name)) else None)
                for name in POINTS
            },
            "since_received_ms": {stage: _round(self.since_received_ms(stage)) for stage in STAGES},
            "step_ms": {stage: _round(self.step_ms(stage)) for stage in STAGES},
            "total_ms": _round(self.total_ms),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def shown_times(log_lines: Iterable[str]) -> dict[str, dict[str, datetime]]:
    """``turn id -> {"first_shown": t, "final_shown": t}`` from structlog JSON lines.

    Lines that are not JSON objects (console output, blank lines) are skipped; the first
    occurrence of each mark counts.
    """
    marks: dict[str, dict[str, datetime]] = {}
    names = {FIRST_SHOWN: "first_shown", FINAL_SHOWN: "final_shown"}
    for raw in log_lines:
        raw = raw.strip()
        if not raw.startswith("{"):
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        point = names.get(obj.get("event"))  # type: ignore[arg-type]
        turn = obj.get("turn")
        at = _parse_time(obj.get("timestamp"))
        if point is None or not isinstance(turn, str) or at is None:
            continue
        marks.setdefault(turn, {}).setdefault(point, at)
    return marks


def turn_timings(events: Iterable[Event], log_lines: Iterable[str] = ()) -> list[TurnTiming]:
    """One timing per turn started in ``events`` (fed in log order), oldest first.

    ``update.received`` events must come before the turns that carry their
    correlation id (they always do in the log).
    """
    received: dict[str, datetime] = {}
    open_turns: dict[str, TurnTiming] = {}  # stream -> turn in progress
    timings: list[TurnTiming] = []
    for event in events:
        kind = event.type
        if kind == UPDATE_RECEIVED:
            if event.correlation_id:
                received.setdefault(event.correlation_id, event.at)
            continue
        if not event.stream.startswith("session:"):
            continue
        if kind == TURN_STARTED:
            turn = TurnTiming(
                turn_id=str(event.data.get("turn_id")),
                session=event.stream.removeprefix("session:"),
                correlation_id=event.correlation_id,
                started=event.at,
                received=received.get(event.correlation_id or ""),
                seq=event.seq,
            )
            open_turns[event.stream] = turn
            timings.append(turn)
            continue
        current = open_turns.get(event.stream)
        if current is None:
            continue
        turn = current
        if kind == TURN_ENDED:
            turn.ended = event.at
            turn.outcome = event.data.get("outcome")
            del open_turns[event.stream]
            continue
        line = event.data.get("line")
        if not isinstance(line, dict):
            continue
        if kind == STDIN:
            if turn.written is None and codec.msg_type(line)[0] == "user":
                turn.written = event.at
        elif kind in (STDOUT, STREAM):
            if turn.first_delta is None and codec.text_delta(line) is not None:
                turn.first_delta = event.at
            elif turn.result is None and codec.is_result(line):
                turn.result = event.at
    marks = shown_times(log_lines)
    if marks:
        for turn in timings:
            seen = marks.get(turn.turn_id)
            if seen:
                turn.first_shown = seen.get("first_shown")
                turn.final_shown = seen.get("final_shown")
    return timings


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of non-empty ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(slots=True)
class _Stats:
    values: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        if not self.values:
            return {"n": 0, **{f"p{p}": None for p in PERCENTILES}}
        return {
            "n": len(self.values),
            **{f"p{p}": round(percentile(self.values, p), 1) for p in PERCENTILES},
        }


def summarize(timings: Sequence[TurnTiming], *, slowest: int = 5) -> dict[str, Any]:
    """Percentiles (ms) per stage, since the update was received and from the previous point.

    A stage with no measurement has ``n == 0`` and ``None`` percentiles ("n/a").
    """
    since = {stage: _Stats() for stage in STAGES}
    step = {stage: _Stats() for stage in STAGES}
    for turn in timings:
        for stage in STAGES:
            if (value := turn.since_received_ms(stage)) is not None:
                since[stage].values.append(value)
            if (value := turn.step_ms(stage)) is not None:
                step[stage].values.append(value)
    measured = [t for t in timings if t.total_ms is not None]
    worst = sorted(measured, key=lambda t: t.total_ms or 0.0, reverse=True)[:slowest]
    return {
        "turns": len(timings),
        "since_received_ms": {stage: since[stage].to_json() for stage in STAGES},
        "step_ms": {stage: step[stage].to_json() for stage in STAGES},
        "slowest": [t.to_json() for t in worst],
    }
