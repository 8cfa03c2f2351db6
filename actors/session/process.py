"""The ``claude`` process of a session: its command line, its start and stop, its stdout
pumped into the log line by line.

Every line is appended to the session's stream before the actor hears of it; lines that
arrive while a commit is in flight are batched into the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from actors.runtime import ActorRef
from actors.session import budget
from actors.session import events as ev
from actors.session import messages as m
from actors.session.budget import CostCap
from actors.session.deps import Append, SessionDeps
from actors.session.state import SessionState
from actors.session.wording import cap_refused
from eventstore import EventStore, NewEvent
from service.claude import codec
from service.claude.argv import AgentSettings, build_argv, with_overrides
from service.claude.errors import ClaudeError
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


class ProcessSlot:
    """The session's one ``claude`` process: started on demand, every line to it logged before
    it is written, stopped on purpose (idle, least recently used, archive, /cap) or lost."""

    def __init__(self, session: str, deps: SessionDeps, append: Append) -> None:
        self.session = session
        self.stream = ev.stream_of(session)
        self.deps = deps
        self._append = append
        self.live: Live | None = None
        #: Counts starts, so that news of an earlier process is told apart and ignored.
        self.generation = 0

    async def start(self, state: SessionState, cap: CostCap, ref: ActorRef[Any]) -> Live:
        """The running process; one is started (resuming the conversation) if none runs."""
        if self.live is not None:
            return self.live
        persona = self.deps.settings_for(state.persona)
        argv, allowed = command(self.deps.config.claude_bin, persona, state, cap)
        cwd = Path(state.cwd)
        await asyncio.to_thread(cwd.mkdir, parents=True, exist_ok=True)
        proc = await self.deps.spawner(argv, cwd, dict(self.deps.config.env) or None)
        self.generation += 1
        resume_id = state.claude_session_id
        live = Live(proc, self.generation, resumed=resume_id is not None, budget=allowed)
        await self._append(
            ev.event(ev.PROCESS_STARTED, None, pid=proc.pid, argv=argv, resume_id=resume_id)
        )
        live.task = asyncio.create_task(
            pump(live, self.deps.store, self.stream, ref.tell), name=f"pump:{self.session}"
        )
        self.live = live
        self.deps.pool.started(self.session, ref)
        return live

    async def write(self, live: Live, obj: dict[str, Any]) -> None:
        await self._append(ev.event(ev.STDIN, None, line=obj))
        await live.proc.write(obj)

    async def stop(self, reason: str) -> bool:
        """Stop the process on purpose (its exit is no crash) and log it; False if none ran."""
        live, self.live = self.live, None
        if live is None:
            return False
        live.stopping = True
        self.deps.pool.stopped(self.session)
        returncode = await live.proc.stop(grace_s=5.0)
        if live.task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(live.task), 1.0)  # log its last lines
            live.task.cancel()
        await self._append(
            ev.event(ev.PROCESS_EXITED, None, returncode=returncode, expected=True, reason=reason)
        )
        return True

    async def lost(self, exited: m.Exited) -> Live | None:
        """The process exited by itself: forget it, log it, and return it; None if that is old
        news (an earlier process, or one being stopped on purpose)."""
        live = self.live
        if live is None or live.generation != exited.generation or live.stopping:
            return None
        self.live = None
        self.deps.pool.stopped(self.session)
        await self._append(
            ev.event(
                ev.PROCESS_EXITED,
                None,
                returncode=exited.returncode,
                expected=False,
                stderr_tail=list(exited.stderr_tail),
            )
        )
        return live

    async def lost_in_restart(self) -> None:
        """The process the log shows running died with pocketcode: log that it is gone."""
        await self._append(
            ev.event(
                ev.PROCESS_EXITED,
                None,
                returncode=None,
                expected=False,
                reason="pocketcode restarted",
            )
        )


def command(
    claude_bin: str, persona: AgentSettings, state: SessionState, cap: CostCap
) -> tuple[list[str], str | None]:
    """The argv of a new process for the session, and the ``--max-budget-usd`` it is given.

    The persona's settings with the session's ``/model`` and ``/mode`` choices, resuming its
    conversation. Refused (``ClaudeError``) once the cap is spent: turns are checked before,
    but a process is never started only to answer every turn with the budget error.
    """
    settings = with_overrides(
        persona, model=state.model_override, permission_mode=state.mode_override
    )
    if cap.reached:
        raise ClaudeError(cap_refused(cap))
    # Everything spent so far is "earlier": this process's own cost starts at 0.
    allowed = budget.budget_arg(cap.cap_usd, state.total_cost_usd)
    argv = build_argv(
        claude_bin, settings, resume_id=state.claude_session_id, max_budget_usd=allowed
    )
    return argv, allowed


def crash_backoff(crashes: int) -> float | None:
    """Seconds to wait before starting claude again after ``crashes`` in a row (None: at once).

    One crash is retried at once; from the second on the wait doubles from 5 s, up to 5 min.
    """
    return min(5.0 * 2 ** (crashes - 2), 300.0) if crashes >= 2 else None


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
