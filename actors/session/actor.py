"""The session actor: owns one long-lived ``claude`` process and the turn state machine.

idle -> running -> idle, with interrupting, permission questions, crash/resume and idle stop.
Every line written to or read from the process is appended to the session's stream before
its effect reaches the chat; the state is the fold of that stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from actors.chat import notices as n
from actors.runtime import Actor, Timer
from actors.session import archiving, budget
from actors.session import events as ev
from actors.session import messages as m
from actors.session.pool import ProcessPool
from actors.session.process import Live, pump
from actors.session.replies import streamed_text, turn_reply
from actors.session.state import SessionState, SettingRequest, evolve, load_state
from actors.session.wording import (
    cap_reached,
    cap_refused,
    cap_set,
    cap_waiting,
    exit_words,
    result_error,
    retry_notice,
    setting_changed,
    setting_refused,
)
from eventstore import Event, EventStore, NewEvent
from service.claude import codec
from service.claude.argv import AgentSettings, build_argv, with_overrides
from service.claude.errors import ClaudeError
from service.claude.process import Spawner

log = structlog.get_logger("session")
Notify = Callable[[int, object], None]
#: Resolves a persona name to the CLI settings it asks for.
SettingsFor = Callable[[str], AgentSettings]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    claude_bin: str = "claude"
    idle_timeout_s: float = 1800.0
    turn_timeout_s: float = 1800.0
    permission_timeout_s: float = 300.0
    #: The cost cap of sessions that never set their own with ``/cap`` (read live: see
    #: ``SessionState.cost_cap``); None: no cap.
    max_cost_usd: float | None = None
    kill_after_interrupt_s: float = 30.0
    env: tuple[tuple[str, str], ...] = ()
    archive_dir: Path | None = None


@dataclass(slots=True)
class SessionDeps:
    store: EventStore
    spawner: Spawner
    notify: Notify
    settings_for: SettingsFor
    pool: ProcessPool
    config: SessionConfig
    #: Whether a persona asks for its working directory to go into archives.
    archive_workdir: Callable[[str], bool] = lambda _persona: False
    #: Sees every event this session appends (the session directory projection).
    observe: Callable[[Event], None] = lambda _event: None


class SessionError(Exception):
    """A request the session refuses; the message is for the user."""


class SessionActor(Actor[Any]):
    def __init__(self, name: str, deps: SessionDeps) -> None:
        self.name = name
        self.stream = ev.stream_of(name)
        self.deps = deps
        self.state = SessionState()
        self.live: Live | None = None
        self.generation = 0
        self.reply = ""
        self.status: str | None = None
        self.retry_told = False
        self.turn_cost_base = 0.0
        self.permissions: dict[str, codec.PermissionRequest] = {}
        self.timers: dict[str, Timer] = {}
        self.backoff_until: float | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def on_start(self) -> None:
        structlog.contextvars.bind_contextvars(session=self.name)
        self.state = await load_state(self.deps.store, self.name)
        await self._recover()

    async def on_stop(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        if self.live is not None:
            await self._stop_process("actor stopped")

    async def _recover(self) -> None:
        """After a pocketcode crash: close what the log says was still open, tell the user once."""
        s = self.state
        if s.process_pid is not None:
            await self._append(
                ev.event(
                    ev.PROCESS_EXITED,
                    None,
                    returncode=None,
                    expected=False,
                    reason="pocketcode restarted",
                )
            )
        await self._settle_all()
        if s.turn is not None:
            if s.turn.result_subtype == budget.BUDGET_REACHED:  # keep what it had written
                events = await self.deps.store.read_stream(self.stream)
                text = streamed_text(events, s.turn.turn_id)
                await self._end_turn(
                    ev.FAILED, text, cap_reached(self._cost_cap()), reason=ev.COST_CAP
                )
            elif s.turn.saw_result:
                outcome = (
                    ev.INTERRUPTED
                    if s.turn.result_interrupted
                    else (ev.FAILED if s.turn.result_is_error else ev.COMPLETED)
                )
                await self._end_turn(outcome, s.last_result or "", None)
            else:
                events = await self.deps.store.read_stream(self.stream)
                await self._end_turn(
                    ev.INTERRUPTED,
                    streamed_text(events, s.turn.turn_id),  # what was written before the crash
                    "pocketcode restarted while this turn was running; it was cut off. "
                    "Send it again to continue.",
                    reason="restart",
                )
        if self.state.pending:
            self.ctx.ref.tell(m.Resume())

    # -- messages ----------------------------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        match message:
            case m.Lines():
                await self._on_lines(message)
            case m.UserTurn():
                await self._on_user_turn(message)
            case m.Interrupt():
                await self._on_interrupt()
            case m.ChangeSetting():
                await self._on_change_setting(message)
            case m.SetCostCap():
                await self._on_set_cost_cap(message)
            case m.GetCostCap():
                return self._cost_cap()
            case m.PermissionAnswer():
                await self._on_permission_answer(message)
            case m.PermissionTimeout():
                await self._on_permission_timeout(message.request_id)
            case m.Exited():
                await self._on_exited(message)
            case m.Resume():
                await self._start_next_turn()
            case m.TurnTimeout():
                await self._on_turn_timeout(message.turn_id)
            case m.IdleCheck():
                await self._on_idle_check(message.generation)
            case m.StopProcess():
                await self._on_stop_process(message.reason)
            case m.Shutdown():
                await self._on_shutdown()
            case m.GetState():
                return self.state
            case m.Redeliver():
                await self._on_redeliver(message.turn_id)
            case m.Archive():
                return await self._on_archive(message)
            case m.Unarchive():
                return await self._on_unarchive(message)
            case _:
                raise TypeError(f"session actor got an unknown message {message!r}")
        return None

    async def _on_user_turn(self, msg: m.UserTurn) -> None:
        """Queue the message in the log and answer (the chat then marks its update handled);
        the turn itself starts after, so the asker is not kept waiting for a process start."""
        s = self.state
        if msg.correlation_id and msg.correlation_id in s.queued_refs:
            return None  # a replayed update: already queued once
        if not s.exists:
            return self._notice(f"There is no session named {self.name}.")
        if s.status == "archived":
            return self._notice(f"{self.name} is archived; /unarchive {self.name} to use it again.")
        if (cap := self._cost_cap()).reached:
            return self._notice(cap_refused(cap))
        await self._append(ev.event(ev.MESSAGE_QUEUED, msg.correlation_id, text=msg.text))
        if self.state.busy or self._in_backoff():
            self._tell_chat(n.TurnQueued(self.name, len(self.state.pending)))
            return None
        self.ctx.ref.tell(m.Resume())
        return None

    async def _start_next_turn(self) -> None:
        s = self.state
        if s.busy or not s.pending or self._in_backoff():
            return
        if (cap := self._cost_cap()).reached:  # the turn before them reached it
            self._notice(cap_waiting(cap, len(s.pending)))
            return
        queued = s.pending
        text = queued[0].text if len(queued) == 1 else "\n\n".join(q.text for q in queued)
        turn_id = self.ctx.ids()
        await self._append(
            ev.event(
                ev.TURN_STARTED,
                queued[-1].correlation_id,
                turn_id=turn_id,
                text=text,
                merged=len(queued),
            )
        )
        self.reply, self.status, self.retry_told = "", None, False
        self._tell_chat(n.TurnStarted(self.name, turn_id, len(queued)))
        try:
            live = await self._ensure_process()
            await self._write(live, codec.user_turn(text))
        except ClaudeError as exc:
            await self._end_turn(ev.FAILED, "", f"Could not start claude: {exc}")
            return
        self.turn_cost_base = self.state.process_cost_usd
        self.deps.pool.touch(self.name, busy=True)
        self._schedule(f"turn:{turn_id}", self.deps.config.turn_timeout_s, m.TurnTimeout(turn_id))

    async def _on_interrupt(self) -> None:
        if self.state.turn is None or self.live is None:
            self._notice(f"Nothing is running in {self.name}.")
            return
        await self._write(self.live, codec.interrupt_request(self.ctx.ids()))
        self.permissions.clear()

    async def _on_change_setting(self, msg: m.ChangeSetting) -> None:
        """``/model`` or ``/mode``: log the request, then tell the running process at once.

        Sent even while a turn runs, not held until it ends: claude answers at once and uses
        the new model or mode from the agent's next step. Someone who switches to acceptEdits
        while the agent edits file after file, or to a faster model during a long turn, means
        "from now on"; held back, the switch would miss the very turn they are watching (and
        /stop is there to end it). Without a process the change is only recorded: every start
        passes the latest choice as ``--model=`` / ``--permission-mode=``.
        """
        s = self.state
        if msg.correlation_id and msg.correlation_id in s.queued_refs:
            return  # a replayed update: asked for once already
        if not s.exists:
            raise SessionError(f"There is no session named {self.name}.")
        if s.status == "archived":
            raise SessionError(f"{self.name} is archived; /unarchive {self.name} first.")
        request_id = self.ctx.ids()
        await self._append(
            ev.event(
                ev.SETTING_REQUESTED,
                msg.correlation_id,
                setting=msg.setting,
                value=msg.value,
                request_id=request_id,
            )
        )
        if self.live is None:
            await self._settle_all()
            return
        if msg.setting == ev.MODEL:
            line = codec.set_model_request(request_id, msg.value)
        else:
            line = codec.set_permission_mode_request(request_id, msg.value)
        with contextlib.suppress(ClaudeError):  # gone: its exit settles the request
            await self._write(self.live, line)

    async def _on_set_cost_cap(self, msg: m.SetCostCap) -> None:
        """``/cap``: log the session's own cap, then make the running claude's budget match.

        claude reads ``--max-budget-usd`` only when it starts (2.1.197 has no control request
        for it), so a running process keeps the budget it was started with. An idle one is
        stopped at once: the next message resumes the conversation (``--resume``) in a process
        with the new budget, which costs a process start and nothing else, and the user gets
        exactly the cap they just read back. One running a turn finishes that turn first and
        is stopped right after (``_end_turn``): cutting it would throw away the work being
        watched, and /stop is there for that. Until then a lowered cap holds from the next
        turn, and a raised one may still stop this turn at the old budget (the turn end says
        so in those words).
        """
        s = self.state
        if msg.correlation_id and msg.correlation_id in s.queued_refs:
            return  # a replayed update: set once already
        if not s.exists:
            raise SessionError(f"There is no session named {self.name}.")
        if s.status == "archived":
            raise SessionError(f"{self.name} is archived; /unarchive {self.name} first.")
        await self._append(ev.event(ev.COST_CAP_SET, msg.correlation_id, cap_usd=msg.cap_usd))
        stale = self._budget_stale()
        self._notice(cap_set(self._cost_cap(), turn_keeps_old=stale and self.state.busy))
        if stale and not self.state.busy:
            await self._stop_process("cost cap changed")
        if self.state.pending and not self._cost_cap().reached:
            self.ctx.ref.tell(m.Resume())  # messages held back by the old cap go now

    def _cost_cap(self) -> budget.CostCap:
        return budget.cost_cap(self.state, self.deps.config.max_cost_usd)

    def _budget_stale(self) -> bool:
        """The running claude was started with another budget than the cap allows now."""
        if self.live is None:
            return False
        cap = self.state.cost_cap(self.deps.config.max_cost_usd)
        # cost_usd: what earlier processes spent, the base this process's budget counts from
        return self.live.budget != budget.budget_arg(cap, self.state.cost_usd)

    async def _settle(self, request: SettingRequest) -> None:
        """Log how a setting change ended and tell the chat: taken by claude, refused by it,
        or (no process answered) recorded for the next start."""
        data = {"request_id": request.request_id, "setting": request.setting}
        ref, value = request.correlation_id, request.value
        if request.error is not None:
            await self._append(
                ev.event(ev.SETTING_REFUSED, ref, value=value, error=request.error, **data)
            )
            text = setting_refused(self.name, request.setting, value, request.error)
        else:
            await self._append(ev.event(ev.SETTING_CHANGED, ref, value=value, **data))
            text = setting_changed(self.name, request.setting, value, now=request.answered)
        self._notice(text)

    async def _settle_all(self) -> None:
        """No process will answer the open requests (none runs, or it exited): settle them."""
        for request in self.state.setting_requests:
            await self._settle(request)

    async def _on_permission_answer(self, msg: m.PermissionAnswer) -> None:
        request = self.permissions.pop(msg.request_id, None)
        if request is None or self.live is None:
            self._notice("That question was already answered or has expired.")
            return
        self._cancel(f"perm:{msg.request_id}")
        if msg.decision == "deny":
            line = codec.permission_deny(request.request_id, msg.message or "The user denied this.")
        else:
            rules = codec.session_rules(request) if msg.decision == "allow_session" else None
            tool_input = {**request.input, **(msg.updated_input or {})}
            line = codec.permission_allow(request.request_id, tool_input, rules)
        await self._write(self.live, line)
        self._tell_chat(n.PermissionClosed(self.name, msg.request_id, msg.decision, False))

    async def _on_permission_timeout(self, request_id: str) -> None:
        request = self.permissions.pop(request_id, None)
        if request is None or self.live is None:
            return
        await self._write(
            self.live, codec.permission_deny(request_id, "No answer from the user in time.")
        )
        self._tell_chat(n.PermissionClosed(self.name, request_id, "deny", True))

    async def _on_turn_timeout(self, turn_id: str) -> None:
        turn = self.state.turn
        if turn is None or turn.turn_id != turn_id or self.live is None:
            return
        minutes = self.deps.config.turn_timeout_s / 60
        self._notice(f"The turn in {self.name} ran over {minutes:g} min; interrupting it.")
        await self._write(self.live, codec.interrupt_request(self.ctx.ids()))
        generation = self.live.generation
        self._schedule(
            "kill", self.deps.config.kill_after_interrupt_s, m.StopProcess(f"hung:{generation}")
        )

    async def _on_idle_check(self, generation: int) -> None:
        if self.live is None or self.live.generation != generation or self.state.busy:
            return
        await self._stop_process("idle")

    async def _on_stop_process(self, reason: str) -> None:
        if self.live is None:
            return
        if reason.startswith("hung:"):
            if self.state.busy and reason == f"hung:{self.live.generation}":
                self.live.proc.kill()  # the reader sees EOF; the turn ends as crashed
            return
        if self.state.busy:
            return  # never stop a working process to make room
        await self._stop_process(reason)

    async def _on_shutdown(self) -> None:
        if self.state.turn is not None:
            await self._end_turn(
                ev.INTERRUPTED, self.reply, "pocketcode is shutting down.", reason="shutdown"
            )
        if self.live is not None:
            await self._stop_process("shutdown")

    async def _on_redeliver(self, turn_id: str) -> None:
        reply = turn_reply(await self.deps.store.read_stream(self.stream), turn_id)
        if reply is not None:
            self._tell_chat(
                n.TurnFinished(
                    self.name,
                    turn_id,
                    reply.outcome,
                    reply.text,
                    reply.cost_usd,
                    reply.turn_cost_usd,
                    reply.error,
                )
            )

    async def _on_archive(self, msg: m.Archive) -> str:
        """Pack the session from the log; refused while a turn runs (say so, lose nothing)."""
        s = self.state
        if not s.exists:
            raise SessionError(f"There is no session named {self.name}.")
        if s.status == "archived":
            if msg.correlation_id is not None and s.archived_by == msg.correlation_id:
                return s.archive_path or ""  # this very command, replayed after a crash
            raise SessionError(f"{self.name} is already archived.")
        if s.busy:
            raise SessionError(f"{self.name} is running a turn; /stop it first, then archive.")
        if self.live is not None:
            await self._stop_process("archive")
        path = await archiving.pack(
            self.deps.store,
            s,
            self.stream,
            self.deps.config.archive_dir or Path(s.cwd).parent / "sessions_archive",
            include_workdir=self.deps.archive_workdir(s.persona),
            now=self.ctx.clock.now(),
        )
        await self._append(ev.event(ev.ARCHIVED, msg.correlation_id, path=str(path)))
        return str(path)

    async def _on_unarchive(self, msg: m.Unarchive) -> str:
        s = self.state
        if s.status != "archived":
            raise SessionError(f"{self.name} is not archived.")
        if s.archive_path:
            await archiving.restore_workdir(Path(s.archive_path), Path(s.cwd))
        await self._append(ev.event(ev.UNARCHIVED, msg.correlation_id, path=s.archive_path))
        return s.cwd

    # -- the process -------------------------------------------------------------------------

    def _in_backoff(self) -> bool:
        return self.backoff_until is not None and self.ctx.clock.monotonic() < self.backoff_until

    async def _ensure_process(self) -> Live:
        if self.live is not None:
            return self.live
        s = self.state
        settings = with_overrides(
            self.deps.settings_for(s.persona),
            model=s.model_override,
            permission_mode=s.mode_override,
        )
        if (cap := self._cost_cap()).reached:  # the turn was checked; never start a dud
            raise ClaudeError(cap_refused(cap))
        # Everything spent so far is "earlier": this process's own cost starts at 0.
        allowed = budget.budget_arg(cap.cap_usd, s.total_cost_usd)
        argv = build_argv(
            self.deps.config.claude_bin,
            settings,
            resume_id=s.claude_session_id,
            max_budget_usd=allowed,
        )
        cwd = Path(s.cwd)
        await asyncio.to_thread(cwd.mkdir, parents=True, exist_ok=True)
        proc = await self.deps.spawner(argv, cwd, dict(self.deps.config.env) or None)
        self.generation += 1
        live = Live(proc, self.generation, resumed=s.claude_session_id is not None, budget=allowed)
        await self._append(
            ev.event(
                ev.PROCESS_STARTED, None, pid=proc.pid, argv=argv, resume_id=s.claude_session_id
            )
        )
        live.task = asyncio.create_task(
            pump(live, self.deps.store, self.stream, self.ctx.ref.tell), name=f"pump:{self.name}"
        )
        self.live = live
        self.deps.pool.started(self.name, self.ctx.ref)
        return live

    async def _write(self, live: Live, obj: dict[str, Any]) -> None:
        await self._append(ev.event(ev.STDIN, None, line=obj))
        await live.proc.write(obj)

    async def _stop_process(self, reason: str) -> None:
        live, self.live = self.live, None
        if live is None:
            return
        live.stopping = True
        self.deps.pool.stopped(self.name)
        returncode = await live.proc.stop(grace_s=5.0)
        if live.task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(live.task), 1.0)  # log its last lines
            live.task.cancel()
        await self._append(
            ev.event(ev.PROCESS_EXITED, None, returncode=returncode, expected=True, reason=reason)
        )
        await self._settle_all()

    # -- what the process says ---------------------------------------------------------------

    async def _on_lines(self, msg: m.Lines) -> None:
        for event in msg.events:
            self.state = evolve(self.state, event)
        if self.live is None or msg.generation != self.live.generation:
            return
        progressed = False
        for event in msg.events:
            if self.live is None or msg.generation != self.live.generation:
                break  # stopped while these lines were handled (its budget was spent)
            if event.type not in (ev.STDOUT, ev.STREAM):
                continue
            progressed |= await self._on_line(event.data["line"])
        turn = self.state.turn
        if progressed and turn is not None:
            self._tell_chat(n.ReplyProgress(self.name, turn.turn_id, self.reply, self.status))

    async def _on_line(self, line: dict[str, Any]) -> bool:
        """React to one stdout line; True if the visible reply or status changed."""
        assert self.live is not None
        if codec.is_init(line):
            self.live.saw_init = True
            return False
        if (answer := codec.control_answer(line)) is not None:
            pending = self.state.setting_request(answer.request_id)
            if pending is not None and pending.answered:  # else an interrupt's answer
                await self._settle(pending)
            return False
        if (delta := codec.text_delta(line)) is not None:
            self.reply += delta
            self.status = None
            return True
        if codec.starts_text_block(line):
            if self.reply and not self.reply.endswith("\n\n"):
                self.reply += "\n\n"
            return False
        if uses := codec.tool_uses(line):
            name, tool_input = uses[-1]
            self.status = codec.tool_status(name, tool_input, self.state.cwd)
            return True
        if (retry := codec.api_retry_info(line)) is not None:
            # Said once per turn as a message; later attempts only refresh the status line.
            if not self.retry_told:
                self.retry_told = True
                self._notice(retry_notice(retry))
            self.status = "⏳ " + retry_notice(retry)
            return True
        if (request := codec.permission_request(line)) is not None:
            self.permissions[request.request_id] = request
            self._tell_chat(
                n.PermissionAsked(
                    self.name,
                    request.request_id,
                    request.tool_name,
                    codec.tool_status(request.tool_name, request.input, self.state.cwd),
                    request.input,
                )
            )
            self._schedule(
                f"perm:{request.request_id}",
                self.deps.config.permission_timeout_s,
                m.PermissionTimeout(request.request_id),
            )
            return False
        if (result := codec.result_info(line)) is not None and self.state.turn is not None:
            if self.live.resumed and not self.live.saw_init:
                return False  # --resume failed before starting; the exit handler starts afresh
            if result.interrupted:
                await self._end_turn(ev.INTERRUPTED, self.reply, None)
            elif result.subtype == budget.BUDGET_REACHED:  # what it wrote is the reply
                words = cap_reached(self._cost_cap())
                await self._end_turn(ev.FAILED, self.reply, words, reason=ev.COST_CAP)
            elif result.is_error:
                await self._end_turn(ev.FAILED, self.reply, result_error(result))
            else:
                await self._end_turn(ev.COMPLETED, result.text or self.reply, None)
        return False

    async def _on_exited(self, msg: m.Exited) -> None:
        live = self.live
        if live is None or live.generation != msg.generation or live.stopping:
            return
        self.live = None
        self.deps.pool.stopped(self.name)
        await self._append(
            ev.event(
                ev.PROCESS_EXITED,
                None,
                returncode=msg.returncode,
                expected=False,
                stderr_tail=list(msg.stderr_tail),
            )
        )
        await self._settle_all()
        if live.resumed and not live.saw_init:
            # --resume from a lost conversation: start afresh rather than fail forever.
            await self._append(ev.event(ev.RESUME_FAILED, None, stderr_tail=list(msg.stderr_tail)))
            self._notice(
                f"The earlier claude conversation of {self.name} could not be resumed; "
                "continuing in a fresh conversation."
            )
            turn = self.state.turn
            if turn is not None:
                with contextlib.suppress(ClaudeError):
                    fresh = await self._ensure_process()
                    await self._write(fresh, codec.user_turn(turn.text))
                    return
        if self.state.turn is not None:
            await self._end_turn(
                ev.CRASHED, self.reply, exit_words(msg.returncode, msg.stderr_tail)
            )
            crashes = self.state.crashes
            if crashes >= 2:
                delay = min(5.0 * 2 ** (crashes - 2), 300.0)
                self.backoff_until = self.ctx.clock.monotonic() + delay
                self._notice(
                    f"claude has crashed {crashes} times in a row in {self.name}; "
                    f"waiting {delay:g} s before starting it again."
                )
                self._schedule("backoff", delay, m.Resume())
                return
        await self._start_next_turn()

    async def _end_turn(
        self, outcome: str, text: str, error: str | None, *, reason: str | None = None
    ) -> None:
        turn = self.state.turn
        if turn is None:
            return
        data: dict[str, Any] = {"turn_id": turn.turn_id, "outcome": outcome}
        if error:
            data["error"] = error
        if reason:
            data["reason"] = reason
        await self._append(NewEvent(ev.TURN_ENDED, data, correlation_id=turn.correlation_id))
        self._cancel(f"turn:{turn.turn_id}")
        self._cancel("kill")
        self.permissions.clear()
        s = self.state
        self._tell_chat(
            n.TurnFinished(
                self.name,
                turn.turn_id,
                outcome,
                text,
                s.total_cost_usd,
                max(0.0, s.process_cost_usd - self.turn_cost_base),
                error,
            )
        )
        self.reply, self.status = "", None
        restarting = False
        spent = reason == ev.COST_CAP
        if self.live is not None and reason != "shutdown" and (spent or self._budget_stale()):
            # Spent (it would answer every later turn with the same error) or started with
            # another cap than the one set since: the next turn gets a new process.
            await self._stop_process("budget spent" if spent else "cost cap changed")
            restarting = True
        if self.live is not None:
            self.deps.pool.touch(self.name, busy=False)
            self._schedule(
                "idle", self.deps.config.idle_timeout_s, m.IdleCheck(self.live.generation)
            )
        if outcome != ev.CRASHED and self.state.pending and (self.live is not None or restarting):
            self.ctx.ref.tell(m.Resume())

    # -- helpers -----------------------------------------------------------------------------

    async def _append(self, new: NewEvent) -> Event:
        [event] = await self.deps.store.append(self.stream, [new])
        self.state = evolve(self.state, event)
        self.deps.observe(event)
        return event

    def _tell_chat(self, notice: object) -> None:
        if self.state.chat_id is not None:
            self.deps.notify(self.state.chat_id, notice)

    def _notice(self, text: str) -> None:
        self._tell_chat(n.SessionNotice(self.name, text))

    def _schedule(self, key: str, delay: float, message: object) -> None:
        self._cancel(key)
        self.timers[key] = self.ctx.schedule(delay, message)

    def _cancel(self, key: str) -> None:
        timer = self.timers.pop(key, None)
        if timer is not None:
            timer.cancel()
