"""The scheduler actor: keeps every routine's next slot and hands each run to its session.

It is the only writer of ``routines:schedule``; its state is the fold of that stream. For each
active routine one timer sleeps (on the injected clock) until the next slot, an hour at most at
a time, so a clock that jumps is noticed. When a slot has come, ``routine.fired`` is appended
first and the run is handed to the session after: a slot in the log is never run again.

After a restart the schedule is rebuilt from the log, and:
- a slot that passed while pocketcode was not running is run once, late, or skipped
  (``catch_up``); several passed slots make one run, for the latest;
- a run the log shows fired but no session queued (a crash in between) is handed over again,
  unless a later slot has come since; the session queues a slot once (its correlation id).

Transient on purpose: the timers (set again from the fold at every start).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog

from actors.routines import events as ev
from actors.routines import messages as m
from actors.routines.deps import SchedulerDeps
from actors.routines.errors import RoutineError
from actors.routines.notices import RoutineNotice
from actors.routines.schedule import last_slot, next_slot
from actors.routines.state import Routine, RoutinesState, Run, evolve, load_state
from actors.runtime import Actor
from actors.session import events as sev
from actors.session import messages as sm
from actors.session.routine_runs import RoutineRun
from actors.session.timers import Timers
from eventstore import NewEvent
from eventstore.errors import ConcurrencyError

log = structlog.get_logger("routines")

#: The longest a timer sleeps before looking at the clock again.
MAX_SLEEP_S = 3600.0
#: A slot run later than this after its time is late (pocketcode was not running then).
LATE_AFTER = timedelta(minutes=1)


class SchedulerActor(Actor[Any]):
    def __init__(self, deps: SchedulerDeps) -> None:
        self.deps = deps
        self.state = RoutinesState()
        self.timers = Timers(lambda delay, message: self.ctx.schedule(delay, message))

    async def on_start(self) -> None:
        self.state = await load_state(self.deps.store)
        unqueued = await self._unqueued()
        for routine in list(self.state.routines.values()):
            if routine.routine_id in unqueued and not routine.paused and not self._come(routine):
                assert routine.last_run is not None
                self._hand_over(routine, routine.last_run)
            await self._arm(routine.routine_id)

    async def on_stop(self) -> None:
        self.timers.cancel_all()

    async def receive(self, message: Any) -> Any:
        match message:
            case m.Due():
                await self._arm(message.routine_id)
            case m.Add():
                return await self._on_add(message)
            case m.Change():
                return await self._on_change(message)
            case m.RunNow():
                return await self._on_run_now(message)
            case m.ListRoutines():
                return [self._listed(r) for r in self.state.of_chat(message.chat_id)]
            case m.GetState():
                return self.state
            case _:
                raise TypeError(f"scheduler got an unknown message {message!r}")
        return None

    # -- commands ----------------------------------------------------------------------------

    async def _on_add(self, msg: m.Add) -> m.Listed:
        ref = msg.correlation_id
        made = next((r for r in self.state.routines.values() if ref and ref == r.created_by), None)
        if made is None:  # else: this very /every, replayed after a crash
            request = msg.request
            routine_id = str(self.state.created + 1)
            await self._append(
                ev.event(
                    ev.CREATED,
                    msg.correlation_id,
                    routine_id=routine_id,
                    session=msg.session,
                    chat_id=msg.chat_id,
                    schedule=request.schedule.typed,
                    cron=request.schedule.cron,
                    prompt=request.prompt,
                    quiet=request.quiet,
                    fresh=request.fresh,
                )
            )
            made = self.state.routines[routine_id]
            await self._arm(routine_id)
        return self._listed(made)

    async def _on_change(self, msg: m.Change) -> m.Listed:
        routine = self._own(msg.routine_id, msg.chat_id)
        wanted = {"pause": ev.PAUSED, "resume": ev.RESUMED, "delete": ev.DELETED}[msg.verb]
        if wanted == ev.DELETED or routine.paused != (wanted == ev.PAUSED):
            await self._append(ev.event(wanted, msg.correlation_id, routine_id=routine.routine_id))
        await self._arm(routine.routine_id)
        return self._listed(self.state.routines.get(routine.routine_id, routine))

    async def _on_run_now(self, msg: m.RunNow) -> m.Listed:
        routine = self._own(msg.routine_id, msg.chat_id)
        if not self.state.replayed(msg.correlation_id):
            now = self.ctx.clock.now().replace(microsecond=0)
            refused = await self._fire(routine, now, manual=True, ref=msg.correlation_id)
            if refused is not None:
                raise RoutineError(refused)
        return self._listed(self.state.routines[routine.routine_id])

    def _own(self, routine_id: str, chat_id: int) -> Routine:
        routine = self.state.routines.get(routine_id.removeprefix("#"))
        if routine is None or routine.chat_id != chat_id:
            raise RoutineError(f"There is no routine {routine_id[:12]} here; /routines lists them.")
        return routine

    # -- the clock ---------------------------------------------------------------------------

    def _next(self, routine: Routine) -> datetime | None:
        return next_slot(routine.cron, routine.anchor, self.deps.tz)

    def _come(self, routine: Routine) -> bool:
        """Whether a slot of ``routine`` has come that it has not run (or skipped)."""
        due = self._next(routine)
        return not routine.paused and due is not None and due <= self.ctx.clock.now()

    async def _arm(self, routine_id: str) -> None:
        """Run the slot that has come, if one has, then sleep until the next one."""
        routine = self.state.routines.get(routine_id)
        now = self.ctx.clock.now()
        if routine is not None and self._come(routine):
            slot = last_slot(routine.cron, now, self.deps.tz)
            assert slot is not None  # a slot has come: the latest one is it or after it
            if now - slot > LATE_AFTER and self.deps.catch_up == "skip":
                await self._skip(routine, slot, "it was missed while pocketcode was not running")
            else:
                await self._fire(routine, slot)
            routine = self.state.routines.get(routine_id)
        due = None if routine is None or routine.paused else self._next(routine)
        if due is None:
            self.timers.cancel(routine_id)
            return
        wait = min(max(0.0, (due - self.ctx.clock.now()).total_seconds()), MAX_SLEEP_S)
        self.timers.set(routine_id, wait, m.Due(routine_id))

    async def _fire(
        self, routine: Routine, slot: datetime, *, manual: bool = False, ref: str | None = None
    ) -> str | None:
        """Log the slot as fired, then hand it to the session; or skip it (and say why) if
        the session cannot take it. Returns why it was not run, else None."""
        summary = self.deps.catalog.get(routine.session)
        if summary is None or summary.status != "active":
            why = "is archived" if summary is not None else "does not exist any more"
            reason = f"its session {routine.session} {why}"
            if not manual:  # paused, not skipped again and again until it is seen to
                await self._append(ev.event(ev.PAUSED, None, routine_id=routine.routine_id))
                await self._skip(routine, slot, reason + "; it is paused until you resume it")
            return reason
        late = self.ctx.clock.now() - slot > LATE_AFTER
        data = {"slot": slot.isoformat(), "late": late, "manual": manual}
        await self._append(ev.event(ev.FIRED, ref, routine_id=routine.routine_id, **data))
        self._hand_over(routine, Run(slot, late, manual))
        return None

    async def _skip(self, routine: Routine, slot: datetime, reason: str) -> None:
        data = {"slot": slot.isoformat(), "reason": reason}
        await self._append(ev.event(ev.SKIPPED, None, routine_id=routine.routine_id, **data))
        due = self._local(slot)
        text = f"⏰ {routine.label} did not run at {due}: {reason}."
        self.deps.notify(routine.chat_id, RoutineNotice(text, silent=True, session=routine.session))

    def _hand_over(self, routine: Routine, run: Run) -> None:
        """The run, to its session; it queues it like a message, once per slot."""
        late = run.late or self.ctx.clock.now() - run.slot > LATE_AFTER
        mark = RoutineRun(
            routine.routine_id,
            routine.label,
            run.slot.isoformat(),
            self._local(run.slot),
            quiet=routine.quiet,
            fresh=routine.fresh,
            late=late and not run.manual,
            manual=run.manual,
        )
        kind = "by-hand" if run.manual else "slot"
        ref = f"routine-{routine.routine_id}-{kind}-{run.slot:%Y%m%dT%H%M%S}"
        turn = sm.RoutineTurn(routine.prompt, mark, ref, routine.chat_id)
        log.info("routine.handed_over", routine=routine.routine_id, slot=mark.slot, late=late)
        self.deps.sessions(routine.session).tell(turn)

    async def _unqueued(self) -> set[str]:
        """Routines whose last run the log shows fired but no session queued (a crash)."""
        waiting = {r.routine_id: r for r in self.state.routines.values() if r.last_run}
        for name in {r.session for r in waiting.values()}:
            stream = sev.stream_of(name)
            events = self.deps.store.read_all(stream_prefix=stream, types={sev.MESSAGE_QUEUED})
            async for event in events:
                run = RoutineRun.from_data(event.data.get("routine"))
                routine = waiting.get(run.routine_id) if run is not None else None
                if event.stream != stream or run is None or routine is None:
                    continue
                assert routine.last_run is not None
                if datetime.fromisoformat(run.slot) == routine.last_run.slot:
                    del waiting[run.routine_id]
        return set(waiting)

    # -- helpers -----------------------------------------------------------------------------

    def _listed(self, routine: Routine) -> m.Listed:
        due = None if routine.paused else self._next(routine)
        return m.Listed(routine, due.astimezone(self.deps.tz) if due is not None else None)

    def _local(self, at: datetime) -> str:
        local = at.astimezone(self.deps.tz)
        return f"{local:%a %d %b %H:%M} {local.tzname()}"

    async def _append(self, new: NewEvent) -> None:
        """Append with the version folded (one writer), then fold; a write by anyone else is
        caught, the state read again and the request refused in words."""
        try:
            [event] = await self.deps.store.append(
                ev.STREAM, [new], expected_version=self.state.version
            )
        except ConcurrencyError:
            log.error("routines.written_elsewhere", version=self.state.version)
            self.state = await load_state(self.deps.store)
            raise RoutineError(
                "The routines were changed elsewhere meanwhile and have been read again; "
                "nothing was done: try again."
            ) from None
        self.state = evolve(self.state, event)
