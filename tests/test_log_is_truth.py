"""The log is the only truth: each stream has one writer, and a restart behaves as the run
before it because whatever changes behaviour is in the fold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.archive.transcript import render_transcript
from actors.runtime.testkit import run_until_idle
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session.errors import SessionError
from actors.session.state import load_state
from eventstore import NewEvent
from tests.app_kit import AppKit, open_app_kit
from tests.session_kit import SessionKit, open_session_kit


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[SessionKit]:
    async with open_session_kit(tmp_path) as kit:
        yield kit


def result(total_cost: float, text: str = "done") -> NewEvent:
    line = {"type": "result", "subtype": "success", "result": text, "total_cost_usd": total_cost}
    return NewEvent(ev.STDOUT, {"line": line})


async def test_the_cost_of_a_turn_cut_off_by_a_restart_is_that_turns_own(kit: SessionKit) -> None:
    """Two turns in one process ($0.05, then $0.10 in all); pocketcode dies before the second
    turn's end is logged: its reply says $0.05 this turn, not the process's $0.10."""
    ref = await kit.create("work")
    await kit.stop()
    await kit.store.append(
        ev.stream_of("work"),
        [
            NewEvent(ev.PROCESS_STARTED, {"pid": 999_999, "argv": [], "resume_id": None}),
            NewEvent(ev.TURN_STARTED, {"turn_id": "t1", "text": "a", "merged": 1}),
            result(0.05),
            NewEvent(ev.TURN_ENDED, {"turn_id": "t1", "outcome": "completed"}),
            NewEvent(ev.TURN_STARTED, {"turn_id": "t2", "text": "b", "merged": 1}),
            result(0.10, "second"),
        ],
        expected_version=(await load_state(kit.store, "work")).version,
    )
    after = SessionKit(kit.store, kit.tmp, clock=kit.clock)
    ref = after.spawn("work")
    [done] = await after.inbox.finished(1)
    assert (done.turn_id, done.text) == ("t2", "second")
    assert done.turn_cost_usd == pytest.approx(0.05)
    assert done.cost_usd == pytest.approx(0.10)
    ref.tell(m.UserTurn("third"))
    *_, third = await after.inbox.finished(2)
    assert third.turn_cost_usd == pytest.approx(third.cost_usd - 0.10)
    await after.stop()


async def test_a_restart_during_a_crash_backoff_keeps_waiting(kit: SessionKit) -> None:
    ref = await kit.create("work")
    for i in range(2):
        ref.tell(m.UserTurn(f"[[crash]] {i}"))
        await kit.inbox.finished(i + 1)
    await kit.inbox.told("waiting 5 s")
    await kit.stop()
    await kit.clock.advance(2)
    after = SessionKit(kit.store, kit.tmp, clock=kit.clock)
    ref = after.spawn("work")
    ref.tell(m.UserTurn("patient"))
    await run_until_idle(after.system)
    assert after.inbox.of(n.TurnStarted) == [], "the restart did not cut the backoff short"
    started = [e for e in await after.events("work") if e.type == ev.TURN_STARTED]
    assert len(started) == 2
    await kit.clock.advance(3)
    [done] = await after.inbox.finished(1)
    assert done.text == "Echo: patient"
    await after.stop()


async def test_questions_open_when_their_turn_ends_expire_and_lose_their_buttons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_app_kit(tmp_path, monkeypatch) as app:
        await app.send("/new work")
        await app.settle()
        await app.send("[[tool:Bash:ls -la]] look")
        await app.view.wait_for(lambda: any(s.buttons for s in app.view.of(1, "say")))
        assert app.app is not None
        chat = app.app.chats.peek(1)
        assert chat is not None
        await app.send("/stop")
        await app.view.wait_count(1, "done", 1)
        await app.settle()
        [closed] = app.view.of(1, "closed")
        assert "Expired" in closed.text
        actor = app.app.system.cells["chat:1"].actor
        assert actor is not None
        assert actor.state.questions == {}  # type: ignore[attr-defined]
        session = app.app.system.cells["session:work"].actor
        assert session is not None
        assert session.state.questions == ()  # type: ignore[attr-defined]


async def test_a_write_by_another_writer_is_caught_and_read_again(kit: SessionKit) -> None:
    """The offline ``pocketcode archive`` appends while the bot runs: the session does not fold
    its own next event on top of it out of order; it reads the log again and says so."""
    ref = await kit.create("work")
    await kit.store.append(ev.stream_of("work"), [ev.event(ev.ARCHIVED, "cli", path="/x.tgz")])
    with pytest.raises(SessionError, match="changed outside this bot"):
        await ref.ask(m.UserTurn("hello"))
    actor = kit.system.cells["session:work"].actor
    assert actor is not None
    assert actor.state == await load_state(kit.store, "work")  # type: ignore[attr-defined]
    assert actor.state.status == "archived"  # type: ignore[attr-defined]
    await ref.ask(m.UserTurn("hello again"))
    assert kit.inbox.said()[-1] == "work is archived; /unarchive work to use it again."


def test_a_transcript_of_oddly_shaped_content_renders() -> None:
    """A content block that is not a dict crashed the transcript, and so /archive."""
    events = [
        NewEvent(ev.TURN_STARTED, {"turn_id": "t", "text": "hi", "merged": 1}),
        NewEvent(ev.STDOUT, {"line": {"type": "assistant", "message": {"content": ["x", 5]}}}),
        NewEvent(ev.STDOUT, {"line": {"type": "user", "message": {"content": [None, "y"]}}}),
        NewEvent(ev.STDOUT, {"line": {"type": "assistant", "message": "not a dict"}}),
        NewEvent(ev.STDOUT, {"line": {"type": "stream_event", "event": ["odd"]}}),
        NewEvent(ev.STDOUT, {"line": {"type": "result", "total_cost_usd": True, "result": 3}}),
    ]
    from datetime import UTC, datetime

    from eventstore import Event

    recorded = [
        Event(i, "session:odd", i, e.type, 1, e.data, datetime(2026, 1, 1, tzinfo=UTC))
        for i, e in enumerate(events, 1)
    ]
    text = render_transcript(recorded)
    assert "## Turn 1" in text
    assert "total cost $0.0000" in text


async def test_an_oddly_shaped_session_archives(tmp_path: Path) -> None:
    async with open_session_kit(tmp_path) as kit:
        ref = await kit.create("odd")
        await kit.stop()
        state = await load_state(kit.store, "odd")
        await kit.store.append(
            ev.stream_of("odd"),
            [
                NewEvent(ev.TURN_STARTED, {"turn_id": "t", "text": "hi", "merged": 1}),
                NewEvent(ev.STDOUT, {"line": {"type": "assistant", "message": {"content": [1]}}}),
                NewEvent(ev.TURN_ENDED, {"turn_id": "t", "outcome": "completed"}),
            ],
            expected_version=state.version,
        )
        after = SessionKit(kit.store, kit.tmp, clock=kit.clock)
        ref = after.spawn("odd")
        path = await ref.ask(m.Archive("upd-9"))
        assert Path(path).exists()
        await after.stop()


async def test_chat_state_is_written_by_the_chat_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Updates are logged by the intake in their own streams; the chat's stream holds only what
    the chat decided, and its live state equals its rebuilt state after every update."""
    async with open_app_kit(tmp_path, monkeypatch) as app:
        for text in ("/new a", "/new b", "/session a", "hello", "/status"):
            await app.send(text)
            await app.settle()
        assert app.app is not None
        chat_events = await app.app.store.read_stream("chat:1")
        assert {e.type for e in chat_events} <= {
            "chat.update_handled",
            "chat.active_session_changed",
            "chat.reply_delivered",
        }
        assert [e.version for e in chat_events] == list(range(1, len(chat_events) + 1))
        kit_: AppKit = app
        await kit_.stop()
        await kit_.start()
