"""ClaudeProcess over real pipes, driven against tests/fakes/fake_claude.py."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from actors.claude import codec
from actors.claude.argv import AgentSettings, build_argv
from actors.claude.errors import ProcessGoneError, SpawnError
from actors.claude.process import ClaudeProcess, spawn_claude
from tests.lines import answers, assistant_text

FAKE = Path(__file__).parent / "fakes" / "fake_claude.py"
SAFETY_S = 15.0  # only a safety net against hangs; never needed for a test to pass

Msg = dict[str, Any]
Spawn = Callable[..., Awaitable[ClaudeProcess]]


async def read_until(proc: ClaudeProcess, pred: Callable[[Msg], bool]) -> list[Msg]:
    """Decoded stdout messages up to and including the first one matching `pred`."""
    seen: list[Msg] = []
    async with asyncio.timeout(SAFETY_S):
        while True:
            raw = await proc.read_line()
            if raw is None:
                raise EOFError(f"EOF after {len(seen)} messages; stderr={proc.stderr_tail()}")
            msg = codec.decode(raw)
            if msg is None:
                continue
            seen.append(msg)
            if pred(msg):
                return seen


async def turn(proc: ClaudeProcess, text: str) -> list[Msg]:
    await proc.write(codec.user_turn(text))
    return await read_until(proc, codec.is_result)


def result_of(msgs: list[Msg]) -> codec.ResultInfo:
    res = codec.result_info(msgs[-1])
    assert res is not None
    return res


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
async def spawn(state_dir: Path, workdir: Path) -> AsyncIterator[Spawn]:
    """Start fakes; every one is killed and reaped at teardown."""
    started: list[ClaudeProcess] = []

    async def _spawn(
        settings: AgentSettings | None = None,
        *,
        resume_id: str | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> ClaudeProcess:
        argv = build_argv(str(FAKE), settings or AgentSettings(), resume_id=resume_id)
        proc = await spawn_claude(
            argv,
            cwd or workdir,
            {"FAKE_CLAUDE_STATE_DIR": str(state_dir), **(env or {})},
        )
        started.append(proc)
        return proc

    yield _spawn
    for proc in started:
        proc.kill()
        await asyncio.wait_for(proc.wait(), SAFETY_S)


async def test_two_turns_in_one_process(spawn: Spawn) -> None:
    proc = await spawn()
    first = await turn(proc, "Hello from turn one")
    second = await turn(proc, "And this is turn two")
    r1, r2 = result_of(first), result_of(second)
    assert (r1.subtype, r1.is_error, r1.text) == ("success", False, "Echo: Hello from turn one")
    assert r2.text == "Echo: And this is turn two"
    assert r1.session_id == r2.session_id
    assert r1.total_cost_usd is not None
    assert r2.total_cost_usd is not None
    assert r2.total_cost_usd > r1.total_cost_usd  # cumulative for the process
    init = codec.init_info(first[0])
    assert init is not None
    assert init.session_id == r1.session_id
    assert init.cwd is not None
    assert Path(init.cwd).name == "project"
    assert await proc.stop(grace_s=SAFETY_S) == 0  # stdin EOF -> clean exit


async def test_deltas_arrive_before_result(spawn: Spawn) -> None:
    proc = await spawn(env={"FAKE_CLAUDE_DELTA_CHARS": "7"})
    msgs = await turn(proc, "stream me please [[long:200]]")
    deltas = [i for i, m in enumerate(msgs) if codec.text_delta(m) is not None]
    assert len(deltas) == 29
    assert max(deltas) < len(msgs) - 1
    text = "".join(d for m in msgs if (d := codec.text_delta(m)) is not None)
    assert text == result_of(msgs).text
    assert len(text) == 200


async def test_multi_megabyte_line_is_read_whole(spawn: Spawn) -> None:
    size = 5_000_000
    proc = await spawn()
    msgs = await turn(proc, f"[[huge:{size}]]")
    deltas = [d for m in msgs if (d := codec.text_delta(m)) is not None]
    assert [len(d) for d in deltas] == [size]
    assert len(assistant_text(next(m for m in msgs if m["type"] == "assistant"))) == size
    assert len(result_of(msgs).text or "") == size
    assert result_of(await turn(proc, "after")).text == "Echo: after"


async def test_queued_message_gets_its_own_result(spawn: Spawn) -> None:
    proc = await spawn()
    await proc.write(codec.user_turn("first [[long:300]]"))
    await proc.write(codec.user_turn("second"))
    first = await read_until(proc, codec.is_result)
    second = await read_until(proc, codec.is_result)
    assert len(result_of(first).text or "") == 300
    assert result_of(second).text == "Echo: second"


async def test_interrupt_ends_turn_and_process_survives(spawn: Spawn) -> None:
    proc = await spawn()
    await proc.write(codec.user_turn("count slowly [[slow:200]] [[long:2000]]"))
    await read_until(proc, lambda m: codec.text_delta(m) is not None)
    rid = "req_int_" + uuid.uuid4().hex
    await proc.write(codec.interrupt_request(rid))
    msgs = await read_until(proc, codec.is_result)
    assert any(answers(m, rid) for m in msgs)
    res = result_of(msgs)
    assert res.subtype == "error_during_execution"
    assert res.terminal_reason == "aborted_streaming"
    assert res.interrupted
    assert res.is_error
    assert "result" not in msgs[-1]
    after = await turn(proc, "after interrupt, still alive?")
    assert result_of(after).text == "Echo: after interrupt, still alive?"
    assert proc.returncode is None


async def test_permission_allow_round_trip(spawn: Spawn) -> None:
    proc = await spawn()
    await proc.write(codec.user_turn("run it [[tool:Bash:ls -la]]"))
    msgs = await read_until(proc, codec.is_permission_request)
    assert next(t for m in msgs for t in codec.tool_uses(m))[0] == "Bash"
    req = codec.permission_request(msgs[-1])
    assert req is not None
    assert (req.tool_name, req.input["command"]) == ("Bash", "ls -la")
    assert req.tool_use_id
    assert req.suggestions
    assert codec.tool_status(req.tool_name, req.input) == "Bash: ls -la"
    updated = {**req.input, "command": "ls"}
    await proc.write(codec.permission_allow(req.request_id, updated))
    msgs = await read_until(proc, codec.is_result)
    res = result_of(msgs)
    assert (res.subtype, res.is_error, res.num_turns) == ("success", False, 2)
    assert res.text == "Tool said: Bash ok: ls"  # the fake ran the updated input
    tool_results = [m for m in msgs if m["type"] == "user"]
    assert tool_results[0]["message"]["content"][0]["is_error"] is False
    assert res.permission_denials == ()


async def test_permission_deny_round_trip(spawn: Spawn) -> None:
    proc = await spawn()
    await proc.write(codec.user_turn("run it [[tool:Bash:rm -rf /]]"))
    msgs = await read_until(proc, codec.is_permission_request)
    req = codec.permission_request(msgs[-1])
    assert req is not None
    await proc.write(codec.permission_deny(req.request_id, "not today"))
    res = result_of(await read_until(proc, codec.is_result))
    assert (res.subtype, res.is_error) == ("success", False)
    assert res.text == "Tool said: not today"
    assert res.permission_denials[0]["tool_name"] == "Bash"
    assert result_of(await turn(proc, "next")).text == "Echo: next"


async def test_stop_while_permission_pending_exits_cleanly(spawn: Spawn) -> None:
    proc = await spawn()
    await proc.write(codec.user_turn("[[tool:Bash:sleep 100]]"))
    await read_until(proc, codec.is_permission_request)
    assert await proc.stop(grace_s=SAFETY_S) == 0


async def test_session_rule_stops_repeat_questions(spawn: Spawn) -> None:
    proc = await spawn()
    await proc.write(codec.user_turn("[[tool:Bash:make test]]"))
    req = codec.permission_request((await read_until(proc, codec.is_permission_request))[-1])
    assert req is not None
    rule = {
        "type": "addRules",
        "rules": [{"toolName": "Bash", "ruleContent": "make test"}],
        "behavior": "allow",
        "destination": "session",
    }
    await proc.write(codec.permission_allow(req.request_id, req.input, [rule]))
    await read_until(proc, codec.is_result)
    msgs = await turn(proc, "again [[tool:Bash:make test]]")
    assert not any(codec.is_permission_request(m) for m in msgs)
    assert result_of(msgs).text == "Tool said: Bash ok: make test"


async def test_resume_same_cwd_continues(spawn: Spawn) -> None:
    first = await spawn()
    sid = result_of(await turn(first, "remember the number 42")).session_id
    assert sid is not None
    assert await first.stop(grace_s=SAFETY_S) == 0
    second = await spawn(resume_id=sid)
    msgs = await turn(second, "what number did I say? [[recall]]")
    res = result_of(msgs)
    assert res.session_id == sid
    assert res.text == "turns=1; history: remember the number 42"
    info = codec.init_info(msgs[0])
    assert info is not None
    assert info.session_id == sid


async def test_resume_from_other_cwd_fails(spawn: Spawn, tmp_path: Path) -> None:
    first = await spawn()
    sid = result_of(await turn(first, "hello")).session_id
    assert sid is not None
    await first.stop(grace_s=SAFETY_S)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = await spawn(resume_id=sid, cwd=elsewhere)
    msgs = await read_until(proc, codec.is_result)
    res = result_of(msgs)
    assert res.errors == (f"No conversation found with session ID: {sid}",)
    assert res.is_error
    assert res.subtype == "error_during_execution"
    assert await proc.read_line() is None
    assert await proc.wait() == 1
    assert f"No conversation found with session ID: {sid}" in proc.stderr_tail()
    with pytest.raises(ProcessGoneError):
        await proc.write(codec.user_turn("hello?"))


async def test_crash_mid_turn_gives_eof_and_nonzero_exit(spawn: Spawn) -> None:
    proc = await spawn()
    await proc.write(codec.user_turn("boom [[crash]] [[long:500]]"))
    msgs: list[Msg] = []
    async with asyncio.timeout(SAFETY_S):
        while (raw := await proc.read_line()) is not None:
            if (msg := codec.decode(raw)) is not None:
                msgs.append(msg)
    assert any(codec.text_delta(m) for m in msgs)
    assert not any(codec.is_result(m) for m in msgs)
    assert await proc.wait() == 1
    with pytest.raises(ProcessGoneError):
        await proc.write(codec.user_turn("anyone?"))


async def test_garbage_line_is_returned_and_decodes_to_none(spawn: Spawn) -> None:
    proc = await spawn()
    await proc.write(codec.user_turn("[[garbage]]"))
    raws: list[bytes] = []
    async with asyncio.timeout(SAFETY_S):
        while (raw := await proc.read_line()) is not None:
            raws.append(raw)
            if (msg := codec.decode(raw)) and codec.is_result(msg):
                break
    garbage = [r for r in raws if codec.decode(r) is None]
    assert len(garbage) == 1
    assert garbage[0].startswith(b"this line is not JSON")


async def test_api_error_result(spawn: Spawn) -> None:
    proc = await spawn(env={"CLAUDE_CODE_MAX_RETRIES": "3"})
    msgs = await turn(proc, "always busy [[api_error]]")
    retries = [r for m in msgs if (r := codec.api_retry_info(m))]
    assert [r.attempt for r in retries] == [1, 2, 3]
    assert {r.error_status for r in retries} == {529}
    res = result_of(msgs)
    assert (res.subtype, res.is_error, res.api_error_status) == ("success", True, 529)
    assert res.text is not None
    assert res.text.startswith("API Error: 529")
    assert result_of(await turn(proc, "recovered?")).text == "Echo: recovered?"


async def test_malformed_stdin_line_kills_process(spawn: Spawn) -> None:
    proc = await spawn()
    stdin = proc._proc.stdin
    assert stdin is not None
    stdin.write(b'{"type": "user", oops\n')
    await stdin.drain()
    assert await proc.read_line() is None
    assert await asyncio.wait_for(proc.wait(), SAFETY_S) == 1


async def _hang(spawn: Spawn, marker: str) -> ClaudeProcess:
    """A fake stuck in a turn; returns once it has certainly entered the hang (it says so on
    stderr, which is drained into ``stderr_tail``)."""
    proc = await spawn()
    await proc.write(codec.user_turn(f"[[stderr:hanging]] {marker}"))
    async with asyncio.timeout(SAFETY_S):
        while "hanging" not in proc.stderr_tail():  # noqa: ASYNC110 - another process's pipe
            await asyncio.sleep(0.01)
    return proc


async def test_stop_hung_process_escalates_to_sigterm(spawn: Spawn) -> None:
    proc = await _hang(spawn, "[[hang]]")
    assert await proc.stop(grace_s=0.05, term_grace_s=SAFETY_S) == -signal.SIGTERM


async def test_stop_hung_process_escalates_to_sigkill(spawn: Spawn) -> None:
    proc = await _hang(spawn, "[[hang_hard]]")
    assert await proc.stop(grace_s=0.05, term_grace_s=0.05) == -signal.SIGKILL


async def test_kill(spawn: Spawn) -> None:
    proc = await spawn()
    proc.kill()
    assert await proc.wait() == -signal.SIGKILL
    proc.kill()  # idempotent


async def test_spawn_missing_binary(workdir: Path) -> None:
    with pytest.raises(SpawnError):
        await spawn_claude([str(workdir / "no-such-claude")], workdir, None)
