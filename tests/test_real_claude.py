"""Conformance: the REAL Claude Code CLI, driven through the session actor, against a stand-in API.

Install the CLI with ``ops/install-claude-cli`` (or point ``POCKETCODE_REAL_CLAUDE`` at a binary);
without it these tests skip. The model API is ``tests/fakes/anthropic_api.py`` on 127.0.0.1, so
nothing leaves the machine. Run just these with ``pytest -m real_cli -rs``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from actors.session import budget
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session.deps import SessionConfig
from actors.session.state import SessionState
from eventstore import SqliteEventStore
from tests.fakes.anthropic_api import FakeAnthropicAPI, all_text, long_text
from tests.session_kit import SessionKit

ROOT = Path(__file__).resolve().parent.parent


def _find_claude() -> str | None:
    explicit = os.environ.get("POCKETCODE_REAL_CLAUDE")
    path = Path(explicit) if explicit else ROOT / ".claude-cli" / "node_modules" / ".bin" / "claude"
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


CLAUDE = _find_claude()

pytestmark = [
    pytest.mark.real_cli,
    pytest.mark.skipif(
        CLAUDE is None, reason="real claude CLI not installed: run ops/install-claude-cli"
    ),
]

#: Variables of the developer's own environment that would point the CLI elsewhere.
_LEAKY = ("ANTHROPIC_", "CLAUDE", "AWS_BEARER_TOKEN_BEDROCK", "VERTEX", "DISABLE_")


@pytest.fixture
async def api() -> AsyncIterator[FakeAnthropicAPI]:
    async with FakeAnthropicAPI() as server:
        yield server


@pytest.fixture
async def kit(
    tmp_path: Path, api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SessionKit]:
    for key in list(os.environ):
        if key.startswith(_LEAKY):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    assert CLAUDE is not None
    config = SessionConfig(
        claude_bin=CLAUDE,
        env=(
            ("ANTHROPIC_BASE_URL", api.base_url),
            ("ANTHROPIC_API_KEY", "test"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("CLAUDE_CONFIG_DIR", str(home / ".claude")),
            ("HOME", str(home)),
        ),
    )
    store = await SqliteEventStore.open(tmp_path / "log.db")
    kit = SessionKit(store, tmp_path, config=config)
    yield kit
    garbage = [e.data for e in await kit.events("work") if e.type == ev.STDOUT_GARBAGE]
    await kit.stop()
    await store.close()
    assert not garbage, f"non-JSON lines on the CLI's stdout: {garbage}"
    assert not api.unknown, f"the CLI called paths the stand-in does not know: {api.unknown}"


async def stdout_lines(kit: SessionKit, name: str, kind: str | None = None) -> list[dict[str, Any]]:
    lines = [e.data["line"] for e in await kit.events(name) if e.type == ev.STDOUT]
    return [x for x in lines if kind is None or x.get("type") == kind]


async def claude_has_saved(kit: SessionKit, text: str, within_s: float = 10.0) -> None:
    """Wait until the CLI's own transcript holds ``text``.

    2.1.197 writes its transcript some 50 ms after it reports the result; a kill inside that
    window loses the reply from the resumed conversation (pocketcode's log still has it).
    """
    projects = kit.tmp / "home" / ".claude" / "projects"
    for _ in range(int(within_s / 0.01)):
        if any(text in f.read_text() for f in projects.glob("*/*.jsonl")):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"claude did not save {text!r} within {within_s} s")


def inits(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [x for x in lines if x.get("type") == "system" and x.get("subtype") == "init"]


async def test_two_turns_in_one_process_share_the_session_and_add_up_cost(
    kit: SessionKit, api: FakeAnthropicAPI
) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("hello", "upd-1"))
    [first] = await kit.inbox.finished(1)
    ref.tell(m.UserTurn("again", "upd-2"))
    _, second = await kit.inbox.finished(2)
    assert (first.outcome, first.text) == ("completed", "Echo: hello")
    assert (second.outcome, second.text) == ("completed", "Echo: again")
    types = await kit.types("work")
    assert types.count(ev.PROCESS_STARTED) == 1
    assert ev.PROCESS_EXITED not in types
    lines = await stdout_lines(kit, "work")
    state: SessionState = await ref.ask(m.GetState())
    assert len(inits(lines)) == 2, "system/init comes again at every turn"
    assert {x["session_id"] for x in inits(lines)} == {state.claude_session_id}
    results = [x for x in lines if x.get("type") == "result"]
    assert [r["session_id"] for r in results] == [state.claude_session_id] * 2
    assert 0 < results[0]["total_cost_usd"] < results[1]["total_cost_usd"], "cumulative"
    assert second.cost_usd > first.cost_usd > 0
    assert state.total_cost_usd == pytest.approx(results[1]["total_cost_usd"])
    assert second.turn_cost_usd == pytest.approx(
        results[1]["total_cost_usd"] - results[0]["total_cost_usd"]
    )
    assert api.user_texts() == ["hello", "again"]
    assert "Echo: hello" in all_text(api.message_bodies()[-1]), "turn two carries turn one"


async def test_a_long_reply_arrives_whole(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[mock:long:10000]] write a lot"))
    [done] = await kit.inbox.finished(1)
    assert done.outcome == "completed"
    assert len(done.text) == 10_000
    assert done.text == long_text(10_000)
    # Under load the pump may hand over every line at once (no progress at all); whatever
    # progress was shown is a prefix. Streaming itself is shown by the slow turns below.
    progress = [p.text for p in kit.inbox.of(n.ReplyProgress)]
    assert all(done.text.startswith(p) for p in progress)
    [result] = await stdout_lines(kit, "work", "result")
    assert result["result"] == done.text


async def test_interrupt_ends_the_turn_and_the_process_stays(
    kit: SessionKit, api: FakeAnthropicAPI
) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("warm up"))
    [warm] = await kit.inbox.finished(1)
    assert warm.outcome == "completed"
    ref.tell(m.UserTurn("[[mock:slow]] count slowly"))
    await kit.inbox.wait_for(
        lambda: any(p.text for p in kit.inbox.of(n.ReplyProgress) if p.turn_id != warm.turn_id)
    )
    ref.tell(m.Interrupt())
    _, cut = await kit.inbox.finished(2)
    assert cut.outcome == "interrupted"
    full = "".join(f"w{i:03d} " for i in range(200))
    assert 0 < len(cut.text) < len(full)
    assert full.startswith(cut.text)
    results = await stdout_lines(kit, "work", "result")
    assert results[-1]["subtype"] == "error_during_execution"
    assert results[-1].get("terminal_reason") == "aborted_streaming"
    assert "result" not in results[-1]
    # total_cost_usd stays cumulative across an interrupt (the cut-off stream costs nothing)
    assert results[-1]["total_cost_usd"] == pytest.approx(results[0]["total_cost_usd"])
    assert cut.cost_usd == pytest.approx(warm.cost_usd)
    assert cut.turn_cost_usd == pytest.approx(0.0)
    assert any(x.get("type") == "control_response" for x in await stdout_lines(kit, "work"))
    ref.tell(m.UserTurn("still there?"))
    *_, after = await kit.inbox.finished(3)
    assert (after.outcome, after.text) == ("completed", "Echo: still there?")
    types = await kit.types("work")
    assert types.count(ev.PROCESS_STARTED) == 1
    assert ev.PROCESS_EXITED not in types
    assert api.user_texts()[-1] == "still there?"


async def test_permission_request_for_bash_answered_allow(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[mock:tool:Bash:echo made > made.txt && ls]] make a file"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.PermissionAsked))
    [asked] = kit.inbox.of(n.PermissionAsked)
    assert asked.tool == "Bash"
    assert asked.summary == "Bash: echo made > made.txt && ls"
    state: SessionState = await ref.ask(m.GetState())
    assert "--permission-prompt-tool=stdio" in [
        arg
        for e in await kit.events("work")
        if e.type == ev.PROCESS_STARTED
        for arg in e.data["argv"]
    ]
    assert not (Path(state.cwd) / "made.txt").exists(), "nothing runs before the answer"
    ref.tell(m.PermissionAnswer(asked.request_id, "allow"))
    [done] = await kit.inbox.finished(1)
    assert (done.outcome, done.text) == ("completed", "Tool said: made.txt")
    assert (Path(state.cwd) / "made.txt").read_text() == "made\n"
    [closed] = kit.inbox.of(n.PermissionClosed)
    assert (closed.decision, closed.by_timeout) == ("allow", False)
    [request] = [
        x
        for x in await stdout_lines(kit, "work", "control_request")
        if x["request"].get("subtype") == "can_use_tool"
    ]
    assert request["request_id"] == asked.request_id


async def test_allow_for_the_session_without_a_suggestion_allows_that_input_only(
    kit: SessionKit,
) -> None:
    """2.1.197 suggests no rule for a command it cannot analyse, and only ``setMode`` for a
    file edit; "allow for this session" then sends a rule for that command (its exact text)
    or that file (``Edit(//PATH)``), and the CLI asks again for anything else."""
    ref = await kit.create("work")
    state: SessionState = await ref.ask(m.GetState())
    command = "echo one\n\n\n; echo two"  # a parse error to 2.1.197: no suggestion at all

    async def asked_after(count: int, text: str) -> n.PermissionAsked:
        ref.tell(m.UserTurn(text))
        await kit.inbox.wait_for(lambda: len(kit.inbox.of(n.PermissionAsked)) > count)
        asked: n.PermissionAsked = kit.inbox.of(n.PermissionAsked)[count]
        return asked

    bash = await asked_after(0, f"[[mock:tool:Bash:{command}]] run it")
    assert (bash.scope, bash.rules) == ("command", (f"Bash({command})",))
    ref.tell(m.PermissionAnswer(bash.request_id, "allow_session"))
    await kit.inbox.finished(1)
    ref.tell(m.UserTurn(f"[[mock:tool:Bash:{command}]] again"))
    [*_, again] = await kit.inbox.finished(2)
    assert again.text.startswith("Tool said:"), again
    assert len(kit.inbox.of(n.PermissionAsked)) == 1, "the same command is not asked again"
    other = await asked_after(1, "[[mock:tool:Bash:echo three\n\n; echo four]] other")
    assert other.scope == "command"
    ref.tell(m.PermissionAnswer(other.request_id, "deny"))
    await kit.inbox.finished(3)

    path = f"{state.cwd}/a.txt"
    write = await asked_after(2, f'[[mock:tool:Write:{{"file_path": "{path}", "content": "A"}}]] w')
    assert (write.scope, write.rules) == ("file", (f"Edit(/{path})",))
    ref.tell(m.PermissionAnswer(write.request_id, "allow_session"))
    await kit.inbox.finished(4)
    ref.tell(m.UserTurn(f'[[mock:tool:Write:{{"file_path": "{path}", "content": "B"}}]] again'))
    await kit.inbox.finished(5)
    assert len(kit.inbox.of(n.PermissionAsked)) == 3, "the same file is not asked again"
    assert Path(path).read_text() == "B"
    elsewhere = f"{state.cwd}/b.txt"
    other_file = await asked_after(
        3, f'[[mock:tool:Write:{{"file_path": "{elsewhere}", "content": "C"}}]] w'
    )
    assert other_file.input["file_path"] == elsewhere
    ref.tell(m.PermissionAnswer(other_file.request_id, "deny"))
    await kit.inbox.finished(6)
    assert not Path(elsewhere).exists()


async def test_killed_process_is_resumed_with_the_earlier_conversation(
    kit: SessionKit, api: FakeAnthropicAPI
) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("remember the word pineapple"))
    [first] = await kit.inbox.finished(1)
    assert first.outcome == "completed"
    await claude_has_saved(kit, first.text)
    before: SessionState = await ref.ask(m.GetState())
    sid, pid = before.claude_session_id, before.process_pid
    assert sid is not None
    assert pid is not None
    ref.tell(m.UserTurn("[[mock:slow]] take your time"))
    await kit.inbox.wait_for(
        lambda: any(p.text for p in kit.inbox.of(n.ReplyProgress) if p.turn_id != first.turn_id)
    )
    os.kill(pid, signal.SIGKILL)
    _, crashed = await kit.inbox.finished(2)
    assert crashed.outcome == "crashed"
    ref.tell(m.UserTurn("what was the word?"))
    *_, resumed = await kit.inbox.finished(3)
    assert (resumed.outcome, resumed.text) == ("completed", "Echo: what was the word?")
    starts = [e for e in await kit.events("work") if e.type == ev.PROCESS_STARTED]
    assert len(starts) == 2
    assert f"--resume={sid}" in starts[1].data["argv"]
    assert starts[1].data["pid"] != pid
    lines = await stdout_lines(kit, "work")
    assert {x["session_id"] for x in inits(lines)} == {sid}
    assert {x["cwd"] for x in inits(lines)} == {before.cwd}
    seen = all_text(api.message_bodies()[-1])
    assert "remember the word pineapple" in seen
    assert "Echo: remember the word pineapple" in seen
    after: SessionState = await ref.ask(m.GetState())
    assert after.claude_session_id == sid
    assert after.total_cost_usd > before.total_cost_usd
    # 2.1.197 keeps the cut-off turn's user text in the resumed conversation, followed by a
    # synthetic assistant "No response requested."; the partial reply is not kept.
    assert "w000" not in seen


async def test_model_and_mode_switches_reach_the_running_cli(
    kit: SessionKit, api: FakeAnthropicAPI
) -> None:
    """set_model changes the model of the next API request without a restart; switching to
    bypassPermissions is refused by a process not started in it, and said so in words."""
    ref = await kit.create("work")
    ref.tell(m.UserTurn("hello"))
    await kit.inbox.finished(1)
    await ref.ask(m.ChangeSetting(ev.MODEL, "claude-haiku-4-5", "upd-2"))
    await ref.ask(m.ChangeSetting(ev.PERMISSION_MODE, "bypassPermissions", "upd-3"))
    await kit.inbox.wait_for(
        lambda: len([x for x in kit.inbox.of(n.SessionNotice) if "work " in x.text]) >= 2
    )
    told = [x.text for x in kit.inbox.of(n.SessionNotice)]
    assert told[0] == "work now uses model claude-haiku-4-5."
    assert told[1].startswith("work did not switch to permission mode bypassPermissions: claude")
    ref.tell(m.UserTurn("again"))
    _, second = await kit.inbox.finished(2)
    assert (second.outcome, second.text) == ("completed", "Echo: again")
    models = [body["model"] for body in api.message_bodies()]
    assert models[0] != "claude-haiku-4-5"
    assert models[-1] == "claude-haiku-4-5", "the next API request uses the new model"
    events = await kit.events("work")
    rids = [e.data["request_id"] for e in events if e.type == ev.SETTING_REQUESTED]
    answers = {
        x["response"]["request_id"]: x for x in await stdout_lines(kit, "work", "control_response")
    }
    assert answers[rids[0]] == {
        "type": "control_response",
        "response": {"subtype": "success", "request_id": rids[0]},
    }
    assert answers[rids[1]]["response"]["subtype"] == "error"
    assert "--dangerously-skip-permissions" in answers[rids[1]]["response"]["error"]
    assert inits(await stdout_lines(kit, "work"))[-1]["model"] == "claude-haiku-4-5"
    assert [e.type for e in events].count(ev.PROCESS_STARTED) == 1
    state: SessionState = await ref.ask(m.GetState())
    assert (state.model_override, state.mode_override) == ("claude-haiku-4-5", None)


async def test_the_cli_stops_a_turn_at_the_cost_cap(kit: SessionKit, api: FakeAnthropicAPI) -> None:
    """``--max-budget-usd``: the CLI ends the turn after the API call that reaches it with an
    ``error_max_budget_usd`` result; what it streamed is the reply, the cap is told in words,
    the spent process is stopped, the next message is refused before any start, and a raised
    cap lets the conversation go on in a resumed process with what is left."""
    ref = await kit.create("work")
    await ref.ask(m.SetCostCap(0.01, "upd-1"))  # one call to the stand-in costs about $0.016
    ref.tell(m.UserTurn("hello", "upd-2"))
    [done] = await kit.inbox.finished(1)
    assert (done.outcome, done.text) == ("failed", "Echo: hello")
    words = done.error or ""
    assert words.startswith("work reached its $0.01 cost cap: claude stopped this turn after $")
    assert words.endswith("Raise it with /cap N (for example /cap 1) or remove it with /cap off.")
    [result] = await stdout_lines(kit, "work", "result")
    assert (result["subtype"], result["is_error"]) == ("error_max_budget_usd", True)
    assert result["errors"] == ["Reached maximum budget ($0.01)"]
    assert result["total_cost_usd"] >= 0.01
    state: SessionState = await ref.ask(m.GetState())
    assert state.process_pid is None, "a spent process is stopped"
    events = await kit.events("work")
    [ended] = [e for e in events if e.type == ev.TURN_ENDED]
    assert ended.data["reason"] == ev.COST_CAP
    [exited] = [e for e in events if e.type == ev.PROCESS_EXITED]
    assert (exited.data["expected"], exited.data["returncode"]) == (True, 1)
    await ref.ask(m.UserTurn("more", "upd-3"))
    refused = kit.inbox.of(n.SessionNotice)[-1].text
    assert refused.startswith("work has spent $")
    assert "of its $0.01 cost cap, so this message was not sent." in refused
    assert api.user_texts() == ["hello"]
    await ref.ask(m.SetCostCap(1.0, "upd-4"))
    ref.tell(m.UserTurn("again", "upd-5"))
    _, second = await kit.inbox.finished(2)
    assert (second.outcome, second.text) == ("completed", "Echo: again")
    argvs = [e.data["argv"] for e in await kit.events("work") if e.type == ev.PROCESS_STARTED]
    assert len(argvs) == 2
    assert "--max-budget-usd=0.01" in argvs[0]
    assert f"--resume={state.claude_session_id}" in argvs[1]
    assert f"--max-budget-usd={budget.budget_arg(1.0, state.total_cost_usd)}" in argvs[1]
    assert api.user_texts()[-1] == "again"
