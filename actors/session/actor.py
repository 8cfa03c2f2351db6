"""The session actor: owns one long-lived ``claude`` process and the turn state machine.

idle -> running -> idle, with interrupting, permission questions, crash/resume and idle stop.
The actor is the only writer of its stream (``session:<name>``): it appends, folds, then acts,
every append checked against the version it folded (``expected_version``). Every line written
to or read from the process is appended before its effect reaches the chat; the state is the
fold of that stream.

What is not the turn lives beside it: ``process`` (the process itself), ``lines`` (what a
stdout line means, pure), ``settings`` (/model, /mode, /cap), ``permissions`` (answering
questions), ``replies`` (how a turn ends, also after a restart), ``archiving``, ``routine_runs``
(the turns routines start: never merged, a fresh conversation when asked).

Transient on purpose (everything else is in the fold, so a restart behaves as the run before):
- the running process (``ProcessSlot.live``): it dies with pocketcode; the log says it ran, and
  recovery logs that it is gone;
- what the chat is shown of the running turn (``shown``), whether its API retry was told
  (``retry_told``) and the files it changed (``changes``): a restart ends the turn, and its text
  is rebuilt from the log for the notice (its files for a reply delivered again, not for a turn
  a restart cut off);
- timers (turn timeout, question timeout, idle stop, kill): they watch a process, which a
  restart does not keep; the crash backoff is rebuilt from the fold (``last_crash_at``);
- the process pool's order: which idle process to stop first is a guess, not a promise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog

from actors.claude import codec
from actors.claude.errors import ClaudeError
from actors.runtime import Actor
from actors.session import archiving, replies, routine_runs, wording
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session.catalog import SessionExistsError
from actors.session.changes import FileChanges
from actors.session.deps import SessionDeps
from actors.session.errors import SessionError
from actors.session.lines import Shown, read_line
from actors.session.permissions import OpenQuestions
from actors.session.process import Live, ProcessSlot, crash_backoff
from actors.session.replies import TurnEnd, TurnReply
from actors.session.settings import SettingsDesk
from actors.session.state import FOLD_SKIPS, SessionState, evolve_many, load_state
from actors.session.timers import Timers
from eventstore import Event, NewEvent
from eventstore.errors import ConcurrencyError

log = structlog.get_logger("session")


class SessionActor(Actor[Any]):
    def __init__(self, name: str, deps: SessionDeps) -> None:
        self.name = name
        self.stream = ev.stream_of(name)
        self.deps = deps
        self.state = SessionState()
        self.process = ProcessSlot(name, deps, self._append, self._append_many)
        self.settings = SettingsDesk(
            name,
            deps.config.max_cost_usd,
            state=lambda: self.state,
            append=self._append,
            notice=self._notice,
        )
        self.permissions = OpenQuestions(name, lambda: self.state)
        #: What the chat is shown of the running turn; its API retry notice went out; the
        #: files it changed so far (for the reply's footer).
        self.shown = Shown()
        self.retry_told = False
        self.changes = FileChanges()
        #: Why the last process was cut off when its output could not be logged.
        self.cut_off: str | None = None
        self.timers = Timers(lambda delay, message: self.ctx.schedule(delay, message))

    @property
    def live(self) -> Live | None:
        """The running process, if any."""
        return self.process.live

    def awaits_io(self) -> bool:
        """A turn runs in a live claude that asked nothing of the user: its output will come."""
        return self.live is not None and self.state.turn is not None and not self.state.questions

    # -- lifecycle ---------------------------------------------------------------------------

    async def on_start(self) -> None:
        structlog.contextvars.bind_contextvars(session=self.name)
        self.state = await load_state(self.deps.store, self.name)
        await self._recover()

    async def on_stop(self) -> None:
        self.timers.cancel_all()
        if self.live is not None:
            await self._stop_process("actor stopped")

    async def _recover(self) -> None:
        """After a pocketcode crash: close what the log says was still open, tell the user once."""
        await self._close_lost()
        if (left := self._backoff_left()) > 0:
            self.timers.set("backoff", left, m.Resume())  # the wait a crash started goes on
        elif self.state.pending:
            self.ctx.ref.tell(m.Resume())

    async def _close_lost(self, cut_off: str | None = None) -> None:
        """Close the process and turn the log shows open that no process of this actor runs
        (after a restart; or after output that could not be logged, ``cut_off`` saying why)."""
        s = self.state
        if self.live is not None or (s.process_pid is None and s.turn is None):
            return
        if s.process_pid is not None:
            await self.process.lost_in_restart(
                "pocketcode restarted" if cut_off is None else cut_off
            )
        await self.settings.settle_all()
        if (turn := s.turn) is not None:
            streamed = ""
            if replies.needs_streamed_text(turn):  # what was written before the crash
                events = await self.deps.store.read_stream(
                    self.stream, after_version=turn.started_version - 1
                )
                streamed = replies.streamed_text(events, turn.turn_id)
            if cut_off is not None:
                await self._end_turn(TurnEnd(ev.FAILED, streamed, cut_off))
                return
            cap = self.settings.cost_cap()
            await self._end_turn(replies.restart_end(turn, s.last_result, streamed, cap))

    # -- messages ----------------------------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        match message:
            case m.LinesReady():
                await self._on_lines(message.live)
            case m.Create():
                await self._on_create(message)
            case m.UserTurn() | m.RoutineTurn():
                await self._on_user_turn(message)
            case m.Interrupt():
                await self._on_interrupt(message)
            case m.ChangeSetting():
                await self._on_change_setting(message)
            case m.SetCostCap():
                await self._on_set_cost_cap(message)
            case m.GetCostCap():
                return self.settings.cost_cap()
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
            case m.Release():
                return await self._on_release()
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

    async def _on_create(self, msg: m.Create) -> None:
        """The session's first event; ``expected_version`` 0 makes a second creator lose."""
        s = self.state
        if s.exists:
            if msg.correlation_id is not None and s.created_by == msg.correlation_id:
                return  # this very /new, replayed after a crash
            raise SessionExistsError(f"A session named {self.name} already exists.")
        created = [
            ev.event(
                ev.CREATED,
                msg.correlation_id,
                name=self.name,
                persona=msg.persona,
                cwd=msg.cwd,
                chat_id=msg.chat_id,
            )
        ]
        if msg.claude_session_id is not None:
            created.append(
                ev.event(
                    ev.IMPORTED,
                    msg.correlation_id,
                    claude_session_id=msg.claude_session_id,
                    first_prompt=msg.first_prompt,
                )
            )
        try:
            await self._append_many(created)
        except SessionError:  # created meanwhile by another writer (the offline CLI)
            raise SessionExistsError(f"A session named {self.name} already exists.") from None

    async def _on_user_turn(self, msg: m.UserTurn | m.RoutineTurn) -> None:
        """Queue the message in the log and answer (the chat then marks its update handled);
        the turn itself starts after, so the asker is not kept waiting for a process start.
        A routine's run is queued the same way, marked (``routine_runs``)."""
        await self._close_lost(self.cut_off)
        s = self.state
        if s.replayed(msg.correlation_id):
            return None  # already queued once
        to = msg.chat_id
        if not s.exists:
            return self._notice(f"There is no session named {self.name}.", to)
        if s.status == "archived":
            text = f"{self.name} is archived; /unarchive {self.name} to use it again."
            return self._notice(text, to)
        if (cap := self.settings.cost_cap()).reached:
            return self._notice(wording.cap_refused(cap), to)
        chat = {} if msg.chat_id is None else {"chat_id": msg.chat_id}
        run = msg.run if isinstance(msg, m.RoutineTurn) else None
        await self._append(
            ev.event(
                ev.MESSAGE_QUEUED,
                msg.correlation_id,
                text=msg.text,
                **chat,
                **routine_runs.marked(run),
            )
        )
        if self.state.busy or self._backoff_left() > 0:
            if run is None:  # an unattended run waits without a word
                self._tell_chat(n.TurnQueued(self.name, len(self.state.pending)), to)
            return None
        self.ctx.ref.tell(m.Resume())
        return None

    async def _start_next_turn(self) -> None:
        s = self.state
        if s.busy or not s.pending or self._backoff_left() > 0:
            return
        if (cap := self.settings.cost_cap()).reached:  # the turn before them reached it
            self._notice(wording.cap_waiting(cap, len(s.pending)))
            return
        queued = routine_runs.next_batch(s.pending)
        text = queued[0].text if len(queued) == 1 else "\n\n".join(q.text for q in queued)
        run = queued[0].routine
        if run is not None and run.fresh and self.live is not None:
            await self._stop_process("a routine runs in a conversation of its own")
        turn_id = self.ctx.ids()
        await self._append(
            ev.event(
                ev.TURN_STARTED,
                queued[-1].correlation_id,
                turn_id=turn_id,
                text=text,
                merged=len(queued),
                **routine_runs.marked(run),
            )
        )
        self.shown, self.retry_told, self.changes = Shown(), False, FileChanges()
        self._tell_chat(n.TurnStarted(self.name, turn_id, len(queued), run))
        try:
            live = await self._ensure_process()
            await self.process.write(live, codec.user_turn(text))
        except ClaudeError as exc:
            started = self.live
            if started is None or not started.resumed or started.saw_init:
                await self._end_turn(TurnEnd(ev.FAILED, "", f"Could not start claude: {exc}"))
                return
            # A --resume that died at once (its conversation is not on this machine): its
            # exit hands the turn to a fresh conversation (_on_exited), as when it dies later.
        self.deps.pool.touch(self.name, busy=True)
        self.timers.set(f"turn:{turn_id}", self.deps.config.turn_timeout_s, m.TurnTimeout(turn_id))

    async def _on_interrupt(self, msg: m.Interrupt) -> None:
        """``/stop``; the turn's open questions close when its result ends it."""
        if self.state.turn is None or self.live is None:
            self._notice(f"Nothing is running in {self.name}.", msg.chat_id)
            return
        await self._to_claude(self.live, codec.interrupt_request(self.ctx.ids()))

    async def _on_change_setting(self, msg: m.ChangeSetting) -> None:
        """``/model`` or ``/mode``, sent to the running claude at once (``SettingsDesk``)."""
        if self.state.replayed(msg.correlation_id):
            return  # asked for once already
        line = await self.settings.request(msg, self.ctx.ids)
        if self.live is None:
            await self.settings.settle_all()
            return
        await self._to_claude(self.live, line)

    async def _on_set_cost_cap(self, msg: m.SetCostCap) -> None:
        """``/cap``; an idle claude with another budget is replaced at once (``SettingsDesk``)."""
        if self.state.replayed(msg.correlation_id):
            return  # set once already
        if await self.settings.set_cap(msg, self.live):
            await self._stop_process("cost cap changed")
        if self.state.pending and not self.settings.cost_cap().reached:
            self.ctx.ref.tell(m.Resume())  # messages held back by the old cap go now

    async def _on_permission_answer(self, msg: m.PermissionAnswer) -> None:
        closing = self.permissions.answer(msg)
        if closing is None or self.live is None:
            self._notice("That question was already answered or has expired.")
            return
        self.timers.cancel(f"perm:{msg.request_id}")  # the line below closes it in the fold
        await self._to_claude(self.live, closing.line)
        self._tell_chat(closing.notice)

    async def _on_permission_timeout(self, request_id: str) -> None:
        closing = self.permissions.expire(request_id)
        question = self.state.question(request_id)
        if closing is None or question is None or self.live is None:
            return
        await self._to_claude(self.live, closing.line)
        self._tell_chat(closing.notice)
        turn = self.state.turn
        if turn is not None and turn.routine is not None:  # nobody was there: say so
            timeout = self.deps.config.permission_timeout_s
            self._notice(routine_runs.denied_unattended(turn.routine, question.tool_name, timeout))

    async def _on_turn_timeout(self, turn_id: str) -> None:
        turn = self.state.turn
        if turn is None or turn.turn_id != turn_id or self.live is None:
            return
        minutes = self.deps.config.turn_timeout_s / 60
        self._notice(f"The turn in {self.name} ran over {minutes:g} min; interrupting it.")
        await self._to_claude(self.live, codec.interrupt_request(self.ctx.ids()))
        generation = self.live.generation
        self.timers.set(
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

    async def _on_release(self) -> SessionState:
        """``/release``: stop claude on purpose, as the idle stop does, so the conversation can
        go on at a terminal with no second process writing it; the next message resumes it."""
        s = self.state
        if not s.exists:
            raise SessionError(f"There is no session named {self.name}.")
        if s.busy or s.pending:
            raise SessionError(
                f"{self.name} is working on a turn; /release it once the reply is in "
                "(or /stop the turn first)."
            )
        if self.live is not None:
            await self._stop_process("released")
        return self.state

    async def _on_shutdown(self) -> None:
        if self.state.turn is not None:
            end = TurnEnd(
                ev.INTERRUPTED, self.shown.text, "pocketcode is shutting down.", "shutdown"
            )
            await self._end_turn(end)
        if self.live is not None:
            await self._stop_process("shutdown")

    async def _on_redeliver(self, turn_id: str) -> None:
        """A turn's reply the chat never got (a crash), rebuilt from the log: the history
        without its deltas says where the turn starts and what had been spent before it; only
        the turn itself, on from there, is read whole."""
        store = self.deps.store
        history = await store.read_stream(self.stream, exclude_types=FOLD_SKIPS)
        start = replies.turn_start(history, turn_id)
        if start is None:
            return
        version, before = start
        turn = await store.read_stream(self.stream, after_version=version - 1)
        reply = replies.turn_reply(turn, turn_id, before)
        if reply is not None:
            self._tell_chat(replies.finished(self.name, reply))

    async def _on_archive(self, msg: m.Archive) -> str:
        """Pack the session from the log (``archiving``); answers with the archive's path."""
        s = self.state
        if (done := archiving.check_archivable(s, self.name, msg.correlation_id)) is not None:
            return done  # this very command, replayed after a crash
        if self.live is not None:
            await self._stop_process("archive")
        path = await archiving.pack(
            self.deps.store,
            s,
            self.stream,
            self.deps.config.archive_dir,
            include_workdir=self.deps.archive_workdir(s.persona),
            now=self.ctx.clock.now(),
        )
        await self._append(ev.event(ev.ARCHIVED, msg.correlation_id, path=str(path)))
        return str(path)

    async def _on_unarchive(self, msg: m.Unarchive) -> str:
        """Answers with what became of the working directory (words for the chat)."""
        s = self.state
        if s.status != "archived":
            raise SessionError(f"{self.name} is not archived.")
        workdir = ""
        if s.archive_path:
            workdir = await archiving.restore_workdir(self.name, Path(s.archive_path), Path(s.cwd))
        await self._append(ev.event(ev.UNARCHIVED, msg.correlation_id, path=s.archive_path))
        return workdir

    # -- the process -------------------------------------------------------------------------

    def _backoff_left(self) -> float:
        """Seconds until claude may start again after crashes in a row (0: now). From the fold,
        so a restart during the wait keeps waiting instead of starting at once."""
        s = self.state
        delay = crash_backoff(s.crashes)
        if delay is None or s.last_crash_at is None:
            return 0.0
        until = s.last_crash_at + timedelta(seconds=delay)
        left = (until - self.ctx.clock.now()).total_seconds()
        return min(delay, max(0.0, left))  # a clock set back never makes the wait longer

    async def _ensure_process(self) -> Live:
        """The running claude, started with the budget the cap allows if none runs."""
        return await self.process.start(self.state, self.settings.cost_cap(), self.ctx.ref)

    async def _stop_process(self, reason: str) -> None:
        """Stop claude on purpose; /model and /mode requests it left open settle as recorded."""
        if await self.process.stop(reason):
            await self.settings.settle_all()

    # -- what the process says ---------------------------------------------------------------

    async def _on_lines(self, live: Live) -> None:
        """Log what ``live`` read, fold it, then act on it (lines of an earlier process are
        logged and folded, never acted on)."""
        try:
            events = await self.process.log_lines(live)
        except SessionError:
            raise  # written elsewhere meanwhile: read again already, and said
        except Exception as exc:
            if live is self.live:
                await self._unloggable(live, exc)
            else:  # an old process's last words: it is gone already
                log.error("session.lines_not_logged", error=str(exc))
            return
        progressed = False
        for event in events:
            if self.live is not live:
                break  # an old process, or stopped while these were handled (budget spent)
            if event.type not in (ev.STDOUT, ev.STREAM):
                continue
            progressed |= await self._on_line(event.data["line"])
        turn = self.state.turn
        if progressed and turn is not None:
            shown = self.shown
            self._tell_chat(n.ReplyProgress(self.name, turn.turn_id, shown.text, shown.status))

    async def _on_line(self, line: dict[str, Any]) -> bool:
        """React to one stdout line (``lines.read_line``); True if what is shown changed."""
        live = self.live
        assert live is not None
        self.changes = self.changes.seen(line)
        effect = read_line(
            line,
            self.shown,
            self.state,
            retry_told=self.retry_told,
            resume_unconfirmed=live.resumed and not live.saw_init,
            default_cap=self.deps.config.max_cost_usd,
        )
        self.shown = effect.shown
        if effect.init:
            live.saw_init = True
        if effect.settle is not None:
            await self.settings.settle(effect.settle)
        if effect.retry_notice is not None:
            self.retry_told = True
            self._notice(effect.retry_notice)
        if (request := effect.permission) is not None:
            self._tell_chat(self.permissions.ask(request, self.state.cwd))
            self.timers.set(
                f"perm:{request.request_id}",
                self.deps.config.permission_timeout_s,
                m.PermissionTimeout(request.request_id),
            )
        if effect.end is not None:
            await self._end_turn(effect.end)
        return effect.progressed

    async def _unloggable(self, live: Live, exc: Exception) -> None:
        """claude's output cannot be logged (disk full, log locked): nothing it says may reach
        the chat unlogged, so the process is killed and the turn ends as failed, in words.
        If the log takes nothing at all now, the turn stays open in the log and is closed by
        the next message (``_close_lost``), as a restart would close it."""
        log.error("session.log_unavailable", error=str(exc))
        self.cut_off = f"The event log could not be written ({exc}), so claude was stopped."
        self._notice(f"{self.name}: {self.cut_off} Your next message starts it again.")
        live.proc.kill()
        self.process.live = None
        self.deps.pool.stopped(self.name)
        with contextlib.suppress(Exception):  # else: left to the next message
            await self._close_lost(self.cut_off)
            await self._start_next_turn()

    async def _on_exited(self, msg: m.Exited) -> None:
        live = await self.process.lost(msg)
        if live is None:
            return
        await self.settings.settle_all()
        failed_itself = msg.returncode is not None and msg.returncode > 0
        if live.resumed and not live.saw_init and failed_itself:
            # --resume from a lost conversation (claude says so and exits 1 before its init):
            # start afresh rather than fail forever. Not a process killed by a signal (a hung
            # one we killed says nothing either, and must end as the crash it was).
            await self._append(ev.event(ev.RESUME_FAILED, None, stderr_tail=list(msg.stderr_tail)))
            self._notice(wording.resume_lost(self.name))
            turn = self.state.turn
            if turn is not None and turn.interrupt_sent:  # stopped meanwhile: not sent again
                await self._end_turn(TurnEnd(ev.INTERRUPTED, self.shown.text))
            elif turn is not None:
                with contextlib.suppress(ClaudeError):
                    fresh = await self._ensure_process()
                    await self.process.write(fresh, codec.user_turn(turn.text))
                    return
        if self.state.turn is not None:
            words = wording.exit_words(msg.returncode, msg.stderr_tail, msg.failure)
            await self._end_turn(TurnEnd(ev.CRASHED, self.shown.text, words))
            if (delay := self._backoff_left()) > 0:
                crashes = self.state.crashes
                self._notice(wording.crash_backoff_words(self.name, crashes, delay))
                self.timers.set("backoff", delay, m.Resume())
                return
        await self._start_next_turn()

    async def _end_turn(self, end: TurnEnd) -> None:
        turn = self.state.turn
        if turn is None:
            return
        unanswered = self.state.questions
        await self._append(end.event(turn))
        self.timers.cancel(f"turn:{turn.turn_id}")
        self.timers.cancel("kill")
        for question in unanswered:
            self.timers.cancel(f"perm:{question.request_id}")
        for closed in self.permissions.ended(unanswered):
            self._tell_chat(closed, turn.chat_id)
        s = self.state
        turn_cost = max(0.0, s.total_cost_usd - turn.cost_at_start)
        reply = TurnReply(
            turn.turn_id,
            end.outcome,
            end.text,
            end.error,
            s.total_cost_usd,
            turn_cost,
            turn.routine,
            self.changes.paths,
        )
        self._tell_chat(replies.finished(self.name, reply), turn.chat_id)
        self.shown = Shown()
        # Spent (it would answer every later turn with the same error) or started with another
        # cap than the one set since: the next turn gets a new process.
        spent = end.reason == ev.COST_CAP
        stale = spent or self.settings.stale(self.live)
        # A fresh routine run's process holds its own conversation: the next turn resumes the
        # user's (given back by the fold) in a new one.
        fresh = turn.routine is not None and turn.routine.fresh
        restarting = self.live is not None and end.reason != "shutdown" and (stale or fresh)
        if restarting:
            why = "budget spent" if spent else "cost cap changed" if stale else "routine run over"
            await self._stop_process(why)
        if self.live is not None:
            self.deps.pool.touch(self.name, busy=False)
            idle = m.IdleCheck(self.live.generation)
            self.timers.set("idle", self.deps.config.idle_timeout_s, idle)
        next_process = self.live is not None or restarting
        if end.outcome != ev.CRASHED and self.state.pending and next_process:
            self.ctx.ref.tell(m.Resume())

    # -- helpers -----------------------------------------------------------------------------

    async def _to_claude(self, live: Live, line: dict[str, Any]) -> None:
        """Write ``line`` to claude (logged first). A claude found gone is no failure of the
        session: its exit, on its way through the mailbox, ends the turn and settles what the
        line was about."""
        with contextlib.suppress(ClaudeError):
            await self.process.write(live, line)

    async def _append(self, new: NewEvent) -> Event:
        [event] = await self._append_many([new])
        return event

    async def _append_many(self, new: Sequence[NewEvent]) -> list[Event]:
        """Append, then fold, in that order; ``expected_version`` is the version folded, so a
        write by anyone else (the offline ``pocketcode archive``) is caught, never folded out
        of order: the state is read again from the log and the request refused in words."""
        try:
            events = await self.deps.store.append(
                self.stream, new, expected_version=self.state.version
            )
        except ConcurrencyError:
            log.error("session.written_elsewhere", version=self.state.version)
            self.state = await load_state(self.deps.store, self.name)
            raise SessionError(
                f"{self.name} was changed outside this bot meanwhile (pocketcode archive?); "
                "it has been read again from the log. Nothing was done: try again."
            ) from None
        self.state = evolve_many(self.state, events)
        for event in events:
            self.deps.observe(event)
        return events

    def _tell_chat(self, notice: object, chat_id: int | None = None) -> None:
        """Tell ``chat_id`` (the chat that asked), else where the session speaks now."""
        to = chat_id if chat_id is not None else self.state.reply_chat
        if to is not None:
            self.deps.notify(to, notice)

    def _notice(self, text: str, chat_id: int | None = None) -> None:
        self._tell_chat(n.SessionNotice(self.name, text), chat_id)
