"""The fake CLI must look like the recorded real one: same message sequence and key sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from actors.claude import codec
from tests.test_claude_process import (
    FAKE,
    SAFETY_S,
    Spawn,
    read_until,
    result_of,
    spawn,  # noqa: F401  (fixture)
    state_dir,  # noqa: F401  (fixture)
    workdir,  # noqa: F401  (fixture)
)

PROTOCOL = Path(__file__).parent / "fixtures" / "protocol"
BASE = [
    "-p",
    "--output-format",
    "stream-json",
    "--input-format",
    "stream-json",
    "--verbose",
    "--include-partial-messages",
]


def recording(name: str) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """(argv, stdin messages, stdout messages) of a recorded run."""
    path = PROTOCOL / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    lines = path.read_text().splitlines()
    rows = [json.loads(line) for line in lines[1:]]
    ins = [json.loads(r["line"]) for r in rows if r["dir"] == "in"]
    outs = [json.loads(r["line"]) for r in rows if r["dir"] == "out"]
    return json.loads(lines[0])["argv"], ins, outs


def kind(msg: dict[str, Any]) -> str:
    sub = (
        msg.get("subtype")
        or (msg.get("event") or {}).get("type")
        or ((msg.get("request") or {}).get("subtype"))
    )
    return f"{msg['type']}/{sub}" if sub else msg["type"]


def shape(value: Any) -> Any:
    """Structure without values: nested key sets, list element shapes, scalar kinds."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    return "str"


def run_fake(
    args: list[str],
    inputs: list[dict[str, Any]],
    cwd: Path,
    state: Path,
    env: dict[str, str] | None = None,
) -> tuple[int, list[str], str]:
    """Run the fake to completion with all of stdin written up front."""
    proc = subprocess.run(
        [str(FAKE), *args],
        input=b"".join(codec.encode(m) for m in inputs),
        capture_output=True,
        cwd=cwd,
        timeout=SAFETY_S,
        check=False,
        env={**os.environ, "FAKE_CLAUDE_STATE_DIR": str(state), **(env or {})},
    )
    return proc.returncode, proc.stdout.decode().splitlines(), proc.stderr.decode()


def test_two_turns_matches_recording(workdir: Path, state_dir: Path) -> None:  # noqa: F811
    argv, ins, outs = recording("two_turns.jsonl")
    rc, lines, _ = run_fake(argv[1:], ins, workdir, state_dir)
    assert rc == 0
    fake = [json.loads(line) for line in lines]
    assert [kind(m) for m in fake] == [kind(m) for m in outs]
    for got, want in zip(fake, outs, strict=True):
        assert shape(got) == shape(want), kind(want)
    assert [m["result"] for m in fake if m["type"] == "result"] == [
        m["result"] for m in outs if m["type"] == "result"
    ]


@pytest.mark.parametrize("name", ["tool_stdio_allow.jsonl", "tool_stdio_deny.jsonl"])
async def test_tool_turn_matches_recording(spawn: Spawn, name: str) -> None:  # noqa: F811
    _, ins, outs = recording(name)
    answer = ins[1]["response"]["response"]
    proc = await spawn(env={"FAKE_CLAUDE_DELTA_CHARS": "1000"})  # one delta, as recorded
    await proc.write(codec.user_turn("run it [[tool:Bash:touch made_by_tool.txt && ls]]"))
    got = await read_until(proc, codec.is_permission_request)
    req = codec.permission_request(got[-1])
    assert req is not None
    if answer["behavior"] == "allow":
        await proc.write(codec.permission_allow(req.request_id, req.input))
    else:
        await proc.write(codec.permission_deny(req.request_id, answer["message"]))
    got += await read_until(proc, codec.is_result)
    want = outs[: next(i for i, m in enumerate(outs) if m["type"] == "result") + 1]
    assert [kind(m) for m in got] == [kind(m) for m in want]
    for g, w in zip(got, want, strict=True):
        if w["type"] in ("stream_event", "control_request", "result", "assistant"):
            assert set(g) == set(w), kind(w)
    assert shape(got[-1]) == shape(want[-1])


async def test_interrupt_matches_recording(spawn: Spawn) -> None:  # noqa: F811
    _, _, outs = recording("interrupt.jsonl")
    proc = await spawn()
    await proc.write(codec.user_turn("count slowly [[slow:100]] [[long:3000]]"))
    await read_until(proc, lambda m: codec.text_delta(m) is not None)
    await proc.write(codec.interrupt_request("req_int_1"))
    got = await read_until(proc, codec.is_result)
    want_tail = outs[outs.index(next(m for m in outs if m["type"] == "control_response")) :]
    want_tail = want_tail[: next(i for i, m in enumerate(want_tail) if codec.is_result(m)) + 1]
    got_tail = got[next(i for i, m in enumerate(got) if m["type"] == "control_response") :]
    assert [kind(m) for m in got_tail] == [kind(m) for m in want_tail]
    for g, w in zip(got_tail, want_tail, strict=True):
        assert set(g) == set(w), kind(w)
    assert result_of(got).interrupted


def test_resume_error_matches_recording(tmp_path: Path, state_dir: Path) -> None:  # noqa: F811
    argv, ins, outs = recording("resume_3_wrong_cwd.jsonl")
    rc, lines, err = run_fake(argv[1:], ins, tmp_path, state_dir)
    assert rc == 1
    assert [shape(json.loads(line)) for line in lines] == [shape(m) for m in outs]
    assert json.loads(lines[0])["errors"] == outs[0]["errors"]
    assert "No conversation found with session ID" in err


def test_space_separated_flags_and_init_fields(workdir: Path, state_dir: Path) -> None:  # noqa: F811
    argv, _, _ = recording("sdk_init_flags.jsonl")
    rc, lines, _ = run_fake(argv[1:], [codec.user_turn("hi")], workdir, state_dir)
    assert rc == 0
    init = codec.init_info(json.loads(lines[0]))
    assert init is not None
    assert (init.model, init.permission_mode) == ("claude-sonnet-4-5", "acceptEdits")
    assert init.cwd == os.path.realpath(workdir)


def test_reused_session_id_fails_silently(workdir: Path, state_dir: Path) -> None:  # noqa: F811
    sid = "9d495b4a-5d90-403e-b40e-6da86073bb53"
    args = [*BASE, f"--session-id={sid}"]
    rc, lines, _ = run_fake(args, [codec.user_turn("remember 42")], workdir, state_dir)
    assert rc == 0
    assert json.loads(lines[-1])["session_id"] == sid
    rc, lines, err = run_fake(args, [codec.user_turn("again")], workdir, state_dir)
    assert (rc, lines) == (1, [])
    assert "already in use" in err


@pytest.mark.parametrize(
    "args",
    [
        [*BASE, "--no-such-flag"],
        ["-p", "--output-format=stream-json", "--input-format=stream-json"],  # no --verbose
        [*BASE, "--model"],
    ],
)
def test_bad_argv_exits_1(args: list[str], workdir: Path, state_dir: Path) -> None:  # noqa: F811
    rc, lines, err = run_fake(args, [], workdir, state_dir)
    assert (rc, lines) == (1, [])
    assert err


def test_max_turns_stops_tool_loop(workdir: Path, state_dir: Path) -> None:  # noqa: F811
    args = [*BASE, "--max-turns=1", "--allowedTools=Bash"]
    rc, lines, _ = run_fake(args, [codec.user_turn("[[tool:Bash:echo a]]")], workdir, state_dir)
    res = codec.result_info(json.loads(lines[-1]))
    assert rc == 0
    assert res is not None
    assert (res.subtype, res.terminal_reason) == ("error_max_turns", "max_turns")


def test_startup_is_fast(workdir: Path, state_dir: Path) -> None:  # noqa: F811
    """The fake is spawned many times per test run: no heavy imports allowed."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", str(FAKE), *BASE],
        input=b"",
        capture_output=True,
        cwd=workdir,
        timeout=SAFETY_S,
        check=False,
        env={**os.environ, "FAKE_CLAUDE_STATE_DIR": str(state_dir)},
    )
    assert out.returncode == 0
    imported = {line.split("|")[-1].strip() for line in out.stderr.decode().splitlines()}
    for heavy in ("asyncio", "tempfile", "email", "http", "ssl"):
        assert heavy not in imported
