"""How a turn ends, and its reply rebuilt from the log: what the chat is owed after a crash."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from actors.claude import codec
from actors.session import budget
from actors.session import events as ev
from actors.session import notices as n
from actors.session.budget import CostCap
from actors.session.changes import FileChanges
from actors.session.routine_runs import RoutineRun
from actors.session.state import SessionState, Turn, evolve
from actors.session.wording import CUT_OFF_BY_RESTART, cap_reached
from eventstore import Event, NewEvent


@dataclass(frozen=True, slots=True)
class TurnEnd:
    """How a running turn ends: what ``session.turn_ended`` records and the chat is told."""

    outcome: str
    text: str
    error: str | None = None
    #: Why, when the outcome alone does not say (``ev.COST_CAP``, "restart", "shutdown").
    reason: str | None = None

    def event(self, turn: Turn) -> NewEvent:
        """The ``session.turn_ended`` of ``turn`` ending so."""
        data: dict[str, Any] = {"turn_id": turn.turn_id, "outcome": self.outcome}
        if self.error:
            data["error"] = self.error
        if self.reason:
            data["reason"] = self.reason
        return NewEvent(ev.TURN_ENDED, data, correlation_id=turn.correlation_id)


@dataclass(frozen=True, slots=True)
class TurnReply:
    turn_id: str
    outcome: str
    text: str
    error: str | None
    cost_usd: float
    turn_cost_usd: float
    routine: RoutineRun | None = None
    files: tuple[str, ...] = ()


def finished(session: str, reply: TurnReply) -> n.TurnFinished:
    """What the chat is told of a finished turn (its reply and what it cost)."""
    return n.TurnFinished(
        session,
        reply.turn_id,
        reply.outcome,
        reply.text,
        reply.cost_usd,
        reply.turn_cost_usd,
        reply.error,
        reply.routine,
        reply.files,
    )


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
    """The reply of ``turn_id`` as it ended: the result text, or the streamed text if cut off,
    and the files it changed."""
    state = SessionState()
    before: SessionState | None = None
    deltas: list[str] = []
    result_text: str | None = None
    routine: RoutineRun | None = None
    changes = FileChanges()
    inside = False
    for event in events:
        if event.type == ev.TURN_STARTED and event.data.get("turn_id") == turn_id:
            before, inside = state, True
            routine = RoutineRun.from_data(event.data.get("routine"))
        state = evolve(state, event)
        if not inside:
            continue
        if event.type in (ev.STDOUT, ev.STREAM):
            line = event.data.get("line") or {}
            changes = changes.seen(line)
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
                routine,
                changes.paths,
            )
    return None


def needs_streamed_text(turn: Turn) -> bool:
    """Whether ``restart_end`` needs the text ``turn`` had streamed: only then is the log read."""
    return turn.result_subtype == budget.BUDGET_REACHED or not turn.saw_result


def restart_end(turn: Turn, last_result: str | None, streamed: str, cap: CostCap) -> TurnEnd:
    """How a turn the log still shows running is closed after pocketcode restarted.

    One claude stopped at its budget keeps what it had written and says why; one whose result
    was logged ends as that result said; one cut off midway keeps its streamed text and asks
    to be sent again (nothing resends it by itself: the process that ran it is gone).
    """
    if turn.result_subtype == budget.BUDGET_REACHED:
        return TurnEnd(ev.FAILED, streamed, cap_reached(cap), ev.COST_CAP)
    if turn.saw_result:
        if turn.result_interrupted:
            return TurnEnd(ev.INTERRUPTED, last_result or "")
        return TurnEnd(ev.FAILED if turn.result_is_error else ev.COMPLETED, last_result or "")
    return TurnEnd(ev.INTERRUPTED, streamed, CUT_OFF_BY_RESTART, "restart")
