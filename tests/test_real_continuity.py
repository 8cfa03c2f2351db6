"""Conformance: a conversation goes between a terminal and the chat both ways with the REAL
claude CLI (against the local Messages API stand-in, as in test_real_claude.py).

Desk to phone: a conversation made with ``claude -p`` in a directory is listed by ``/resume``,
imported and continued from the chat, the earlier messages in the next API request. Phone to
desk: a conversation made in the chat is ``/release``d, continued at a terminal with the printed
``cd DIR && claude --resume ID``, then in the chat again, each side seeing what the other said.
This pins what ``actors.claude.store`` assumes of claude's own files.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from actors.claude import store
from actors.session import events as ev
from tests.app_kit import AppKit
from tests.fakes.anthropic_api import FakeAnthropicAPI, all_text
from tests.test_real_claude import _LEAKY, CLAUDE

pytestmark = [
    pytest.mark.real_cli,
    pytest.mark.skipif(
        CLAUDE is None, reason="real claude CLI not installed: run ops/install-claude-cli"
    ),
]
CHAT = 1


@pytest.fixture
async def api() -> AsyncIterator[FakeAnthropicAPI]:
    async with FakeAnthropicAPI() as server:
        yield server


def cli_env(tmp: Path, api: FakeAnthropicAPI) -> dict[str, str]:
    """claude's environment, at the terminal and in pocketcode alike: its own home and config
    directory under ``tmp``, the stand-in API."""
    home = tmp / "home"
    (home / ".claude").mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": api.base_url,
        "ANTHROPIC_API_KEY": "test",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }


@pytest.fixture
async def kit(
    tmp_path: Path, api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AppKit]:
    for key in list(os.environ):
        if key.startswith(_LEAKY):
            monkeypatch.delenv(key)
    assert CLAUDE is not None
    kit = AppKit(tmp_path, claude_env=cli_env(tmp_path, api))
    await kit.start(POCKETCODE_CLAUDE_BIN=CLAUDE)
    yield kit
    garbage = [
        e.data
        for name in (kit.app.catalog.directory if kit.app else {})
        for e in await kit.session_events(name)
        if e.type == ev.STDOUT_GARBAGE
    ]
    await kit.stop()
    assert not garbage, f"non-JSON lines on the CLI's stdout: {garbage}"
    assert not api.unknown, f"the CLI called paths the stand-in does not know: {api.unknown}"


async def at_terminal(kit: AppKit, api: FakeAnthropicAPI, cwd: Path, *args: str) -> dict[str, Any]:
    """``claude -p`` run as a person would at a terminal in ``cwd``; its JSON result."""
    assert CLAUDE is not None
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **cli_env(kit.tmp, api)}
    proc = await asyncio.create_subprocess_exec(
        CLAUDE,
        *args,
        "--output-format=json",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def said(kit: AppKit, command: str) -> tuple[str, tuple[tuple[str, str, str], ...]]:
    await kit.send(command)
    await kit.settle()
    last = kit.view.of(CHAT, "say")[-1]
    return last.text, tuple((b.label, b.action, b.arg) for row in last.buttons for b in row)


async def test_a_conversation_from_a_terminal_goes_on_in_the_chat(
    kit: AppKit, api: FakeAnthropicAPI
) -> None:
    desk = kit.tmp / "desk proj"
    desk.mkdir()
    made = await at_terminal(kit, api, desk, "-p", "remember the word pineapple")
    conversation = made["session_id"]
    projects = kit.tmp / "home" / ".claude" / "projects"
    [file] = projects.glob(f"*/{conversation}.jsonl")
    assert file.parent.name == store.project_dir_pattern(str(desk))
    assert file.parent.name.endswith("-desk-proj")
    deep = kit.tmp / ("d" * 120) / ("e" * 120)
    deep.mkdir(parents=True)
    far = await at_terminal(kit, api, deep, "-p", "a long way down")
    [far_file] = projects.glob(f"*/{far['session_id']}.jsonl")
    pattern = store.project_dir_pattern(str(deep))
    assert pattern.endswith("-*")
    assert far_file.parent.name.startswith(pattern[:-1])
    assert len(far_file.parent.name) > len(pattern), "a hash after the cut name"

    text, buttons = await said(kit, "/resume")
    assert text.startswith("claude's conversations on this machine, newest first:")
    assert f"• {desk} · " in text
    assert "“remember the word pineapple”" in text
    assert buttons[-1][1:] == ("resume", conversation)
    deep_text, deep_buttons = await said(kit, f"/resume {deep}")
    assert "“a long way down”" in deep_text
    assert len(deep_buttons) == 1

    await kit.press("resume", conversation)
    await kit.settle()
    shown = kit.view.texts(CHAT)[-1]
    assert shown.startswith(f"Resumed the conversation in {desk} as desk-proj, now active.")
    assert "You: remember the word pineapple" in shown
    assert "Claude: Echo: remember the word pineapple" in shown

    reply = await kit.turn("what was the word?")
    assert reply.text == "Echo: what was the word?"
    seen = all_text(api.message_bodies()[-1])
    assert "remember the word pineapple" in seen
    assert "Echo: remember the word pineapple" in seen, "the earlier turn went with it"
    [argv] = await kit.argvs("desk-proj")
    assert f"--resume={conversation}" in argv
    inits = [
        e.data["line"]
        for e in await kit.session_events("desk-proj")
        if e.type == ev.STDOUT and e.data["line"].get("subtype") == "init"
    ]
    assert {(x["session_id"], x["cwd"]) for x in inits} == {(conversation, str(desk))}
    await said(kit, "/release")  # claude writes its file after the result: once it has exited
    assert "what was the word?" in file.read_text(), "the same conversation, the same file"


async def test_a_conversation_from_the_chat_goes_on_at_a_terminal_and_back(
    kit: AppKit, api: FakeAnthropicAPI
) -> None:
    await kit.send("/new work")
    first = await kit.turn("remember the word mango")
    assert first.text == "Echo: remember the word mango"
    status = await kit.status()
    [line] = [x for x in status.splitlines() if x.startswith("At a terminal (/release first): ")]
    text, _ = await said(kit, "/release")
    assert text.startswith("work is released: no claude of pocketcode runs on it. At a terminal:")
    command = text.splitlines()[1]
    assert line.endswith(command)
    cd, directory, joined, claude, flag, conversation = shlex.split(command)
    assert (cd, joined, claude, flag) == ("cd", "&&", "claude", "--resume")

    desk = await at_terminal(
        kit, api, Path(directory), "--resume", conversation, "-p", "[[mock:recall]] what now?"
    )
    assert desk["session_id"] == conversation
    assert desk["result"] == "Recall: remember the word mango | what now?", "the chat's turn"

    back = await kit.turn("[[mock:recall]] and here?")
    assert back.text == "Recall: remember the word mango | what now? | and here?"
    argvs = await kit.argvs("work")
    assert len(argvs) == 2
    assert f"--resume={conversation}" in argvs[1]
    exits = [e.data for e in await kit.session_events("work") if e.type == ev.PROCESS_EXITED]
    assert [(x["expected"], x["reason"]) for x in exits] == [(True, "released")]
