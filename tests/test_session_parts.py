"""The session actor's collaborators, without an actor or a process: its open permission
questions, its /model, /mode and /cap rules, the command line of a new process, the crash
backoff, the archive checks and its named timers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from actors.claude import codec
from actors.claude.argv import AgentSettings, build_argv
from actors.claude.errors import ClaudeError
from actors.runtime import Timer
from actors.session import archiving, budget
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session.budget import CostCap
from actors.session.errors import SessionError
from actors.session.permissions import DENIED, TIMED_OUT, OpenQuestions
from actors.session.process import Live, command, crash_backoff
from actors.session.settings import SettingsDesk
from actors.session.state import SessionState, Turn, evolve
from actors.session.timers import Timers
from actors.session.wording import cap_refused
from eventstore import Event, MemoryEventStore, NewEvent

AT = datetime(2025, 1, 1, tzinfo=UTC)
ACTIVE = SessionState(name="work", persona="dev", cwd="/srv/work", chat_id=7, status="active")
BUSY = replace(ACTIVE, turn=Turn("t1", "hi", 1, datetime(2025, 1, 1, tzinfo=UTC), None))


# -- permission questions --------------------------------------------------------------------


def bash_request(request_id: str = "r1", **fields: Any) -> codec.PermissionRequest:
    return codec.PermissionRequest(request_id, "Bash", {"command": "ls"}, "tu1", **fields)


def open_questions(*requests: codec.PermissionRequest) -> OpenQuestions:
    """Questions as the session's fold holds them (asked by claude, not answered yet)."""
    state = replace(BUSY, questions=requests)
    return OpenQuestions("work", lambda: state)


def test_a_question_is_shown_with_its_tool_and_summary() -> None:
    asked = open_questions(bash_request()).ask(bash_request(description="list"), "/srv/work")
    summary = codec.tool_status("Bash", {"command": "ls"}, "/srv/work")
    assert asked == n.PermissionAsked(
        "work", "r1", "Bash", summary, {"command": "ls"}, "list", "command", ("Bash(ls)",)
    )


def test_a_question_is_answered_once() -> None:
    """Answering writes a line that closes it in the fold; after that it is not open."""
    state = replace(BUSY, questions=(bash_request(),))
    questions = OpenQuestions("work", lambda: state)
    closing = questions.answer(m.PermissionAnswer("r1", "deny"))
    assert closing is not None
    assert closing.line == codec.permission_deny("r1", DENIED)
    assert closing.notice == n.PermissionClosed("work", "r1", "deny", False)
    written = Event(1, "session:work", 2, "session.stdin", 1, {"line": closing.line}, AT)
    state = evolve(state, written)
    assert state.questions == ()
    assert questions.answer(m.PermissionAnswer("r1", "allow")) is None, "already answered"
    assert questions.expire("r1") is None, "its timer fires late: nothing to deny"


def test_an_allow_merges_the_answers_into_the_input_and_for_the_session_adds_rules() -> None:
    questions = open_questions(bash_request("r1"), bash_request("r2"))
    once = questions.answer(m.PermissionAnswer("r1", "allow", {"answers": {"q": "a"}}))
    assert once is not None
    assert once.line == codec.permission_allow("r1", {"command": "ls", "answers": {"q": "a"}})
    always = questions.answer(m.PermissionAnswer("r2", "allow_session"))
    assert always is not None
    rules = [codec.session_allowance(bash_request("r2")).updates[0]]
    assert rules[0]["rules"] == [{"toolName": "Bash", "ruleContent": "ls"}]
    assert always.line == codec.permission_allow("r2", {"command": "ls"}, rules)


def test_a_denial_says_the_users_words_when_there_are_some() -> None:
    questions = open_questions(bash_request())
    closing = questions.answer(m.PermissionAnswer("r1", "deny", message="Not on prod."))
    assert closing is not None
    assert closing.line == codec.permission_deny("r1", "Not on prod.")


def test_an_unanswered_question_expires_as_a_denial_and_its_turns_end_closes_the_rest() -> None:
    questions = open_questions(bash_request("r1"), bash_request("r2"))
    closing = questions.expire("r1")
    assert closing is not None
    assert closing.line == codec.permission_deny("r1", TIMED_OUT)
    assert closing.notice == n.PermissionClosed("work", "r1", "deny", True)
    assert questions.ended((bash_request("r2"),)) == [
        n.PermissionClosed("work", "r2", "expired", False)
    ]
    ended = Event(
        1, "session:work", 2, "session.turn_ended", 1, {"turn_id": "t1", "outcome": "completed"}, AT
    )
    assert evolve(replace(BUSY, questions=(bash_request("r2"),)), ended).questions == ()


# -- a new process ---------------------------------------------------------------------------


def test_a_new_process_resumes_with_the_sessions_choices_and_what_is_left_of_the_cap() -> None:
    state = replace(
        ACTIVE, claude_session_id="c1", model_override="haiku", cost_usd=1.25, process_cost_usd=0.5
    )
    persona = AgentSettings(model="opus")
    argv, allowed = command("claude", persona, state, budget.cost_cap(state, 5.0))
    assert allowed == "3.25"
    assert argv == build_argv(
        "claude", AgentSettings(model="haiku"), resume_id="c1", max_budget_usd="3.25"
    )


def test_no_process_is_started_once_the_cap_is_spent() -> None:
    state = replace(ACTIVE, cost_usd=2.0)
    cap = budget.cost_cap(state, 2.0)
    with pytest.raises(ClaudeError) as refused:
        command("claude", AgentSettings(), state, cap)
    assert str(refused.value) == cap_refused(cap)


@pytest.mark.parametrize(
    ("crashes", "delay"), [(0, None), (1, None), (2, 5.0), (3, 10.0), (4, 20.0), (12, 300.0)]
)
def test_crashes_in_a_row_back_off_from_the_second(crashes: int, delay: float | None) -> None:
    assert crash_backoff(crashes) == delay


def test_a_process_is_stale_when_its_budget_is_not_what_the_cap_allows_now() -> None:
    state = replace(ACTIVE, cost_usd=1.0, cost_cap_usd=4.0, cost_cap_chosen=True)
    assert not budget.stale("3", state, None)
    assert budget.stale("4", state, None)
    assert budget.stale(None, state, None), "started without a cap, one is set now"
    assert not budget.stale(None, replace(state, cost_cap_usd=None), None), "/cap off"
    assert not budget.stale("9", replace(state, cost_cap_chosen=False), 10.0), "the default"


# -- /model, /mode, /cap ---------------------------------------------------------------------


class Log:
    """The actor's side of ``SettingsDesk``: a log that folds what is appended, and a chat."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        self.store = MemoryEventStore()
        self.notices: list[str] = []
        self.settings = SettingsDesk(
            "work", None, state=lambda: self.state, append=self.append, notice=self.notice
        )

    def notice(self, text: str, chat_id: int | None) -> None:
        self.notices.append(text)

    async def append(self, new: NewEvent) -> Event:
        [event] = await self.store.append("session:work", [new])
        self.state = evolve(self.state, event)
        return event

    async def types(self) -> list[str]:
        return [e.type for e in await self.store.read_stream("session:work")]


def ids() -> str:
    return "q1"


async def test_a_setting_is_logged_then_asked_of_claude() -> None:
    log = Log(ACTIVE)
    line = await log.settings.request(m.ChangeSetting(ev.MODEL, "sonnet", "upd-1"), ids)
    assert line == codec.set_model_request("q1", "sonnet")
    mode = await log.settings.request(m.ChangeSetting(ev.PERMISSION_MODE, "plan"), ids)
    assert mode == codec.set_permission_mode_request("q1", "plan")
    assert await log.types() == [ev.SETTING_REQUESTED, ev.SETTING_REQUESTED]


async def test_settings_of_a_missing_or_archived_session_are_refused_before_the_log() -> None:
    def no_id() -> str:
        raise AssertionError("no request id is taken for a refused change")

    for state, words in [
        (SessionState(), "There is no session named work."),
        (replace(ACTIVE, status="archived"), "work is archived; /unarchive work first."),
    ]:
        log = Log(state)
        with pytest.raises(SessionError, match=words):
            await log.settings.request(m.ChangeSetting(ev.MODEL, "sonnet"), no_id)
        with pytest.raises(SessionError, match=words):
            await log.settings.set_cap(m.SetCostCap(1.0), None)
        assert await log.types() == []


async def test_without_a_process_a_change_is_recorded_for_the_next_start() -> None:
    log = Log(ACTIVE)
    await log.settings.request(m.ChangeSetting(ev.MODEL, "sonnet"), ids)
    await log.settings.settle_all()
    assert await log.types() == [ev.SETTING_REQUESTED, ev.SETTING_CHANGED]
    assert (log.state.model_override, log.state.setting_requests) == ("sonnet", ())
    assert log.notices == [
        "work will use model sonnet from your next message (claude is not running now)."
    ]


async def test_a_change_claude_refused_is_logged_as_refused() -> None:
    log = Log(ACTIVE)
    await log.settings.request(m.ChangeSetting(ev.PERMISSION_MODE, "plan"), ids)
    [asked] = log.state.setting_requests
    await log.settings.settle(replace(asked, answered=True, error="not now"))
    assert await log.types() == [ev.SETTING_REQUESTED, ev.SETTING_REFUSED]
    assert log.state.mode_override is None
    assert log.notices[-1].endswith("Nothing changed.")


def live(budget_arg: str | None) -> Live:
    return Live(None, 1, resumed=False, budget=budget_arg)  # type: ignore[arg-type]


async def test_a_new_cap_replaces_an_idle_process_started_with_another_budget() -> None:
    log = Log(ACTIVE)
    assert await log.settings.set_cap(m.SetCostCap(2.0), live(None))
    assert log.settings.cost_cap() == CostCap("work", 0.0, 2.0, default=False)
    assert not await log.settings.set_cap(m.SetCostCap(2.0), live("2")), "the same budget"
    assert not await log.settings.set_cap(m.SetCostCap(3.0), None), "no process to replace"
    assert await log.types() == [ev.COST_CAP_SET] * 3


async def test_a_new_cap_leaves_a_busy_process_to_finish_its_turn() -> None:
    log = Log(BUSY)
    assert not await log.settings.set_cap(m.SetCostCap(2.0), live(None))
    assert log.notices[-1].endswith("the new one applies after it.")


# -- archiving, replays, timers --------------------------------------------------------------


def test_what_may_be_archived() -> None:
    assert archiving.check_archivable(ACTIVE, "work", "upd-1") is None
    packed = replace(ACTIVE, status="archived", archived_by="upd-1", archive_path="/a.tar.gz")
    assert archiving.check_archivable(packed, "work", "upd-1") == "/a.tar.gz", "a replay"
    with pytest.raises(SessionError, match="already archived"):
        archiving.check_archivable(packed, "work", "upd-2")
    with pytest.raises(SessionError, match="no session named"):
        archiving.check_archivable(SessionState(), "work", None)
    with pytest.raises(SessionError, match="running a turn"):
        archiving.check_archivable(BUSY, "work", None)


def test_an_update_seen_already_is_a_replay() -> None:
    state = replace(ACTIVE, queued_refs=("upd-1",))
    assert state.replayed("upd-1")
    assert not state.replayed("upd-2")
    assert not state.replayed(None)


async def test_setting_a_timer_again_replaces_it() -> None:
    armed: list[tuple[object, Timer]] = []

    def schedule(delay: float, message: object) -> Timer:
        timer = Timer(asyncio.create_task(asyncio.sleep(delay)))
        armed.append((message, timer))
        return timer

    timers = Timers(schedule)
    timers.set("idle", 60, "first")
    timers.set("idle", 60, "second")
    timers.set("turn:t1", 60, "turn")
    await asyncio.sleep(0)
    [(_, first), (_, second), (_, turn)] = armed
    assert first.task.cancelled()
    assert not second.task.done()
    timers.cancel("idle")
    timers.cancel("idle")  # twice is harmless
    timers.cancel_all()
    await asyncio.sleep(0)
    assert second.task.cancelled()
    assert turn.task.cancelled()
