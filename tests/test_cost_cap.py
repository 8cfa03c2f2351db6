"""/cap below the chat: the checks, the fold, the budget on the command line, the fake's budget
(as the real CLI's, see tests/test_real_claude.py), and the session actor enforcing it.

The session tests drive the fake claude over real pipes; they wait on what the session tells the
chat (notices) or ask the actor (which answers after the message it is handling), never on time.
The fake charges $5 per million input tokens and $25 per million output tokens: a plain turn is
about $0.097, so a $0.15 cap lets the first turn through and stops the second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actors.chat import commands as c
from actors.chat import routes
from actors.claude import codec
from actors.claude.argv import AgentSettings, build_argv
from actors.claude.choices import InvalidChoice
from actors.claude.process import ClaudeProcess, spawn_claude
from actors.runtime.testkit import run_until_idle
from actors.session import budget
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session.budget import CostCap, cost_cap_choice
from actors.session.deps import SessionConfig
from actors.session.replies import turn_reply
from actors.session.state import SessionState, evolve, load_state
from eventstore import Event, NewEvent, SqliteEventStore
from tests.session_kit import FAKE_CLAUDE, SessionKit, open_session_kit
from tests.test_claude_process import read_until

# -- what may be asked for -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "cap"),
    [
        ("5", 5.0),
        ("$2.50", 2.5),
        ("2.5", 2.5),
        ("0.01", 0.01),
        (".5", 0.5),
        ("7.", 7.0),
        ("10000", 10_000.0),
        ("$10000.00", 10_000.0),
        ("off", None),
        ("OFF", None),
        ("none", None),
    ],
)
def test_caps_that_are_taken(typed: str, cap: float | None) -> None:
    assert cost_cap_choice(typed) == cap


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("abc", "'abc' is not an amount in dollars: use /cap 5, /cap 2.50 or /cap off."),
        ("5$", "is not an amount in dollars"),
        ("1e3", "is not an amount in dollars"),
        ("nan", "is not an amount in dollars"),
        ("inf", "is not an amount in dollars"),
        ("5,00", "is not an amount in dollars"),
        ("\u0665", "is not an amount in dollars"),  # an Arabic-Indic five
        ("$", "is not an amount in dollars"),
        ("", "is not an amount in dollars"),
        ("5\x00", "is not an amount in dollars"),
        ("9" * 40, "is not an amount in dollars"),
        ("0", "A cost cap must be more than $0; /cap off removes the cap."),
        ("0.00", "must be more than $0"),
        ("-1", "must be more than $0"),
        ("$-3", "must be more than $0"),
        ("10000.01", "A cost cap can be at most $10,000; /cap off for none."),
        ("99999", "can be at most $10,000"),
        ("2.555", "'2.555' has more than 2 decimals: give dollars and cents."),
        ("0.001", "has more than 2 decimals"),
    ],
)
def test_caps_that_are_refused_in_one_line(typed: str, reason: str) -> None:
    with pytest.raises(InvalidChoice) as refused:
        cost_cap_choice(typed)
    said = str(refused.value)
    assert reason in said
    assert not any(ch in said for ch in "\n\x00")
    assert len(said) < 200


def test_the_command_parses_with_at_most_one_argument() -> None:
    assert routes.parse("/cap") == c.Command("cap", ())
    assert routes.parse("/cap@pocket_bot $2.50") == c.Command("cap", ("$2.50",))
    refused = routes.parse("/cap 2 50")
    assert isinstance(refused, c.Invalid)
    assert refused.reason.startswith("Usage: /cap [DOLLARS|off] — show the active session's")
    assert "cap" in {name for name, _ in routes.menu()}
    assert "/cap [DOLLARS|off]" in routes.help_text()


# -- the fold, the budget and the command line -----------------------------------------------


def _event(version: int, type_: str, ref: str | None = None, **data: Any) -> Event:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Event(version, "session:w", version, type_, 1, data, at, ref)


def test_the_fold_keeps_the_sessions_own_cap_and_off_apart_from_never_set() -> None:
    s = SessionState()
    assert (s.cost_cap(5.0), s.cost_cap(None)) == (5.0, None), "never set: the default"
    s = evolve(s, _event(1, ev.COST_CAP_SET, "upd-1", cap_usd=2.5))
    assert (s.cost_cap_usd, s.cost_cap_chosen, s.cost_cap(5.0)) == (2.5, True, 2.5)
    assert s.queued_refs == ("upd-1",), "a replayed /cap is acted on once"
    s = evolve(s, _event(2, ev.COST_CAP_SET, "upd-2", cap_usd=None))
    assert s.cost_cap(5.0) is None, "/cap off: no cap, not the default"
    assert s.to_json()["cost_cap_usd"] is None
    assert s.to_json()["cost_cap_chosen"] is True


def test_the_fold_notes_a_result_at_the_budget() -> None:
    s = SessionState()
    s = evolve(s, _event(1, ev.TURN_STARTED, turn_id="t1", text="go"))
    s = evolve(s, _event(2, ev.STDOUT, line=_budget_line(0.16)))
    assert s.turn is not None
    assert (s.turn.saw_result, s.turn.result_is_error) == (True, True)
    assert s.turn.result_subtype == budget.BUDGET_REACHED
    assert s.process_cost_usd == 0.16
    assert s.last_result is None


@pytest.mark.parametrize(
    ("cap", "spent", "arg"),
    [
        (5.0, 0.0, "5"),
        (5.0, 0.4237, "4.5763"),
        (5.0, 0.42371234, "4.5762"),  # rounded down: never more than the cap allows
        (2.5, 0.1, "2.4"),
        (10_000.0, 0.0, "10000"),
        (0.15, 0.09730500000000001, "0.0526"),
        (None, 3.0, None),
    ],
)
def test_the_budget_is_the_cap_minus_what_was_spent(
    cap: float | None, spent: float, arg: str | None
) -> None:
    assert budget.budget_arg(cap, spent) == arg
    assert not budget.exhausted(cap, spent)


@pytest.mark.parametrize(("cap", "spent"), [(0.15, 0.15), (0.15, 0.19481), (1.0, 0.99995)])
def test_less_than_a_hundredth_of_a_cent_left_is_nothing_left(cap: float, spent: float) -> None:
    assert budget.exhausted(cap, spent)
    assert CostCap("w", spent, cap, default=False).reached
    assert not CostCap("w", spent, None, default=True).reached


def test_the_budget_goes_on_the_command_line_only_with_a_cap() -> None:
    with_cap = build_argv("claude", AgentSettings(), resume_id="abc", max_budget_usd="4.5763")
    assert "--max-budget-usd=4.5763" in with_cap
    without = build_argv("claude", AgentSettings(), resume_id="abc")
    assert not [a for a in without if a.startswith("--max-budget")]
    with pytest.raises(ValueError, match="max_budget_usd must be > 0"):
        build_argv("claude", AgentSettings(), resume_id=None, max_budget_usd="0")


# -- the fake spends its budget as 2.1.197 does ------------------------------------------------


def _budget_line(total: float) -> dict[str, Any]:
    return {
        "type": "result",
        "subtype": budget.BUDGET_REACHED,
        "is_error": True,
        "total_cost_usd": total,
        "errors": ["Reached maximum budget ($0.15)"],
    }


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[Any]:
    started: list[ClaudeProcess] = []

    async def start(budget_usd: str | None) -> ClaudeProcess:
        argv = build_argv(FAKE_CLAUDE, AgentSettings(), resume_id=None, max_budget_usd=budget_usd)
        proc = await spawn_claude(argv, tmp_path, {"FAKE_CLAUDE_STATE_DIR": str(tmp_path)})
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        await asyncio.wait_for(proc.wait(), 15)


async def _turn(proc: ClaudeProcess, text: str) -> list[dict[str, Any]]:
    await proc.write(codec.user_turn(text))
    return await read_until(proc, codec.is_result)


async def test_the_fake_stops_the_turn_that_reaches_its_budget(fake: Any) -> None:
    proc = await fake("0.15")
    first = await _turn(proc, "hello")
    assert first[-1]["subtype"] == "success"
    second = await _turn(proc, "again")
    text = "".join(d for x in second if (d := codec.text_delta(x)) is not None)
    assert text == "Echo: again", "what the crossing call streamed is on stdout before the result"
    result = second[-1]
    assert {k: result[k] for k in ("subtype", "is_error", "errors", "stop_reason")} == {
        "subtype": "error_max_budget_usd",
        "is_error": True,
        "errors": ["Reached maximum budget ($0.15)"],
        "stop_reason": "end_turn",
    }
    assert "result" not in result
    assert "terminal_reason" not in result
    assert result["total_cost_usd"] > 0.15 > first[-1]["total_cost_usd"]
    third = await _turn(proc, "more")
    assert [x["type"] for x in third] == ["system", "system", "result"], "no API call at all"
    assert third[-1]["subtype"] == "error_max_budget_usd"
    assert third[-1]["total_cost_usd"] == result["total_cost_usd"]
    proc.close_stdin()
    assert await asyncio.wait_for(proc.wait(), 15) == 1


async def test_the_fake_checks_its_budget_after_every_call_of_a_turn(fake: Any) -> None:
    """Three tool calls and a reply were asked for; the second call reaches the budget."""
    proc = await fake("0.15")
    lines = await _turn(proc, "[[tool:Read:a]] [[tool:Read:b]] [[tool:Read:c]] read them")
    uses = [u for x in lines if x["type"] == "assistant" for u in codec.tool_uses(x)]
    assert [u[1] for u in uses] == [{"file_path": "a"}, {"file_path": "b"}]
    assert not [x for x in lines if codec.text_delta(x)]
    assert (lines[-1]["subtype"], lines[-1]["stop_reason"], lines[-1]["num_turns"]) == (
        "error_max_budget_usd",
        "tool_use",
        3,
    )


async def test_without_a_budget_the_fake_spends_on(fake: Any) -> None:
    proc = await fake(None)
    for text in ("one", "two", "three"):
        assert (await _turn(proc, text))[-1]["subtype"] == "success"
    proc.close_stdin()
    assert await asyncio.wait_for(proc.wait(), 15) == 0


# -- the session actor -------------------------------------------------------------------------


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[SessionKit]:
    async with open_session_kit(tmp_path) as kit:
        yield kit


def starts(events: list[Event]) -> list[list[str]]:
    return [e.data["argv"] for e in events if e.type == ev.PROCESS_STARTED]


def budget_of(argv: list[str]) -> str | None:
    return next((a.split("=", 1)[1] for a in argv if a.startswith("--max-budget-usd=")), None)


async def state_of(ref: Any) -> SessionState:
    state: SessionState = await ref.ask(m.GetState())
    return state


async def test_a_turn_that_reaches_the_cap_keeps_its_text_and_says_so(kit: SessionKit) -> None:
    """The cap set with /cap goes on the command line; claude stops the turn that reaches it;
    the reply so far is kept, the user is told in words, and the next message is refused
    before any claude starts."""
    ref = await kit.create("work")
    await ref.ask(m.SetCostCap(0.15, "upd-1"))
    assert kit.inbox.said() == ["work's cost cap is now $0.15 ($0.00 spent so far, $0.15 left)."]
    ref.tell(m.UserTurn("hello"))
    [first] = await kit.inbox.finished(1)
    assert first.outcome == "completed"
    ref.tell(m.UserTurn("again"))
    _, capped = await kit.inbox.finished(2)
    assert (capped.outcome, capped.text) == ("failed", "Echo: again")
    assert capped.error == (
        "work reached its $0.15 cost cap: claude stopped this turn after $0.19 spent in all. "
        "Raise it with /cap N (for example /cap 1) or remove it with /cap off."
    )
    state = await state_of(ref)
    assert state.process_pid is None, "a spent process is stopped"
    await ref.ask(m.UserTurn("more", "upd-4"))
    assert kit.inbox.said()[-1] == (
        "work has spent $0.19 of its $0.15 cost cap, so this message was not sent. "
        "Raise it with /cap N (for example /cap 1) or remove it with /cap off."
    )
    events = await kit.events("work")
    [argv] = starts(events)
    assert budget_of(argv) == "0.15"
    [result] = [x for x in (e.data["line"] for e in events if e.type == ev.STDOUT)
                if x.get("subtype") == budget.BUDGET_REACHED]  # fmt: skip
    assert result["errors"] == ["Reached maximum budget ($0.15)"]
    ended = [e for e in events if e.type == ev.TURN_ENDED]
    assert [e.data.get("reason") for e in ended] == [None, ev.COST_CAP]
    types = [e.type for e in events]
    assert types[types.index(ev.TURN_ENDED, types.index(ev.TURN_ENDED) + 1) + 1 :] == [
        ev.PROCESS_EXITED
    ], "refused before queueing: no message queued, no claude started"
    [exited] = [e for e in events if e.type == ev.PROCESS_EXITED]
    assert (exited.data["expected"], exited.data["returncode"]) == (True, 1)
    reply = turn_reply(events, capped.turn_id)
    assert reply is not None
    assert (reply.text, reply.error) == ("Echo: again", capped.error), "redelivered the same"


async def test_a_long_agentic_turn_stops_at_the_call_that_reaches_the_cap(
    kit: SessionKit,
) -> None:
    ref = await kit.create("work")
    await ref.ask(m.SetCostCap(0.15, "upd-1"))
    ref.tell(m.UserTurn("[[tool:Read:a]] [[tool:Read:b]] [[tool:Read:c]] [[tool:Read:d]] go"))
    [done] = await kit.inbox.finished(1)
    assert done.outcome == "failed"
    assert (done.error or "").startswith("work reached its $0.15 cost cap")
    assert done.turn_cost_usd == pytest.approx(done.cost_usd)
    assert 0.15 <= done.cost_usd < 0.2, "stopped after the second call, not after the fifth"
    events = await kit.events("work")
    uses = [
        u[1]["file_path"]
        for e in events
        if e.type == ev.STDOUT and e.data["line"].get("type") == "assistant"
        for u in codec.tool_uses(e.data["line"])
    ]
    assert uses == ["a", "b"]


async def test_raising_the_cap_lets_the_next_turn_run_with_the_new_budget(
    kit: SessionKit,
) -> None:
    ref = await kit.create("work")
    await ref.ask(m.SetCostCap(0.15, "upd-1"))
    for count, text in enumerate(("hello", "again"), 1):
        ref.tell(m.UserTurn(text))
        await kit.inbox.finished(count)
    spent = (await state_of(ref)).total_cost_usd
    await ref.ask(m.SetCostCap(1.0, "upd-3"))
    assert kit.inbox.said()[-1] == "work's cost cap is now $1.00 ($0.19 spent so far, $0.81 left)."
    ref.tell(m.UserTurn("[[recall]]"))
    *_, third = await kit.inbox.finished(3)
    assert third.outcome == "completed"
    assert third.text == "turns=2; history: hello | again", "the conversation goes on"
    events = await kit.events("work")
    first, second = starts(events)
    state = await state_of(ref)
    assert budget_of(first) == "0.15"
    assert f"--resume={state.claude_session_id}" in second
    assert budget_of(second) == budget.budget_arg(1.0, spent) == "0.8051"


async def test_messages_queued_behind_the_turn_that_reached_the_cap_wait_for_a_raise(
    kit: SessionKit,
) -> None:
    ref = await kit.create("work")
    await ref.ask(m.SetCostCap(0.15, "upd-1"))
    ref.tell(m.UserTurn("[[tool:Bash:ls]] look"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.PermissionAsked))
    await ref.ask(m.UserTurn("and then this", "upd-3"))
    assert kit.inbox.of(n.TurnQueued)
    [asked] = kit.inbox.of(n.PermissionAsked)
    ref.tell(m.PermissionAnswer(asked.request_id, "allow"))
    [done] = await kit.inbox.finished(1)
    assert (done.outcome, done.text) == ("failed", "Tool said: Bash ok: ls")
    text = await kit.inbox.told("queued message waits")
    assert text == (
        "work has reached its $0.15 cost cap ($0.20 spent), so your queued message waits: "
        "they are sent once you raise the cap (/cap N) or remove it (/cap off)."
    )
    assert len(starts(await kit.events("work"))) == 1
    await ref.ask(m.SetCostCap(None, "upd-4"))
    assert kit.inbox.said()[-1] == "work has no cost cap now ($0.20 spent so far)."
    _, sent = await kit.inbox.finished(2)
    assert (sent.outcome, sent.text) == ("completed", "Echo: and then this")
    assert budget_of(starts(await kit.events("work"))[-1]) is None


async def test_a_new_cap_restarts_an_idle_claude_at_once(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("hello"))
    await kit.inbox.finished(1)
    pid = (await state_of(ref)).process_pid
    assert pid is not None
    await ref.ask(m.SetCostCap(3.0, "upd-2"))
    state = await state_of(ref)
    assert state.process_pid is None
    [exited] = [e for e in await kit.events("work") if e.type == ev.PROCESS_EXITED]
    assert exited.data["reason"] == "cost cap changed"
    ref.tell(m.UserTurn("again"))
    await kit.inbox.finished(2)
    argvs = starts(await kit.events("work"))
    assert [budget_of(a) for a in argvs] == [None, budget.budget_arg(3.0, state.total_cost_usd)]


async def test_the_same_cap_again_keeps_the_process(tmp_path: Path) -> None:
    config = SessionConfig(
        claude_bin=FAKE_CLAUDE,
        max_cost_usd=5.0,
        env=(("FAKE_CLAUDE_STATE_DIR", str(tmp_path / "fake")),),
    )
    async with open_session_kit(tmp_path, config=config) as kit:
        ref = await kit.create("work")
        ref.tell(m.UserTurn("hello"))
        await kit.inbox.finished(1)
        await ref.ask(m.SetCostCap(5.0, "upd-2"))
        assert (await state_of(ref)).process_pid is not None
        assert ev.PROCESS_EXITED not in await kit.types("work")


async def test_a_cap_changed_during_a_turn_applies_after_it(kit: SessionKit) -> None:
    """The running turn keeps the budget it started with (here it still stops at it, and is
    told the new cap applies next); then the process is replaced."""
    ref = await kit.create("work")
    await ref.ask(m.SetCostCap(0.15, "upd-1"))
    ref.tell(m.UserTurn("hello"))
    await kit.inbox.finished(1)
    ref.tell(m.UserTurn("[[tool:Bash:ls]] look"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.PermissionAsked))
    pid = (await state_of(ref)).process_pid
    await ref.ask(m.SetCostCap(1.0, "upd-3"))
    assert kit.inbox.said()[-1] == (
        "work's cost cap is now $1.00 ($0.10 spent so far, $0.90 left). The running turn keeps "
        "the cap it started with; the new one applies after it."
    )
    assert (await state_of(ref)).process_pid == pid, "the turn is not cut"
    [asked] = kit.inbox.of(n.PermissionAsked)
    ref.tell(m.PermissionAnswer(asked.request_id, "allow"))
    _, done = await kit.inbox.finished(2)
    assert (done.outcome, done.text) == ("failed", ""), "stopped after the tool call"
    assert done.error == (
        "claude stopped this turn at the cost cap it was started with ($0.20 spent in work); "
        "the new cap of $1.00 applies from your next message."
    )
    spent = (await state_of(ref)).total_cost_usd
    ref.tell(m.UserTurn("go on"))
    *_, after = await kit.inbox.finished(3)
    assert (after.outcome, after.text) == ("completed", "Echo: go on")
    argvs = starts(await kit.events("work"))
    assert [budget_of(a) for a in argvs] == ["0.15", budget.budget_arg(1.0, spent)]


async def test_lowering_the_cap_during_a_turn_replaces_the_process_after_it(
    kit: SessionKit,
) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[tool:Bash:ls]] look"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.PermissionAsked))
    await ref.ask(m.SetCostCap(0.5, "upd-2"))
    [asked] = kit.inbox.of(n.PermissionAsked)
    ref.tell(m.PermissionAnswer(asked.request_id, "allow"))
    [done] = await kit.inbox.finished(1)
    assert done.outcome == "completed"
    state = await state_of(ref)
    assert state.process_pid is None, "stopped right after the turn, not at the idle timeout"
    ref.tell(m.UserTurn("again"))
    await kit.inbox.finished(2)
    argvs = starts(await kit.events("work"))
    assert [budget_of(a) for a in argvs] == [None, budget.budget_arg(0.5, state.total_cost_usd)]


async def test_the_configs_cap_is_the_default_until_the_session_sets_its_own(
    tmp_path: Path,
) -> None:
    env = (("FAKE_CLAUDE_STATE_DIR", str(tmp_path / "fake")),)
    config = SessionConfig(claude_bin=FAKE_CLAUDE, max_cost_usd=0.15, env=env)
    async with open_session_kit(tmp_path, config=config) as kit:
        ref = await kit.create("work")
        assert await ref.ask(m.GetCostCap()) == CostCap("work", 0.0, 0.15, default=True)
        for count, text in enumerate(("hello", "again"), 1):
            ref.tell(m.UserTurn(text))
            *_, capped = await kit.inbox.finished(count)
        assert (capped.error or "").startswith("work reached its $0.15 cost cap")
        await ref.ask(m.SetCostCap(None, "upd-3"))
        cap = await ref.ask(m.GetCostCap())
        assert (cap.cap_usd, cap.default) == (None, False)
        ref.tell(m.UserTurn("and on"))
        *_, third = await kit.inbox.finished(3)
        assert third.outcome == "completed"
        assert [budget_of(a) for a in starts(await kit.events("work"))] == ["0.15", None]
    # Read live: an operator's new default reaches the sessions that never chose one.
    config = SessionConfig(claude_bin=FAKE_CLAUDE, max_cost_usd=9.0, env=env)
    async with open_session_kit(tmp_path, config=config) as kit:
        other = await kit.create("other")
        assert (await other.ask(m.GetCostCap())).cap_usd == 9.0
        assert (await kit.spawn("work").ask(m.GetCostCap())).cap_usd is None


async def test_the_cap_survives_a_restart_of_pocketcode(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("hello"))
    await kit.inbox.finished(1)
    await ref.ask(m.SetCostCap(0.5, "upd-2"))
    await kit.stop()
    rebuilt = await load_state(kit.store, "work")
    assert (rebuilt.cost_cap_usd, rebuilt.cost_cap_chosen) == (0.5, True)
    now = SessionKit(kit.store, kit.tmp)
    try:
        ref = now.spawn("work")
        ref.tell(m.UserTurn("again"))
        await now.inbox.finished(1)
        argvs = starts(await now.events("work"))
        assert budget_of(argvs[-1]) == budget.budget_arg(0.5, rebuilt.total_cost_usd)
    finally:
        await now.stop()


async def test_a_turn_cut_by_a_crash_after_reaching_the_cap_is_told_once(tmp_path: Path) -> None:
    """The result was logged, the turn's end was not: the restart ends it with the text written
    so far and the cap in words."""
    store = await SqliteEventStore.open(tmp_path / "log.db")
    created = {"name": "work", "persona": "default", "cwd": str(tmp_path), "chat_id": 42}
    deltas = [
        NewEvent(ev.STREAM, {"line": {"type": "stream_event", "event": {
            "type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": word}}}})
        for word in ("half ", "a ", "reply")
    ]  # fmt: skip
    await store.append(
        ev.stream_of("work"),
        [
            NewEvent(ev.CREATED, created),
            ev.event(ev.COST_CAP_SET, "upd-1", cap_usd=0.1),
            NewEvent(ev.PROCESS_STARTED, {"pid": 999999, "argv": [], "resume_id": None}),
            ev.event(ev.TURN_STARTED, "upd-2", turn_id="t1", text="write", merged=1),
            *deltas,
            NewEvent(ev.STDOUT, {"line": _budget_line(0.12)}),
        ],
    )
    for attempt in range(2):
        kit = SessionKit(store, tmp_path)
        kit.spawn("work")
        await run_until_idle(kit.system)
        finished = kit.inbox.of(n.TurnFinished)
        if attempt == 0:
            [done] = finished
            assert (done.outcome, done.text) == ("failed", "half a reply")
            assert (done.error or "").startswith("work reached its $0.10 cost cap")
        else:
            assert finished == [], "told once, not at every restart"
        await kit.stop()
    [ended] = [e for e in await store.read_stream(ev.stream_of("work")) if e.type == ev.TURN_ENDED]
    assert ended.data["reason"] == ev.COST_CAP
    await store.close()


async def test_a_replayed_cap_is_set_once(kit: SessionKit) -> None:
    ref = await kit.create("work")
    await ref.ask(m.SetCostCap(2.0, "upd-9"))
    await ref.ask(m.SetCostCap(2.0, "upd-9"))
    assert (await kit.types("work")).count(ev.COST_CAP_SET) == 1
    assert len(kit.inbox.said()) == 1
