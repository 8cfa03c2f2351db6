"""The ``claude`` process of a session: its command line, its start and stop, and the pump
that reads its stdout.

The pump never writes to the log: it keeps the lines it read in ``Live.unread`` and nudges the
actor (``LinesReady``), which appends them, folds them and only then acts on them — the actor is
the only writer of the session's stream, so the fold sees the log's order. Lines that arrive
while the actor is busy wait there and go into the log together, in one append.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from actors.claude import codec
from actors.claude.argv import AgentSettings, build_argv, with_overrides
from actors.claude.errors import ClaudeError
from actors.claude.process import ClaudeProcess
from actors.runtime import ActorRef
from actors.session import budget
from actors.session import events as ev
from actors.session import messages as m
from actors.session.budget import CostCap
from actors.session.deps import Append, SessionDeps
from actors.session.state import SessionState
from actors.session.wording import cap_refused
from eventstore import Event, NewEvent

log = structlog.get_logger("session")
STDERR_LINES_KEPT = 20
#: Appends several events to the session's stream, then folds them (the actor's own append).
AppendMany = Callable[[Sequence[NewEvent]], Awaitable[list[Event]]]


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
    #: Lines read from stdout and not logged yet (the actor takes them).
    unread: list[bytes] = field(default_factory=list)
    #: A ``LinesReady`` for the lines in ``unread`` is on its way to the actor.
    nudged: bool = False

    def take(self) -> list[bytes]:
        """The lines read since the last take; the next line nudges the actor again."""
        lines, self.unread, self.nudged = self.unread, [], False
        return lines


class ProcessSlot:
    """The session's one ``claude`` process: started on demand, every line to it logged before
    it is written, stopped on purpose (idle, least recently used, archive, /cap) or lost."""

    def __init__(
        self, session: str, deps: SessionDeps, append: Append, append_many: AppendMany
    ) -> None:
        self.session = session
        self.deps = deps
        self._append = append
        self._append_many = append_many
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
        live.task = asyncio.create_task(pump(live, ref.tell), name=f"pump:{self.session}")
        self.live = live
        self.deps.pool.started(self.session, ref)
        return live

    async def write(self, live: Live, obj: dict[str, Any]) -> None:
        await self._append(ev.event(ev.STDIN, None, line=obj))
        await live.proc.write(obj)

    async def log_lines(self, live: Live) -> list[Event]:
        """Append the lines ``live`` has read and not logged yet (folded by the actor's append)."""
        raws = live.take()
        return await self._append_many([line_event(raw) for raw in raws]) if raws else []

    async def stop(self, reason: str) -> bool:
        """Stop the process on purpose (its exit is no crash) and log it; False if none ran.

        Its last lines are logged before its exit, so the log reads in the order things
        happened; they are not acted on (it is being stopped)."""
        live, self.live = self.live, None
        if live is None:
            return False
        live.stopping = True
        self.deps.pool.stopped(self.session)
        returncode = await live.proc.stop(grace_s=5.0)
        if live.task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(live.task), 1.0)  # read to EOF
            live.task.cancel()
        await self.log_lines(live)
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
        await self.log_lines(live)  # normally logged already: LinesReady comes before Exited
        if exited.failure is not None:
            live.proc.kill()  # its output can no longer be read: it must not run on unseen
        await self._append(
            ev.event(
                ev.PROCESS_EXITED,
                None,
                returncode=exited.returncode,
                expected=False,
                stderr_tail=list(exited.stderr_tail),
                **({"failure": exited.failure} if exited.failure else {}),
            )
        )
        return live

    async def lost_in_restart(self, reason: str = "pocketcode restarted") -> None:
        """The process the log shows running is gone (it died with pocketcode, or was killed
        when its output could not be logged): log that it is gone."""
        await self._append(
            ev.event(ev.PROCESS_EXITED, None, returncode=None, expected=False, reason=reason)
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


async def pump(live: Live, tell: Callable[[object], None]) -> None:
    """Read stdout to EOF into ``live.unread``, nudging the actor; then tell ``Exited``.

    Whatever happens here ends in ``Exited``: a pump that died silently would leave the
    session waiting for a turn that can no longer end.
    """
    returncode: int | None = None
    failure: str | None = None
    try:
        while (raw := await live.proc.read_line()) is not None:
            live.unread.append(raw)
            if not live.nudged:
                live.nudged = True
                tell(m.LinesReady(live))
        returncode = await live.proc.wait()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # reading failed: the turn must end in words, not hang
        log.exception("claude.read_failed", pid=live.proc.pid)
        failure = f"{type(exc).__name__}: {exc}"
    tail = tuple(live.proc.stderr_tail()[-STDERR_LINES_KEPT:])
    tell(m.Exited(live.generation, returncode, tail, failure))
