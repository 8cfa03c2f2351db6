"""Codec and argv: pure functions, checked against the recorded transcripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.claude import codec
from actors.claude.argv import BASE_FLAGS, AgentSettings, build_argv
from tests.lines import answers, assistant_text

PROTOCOL = Path(__file__).parent / "fixtures" / "protocol"


def recorded(name: str, direction: str = "out") -> list[dict[str, Any]]:
    path = PROTOCOL / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    rows = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    return [json.loads(r["line"]) for r in rows if r["dir"] == direction]


# ---------------------------------------------------------------------------- encode


def test_user_turn_matches_recorded_stdin() -> None:
    first_in = recorded("two_turns.jsonl", "in")[0]
    assert codec.user_turn("Hello from turn one") == first_in


def test_encode_is_one_line_and_round_trips() -> None:
    msg = codec.user_turn('multi\nline "quoted" ünïcödé \u2028 \x00')
    raw = codec.encode(msg)
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 1
    assert codec.decode(raw) == msg


def test_encode_lone_surrogate_stays_valid_utf8_json() -> None:
    raw = codec.encode(codec.user_turn("bad \ud800 surrogate"))
    raw.decode("utf-8")  # must not raise
    assert json.loads(raw)["message"]["content"] == "bad \ud800 surrogate"


@given(st.text())
def test_user_turn_round_trip(text: str) -> None:
    raw = codec.encode(codec.user_turn(text))
    assert raw.count(b"\n") == 1
    assert json.loads(raw)["message"]["content"] == text


def test_control_messages_match_recorded_shapes() -> None:
    rec_int = recorded("interrupt.jsonl", "in")[1]
    assert codec.interrupt_request(rec_int["request_id"]) == rec_int
    rec_allow = recorded("tool_stdio_allow.jsonl", "in")[1]
    rid = rec_allow["response"]["request_id"]
    updated = rec_allow["response"]["response"]["updatedInput"]
    assert codec.permission_allow(rid, updated) == rec_allow
    rec_deny = recorded("tool_stdio_deny.jsonl", "in")[1]
    rid = rec_deny["response"]["request_id"]
    assert codec.permission_deny(rid, "denied by drive_cli.py") == rec_deny


def test_permission_allow_with_rules_and_deny_interrupt() -> None:
    rule = {
        "type": "addRules",
        "rules": [{"toolName": "Bash"}],
        "behavior": "allow",
        "destination": "session",
    }
    body = codec.permission_allow("r1", {"command": "ls"}, [rule])["response"]["response"]
    assert body == {
        "behavior": "allow",
        "updatedInput": {"command": "ls"},
        "updatedPermissions": [rule],
    }
    deny = codec.permission_deny("r2", "no", interrupt=True)["response"]["response"]
    assert deny == {"behavior": "deny", "message": "no", "interrupt": True}


# ---------------------------------------------------------------------------- decode


@given(st.binary())
def test_decode_never_raises_on_bytes(raw: bytes) -> None:
    out = codec.decode(raw)
    assert out is None or isinstance(out, dict)


@given(st.text())
def test_decode_never_raises_on_text(raw: str) -> None:
    out = codec.decode(raw)
    assert out is None or isinstance(out, dict)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \n",
        b"not json",
        b"[1,2]",
        b"42",
        b'"str"',
        b"null",
        b"\xff\xfe{}",
        b"{" * 100_000,
        b'{"a":',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_decode_rejects_non_objects(raw: bytes) -> None:
    assert codec.decode(raw) is None


def test_decode_accepts_trailing_newline_and_crlf() -> None:
    assert codec.decode(b'{"type":"x"}\r\n') == {"type": "x"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = [
    "type",
    "subtype",
    "event",
    "message",
    "request",
    "request_id",
    "tools",
    "result",
    "errors",
    "permission_denials",
    "attempt",
    "error_status",
    "content",
    "delta",
]
messages = st.dictionaries(
    st.sampled_from(KEYS),
    json_values
    | st.sampled_from(
        [
            "assistant",
            "result",
            "system",
            "init",
            "stream_event",
            "control_request",
            "api_retry",
            "can_use_tool",
        ]
    ),
    max_size=8,
)


@given(messages)
def test_accessors_never_raise_on_odd_shapes(msg: dict[str, Any]) -> None:
    codec.is_init(msg)
    codec.is_result(msg)
    codec.is_permission_request(msg)
    answers(msg, "x")
    codec.text_delta(msg)
    codec.tool_uses(msg)
    assistant_text(msg)
    codec.init_info(msg)
    codec.api_retry_info(msg)
    codec.permission_request(msg)
    codec.result_info(msg)
    codec.session_id(msg)


# ---------------------------------------------------------------------------- accessors


def test_accessors_on_two_turns() -> None:
    out = recorded("two_turns.jsonl")
    init = codec.init_info(out[0])
    assert init is not None
    assert init.session_id == "fc0c4f21-98c0-41c6-9562-fec3dc340acd"
    assert "Bash" in init.tools
    assert init.permission_mode == "default"
    deltas = [d for m in out if (d := codec.text_delta(m)) is not None]
    assert deltas == ["Echo: Hello from turn one", "Echo: And this is turn two"]
    results = [r for m in out if (r := codec.result_info(m))]
    assert [r.text for r in results] == ["Echo: Hello from turn one", "Echo: And this is turn two"]
    assert results[1].total_cost_usd == pytest.approx(0.195075)
    assert not results[0].is_error
    assert assistant_text(out[5]) == "Echo: Hello from turn one"


def test_permission_request_and_tool_uses_from_recording() -> None:
    out = recorded("tool_stdio_allow.jsonl")
    tools = [t for m in out for t in codec.tool_uses(m)]
    assert tools[0][0] == "Bash"
    assert tools[0][1]["command"] == "touch made_by_tool.txt && ls"
    reqs = [p for m in out if (p := codec.permission_request(m))]
    assert len(reqs) == 1
    assert reqs[0].tool_name == "Bash"
    assert reqs[0].tool_use_id == "toolu_mock_cb5c7ed934804d80"
    assert any(s.get("destination") == "session" for s in reqs[0].suggestions)


def test_api_retry_and_error_results() -> None:
    out = recorded("error_529_then_ok.jsonl")
    retries = [r for m in out if (r := codec.api_retry_info(m))]
    assert [(r.attempt, r.error_status, r.error) for r in retries] == [
        (1, 529, "overloaded"),
        (2, 529, "overloaded"),
    ]
    assert retries[0].max_retries == 10
    assert retries[0].retry_delay_ms == pytest.approx(543.732938295895)
    out = recorded("error_500_persistent.jsonl")
    res = next(info for m in out if (info := codec.result_info(m)))
    assert res.is_error
    assert res.api_error_status == 500
    assert res.subtype == "success"
    assert res.text is not None
    assert res.text.startswith("API Error: 500")


def test_interrupt_result_has_no_text() -> None:
    out = recorded("interrupt.jsonl")
    res = next(r for m in out if (r := codec.result_info(m)))
    assert res.subtype == "error_during_execution"
    assert res.interrupted
    assert res.text is None
    acks = [m for m in out if answers(m, "req_int_54504489")]
    assert len(acks) == 1


@pytest.mark.parametrize(
    ("name", "tool_input", "expected"),
    [
        ("Bash", {"command": "ls -la", "description": "list"}, "Bash: ls -la"),
        ("Edit", {"file_path": "/repo/src/app.py", "old_string": "a"}, "Edit: src/app.py"),
        ("Read", {"file_path": "x.py"}, "Read: x.py"),
        ("Grep", {"pattern": "def main", "path": "/repo"}, "Grep: def main"),
        ("Bash", {"command": "echo a\n  && echo b"}, "Bash: echo a && echo b"),
        ("TodoWrite", {"todos": []}, "TodoWrite"),
        ("mcp__x__y", {"query": "hello"}, "mcp__x__y: hello"),
        ("Bash", {}, "Bash"),
    ],
)
def test_tool_status(name: str, tool_input: dict[str, Any], expected: str) -> None:
    assert codec.tool_status(name, tool_input, cwd="/repo") == expected


def test_tool_status_truncates() -> None:
    status = codec.tool_status("Bash", {"command": "x" * 500})
    assert len(status) == codec.STATUS_MAX
    assert status.endswith("…")


# ---------------------------------------------------------------------------- argv


def test_build_argv_defaults() -> None:
    argv = build_argv("claude", AgentSettings(), resume_id=None)
    assert argv == ["claude", *BASE_FLAGS, "--permission-prompt-tool=stdio"]


def test_build_argv_everything() -> None:
    settings = AgentSettings(
        model="sonnet",
        system_prompt="-be terse",
        append_system_prompt="Answer briefly.",
        permission_mode="acceptEdits",
        allowed_tools=("Read", "Bash(git log:*)"),
        disallowed_tools=("WebFetch",),
        max_turns=3,
        permission_prompt_tool=None,
    )
    argv = build_argv("/bin/claude", settings, resume_id="abc")
    assert argv == [
        "/bin/claude",
        "-p",
        "--output-format=stream-json",
        "--input-format=stream-json",
        "--verbose",
        "--include-partial-messages",
        "--model=sonnet",
        "--system-prompt=-be terse",
        "--append-system-prompt=Answer briefly.",
        "--permission-mode=acceptEdits",
        "--allowedTools=Read,Bash(git log:*)",
        "--disallowedTools=WebFetch",
        "--max-turns=3",
        "--resume=abc",
    ]


def test_build_argv_refuses_a_nul_byte() -> None:
    with pytest.raises(ValueError, match="NUL"):
        build_argv("claude", AgentSettings(model="a\x00b"), resume_id=None)


def test_lone_surrogates_from_claude_become_replacement_characters() -> None:
    from actors.claude import codec as _codec

    line = _codec.decode(b'{"type":"x","t":"a\\ud800b","ok":"\\ud83d\\ude00"}')
    assert line == {"type": "x", "t": "a\ufffdb", "ok": "\U0001f600"}
