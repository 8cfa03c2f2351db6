"""Property tests: no typed input breaks the parser, no stdout line breaks a session actor."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.chat import commands as c
from actors.chat import routes
from actors.runtime.testkit import run_until_idle
from actors.session import events as ev
from actors.session import messages as m
from actors.session.actor import SessionActor
from actors.session.process import Live, line_event
from actors.session.state import SessionState, evolve, load_state
from eventstore import Event, MemoryEventStore
from tests.session_kit import SessionKit

#: Numbers as claude could never send them, too: NaN and the infinities reach the decoder as
#: the non-JSON literals ``json.dumps`` writes for them.
numbers = st.integers() | st.floats(allow_nan=True, allow_infinity=True)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
KNOWN_TYPES = [
    "system",
    "stream_event",
    "assistant",
    "user",
    "result",
    "control_request",
    "control_response",
    "init",
    "api_retry",
    "text",
    "tool_use",
    "content_block_start",
    "content_block_delta",
    "text_delta",
    "can_use_tool",
]
#: Lines shaped like claude's, with anything at any depth: the nasty part of the space.
claude_like = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=10) | st.sampled_from(KNOWN_TYPES),
    lambda children: (
        st.lists(children, max_size=3)
        | st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(KNOWN_TYPES) | children,
                "subtype": st.sampled_from(KNOWN_TYPES) | children,
                "event": children,
                "delta": children,
                "content_block": children,
                "message": children,
                "content": children,
                "request": children,
                "request_id": st.text(max_size=8) | children,
                "tool_name": children,
                "input": children,
                "result": children,
                "usage": children,
                "total_cost_usd": children,
                "session_id": children,
            },
        )
    ),
    max_leaves=25,
)


@given(st.text(max_size=300))
def test_any_text_parses_to_a_command_plain_text_or_one_line_reason(text: str) -> None:
    parsed = routes.parse(text)
    assert isinstance(parsed, c.Command | c.Plain | c.Invalid)
    if isinstance(parsed, c.Invalid):
        assert "\n" not in parsed.reason
        assert len(parsed.reason) < 200
    if isinstance(parsed, c.Command):
        spec = routes.SPECS[parsed.name]
        assert spec.min_args <= len(parsed.args) <= spec.max_args


WORDS = st.from_regex(r"[a-z0-9_-]{1,10}", fullmatch=True)


@given(st.sampled_from(sorted(routes.SPECS)), st.lists(WORDS, max_size=3))
def test_well_formed_commands_round_trip(name: str, args: list[str]) -> None:
    spec = routes.SPECS[name]
    parsed = routes.parse(" ".join([f"/{name}", *args]))
    if spec.min_args <= len(args) <= spec.max_args:
        assert parsed == c.Command(name, tuple(args))
    else:
        assert isinstance(parsed, c.Invalid)
        assert parsed.reason.startswith("Usage: ")


class _Proc:
    """Stands in for a live process: the property is about reading, not writing."""

    pid = 1

    async def write(self, obj: dict[str, Any]) -> bytes:
        return b""

    async def stop(self, grace_s: float = 0) -> int:
        return 0

    def kill(self) -> None:
        pass


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(claude_like | json_values, min_size=1, max_size=8))
def test_no_stdout_line_crashes_a_session_actor(tmp_path: Path, lines: list[Any]) -> None:
    asyncio.run(_feed(tmp_path, lines))


async def _feed(tmp_path: Path, lines: list[Any]) -> None:
    """Each line as claude would write it, through the actor's mailbox (logged, folded, acted
    on), a turn always running; the actor's state stays the fold of its log."""
    kit = SessionKit(MemoryEventStore(), tmp_path)
    ref = await kit.create("prop")
    actor = kit.system.cells["session:prop"].actor
    assert isinstance(actor, SessionActor)
    live = Live(_Proc(), 1, resumed=False)  # type: ignore[arg-type]
    actor.process.live = live
    for line in lines:
        if actor.state.turn is None:
            await ref.ask(m.UserTurn("go"))
            await run_until_idle(kit.system, io=False)  # the stand-in process writes nothing
        live.unread.append(json.dumps(line).encode())  # NaN as NaN, as a buggy writer would
        live.nudged = True
        ref.tell(m.LinesReady(live))
        await run_until_idle(kit.system, io=False)
        assert kit.system.escalations == []
        assert actor.state == await load_state(kit.store, "prop")
    actor.process.live = None
    await kit.stop()


def test_stream_event_lines_are_their_own_event_type() -> None:
    assert line_event(b'{"type":"stream_event","event":{}}').type == ev.STREAM
    assert line_event(b'{"type":"result"}').type == ev.STDOUT
    assert line_event(b"not json").type == ev.STDOUT_GARBAGE


def test_oddly_shaped_known_lines_do_not_crash(tmp_path: Path) -> None:
    """Shapes hypothesis may take long to find: right types, wrong containers."""
    lines: list[Any] = [
        {"type": "stream_event", "event": {"type": "content_block_start", "content_block": [1]}},
        {"type": "stream_event", "event": {"type": "content_block_delta", "delta": "x"}},
        {"type": "stream_event", "event": []},
        {"type": "assistant", "message": {"content": [{"type": "tool_use", "input": []}]}},
        {"type": "assistant", "message": []},
        {"type": "control_request", "request_id": 5, "request": {"subtype": "can_use_tool"}},
        {
            "type": "control_request",
            "request_id": "r",
            "request": {"subtype": "can_use_tool", "tool_name": "Bash"},
        },
        {"type": "system", "subtype": "api_retry", "attempt": "two", "retry_delay_ms": "x"},
        {"type": "result", "usage": [], "total_cost_usd": "free", "is_error": "yes"},
        {"type": "result", "subtype": "success", "result": 5},
        {"type": "result", "subtype": "success", "total_cost_usd": float("nan")},
        {"type": "result", "subtype": "success", "total_cost_usd": float("inf")},
        {"type": "result", "subtype": "success", "total_cost_usd": True},
    ]
    asyncio.run(_feed(tmp_path, lines))


def test_nan_infinity_and_true_are_never_a_cost() -> None:
    """A NaN cost in the log would make every later cost-cap check fail, forever."""
    for raw in (b'{"type":"result","total_cost_usd":NaN}', b'{"type":"result","x":-Infinity}'):
        assert line_event(raw).type == ev.STDOUT_GARBAGE
    state = evolve(SessionState(), _stdout_event({"type": "result", "total_cost_usd": True}))
    assert state.process_cost_usd == 0.0
    state = evolve(state, _stdout_event({"type": "result", "total_cost_usd": 0.25}))
    assert state.process_cost_usd == 0.25


def _stdout_event(line: dict[str, Any]) -> Event:
    return Event(1, "session:p", 1, ev.STDOUT, 1, {"line": line}, datetime.now(UTC))
