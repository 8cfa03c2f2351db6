"""Session actors drive the fake claude over real pipes; timers run on a fake clock."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from actors.claude.errors import ProcessGoneError
from actors.claude.process import Spawner, spawn_claude
from actors.runtime.testkit import run_until_idle
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session.actor import SessionActor
from actors.session.deps import SessionConfig
from actors.session.state import SessionState, evolve, evolve_many
from eventstore import Event, NewEvent, SqliteEventStore, fold
from tests.session_kit import FAKE_CLAUDE, SessionKit, open_session_kit


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[SessionKit]:
    async with open_session_kit(tmp_path) as kit:
        yield kit


def lines_of(events: list[Event], kind: str) -> list[dict[str, Any]]:
    return [e.data["line"] for e in events if e.type == kind]


async def test_two_turns_share_one_long_lived_process(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("hello", "upd-1"))
    [first] = await kit.inbox.finished(1)
    ref.tell(m.UserTurn("again", "upd-2"))
    _, second = await kit.inbox.finished(2)
    assert (first.outcome, first.text) == ("completed", "Echo: hello")
    assert (second.outcome, second.text) == ("completed", "Echo: again")
    events = await kit.events("work")
    assert [e.type for e in events].count(ev.PROCESS_STARTED) == 1
    state: SessionState = await ref.ask(m.GetState())
    assert state.turns == 2
    assert state.claude_session_id is not None
    assert state.total_cost_usd == pytest.approx(second.cost_usd)
    assert second.cost_usd > first.cost_usd > 0


async def test_every_line_is_logged_in_order_before_the_turn_ends(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[slow:5]] [[long:500]] hi"))
    [done] = await kit.inbox.finished(1)
    progress = [p.text for p in kit.inbox.of(n.ReplyProgress)]
    assert len(progress) > 1, "the reply streams while it is written"
    assert all(done.text.startswith(p) for p in progress)
    events = await kit.events("work")
    types = [e.type for e in events]
    stdin = lines_of(events, ev.STDIN)
    assert stdin[0]["type"] == "user"
    assert stdin[0]["message"]["content"] == "[[slow:5]] [[long:500]] hi"
    out = lines_of(events, ev.STDOUT)
    assert out[0]["type"] == "system"
    assert out[-1]["type"] == "result"
    result_at = max(i for i, e in enumerate(events) if e.type == ev.STDOUT)
    assert types.index(ev.TURN_ENDED) > result_at
    assert types.index(ev.STDIN) < types.index(ev.STDOUT)
    assert [e.version for e in events] == list(range(1, len(events) + 1))


async def test_messages_sent_during_a_turn_are_merged_into_the_next(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[slow:30]] [[long:400]] first"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.ReplyProgress))
    ref.tell(m.UserTurn("second"))
    ref.tell(m.UserTurn("third"))
    await kit.inbox.finished(2)
    assert [q.queued for q in kit.inbox.of(n.TurnQueued)] == [1, 2]
    started = kit.inbox.of(n.TurnStarted)
    assert [s.merged for s in started] == [1, 2]
    finished = kit.inbox.of(n.TurnFinished)
    assert finished[1].text == "Echo: second\n\nthird"
    assert len(finished) == 2


async def test_stop_interrupts_the_turn_and_the_process_stays(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[slow:50]] [[long:3000]] go"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.ReplyProgress))
    ref.tell(m.Interrupt())
    [done] = await kit.inbox.finished(1)
    assert done.outcome == "interrupted"
    assert 0 < len(done.text) < 3000
    ref.tell(m.UserTurn("next"))
    _, nxt = await kit.inbox.finished(2)
    assert nxt.text == "Echo: next"
    types = await kit.types("work")
    assert types.count(ev.PROCESS_STARTED) == 1
    assert ev.PROCESS_EXITED not in types


async def test_stop_with_nothing_running_says_so(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.Interrupt())
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.SessionNotice))
    assert "Nothing is running" in kit.inbox.of(n.SessionNotice)[0].text


@pytest.mark.parametrize(("decision", "expect"), [("allow", "completed"), ("deny", "completed")])
async def test_permission_question_round_trip(
    kit: SessionKit, decision: m.Decision, expect: str
) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[tool:Bash:ls -la]] list files"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.PermissionAsked))
    [asked] = kit.inbox.of(n.PermissionAsked)
    assert asked.summary == "Bash: ls -la"
    ref.tell(m.PermissionAnswer(asked.request_id, decision))
    [done] = await kit.inbox.finished(1)
    assert done.outcome == expect
    [closed] = kit.inbox.of(n.PermissionClosed)
    assert (closed.decision, closed.by_timeout) == (decision, False)
    answers = [
        line
        for line in lines_of(await kit.events("work"), ev.STDIN)
        if line["type"] == "control_response"
    ]
    assert answers[0]["response"]["response"]["behavior"] == decision


async def test_unanswered_permission_is_denied_after_the_timeout(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[tool:Bash:rm -rf build]] clean"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.PermissionAsked))
    await kit.clock.advance(299)
    await run_until_idle(kit.system)
    assert not kit.inbox.of(n.PermissionClosed)
    await kit.clock.advance(1)
    [done] = await kit.inbox.finished(1)
    [closed] = kit.inbox.of(n.PermissionClosed)
    assert closed.by_timeout
    assert closed.decision == "deny"
    assert done.outcome == "completed"


async def test_allow_for_session_sends_the_session_rule(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[tool:Bash:ls]] one"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.PermissionAsked))
    [asked] = kit.inbox.of(n.PermissionAsked)
    ref.tell(m.PermissionAnswer(asked.request_id, "allow_session"))
    await kit.inbox.finished(1)
    ref.tell(m.UserTurn("[[tool:Bash:ls]] two"))
    await kit.inbox.finished(2)
    assert len(kit.inbox.of(n.PermissionAsked)) == 1, "allowed for the session: not asked again"


async def test_crash_mid_turn_is_reported_and_the_next_message_resumes(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("remember the word heron"))
    await kit.inbox.finished(1)
    ref.tell(m.UserTurn("[[crash]] [[long:400]] boom"))
    _, crashed = await kit.inbox.finished(2)
    assert crashed.outcome == "crashed"
    assert crashed.error is not None
    assert "stopped unexpectedly (exit code 1)" in crashed.error
    ref.tell(m.UserTurn("[[recall]]"))
    *_, recalled = await kit.inbox.finished(3)
    assert "heron" in recalled.text
    events = await kit.events("work")
    starts = [e.data for e in events if e.type == ev.PROCESS_STARTED]
    assert starts[0]["resume_id"] is None
    assert starts[1]["resume_id"] is not None
    assert any(a.startswith("--resume=") for a in starts[1]["argv"])
    exits = [e.data for e in events if e.type == ev.PROCESS_EXITED]
    assert exits[0]["expected"] is False


async def resume_dies_at_once(argv: list[str], cwd: Path, env: dict[str, str] | None) -> Any:
    """claude, except that a ``--resume`` has exited before the session can write to it."""
    proc = await spawn_claude(argv, cwd, env)
    if any(a.startswith("--resume") for a in argv):
        await proc.wait()
    return proc


@pytest.mark.parametrize("spawner", [spawn_claude, resume_dies_at_once])
async def test_a_conversation_not_on_this_machine_goes_on_afresh_and_the_chat_is_told(
    kit: SessionKit, spawner: Spawner
) -> None:
    """Another worker took the session over, without claude's files (no shared directory):
    the resume fails, the turn goes to a fresh conversation, and the chat is told so."""
    ref = kit.system.spawn(
        lambda: SessionActor("work", replace(kit.deps(), spawner=spawner)), "session:work"
    )
    await ref.ask(m.Create("default", str(kit.tmp / "sessions" / "work"), 42))
    ref.tell(m.UserTurn("remember the word heron"))
    await kit.inbox.finished(1)
    await kit.clock.advance(1800)  # the process stops (idle)
    await run_until_idle(kit.system)
    shutil.rmtree(kit.tmp / "fake-state")  # claude's conversation files are not here
    ref.tell(m.UserTurn("[[recall]]"))
    *_, done = await kit.inbox.finished(2)
    assert done.outcome == "completed"
    assert done.text == "turns=0; history: "  # a fresh conversation: heron is not in it
    assert "could not be resumed; continuing in a fresh conversation" in " ".join(kit.inbox.said())
    events = await kit.events("work")
    assert [e.type for e in events].count(ev.RESUME_FAILED) == 1
    ended = [e.data["outcome"] for e in events if e.type == ev.TURN_ENDED]
    assert ended == ["completed", "completed"]  # the turn was not failed on the way


async def test_repeated_crashes_back_off(kit: SessionKit) -> None:
    ref = await kit.create("work")
    for i in range(2):
        ref.tell(m.UserTurn(f"[[crash]] {i}"))
        await kit.inbox.finished(i + 1)
    await kit.inbox.wait_for(
        lambda: any("waiting 5 s" in x.text for x in kit.inbox.of(n.SessionNotice))
    )
    started = len(kit.inbox.of(n.TurnStarted))
    ref.tell(m.UserTurn("patient"))
    await run_until_idle(kit.system)
    assert len(kit.inbox.of(n.TurnStarted)) == started, "no turn starts during the backoff"
    assert [e.type for e in await kit.events("work")].count(ev.TURN_STARTED) == started
    await kit.clock.advance(5)
    *_, done = await kit.inbox.finished(3)
    assert done.text == "Echo: patient"


async def test_garbage_line_is_logged_and_skipped(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[garbage]] hi"))
    [done] = await kit.inbox.finished(1)
    assert done.outcome == "completed"
    assert ev.STDOUT_GARBAGE in await kit.types("work")


async def test_huge_line_arrives_whole(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[huge:3000000]] big"))
    [done] = await kit.inbox.finished(1)
    assert len(done.text) == 3_000_000


async def test_api_errors_are_told_in_plain_words(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[api_error]] hi"))
    [done] = await kit.inbox.finished(1)
    assert done.outcome == "failed"
    assert (
        done.error == "The Claude API is overloaded (HTTP 529) and did not recover after retries."
    )
    [retry] = [x.text for x in kit.inbox.of(n.SessionNotice)]
    assert retry.startswith("The Claude API is overloaded (HTTP 529); retrying")


async def test_idle_process_is_stopped_and_resumed_on_demand(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("hi"))
    await kit.inbox.finished(1)
    await kit.clock.advance(1800)
    await run_until_idle(kit.system)
    exits = [e.data for e in await kit.events("work") if e.type == ev.PROCESS_EXITED]
    assert exits == [{"returncode": 0, "expected": True, "reason": "idle"}]
    ref.tell(m.UserTurn("[[recall]]"))
    *_, done = await kit.inbox.finished(2)
    assert "hi" in done.text


async def test_least_recently_used_process_is_stopped_at_the_cap(tmp_path: Path) -> None:
    store = await SqliteEventStore.open(tmp_path / "log.db")
    kit = SessionKit(store, tmp_path, max_processes=1)
    a = await kit.create("a")
    b = await kit.create("b")
    a.tell(m.UserTurn("one"))
    await kit.inbox.finished(1)
    b.tell(m.UserTurn("two"))
    await kit.inbox.finished(2)
    await run_until_idle(kit.system)
    exits = [e.data["reason"] for e in await kit.events("a") if e.type == ev.PROCESS_EXITED]
    assert exits == ["too many claude processes; least recently used"]
    assert len(kit.pool) == 1
    await kit.stop()
    await store.close()


async def test_shutdown_interrupts_the_turn_and_is_not_a_crash(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[slow:50]] [[long:3000]] go"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.ReplyProgress))
    await ref.ask(m.Shutdown())
    [done] = kit.inbox.of(n.TurnFinished)
    assert done.outcome == "interrupted"
    events = await kit.events("work")
    [ended] = [e.data for e in events if e.type == ev.TURN_ENDED]
    assert ended["reason"] == "shutdown"
    [exited] = [e.data for e in events if e.type == ev.PROCESS_EXITED]
    assert exited["expected"] is True


async def test_restart_after_a_crash_marks_the_turn_and_tells_once(tmp_path: Path) -> None:
    store = await SqliteEventStore.open(tmp_path / "log.db")
    stream = ev.stream_of("work")
    await store.append(
        stream,
        [
            NewEvent(
                ev.CREATED,
                {"name": "work", "persona": "default", "cwd": str(tmp_path), "chat_id": 42},
            ),
            NewEvent(ev.MESSAGE_QUEUED, {"text": "do it"}),
            NewEvent(ev.TURN_STARTED, {"turn_id": "t1", "text": "do it", "merged": 1}),
            NewEvent(ev.PROCESS_STARTED, {"pid": 999999, "argv": [], "resume_id": None}),
            *(
                NewEvent(ev.STREAM, {"line": {"type": "stream_event", "event": {
                    "type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": word}}}})
                for word in ("half ", "a ", "reply")
            ),
        ],
    )  # fmt: skip
    for attempt in range(2):
        kit = SessionKit(store, tmp_path)
        kit.spawn("work")
        await run_until_idle(kit.system)
        finished = kit.inbox.of(n.TurnFinished)
        if attempt == 0:
            [done] = finished
            assert done.outcome == "interrupted"
            assert done.text == "half a reply", "what was written before the crash is shown"
            assert done.error is not None
            assert "restarted" in done.error
        else:
            assert finished == [], "told once, not at every restart"
        await kit.stop()
    types = [e.type for e in await store.read_stream(stream)]
    assert types[-2:] == [ev.PROCESS_EXITED, ev.TURN_ENDED]
    await store.close()


async def timed_kit(tmp_path: Path, *env: tuple[str, str]) -> SessionKit:
    """A kit on a log of its own whose claude (state under ``tmp_path/fake``) is interrupted
    after 60 s of a turn and killed 10 s later; ``env``: more of the fake's settings."""
    store = await SqliteEventStore.open(tmp_path / "log.db")
    config = SessionConfig(
        claude_bin=FAKE_CLAUDE,
        turn_timeout_s=60,
        kill_after_interrupt_s=10,
        env=(("FAKE_CLAUDE_STATE_DIR", str(tmp_path / "fake")), *env),
    )
    return SessionKit(store, tmp_path, config=config)


async def test_hung_claude_is_interrupted_then_killed(tmp_path: Path) -> None:
    kit = await timed_kit(tmp_path)
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[hang]]"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.TurnStarted))
    await kit.clock.advance(60)  # a hung claude: only the clock moves it on
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.SessionNotice))
    await kit.clock.advance(10)
    [done] = await kit.inbox.finished(1)
    assert done.outcome == "crashed"
    assert "killed by signal 9" in (done.error or "")
    await kit.stop()
    await kit.store.close()


async def test_a_replayed_message_is_queued_once(kit: SessionKit) -> None:
    """After a crash the chat may hand over the same update again: one turn, one answer."""
    ref = await kit.create("work")
    await ref.ask(m.UserTurn("hello", "upd-5"))
    await ref.ask(m.UserTurn("hello", "upd-5"))
    await kit.inbox.finished(1)
    await run_until_idle(kit.system)
    types = await kit.types("work")
    assert types.count(ev.MESSAGE_QUEUED) == 1
    assert types.count(ev.TURN_STARTED) == 1


async def test_an_owed_reply_is_rebuilt_from_its_own_turn_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a crash, a reply the chat never got is rebuilt from the log as it was told: its
    text, the session's total and the turn's share of it. Of the deltas only the turn's own are
    read; the history before it is read without them."""
    async with open_session_kit(tmp_path) as kit:
        ref = await kit.create("work")
        ref.tell(m.UserTurn("[[long:400]] first", "upd-1"))
        await kit.inbox.finished(1)
        ref.tell(m.UserTurn("[[long:300]] second", "upd-2"))
        told = await kit.inbox.finished(2)
        assert 0 < told[1].turn_cost_usd < told[1].cost_usd
        await kit.stop()
        started = {
            e.data["turn_id"]: e.version
            for e in await kit.events("work")
            if e.type == ev.TURN_STARTED
        }
        reads: list[tuple[int, frozenset[str]]] = []
        read = kit.store.read_stream

        async def recorded(
            stream: str, *, after_version: int = 0, exclude_types: Collection[str] = ()
        ) -> list[Event]:
            reads.append((after_version, frozenset(exclude_types)))
            return await read(stream, after_version=after_version, exclude_types=exclude_types)

        monkeypatch.setattr(kit.store, "read_stream", recorded)
        again = SessionKit(kit.store, tmp_path)
        ref = again.spawn("work")
        for done in told:
            reads.clear()
            await ref.ask(m.Redeliver(done.turn_id))
            assert again.inbox.of(n.TurnFinished)[-1] == done
            whole = [after for after, skipped in reads if ev.STREAM not in skipped]
            assert whole == [started[done.turn_id] - 1]
        await again.stop()


async def test_folding_a_batch_at_once_gives_the_state_of_folding_each_event(
    kit: SessionKit,
) -> None:
    """The actor folds each append's events with ``evolve_many`` (deltas cost one copy)."""
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[long:300]] [[tool:Read:a.py]] go", "upd-1"))
    await kit.inbox.finished(1)
    events = await kit.events("work")
    assert sum(e.type == ev.STREAM for e in events) > 5
    one_by_one = fold(evolve, SessionState(), events)
    for size in (1, 2, 3, 7, len(events)):
        state = SessionState()
        for start in range(0, len(events), size):
            state = evolve_many(state, events[start : start + size])
        assert state == one_by_one, size
    assert evolve_many(one_by_one, []) is one_by_one


async def test_a_resumed_claude_killed_for_hanging_is_a_crash_not_a_lost_conversation(
    tmp_path: Path,
) -> None:
    """Found by the stateful test: a resumed claude that hangs before its init and is killed
    was taken for a failed --resume, started afresh with the same turn, and hung for good."""
    kit = await timed_kit(tmp_path)
    ref = await kit.create("work")
    ref.tell(m.UserTurn("hello"))
    await kit.inbox.finished(1)
    await ref.ask(m.StopProcess("idle"))
    ref.tell(m.UserTurn("[[hang]]"))
    await kit.inbox.wait_for(lambda: len(kit.inbox.of(n.TurnStarted)) == 2)
    await kit.clock.advance(60)
    await kit.clock.advance(10)
    *_, done = await kit.inbox.finished(2)
    assert done.outcome == "crashed"
    types = await kit.types("work")
    assert ev.RESUME_FAILED not in types
    assert types.count(ev.PROCESS_STARTED) == 2
    await kit.stop()
    await kit.store.close()


async def test_a_turn_stopped_while_its_lost_conversation_is_resumed_is_not_sent_again(
    tmp_path: Path,
) -> None:
    """Found by the deep state machine: /stop reached a resumed claude that then said its
    conversation was gone; the turn was started afresh in a new claude all the same, which
    no timer watched any more (the interrupt had been sent), and hung for good."""
    fake = tmp_path / "fake"
    kit = await timed_kit(tmp_path, ("FAKE_CLAUDE_START_WHEN", "go"))
    ref = await kit.create("work")
    fake.mkdir()
    (fake / "go").touch()
    ref.tell(m.UserTurn("hello"))
    await kit.inbox.finished(1)
    await ref.ask(m.StopProcess("idle"))
    shutil.rmtree(fake)  # the conversation is lost, and the next claude waits for "go"
    ref.tell(m.UserTurn("[[hang]] again"))
    await kit.inbox.wait_for(lambda: len(kit.inbox.of(n.TurnStarted)) == 2)
    await ref.ask(m.Interrupt())
    fake.mkdir()
    (fake / "go").touch()
    *_, done = await kit.inbox.finished(2)
    assert done.outcome == "interrupted"
    types = await kit.types("work")
    assert ev.RESUME_FAILED in types
    assert types.count(ev.PROCESS_STARTED) == 2  # none started afresh for it
    await kit.stop()
    await kit.store.close()


class _StdinGone:
    """A claude whose stdin broke while it still runs: it is dying, its exit on its way."""

    def __init__(self, proc: Any) -> None:
        self.proc = proc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.proc, name)

    async def write(self, obj: Any) -> bytes:
        raise ProcessGoneError("claude pid 1: stdin is closed")


async def test_a_claude_found_gone_by_a_write_is_left_to_its_exit(kit: SessionKit) -> None:
    """Found by the deep state machine: an answer, /stop or a timeout written to a claude that
    was dying failed the whole session actor (restarted, its turn cut off as by a restart)
    instead of letting the exit end the turn."""
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[tool:Bash:ls -la]] look"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.PermissionAsked))
    [asked] = kit.inbox.of(n.PermissionAsked)
    actor = kit.system.cells["session:work"].actor
    assert isinstance(actor, SessionActor)
    live = actor.live
    assert live is not None
    real, live.proc = live.proc, _StdinGone(live.proc)  # type: ignore[assignment]
    await ref.ask(m.PermissionAnswer(asked.request_id, "allow"))
    await ref.ask(m.Interrupt())
    live.proc = real
    real.kill()
    [done] = await kit.inbox.finished(1)
    assert done.outcome == "crashed"
    assert kit.system.cells["session:work"].actor is actor  # never restarted
