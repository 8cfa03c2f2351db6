"""The session side of picking up anywhere: the files a turn changed (live and as its reply is
rebuilt from the log), the conversations the sessions drive, an imported conversation's first
start, and /release."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actors.claude.argv import AgentSettings
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session import replies
from actors.session.changes import FileChanges
from actors.session.conversations import DrivenConversations
from actors.session.errors import SessionError
from actors.session.state import SessionState
from eventstore import Event, MemoryEventStore, NewEvent
from tests.session_kit import open_session_kit

AT = datetime(2026, 1, 1, tzinfo=UTC)


def use(tool_id: str | None, name: str, **tool_input: Any) -> dict[str, Any]:
    block = {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
    return {"type": "assistant", "message": {"content": [block]}}


def result(tool_id: str, *, error: bool = False) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": tool_id, "is_error": error, "content": "x"}
    return {"type": "user", "message": {"content": [block]}}


def test_a_file_counts_as_changed_once_its_tool_call_succeeded() -> None:
    lines = [
        use("t1", "Write", file_path="/w/a.py", content="x"),
        use("t2", "Edit", file_path="/w/b.py", old_string="1", new_string="2"),
        use("t3", "Read", file_path="/w/c.py"),
        use("t4", "NotebookEdit", notebook_path="/w/n.ipynb", new_source="y"),
        use(None, "Write", file_path="/w/no-id.py"),
        use("t5", "MultiEdit", file_path=7),
        result("t2", error=True),  # denied or failed: nothing changed
        result("t1"),
        result("t3"),
        use("t6", "Edit", file_path="/w/a.py", old_string="x", new_string="z"),
        result("t6"),
        result("t4"),
        {"type": "user", "message": {"content": "typed"}},
        {"type": "stream_event", "event": {}},
    ]
    changes = FileChanges()
    for line in lines:
        changes = changes.seen(line)
    assert changes.paths == ("/w/a.py", "/w/n.ipynb")
    assert changes.asked == ()


async def test_the_changed_files_go_with_the_reply_live_and_rebuilt(tmp_path: Path) -> None:
    async with open_session_kit(
        tmp_path, settings=AgentSettings(permission_mode="acceptEdits")
    ) as kit:
        ref = await kit.create("work")
        ref.tell(m.UserTurn("[[tool:Write:a.txt|one]] [[tool:Edit:a.txt|one|two]] write"))
        [done] = await kit.inbox.finished(1)
        state: SessionState = await ref.ask(m.GetState())
        assert done.files == ("a.txt",), "as claude named it, once"
        assert (Path(state.cwd) / "a.txt").read_text() == "two"
        rebuilt = replies.turn_reply(await kit.events("work"), done.turn_id)
        assert rebuilt is not None
        assert rebuilt.files == done.files
        ref.tell(m.UserTurn("nothing written"))
        _, plain = await kit.inbox.finished(2)
        assert plain.files == ()


def event(seq: int, stream: str, type_: str, **data: Any) -> Event:
    return Event(seq, stream, seq, type_, 1, data, AT)


def init(session_id: str) -> dict[str, Any]:
    return {"type": "system", "subtype": "init", "session_id": session_id}


async def test_the_conversations_the_sessions_drive_are_read_once_and_kept_current() -> None:
    store = MemoryEventStore()
    await store.append("session:a", [NewEvent(ev.STDOUT, {"line": init("c1")})])
    await store.append("session:b", [NewEvent(ev.IMPORTED, {"claude_session_id": "desk"})])
    await store.append("session:a", [NewEvent(ev.STDOUT, {"line": {"type": "result"}})])
    driven = DrivenConversations(store)
    # Seen live before the log was read: newer than what the log holds for a.
    driven.observe(event(100, "session:a", ev.PROCESS_STARTED, resume_id="c2"))
    assert await driven.current() == {"a": "c2", "b": "desk"}
    assert await driven.owners() == {"c1": "a", "c2": "a", "desk": "b"}
    driven.observe(event(101, "session:b", ev.RESUME_FAILED))
    driven.observe(event(102, "session:c", ev.STDOUT, line={"type": "assistant"}))
    driven.observe(event(103, "session:c", ev.PROCESS_STARTED, resume_id=None))
    assert await driven.current() == {"a": "c2"}
    await store.append("session:z", [NewEvent(ev.IMPORTED, {"claude_session_id": "late"})])
    assert "late" not in await driven.owners(), "read once; later events come by observe"


async def test_an_imported_conversation_starts_with_resume_and_a_lost_one_afresh(
    tmp_path: Path,
) -> None:
    async with open_session_kit(tmp_path) as kit:
        cwd = tmp_path / "desk"
        cwd.mkdir()
        ref = kit.spawn("desk")
        gone = "00000000-0000-4000-8000-00000000dead"
        await ref.ask(m.Create("default", str(cwd), 42, "upd-1", gone, "fix it"))
        await ref.ask(m.Create("default", str(cwd), 42, "upd-1", gone, "fix it"))  # replayed
        types = await kit.types("desk")
        assert types == [ev.CREATED, ev.IMPORTED]
        state: SessionState = await ref.ask(m.GetState())
        assert state.claude_session_id == gone
        ref.tell(m.UserTurn("hello", "upd-2"))
        [done] = await kit.inbox.finished(1)
        assert done.text == "Echo: hello", "its conversation is gone: a new one starts"
        starts = [e.data for e in await kit.events("desk") if e.type == ev.PROCESS_STARTED]
        assert f"--resume={gone}" in starts[0]["argv"]
        assert starts[0]["resume_id"] == gone
        assert ev.RESUME_FAILED in await kit.types("desk")


async def test_release_stops_the_process_on_purpose_and_never_mid_turn(tmp_path: Path) -> None:
    async with open_session_kit(tmp_path) as kit:
        ref = await kit.create("work")
        with pytest.raises(SessionError, match="There is no session named nobody"):
            await kit.spawn("nobody").ask(m.Release())
        ref.tell(m.UserTurn("[[tool:Bash:ls]] look"))
        await kit.inbox.wait_for(lambda: kit.inbox.of(n.PermissionAsked))
        with pytest.raises(SessionError, match="work is working on a turn"):
            await ref.ask(m.Release())
        [asked] = kit.inbox.of(n.PermissionAsked)
        ref.tell(m.PermissionAnswer(asked.request_id, "deny"))
        await kit.inbox.finished(1)
        released: SessionState = await ref.ask(m.Release("upd-9"))
        assert released.process_pid is None
        assert released.claude_session_id is not None
        [exited] = [e.data for e in await kit.events("work") if e.type == ev.PROCESS_EXITED]
        assert (exited["expected"], exited["reason"]) == (True, "released")
        again: SessionState = await ref.ask(m.Release())
        assert again.version == released.version, "nothing runs: nothing logged"
