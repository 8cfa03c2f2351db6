"""A finished turn's reply, rebuilt from the log: what the chat is owed after a crash."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from actors.session import events as ev
from actors.session.state import SessionState, evolve
from eventstore import Event
from service.claude import codec


@dataclass(frozen=True, slots=True)
class TurnReply:
    turn_id: str
    outcome: str
    text: str
    error: str | None
    cost_usd: float
    turn_cost_usd: float


def streamed_text(events: Iterable[Event], turn_id: str) -> str:
    """The text a turn had streamed so far (its reply up to a crash)."""
    deltas: list[str] = []
    inside = False
    for event in events:
        if event.type == ev.TURN_STARTED:
            inside = event.data.get("turn_id") == turn_id
        elif inside and event.type == ev.STREAM:
            delta = codec.text_delta(event.data.get("line") or {})
            deltas.append(delta or "")
    return "".join(deltas)


def turn_reply(events: Iterable[Event], turn_id: str) -> TurnReply | None:
    """The reply of ``turn_id`` as it ended: the result text, or the streamed text if cut off."""
    state = SessionState()
    before: SessionState | None = None
    deltas: list[str] = []
    result_text: str | None = None
    inside = False
    for event in events:
        if event.type == ev.TURN_STARTED and event.data.get("turn_id") == turn_id:
            before, inside = state, True
        state = evolve(state, event)
        if not inside:
            continue
        if event.type in (ev.STDOUT, ev.STREAM):
            line = event.data.get("line") or {}
            if (delta := codec.text_delta(line)) is not None:
                deltas.append(delta)
            elif (result := codec.result_info(line)) is not None and not result.is_error:
                result_text = result.text
        elif event.type == ev.TURN_ENDED and event.data.get("turn_id") == turn_id:
            assert before is not None
            return TurnReply(
                turn_id,
                event.data["outcome"],
                result_text if result_text is not None else "".join(deltas),
                event.data.get("error"),
                state.total_cost_usd,
                max(0.0, state.total_cost_usd - before.total_cost_usd),
            )
    return None
