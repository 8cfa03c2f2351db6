"""The live ``claude`` process of a session: its stdout pumped into the log, line by line.

Every line is appended to the session's stream before the actor hears of it; lines that
arrive while a commit is in flight are batched into the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from actors.session import events as ev
from actors.session import messages as m
from eventstore import EventStore, NewEvent
from service.claude import codec
from service.claude.process import ClaudeProcess

log = structlog.get_logger("session")
LINE_BATCH = 256
STDERR_LINES_KEPT = 20


@dataclass(slots=True)
class Live:
    """A running process (transient: the log, not this, is the session's state)."""

    proc: ClaudeProcess
    generation: int
    resumed: bool
    #: The ``--max-budget-usd`` it was started with (None: none); claude never changes it.
    budget: str | None = None
    saw_init: bool = False
    stopping: bool = False
    task: asyncio.Task[None] | None = None


def line_event(raw: bytes) -> NewEvent:
    """The event for one stdout line: deltas, other lines, or garbage (kept, never fatal)."""
    obj = codec.decode(raw)
    if obj is None:
        text = raw[:2000].decode("utf-8", "replace")
        log.warning("claude.garbage_line", text=text[:200])
        return NewEvent(ev.STDOUT_GARBAGE, {"text": text})
    kind = ev.STREAM if obj.get("type") == "stream_event" else ev.STDOUT
    return NewEvent(kind, {"line": obj})


async def pump(live: Live, store: EventStore, stream: str, tell: Callable[[object], None]) -> None:
    """Read stdout to EOF, log each line durably, tell ``Lines``; then tell ``Exited``."""
    lines: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def read() -> None:
        while (raw := await live.proc.read_line()) is not None:
            lines.put_nowait(raw)
        lines.put_nowait(None)

    reader = asyncio.create_task(read())
    eof = False
    try:
        while not eof:
            batch = [await lines.get()]
            while not lines.empty() and len(batch) < LINE_BATCH:
                batch.append(lines.get_nowait())
            eof = batch[-1] is None
            new = [line_event(raw) for raw in batch if raw is not None]
            if new:
                recorded = await store.append(stream, new)
                tell(m.Lines(live.generation, tuple(recorded)))
        returncode = await live.proc.wait()
        if not live.stopping:
            tail = tuple(live.proc.stderr_tail()[-STDERR_LINES_KEPT:])
            tell(m.Exited(live.generation, returncode, tail))
    finally:
        reader.cancel()
