"""Desk to phone and back, through the whole app with the fake claude: /resume lists and imports
claude's own conversations, /status and the session list say how to go on at a terminal,
/release hands the conversation over. The fake keeps its conversations where the app looks for
claude's (``CLAUDE_CONFIG_DIR``), shaped as 2.1.197 keeps them (tests/test_claude_store.py)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.chat import desk
from actors.claude import store
from actors.session import events as ev
from actors.session import messages as sm
from actors.session.state import SessionState
from tests.app_kit import AppKit

CHAT = 1
FIXTURE = Path(__file__).parent / "fixtures" / "claude_store" / "conversation-2.1.197.jsonl"
DESK_ID = "0d5c5c2e-aaaa-4bbb-8ccc-000000000001"


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[AppKit]:
    kit = AppKit(tmp_path)
    await kit.start()
    try:
        yield kit
    finally:
        await kit.stop()


def plant(kit: AppKit, cwd: Path, session_id: str = DESK_ID, *, age_s: float = 7200) -> Path:
    """A conversation made at a terminal in ``cwd``: the real CLI's file, moved there."""
    cwd.mkdir(parents=True, exist_ok=True)
    folder = kit.tmp / "fake-state" / "projects" / store.project_dir_pattern(str(cwd))
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for raw in FIXTURE.read_text().splitlines():
        line = json.loads(raw)
        if "cwd" in line:
            line["cwd"] = str(cwd)
        if "sessionId" in line:
            line["sessionId"] = session_id
        lines.append(json.dumps(line))
    path = folder / f"{session_id}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    when = kit.clock.now().timestamp() - age_s
    os.utime(path, (when, when))
    return path


async def said(kit: AppKit, command: str) -> tuple[str, tuple[tuple[str, str, str], ...]]:
    """What ``command`` made the chat say last, and its buttons (label, action, arg)."""
    await kit.send(command)
    await kit.settle()
    last = kit.view.of(CHAT, "say")[-1]
    return last.text, tuple((b.label, b.action, b.arg) for row in last.buttons for b in row)


async def test_a_desk_conversation_is_listed_imported_and_continued(kit: AppKit) -> None:
    desk_dir = kit.tmp / "desk" / "My Project"
    plant(kit, desk_dir)
    text, buttons = await said(kit, "/resume")
    assert text.startswith("claude's conversations on this machine, newest first:")
    assert f"• {desk_dir} · 2 h ago · {DESK_ID[:8]}" in text
    assert "“remember the word pineapple”" in text
    assert buttons == (("My Project · 2 h ago · remember the word pineap…", "resume", DESK_ID),)

    await kit.press("resume", DESK_ID)
    await kit.settle()
    shown = kit.view.texts(CHAT)[-1]
    assert shown.startswith(f"Resumed the conversation in {desk_dir} as my-project, now active.")
    assert "You: [[mock:recall]] what did I say?" in shown
    assert "Claude: Recall: remember the word pineapple | write notes | what did I say?" in shown
    events = await kit.session_events("my-project")
    assert [e.type for e in events] == [ev.CREATED, ev.IMPORTED]
    assert events[0].data["cwd"] == str(desk_dir)
    assert events[1].data["claude_session_id"] == DESK_ID

    reply = await kit.turn("[[recall]] and now?")
    assert reply.text.startswith("turns=3; history: remember the word pineapple | ")
    assert reply.text.endswith(" | [[mock:recall]] what did I say?"), "the desk's turns"
    [argv] = await kit.argvs("my-project")
    assert f"--resume={DESK_ID}" in argv
    status = await kit.status()
    assert f"Working directory: {desk_dir}" in status
    assert f"cd '{desk_dir}' && claude --resume {DESK_ID}" in status

    text, _ = await said(kit, "/resume")
    assert text.startswith("No conversation of claude on this machine to resume.")
    assert "(1 in pocketcode's own sessions are not listed.)" in text
    text, _ = await said(kit, f"/resume {DESK_ID[:8]}")
    assert text == (
        "That conversation is pocketcode's session my-project already: /session my-project."
    )


async def test_one_directory_a_name_of_ones_own_and_refusals(kit: AppKit) -> None:
    app_dir, web_dir = kit.tmp / "src" / "app", kit.tmp / "src" / "web"
    plant(kit, app_dir, "00000001-0000-4000-8000-000000000000", age_s=600)
    plant(kit, app_dir, "00000002-0000-4000-8000-000000000000", age_s=60)
    plant(kit, web_dir, "00000003-0000-4000-8000-000000000000", age_s=30)
    text, buttons = await said(kit, f"/resume {app_dir}")
    assert text.startswith(f"claude's conversations in {app_dir}, newest first:")
    assert [arg for _, _, arg in buttons] == [
        "00000002-0000-4000-8000-000000000000",
        "00000001-0000-4000-8000-000000000000",
    ]
    assert "1 min ago" in buttons[0][0]
    assert (await said(kit, f"/resume {app_dir} as Bad!"))[0].startswith("'Bad!' is not a valid")
    text, _ = await said(kit, f"/resume {app_dir} as backend")
    assert text.startswith(f"Resumed the conversation in {app_dir} as backend, now active.")
    [_, imported] = await kit.session_events("backend")
    assert imported.data["claude_session_id"] == "00000002-0000-4000-8000-000000000000"
    assert (await said(kit, "/resume 0000000 as other"))[0] == (
        "'0000000' starts 3 conversations' ids: give more of it."
    )
    text, _ = await said(kit, "/resume 00000001 as backend")
    assert text == "A session named backend already exists."
    assert (await said(kit, f"/resume {kit.tmp / 'nowhere'} as x"))[0] == (
        f"claude has no conversation in {kit.tmp / 'nowhere'} to resume."
    )
    assert (await said(kit, "/resume feedface"))[0].startswith(
        "No conversation of claude has the id 'feedface'."
    )
    assert (await said(kit, "/resume as"))[0].startswith("No conversation of claude has the id")
    web_dir.rename(kit.tmp / "src" / "moved")
    assert (await said(kit, "/resume 00000003"))[0] == (
        f"Its directory {web_dir} is gone, so the conversation cannot go on."
    )
    inside = kit.tmp / "data" / "sessions" / "mine"
    plant(kit, inside, "00000004-0000-4000-8000-000000000000")
    assert (await said(kit, "/resume 00000004"))[0] == (
        f"That conversation works in {inside}, among pocketcode's own files."
    )
    assert kit.app is not None
    assert set(kit.app.catalog.directory) == {"backend"}


def test_names_come_from_the_directory_and_are_numbered_when_taken() -> None:
    assert desk.name_for("/srv/My Project", ()) == "my-project"
    assert desk.name_for("/srv/My Project", {"my-project"}) == "my-project-2"
    assert desk.name_for("/srv/My Project", {"my-project", "my-project-2"}) == "my-project-3"
    assert desk.name_for("/srv/ÄÖÜ", ()) == "desk"
    assert desk.name_for("/", ()) == "desk"
    long = desk.name_for("/srv/" + "a" * 40, {"a" * 32})
    assert long == "a" * 30 + "-2"


async def test_release_hands_the_conversation_to_the_desk_and_back(kit: AppKit) -> None:
    await kit.send("/new work")
    assert (await said(kit, "/release"))[0] == (
        "work has no conversation with claude yet, so there is nothing to go on with at a terminal."
    )
    await kit.turn("remember the word mango")
    assert kit.app is not None
    summary = kit.app.catalog.get("work")
    assert summary is not None
    state: SessionState = await kit.app.sessions.get("work").ask(sm.GetState())
    line = f"cd {summary.cwd} && claude --resume {state.claude_session_id}"
    status = await kit.status()
    assert f"At a terminal (/release first): {line}" in status
    text, _ = await said(kit, "/session")
    assert f"• ✓ work (default)\n   {line}" in text

    done = len(kit.view.of(CHAT, "done"))
    await kit.send("[[tool:Bash:ls]] look")  # the turn waits for the question's answer
    await kit.view.wait_for(lambda: any("🔐" in t for t in kit.view.texts(CHAT)))
    asked = next(s for s in kit.view.of(CHAT, "say") if "🔐" in s.text)
    assert (await said(kit, "/release"))[0] == (
        "work is working on a turn; /release it once the reply is in (or /stop the turn first)."
    )
    await kit.press("deny", asked.buttons[0][0].arg, handle=asked.handle)
    await kit.view.wait_count(CHAT, "done", done + 1)
    text, _ = await said(kit, "/release work")
    assert text == (
        "work is released: no claude of pocketcode runs on it. At a terminal:\n"
        f"{line}\nYour next message here resumes it, with what was said there."
    )
    exits = [e for e in await kit.session_events("work") if e.type == ev.PROCESS_EXITED]
    assert [(e.data["expected"], e.data["reason"]) for e in exits] == [(True, "released")]
    assert f"At a terminal: {line}" in await kit.status()

    reply = await kit.turn("[[recall]] still there?")
    assert reply.text == "turns=2; history: remember the word mango | [[tool:Bash:ls]] look"
    argvs = await kit.argvs("work")
    assert len(argvs) == 2
    assert f"--resume={state.claude_session_id}" in argvs[1]
    assert (await said(kit, "/release nosuch"))[0] == "There is no session named nosuch."
