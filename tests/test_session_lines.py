"""What one stdout line means for the running turn (``actors.session.lines``), and how a turn
ends by its result or after a restart (``actors.session.replies``): pure, no process, no actor."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from actors.claude import codec
from actors.session import events as ev
from actors.session.budget import CostCap
from actors.session.lines import LineEffect, Shown, read_line, result_end
from actors.session.replies import TurnEnd, needs_streamed_text, restart_end
from actors.session.state import SessionState, SettingRequest, Turn
from actors.session.wording import CUT_OFF_BY_RESTART, cap_reached, retry_notice

AT = datetime(2025, 1, 1, tzinfo=UTC)
TURN = Turn("t1", "hello", 1, AT, "upd-1")
RUNNING = SessionState(name="work", cwd="/srv/work", status="active", turn=TURN)
NO_CAP = CostCap("work", 0.0, None, default=True)
NOTHING = Shown()


def read(
    line: dict[str, Any],
    shown: Shown = NOTHING,
    state: SessionState = RUNNING,
    *,
    retry_told: bool = False,
    resume_unconfirmed: bool = False,
    default_cap: float | None = None,
) -> LineEffect:
    return read_line(
        line,
        shown,
        state,
        retry_told=retry_told,
        resume_unconfirmed=resume_unconfirmed,
        default_cap=default_cap,
    )


def delta(text: str) -> dict[str, Any]:
    event = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": text}}
    return {"type": "stream_event", "event": event}


TEXT_BLOCK = {
    "type": "stream_event",
    "event": {"type": "content_block_start", "content_block": {"type": "text"}},
}
RETRY = {
    "type": "system",
    "subtype": "api_retry",
    "attempt": 2,
    "max_retries": 10,
    "retry_delay_ms": 4000,
    "error_status": 529,
}


def result(**fields: Any) -> dict[str, Any]:
    return {"type": "result", "subtype": "success", "is_error": False, **fields}


# -- the reply and the status line -----------------------------------------------------------


def test_a_text_delta_extends_the_reply_and_clears_the_status() -> None:
    effect = read(delta(" world"), Shown("Hello", "Bash: ls"))
    assert effect == LineEffect(Shown("Hello world", None), progressed=True)


def test_a_new_text_block_starts_a_paragraph_once() -> None:
    assert read(TEXT_BLOCK, Shown("One.")).shown.text == "One.\n\n"
    assert read(TEXT_BLOCK, Shown("One.\n\n")).shown.text == "One.\n\n"
    assert read(TEXT_BLOCK, Shown("")).shown.text == "", "nothing to separate yet"
    assert not read(TEXT_BLOCK, Shown("One.")).progressed, "a separator alone is not news"


def test_a_tool_use_shows_the_last_tool_as_the_status() -> None:
    blocks = [
        {"type": "tool_use", "name": "Read", "input": {"file_path": "/srv/work/a.py"}},
        {"type": "tool_use", "name": "Bash", "input": {"command": "pytest -q"}},
    ]
    effect = read({"type": "assistant", "message": {"content": blocks}}, Shown("so far"))
    status = codec.tool_status("Bash", {"command": "pytest -q"}, "/srv/work")
    assert effect == LineEffect(Shown("so far", status), progressed=True)


def test_an_api_retry_is_said_once_a_turn_then_only_shown() -> None:
    words = retry_notice(codec.api_retry_info(RETRY))  # type: ignore[arg-type]
    first = read(RETRY, Shown("so far"))
    assert first == LineEffect(Shown("so far", "⏳ " + words), progressed=True, retry_notice=words)
    again = read(RETRY, first.shown, retry_told=True)
    assert again.retry_notice is None
    assert again.shown.status == "⏳ " + words


@pytest.mark.parametrize(
    "line",
    [
        {"type": "user", "message": {"content": []}},
        {"type": "system", "subtype": "status"},
        {"type": "stream_event", "event": {"type": "message_stop"}},
        {"type": "result", "is_error": "yes"},
        {},
    ],
)
def test_other_lines_change_nothing(line: dict[str, Any]) -> None:
    shown = Shown("kept", "Bash: ls")
    effect = read(line, shown, replace(RUNNING, turn=None))
    assert effect == LineEffect(shown)


# -- what the actor is asked to do -----------------------------------------------------------


def test_init_says_the_process_really_started() -> None:
    line = {"type": "system", "subtype": "init", "session_id": "s1", "model": "m"}
    assert read(line) == LineEffect(Shown(), init=True)


def test_an_answered_setting_request_is_settled_and_an_interrupts_answer_is_not() -> None:
    asked = SettingRequest("q1", ev.MODEL, "sonnet", "upd-2", answered=True)
    state = replace(RUNNING, setting_requests=(asked,))
    answer = {"type": "control_response", "response": {"subtype": "success", "request_id": "q1"}}
    assert read(answer, state=state) == LineEffect(Shown(), settle=asked)
    other = {"type": "control_response", "response": {"subtype": "success", "request_id": "i1"}}
    assert read(other, state=state) == LineEffect(Shown())


def test_a_permission_request_is_handed_on() -> None:
    line = {
        "type": "control_request",
        "request_id": "r1",
        "request": {"subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "ls"}},
    }
    effect = read(line)
    assert effect.permission == codec.permission_request(line)
    assert not effect.progressed


def test_a_result_ends_the_turn_with_its_text_or_else_what_was_streamed() -> None:
    done = read(result(result="Final answer."), Shown("Final"))
    assert done.end == TurnEnd(ev.COMPLETED, "Final answer.")
    assert read(result(), Shown("Streamed")).end == TurnEnd(ev.COMPLETED, "Streamed")


def test_a_result_without_a_turn_or_before_a_resume_is_confirmed_ends_nothing() -> None:
    line = result(result="x")
    assert read(line, state=replace(RUNNING, turn=None)).end is None
    assert read(line, resume_unconfirmed=True).end is None, "the exit handler starts afresh"


def test_an_interrupted_result_keeps_what_was_streamed() -> None:
    line = result(terminal_reason="aborted_streaming", is_error=True)
    assert read(line, Shown("Half a")).end == TurnEnd(ev.INTERRUPTED, "Half a")


def test_a_result_at_the_budget_fails_with_the_caps_words_and_reason() -> None:
    state = replace(RUNNING, cost_usd=0.5, process_cost_usd=0.5)
    line = result(subtype="error_max_budget_usd", is_error=True)
    end = read(line, Shown("Partial"), state, default_cap=1.0).end
    cap = CostCap("work", 1.0, 1.0, default=True)
    assert end == TurnEnd(ev.FAILED, "Partial", cap_reached(cap), ev.COST_CAP)


def test_an_error_result_fails_in_plain_words() -> None:
    line = result(subtype="error_max_turns", is_error=True, num_turns=3)
    end = result_end(codec.result_info(line), "Tried", NO_CAP)  # type: ignore[arg-type]
    assert end == TurnEnd(
        ev.FAILED, "Tried", "The agent hit its turn limit (3 turns) for this message."
    )


# -- after a restart -------------------------------------------------------------------------


def test_a_turn_cut_off_by_a_restart_keeps_its_text_and_asks_to_resend() -> None:
    assert needs_streamed_text(TURN)
    end = restart_end(TURN, None, "Half", NO_CAP)
    assert end == TurnEnd(ev.INTERRUPTED, "Half", CUT_OFF_BY_RESTART, "restart")


@pytest.mark.parametrize(
    ("is_error", "interrupted", "outcome"),
    [
        (False, False, ev.COMPLETED),
        (True, False, ev.FAILED),
        (True, True, ev.INTERRUPTED),
    ],
)
def test_a_turn_whose_result_was_logged_ends_as_it_said(
    is_error: bool, interrupted: bool, outcome: str
) -> None:
    turn = replace(TURN, saw_result=True, result_is_error=is_error, result_interrupted=interrupted)
    assert not needs_streamed_text(turn), "the log is not read again"
    assert restart_end(turn, "Said.", "", NO_CAP) == TurnEnd(outcome, "Said.")
    assert restart_end(turn, None, "", NO_CAP).text == ""


def test_a_turn_stopped_at_its_budget_before_a_restart_keeps_its_text_and_says_why() -> None:
    turn = replace(
        TURN, saw_result=True, result_is_error=True, result_subtype="error_max_budget_usd"
    )
    cap = CostCap("work", 2.0, 2.0, default=False)
    assert needs_streamed_text(turn)
    assert restart_end(turn, None, "Partial", cap) == TurnEnd(
        ev.FAILED, "Partial", cap_reached(cap), ev.COST_CAP
    )


def test_the_turn_ended_event_carries_only_what_is_said() -> None:
    plain = TurnEnd(ev.COMPLETED, "text").event(TURN)
    assert (plain.type, plain.data, plain.correlation_id) == (
        ev.TURN_ENDED,
        {"turn_id": "t1", "outcome": ev.COMPLETED},
        "upd-1",
    )
    cut = TurnEnd(ev.FAILED, "", "why", ev.COST_CAP).event(TURN)
    assert cut.data == {"turn_id": "t1", "outcome": ev.FAILED, "error": "why", "reason": "cost_cap"}
