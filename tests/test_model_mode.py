"""/model and /mode below the chat: the checks, the fold, the fake's answers, the session actor.

The session tests drive the fake claude over real pipes; they wait on what the session tells the
chat (notices), never on time.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actors.chat import commands as c
from actors.chat import routes
from actors.claude import codec
from actors.claude.argv import AgentSettings, build_argv, with_overrides
from actors.claude.choices import InvalidChoice, mode_choice, model_choice
from actors.runtime.testkit import run_until_idle
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session.state import SessionState, SettingRequest, evolve, load_state
from actors.session.wording import setting_refused
from eventstore import Event, NewEvent, SqliteEventStore
from tests.fakes.fake_claude import BYPASS_REFUSED
from tests.lines import answers
from tests.session_kit import SessionKit, open_session_kit
from tests.test_claude_process import (
    Spawn,
    read_until,
    spawn,  # noqa: F401  (fixture)
    state_dir,  # noqa: F401  (fixture)
    workdir,  # noqa: F401  (fixture)
)

# -- what may be asked for -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "model"),
    [
        ("opus", "opus"),
        ("Sonnet", "sonnet"),
        ("HAIKU", "haiku"),
        ("default", "default"),
        ("sonnet[1m]", "sonnet[1m]"),
        ("opusplan", "opusplan"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1-20250805"),
        ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5[1m]"),
    ],
)
def test_models_that_are_taken(typed: str, model: str) -> None:
    assert model_choice(typed) == model


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("sonet", "'sonet' is not a model: use opus, sonnet, haiku, default or a full name"),
        ("claude sonnet", "is not a model"),
        ("-rf", "is not a model"),
        ("../etc", "is not a model"),
        ("claude-4\x00", "is not a model"),
        ("claude-4\x1b[31m", "is not a model"),
        ("claude-4\nmore", "is not a model"),
        ("claude-" + "x" * 120, "is too long for a model name (127 characters; at most 100)"),
        ("", "is not a model"),
    ],
)
def test_models_that_are_refused_in_one_line(typed: str, reason: str) -> None:
    with pytest.raises(InvalidChoice) as refused:
        model_choice(typed)
    said = str(refused.value)
    assert reason in said
    assert not any(ch in said for ch in "\n\x00\x1b")
    assert len(said) < 200


@pytest.mark.parametrize(
    ("typed", "mode"),
    [
        ("default", "default"),
        ("acceptEdits", "acceptEdits"),
        ("accept-edits", "acceptEdits"),
        ("PLAN", "plan"),
        ("bypassPermissions", "bypassPermissions"),
        ("dont_ask", "dontAsk"),
    ],
)
def test_modes_that_are_taken(typed: str, mode: str) -> None:
    assert mode_choice(typed) == mode


@pytest.mark.parametrize("typed", ["yolo", "", "plan\x00", "plan!", "p" * 300])
def test_modes_that_are_refused_in_one_line(typed: str) -> None:
    with pytest.raises(InvalidChoice) as refused:
        mode_choice(typed)
    said = str(refused.value)
    assert "is not a permission mode: use one of default, acceptEdits, plan" in said
    assert not any(ch in said for ch in "\n\x00")
    assert len(said) < 200


def test_the_commands_parse_with_at_most_one_argument() -> None:
    assert routes.parse("/model") == c.Command("model", ())
    assert routes.parse("/model@pocket_bot sonnet") == c.Command("model", ("sonnet",))
    assert routes.parse("/mode plan") == c.Command("mode", ("plan",))
    refused = routes.parse("/model claude sonnet")
    assert isinstance(refused, c.Invalid)
    assert refused.reason.startswith("Usage: /model [NAME] — show or switch")
    assert {"model", "mode"} <= {name for name, _ in routes.menu()}
    assert "/model [NAME]" in routes.help_text()
    assert "/mode [MODE]" in routes.help_text()


# -- the fold and the command line -------------------------------------------------------------


def _event(version: int, type_: str, ref: str | None = None, **data: Any) -> Event:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Event(version, "session:w", version, type_, 1, data, at, ref)


def test_the_fold_records_a_change_once_claude_took_it() -> None:
    answer = {"type": "control_response", "response": {"subtype": "success", "request_id": "r1"}}
    init = {
        "type": "system",
        "subtype": "init",
        "model": "claude-opus-4-8",
        "permissionMode": "plan",
    }
    s = SessionState()
    s = evolve(s, _event(1, ev.STDOUT, line=init))
    assert (s.model, s.permission_mode) == ("claude-opus-4-8", "plan")
    s = evolve(s, _event(2, ev.SETTING_REQUESTED, "upd-1", setting=ev.MODEL, value="sonnet",
                         request_id="r1"))  # fmt: skip
    assert s.setting_requests == (SettingRequest("r1", ev.MODEL, "sonnet", "upd-1"),)
    assert s.queued_refs == ("upd-1",), "a replayed /model is acted on once"
    s = evolve(s, _event(3, ev.STDOUT, line=answer))
    assert s.setting_requests[0].answered
    assert s.setting_requests[0].error is None
    s = evolve(s, _event(4, ev.SETTING_CHANGED, "upd-1", setting=ev.MODEL, value="sonnet",
                         request_id="r1"))  # fmt: skip
    assert (s.model_override, s.setting_requests) == ("sonnet", ())
    assert s.model is None, "what claude reported was for the old model"
    assert s.permission_mode == "plan"


def test_the_fold_keeps_the_old_value_when_claude_refuses() -> None:
    answer = {
        "type": "control_response",
        "response": {"subtype": "error", "request_id": "r2", "error": BYPASS_REFUSED},
    }
    s = SessionState(mode_override="plan")
    s = evolve(s, _event(1, ev.SETTING_REQUESTED, None, setting=ev.PERMISSION_MODE,
                         value="bypassPermissions", request_id="r2"))  # fmt: skip
    s = evolve(s, _event(2, ev.STDOUT, line=answer))
    assert s.setting_requests[0].error == BYPASS_REFUSED
    s = evolve(s, _event(3, ev.SETTING_REFUSED, None, setting=ev.PERMISSION_MODE,
                         value="bypassPermissions", request_id="r2",
                         error=BYPASS_REFUSED))  # fmt: skip
    assert (s.mode_override, s.setting_requests) == ("plan", ())


def test_overrides_go_on_the_command_line_and_default_drops_the_flag() -> None:
    persona = AgentSettings(model="opus", permission_mode="acceptEdits")
    argv = build_argv(
        "claude", with_overrides(persona, model="sonnet", permission_mode="plan"), resume_id=None
    )
    assert {"--model=sonnet", "--permission-mode=plan"} <= set(argv)
    argv = build_argv(
        "claude",
        with_overrides(persona, model="default", permission_mode="default"),
        resume_id=None,
    )
    assert not [a for a in argv if a.startswith(("--model", "--permission-mode"))]
    kept = with_overrides(persona, model=None, permission_mode=None)
    assert kept == persona


def test_a_refusal_other_than_bypass_quotes_claude_on_one_line() -> None:
    text = setting_refused("work", ev.MODEL, "claude-x-1", "no such\nmodel")
    assert text == (
        'work did not switch to model claude-x-1: claude said: "no such model". Nothing changed.'
    )


# -- the fake answers as the real CLI does (2.1.197, see tests/test_real_claude.py) ------------


def _answers(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [x for x in lines if x.get("type") == "control_response"]


async def test_the_fake_answers_set_model_and_set_permission_mode_like_the_cli(
    spawn: Spawn,  # noqa: F811
) -> None:
    proc = await spawn()
    await proc.write(codec.set_model_request("r1", "sonnet"))
    await proc.write(codec.set_permission_mode_request("r2", "plan"))
    await proc.write(codec.set_permission_mode_request("r3", "bypassPermissions"))
    got = await read_until(proc, lambda x: answers(x, "r3"))
    assert _answers(got) == [
        {"type": "control_response", "response": {"subtype": "success", "request_id": "r1"}},
        {
            "type": "control_response",
            "response": {"subtype": "success", "request_id": "r2", "response": {"mode": "plan"}},
        },
        {
            "type": "control_response",
            "response": {"subtype": "error", "request_id": "r3", "error": BYPASS_REFUSED},
        },
    ]
    await proc.write(codec.user_turn("hi"))
    turn = await read_until(proc, codec.is_result)
    init = codec.init_info(turn[0])
    assert init is not None
    assert (init.model, init.permission_mode) == ("claude-sonnet-5", "plan")
    assert {x["message"]["model"] for x in turn if x["type"] == "assistant"} == {"claude-sonnet-5"}
    assert "claude-sonnet-5" in turn[-1]["modelUsage"]


async def test_the_fake_lets_a_process_started_able_to_bypass_switch_to_it(
    spawn: Spawn,  # noqa: F811
) -> None:
    proc = await spawn(AgentSettings(permission_mode="bypassPermissions"))
    await proc.write(codec.set_permission_mode_request("r1", "default"))
    await proc.write(codec.set_permission_mode_request("r2", "bypassPermissions"))
    got = await read_until(proc, lambda x: answers(x, "r2"))
    assert [a["response"]["subtype"] for a in _answers(got)] == ["success", "success"]


# -- the session actor -----------------------------------------------------------------------


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[SessionKit]:
    async with open_session_kit(tmp_path) as kit:
        yield kit


def lines(events: list[Event], kind: str, type_: str | None = None) -> list[dict[str, Any]]:
    found = [e.data["line"] for e in events if e.type == kind]
    return [x for x in found if type_ is None or x.get("type") == type_]


def starts(events: list[Event]) -> list[list[str]]:
    return [e.data["argv"] for e in events if e.type == ev.PROCESS_STARTED]


async def test_a_model_switch_reaches_the_running_process(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("hello"))
    await kit.inbox.finished(1)
    await ref.ask(m.ChangeSetting(ev.MODEL, "sonnet", "upd-7"))
    assert await kit.inbox.told("work now uses model sonnet.")
    ref.tell(m.UserTurn("again"))
    await kit.inbox.finished(2)
    events = await kit.events("work")
    [request] = [e for e in events if e.type == ev.SETTING_REQUESTED]
    rid = request.data["request_id"]
    sent = [x for x in lines(events, ev.STDIN, "control_request") if x["request_id"] == rid]
    assert sent == [codec.set_model_request(rid, "sonnet")], "the process was asked, once"
    [answer] = [x for x in lines(events, ev.STDOUT, "control_response")]
    assert answer["response"] == {"subtype": "success", "request_id": rid}
    [changed] = [e for e in events if e.type == ev.SETTING_CHANGED]
    assert (changed.correlation_id, changed.data["value"]) == ("upd-7", "sonnet")
    inits = [x["model"] for x in lines(events, ev.STDOUT) if codec.is_init(x)]
    assert inits == ["claude-opus-4-8[1m]", "claude-sonnet-5"], "the next turn runs on it"
    assert len(starts(events)) == 1, "switched without a restart"
    state: SessionState = await ref.ask(m.GetState())
    assert (state.model_override, state.model) == ("sonnet", "claude-sonnet-5")


async def test_a_mode_switch_during_a_turn_applies_to_that_turn(kit: SessionKit) -> None:
    """Sent at once: the Edit after the Bash question runs without asking (acceptEdits)."""
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[tool:Bash:ls]] [[tool:Edit:notes.txt]] tidy up"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.PermissionAsked))
    await ref.ask(m.ChangeSetting(ev.PERMISSION_MODE, "acceptEdits", "upd-3"))
    await kit.inbox.told("work now uses permission mode acceptEdits.")
    [asked] = kit.inbox.of(n.PermissionAsked)
    ref.tell(m.PermissionAnswer(asked.request_id, "allow"))
    [done] = await kit.inbox.finished(1)
    assert (done.outcome, done.text) == ("completed", "Tool said: Edit ok: notes.txt")
    assert len(kit.inbox.of(n.PermissionAsked)) == 1, "the edit was not asked about"


async def test_without_a_process_the_change_waits_for_the_next_start(kit: SessionKit) -> None:
    ref = await kit.create("work")
    await ref.ask(m.ChangeSetting(ev.MODEL, "haiku", "upd-1"))
    assert kit.inbox.said() == ["work will use model haiku from your next message (claude is not "
                         "running now)."]  # fmt: skip
    ref.tell(m.UserTurn("hi"))
    await kit.inbox.finished(1)
    events = await kit.events("work")
    [argv] = starts(events)
    assert "--model=haiku" in argv
    assert not lines(events, ev.STDIN, "control_request")
    assert lines(events, ev.STDOUT)[0]["model"] == "claude-haiku-4-5-20251001"


@pytest.mark.parametrize("how", ["restart", "idle stop", "crash"])
async def test_the_choice_survives_the_process(kit: SessionKit, how: str) -> None:
    """Rebuilt from the log, the choice is on the next process's command line."""
    ref = await kit.create("work")
    ref.tell(m.UserTurn("hello"))
    await kit.inbox.finished(1)
    await ref.ask(m.ChangeSetting(ev.MODEL, "sonnet", "upd-2"))
    await ref.ask(m.ChangeSetting(ev.PERMISSION_MODE, "plan", "upd-3"))
    await kit.inbox.told("permission mode plan")
    now = kit
    if how == "restart":  # pocketcode stops and starts again on the same log
        await kit.stop()
        now = SessionKit(kit.store, kit.tmp)
        ref = now.spawn("work")
    elif how == "idle stop":
        await kit.clock.advance(1800)
        await run_until_idle(kit.system)
    else:
        ref.tell(m.UserTurn("[[crash]] go"))
        _, crashed = await kit.inbox.finished(2)
        assert crashed.outcome == "crashed"
    try:
        rebuilt = await load_state(now.store, "work")
        assert (rebuilt.model_override, rebuilt.mode_override) == ("sonnet", "plan")
        ref.tell(m.UserTurn("[[recall]]"))
        await now.inbox.wait_for(
            lambda: any(f.text.startswith("turns=") for f in now.inbox.of(n.TurnFinished))
        )
        events = await now.events("work")
        assert len(starts(events)) == 2
        assert {"--model=sonnet", "--permission-mode=plan"} <= set(starts(events)[-1])
        last_init = [x for x in lines(events, ev.STDOUT) if codec.is_init(x)][-1]
        assert (last_init["model"], last_init["permissionMode"]) == ("claude-sonnet-5", "plan")
    finally:
        if now is not kit:
            await now.stop()


async def test_claude_refusing_a_change_is_told_in_plain_words(kit: SessionKit) -> None:
    ref = await kit.create("work")
    ref.tell(m.UserTurn("hello"))
    await kit.inbox.finished(1)
    await ref.ask(m.ChangeSetting(ev.PERMISSION_MODE, "bypassPermissions", "upd-4"))
    text = await kit.inbox.told("did not switch")
    assert text == (
        "work did not switch to permission mode bypassPermissions: claude allows "
        "bypassPermissions only in a process started in that mode (a persona with "
        "permission_mode: bypassPermissions). Nothing changed."
    )
    events = await kit.events("work")
    [refused] = [e for e in events if e.type == ev.SETTING_REFUSED]
    assert refused.data["error"] == BYPASS_REFUSED
    assert ev.SETTING_CHANGED not in [e.type for e in events]
    state: SessionState = await ref.ask(m.GetState())
    assert (state.mode_override, state.setting_requests) == (None, ())


async def test_a_change_the_process_never_answered_waits_for_the_next_start(
    kit: SessionKit,
) -> None:
    """A hung claude reads nothing; once it is killed the choice goes on the next start."""
    ref = await kit.create("work")
    ref.tell(m.UserTurn("[[hang]]"))
    await kit.inbox.wait_for(lambda: kit.inbox.of(n.TurnStarted))
    await ref.ask(m.ChangeSetting(ev.MODEL, "opus", "upd-5"))
    state: SessionState = await ref.ask(m.GetState())
    assert [r.value for r in state.setting_requests] == ["opus"]
    assert state.process_pid is not None
    os.kill(state.process_pid, signal.SIGKILL)
    assert await kit.inbox.told("work will use model opus from your next message")
    ref.tell(m.UserTurn("hi"))
    await kit.inbox.finished(2)
    assert "--model=opus" in starts(await kit.events("work"))[-1]


async def test_a_change_open_when_pocketcode_died_is_settled_once(tmp_path: Path) -> None:
    store = await SqliteEventStore.open(tmp_path / "log.db")
    created = {"name": "work", "persona": "default", "cwd": str(tmp_path), "chat_id": 42}
    refused = {"subtype": "error", "request_id": "r2", "error": BYPASS_REFUSED}
    await store.append(
        ev.stream_of("work"),
        [
            NewEvent(ev.CREATED, created),
            NewEvent(ev.PROCESS_STARTED, {"pid": 999999, "argv": [], "resume_id": None}),
            ev.event(ev.SETTING_REQUESTED, "upd-1", setting=ev.MODEL, value="haiku",
                     request_id="r1"),
            ev.event(ev.SETTING_REQUESTED, "upd-2", setting=ev.PERMISSION_MODE,
                     value="bypassPermissions", request_id="r2"),
            NewEvent(ev.STDOUT, {"line": {"type": "control_response", "response": refused}}),
        ],
    )  # fmt: skip
    for attempt in range(2):
        kit = SessionKit(store, tmp_path)
        kit.spawn("work")
        await run_until_idle(kit.system)
        if attempt == 0:
            assert kit.inbox.said() == [
                "work will use model haiku from your next message (claude is not running now).",
                setting_refused("work", ev.PERMISSION_MODE, "bypassPermissions", BYPASS_REFUSED),
            ]
        else:
            assert kit.inbox.said() == [], "told once, not at every restart"
        await kit.stop()
    state = await load_state(store, "work")
    assert (state.model_override, state.mode_override, state.setting_requests) == (
        "haiku",
        None,
        (),
    )
    await store.close()


async def test_a_replayed_change_is_asked_for_once(kit: SessionKit) -> None:
    ref = await kit.create("work")
    await ref.ask(m.ChangeSetting(ev.MODEL, "sonnet", "upd-9"))
    await ref.ask(m.ChangeSetting(ev.MODEL, "sonnet", "upd-9"))
    types = await kit.types("work")
    assert (types.count(ev.SETTING_REQUESTED), types.count(ev.SETTING_CHANGED)) == (1, 1)
