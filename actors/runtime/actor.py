"""Actors: private state, one mailbox, messages handled one at a time and in order.

An error in an ``ask`` goes back to the asker; an error in a ``tell`` is the supervisor's to
handle (restart with backoff, or escalate). Stopping is a message too, so a drained stop handles
everything sent before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import structlog

from actors.runtime.errors import ActorDeadError, AskTimeoutError
from actors.runtime.supervision import RestartPolicy, RestartWindow

if TYPE_CHECKING:
    from actors.runtime.clock import Clock, IdFactory
    from actors.runtime.system import ActorSystem

M = TypeVar("M")
log = structlog.get_logger("actors")


class Actor(Generic[M]):
    """Subclass and implement ``receive``. ``ctx`` is set before ``on_start`` runs."""

    ctx: ActorContext

    async def on_start(self) -> None:
        """Rebuild state here (for example from the event log): it also runs on restart."""

    async def receive(self, message: M) -> Any:
        raise NotImplementedError

    async def on_stop(self) -> None:
        """Release what the actor owns (processes, timers)."""

    def awaits_io(self) -> bool:
        """Whether the actor is waiting on something outside the system that will answer with a
        message (a child process's output), so it is not idle yet even with an empty mailbox.
        The test kit's ``run_until_idle`` waits for that too."""
        return False


@dataclass(slots=True)
class Timer:
    task: asyncio.Task[None]

    def cancel(self) -> None:
        self.task.cancel()


@dataclass(slots=True)
class ActorContext:
    name: str
    ref: ActorRef[Any]
    system: ActorSystem

    @property
    def clock(self) -> Clock:
        return self.system.clock

    @property
    def ids(self) -> IdFactory:
        return self.system.ids

    def schedule(self, delay: float, message: Any) -> Timer:
        """Tell ourselves ``message`` after ``delay`` seconds of the injected clock."""
        ref = self.ref

        async def fire() -> None:
            await self.system.clock.sleep(delay)
            ref.tell(message)

        return Timer(asyncio.create_task(fire(), name=f"timer:{self.name}"))


class _Stop:
    __slots__ = ()


_STOP = _Stop()
Envelope = tuple[Any, "asyncio.Future[Any] | None"]


class ActorRef(Generic[M]):
    """What others hold: ``tell``, ``ask``, ``stop``. Never the actor itself."""

    __slots__ = ("_cell",)

    def __init__(self, cell: ActorCell) -> None:
        self._cell = cell

    @property
    def name(self) -> str:
        return self._cell.name

    @property
    def alive(self) -> bool:
        return not self._cell.stopped

    def tell(self, message: M) -> None:
        self._cell.enqueue(message, None)

    async def ask(self, message: M, *, timeout: float | None = 10.0) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._cell.enqueue(message, future)
        if timeout is None:
            return await asyncio.shield(future)
        waiter: asyncio.Future[None] = loop.create_future()
        future.add_done_callback(lambda _: _release(waiter))
        timer = loop.call_later(timeout, _release, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
        if not future.done():
            raise AskTimeoutError(
                f"{self.name} did not answer {type(message).__name__} within {timeout}s"
            )
        return future.result()

    async def stop(self, *, drain: bool = True) -> None:
        await self._cell.stop(drain=drain)

    def __repr__(self) -> str:
        return f"<ActorRef {self.name}{'' if self.alive else ' (dead)'}>"


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class ActorCell:
    """The runtime side of one actor: mailbox, task, restarts."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], Actor[Any]],
        system: ActorSystem,
        policy: RestartPolicy,
    ) -> None:
        self.name = name
        self.factory = factory
        self.system = system
        self.window = RestartWindow(policy)
        self.mailbox: asyncio.Queue[Envelope] = asyncio.Queue()
        self.ref: ActorRef[Any] = ActorRef(self)
        self.busy = False
        self.backing_off = False
        self.stopped = False
        self.last_activity = system.clock.monotonic()
        self.actor: Actor[Any] | None = None
        self.counted_idle = False
        system.busy_changed(1)
        self.task: asyncio.Task[None] = asyncio.create_task(self._run(), name=f"actor:{name}")
        self.busy = True  # until on_start has run

    def refresh(self) -> None:
        """Keep the system's count of busy actors current: O(1) per message, not a scan."""
        idle = self.idle or self.stopped
        if idle != self.counted_idle:
            self.counted_idle = idle
            self.system.busy_changed(-1 if idle else 1)

    @property
    def idle(self) -> bool:
        """Nothing to do until a message arrives or the clock moves (a restart backoff)."""
        return self.backing_off or (not self.busy and self.mailbox.empty())

    def enqueue(self, message: Any, reply: asyncio.Future[Any] | None) -> None:
        if self.stopped:
            if reply is not None:
                reply.set_exception(ActorDeadError(f"{self.name} is stopped"))
                return
            log.warning("actor.dead_letter", actor=self.name, message=type(message).__name__)
            return
        self.last_activity = self.system.clock.monotonic()
        self.mailbox.put_nowait((message, reply))
        self.refresh()

    async def stop(self, *, drain: bool) -> None:
        if self.stopped or self.task.done():
            return
        if drain:
            self.mailbox.put_nowait((_STOP, None))
            self.refresh()
            await asyncio.shield(self.task)
        else:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _start_instance(self) -> None:
        self.actor = self.factory()
        self.actor.ctx = ActorContext(self.name, self.ref, self.system)
        await self.actor.on_start()

    async def _run(self) -> None:
        try:
            if not await self._guarded(self._start_instance):
                return
            self.busy = False
            self.refresh()
            while True:
                message, reply = await self.mailbox.get()
                if message is _STOP:
                    return
                self.busy = True
                try:
                    result = await self.actor.receive(message)  # type: ignore[union-attr]
                except Exception as exc:
                    if reply is not None:
                        if not reply.done():
                            reply.set_exception(exc)
                    elif not await self._supervise(exc):
                        return
                else:
                    if reply is not None and not reply.done():
                        reply.set_result(result)
                finally:
                    self.busy = False
                    self.last_activity = self.system.clock.monotonic()
                    self.refresh()
        finally:
            await self._finish()

    async def _guarded(self, step: Callable[[], Any]) -> bool:
        """Run a lifecycle step; a failure there is supervised like a failed tell."""
        while True:
            try:
                await step()
                return True
            except Exception as exc:
                if not await self._supervise(exc, restart=False):
                    return False

    async def _supervise(self, exc: Exception, *, restart: bool = True) -> bool:
        """Restart after backoff (True) or escalate (False)."""
        backoff = self.window.record(self.system.clock.monotonic())
        restarts = len(self.window.failures)
        await self.system.report_failure(self.name, exc, escalated=backoff is None)
        if backoff is None:
            return False
        log.warning("actor.restarting", actor=self.name, backoff_s=backoff, restarts=restarts)
        self.backing_off = True
        self.refresh()
        try:
            await self.system.clock.sleep(backoff)
        finally:
            self.backing_off = False
        if restart:
            if self.actor is not None:
                with contextlib.suppress(Exception):
                    await self.actor.on_stop()
            return await self._guarded(self._start_instance)
        return True

    async def _finish(self) -> None:
        self.stopped = True
        if self.actor is not None:
            try:
                await self.actor.on_stop()
            except Exception:
                log.exception("actor.on_stop_failed", actor=self.name)
        while not self.mailbox.empty():
            _, reply = self.mailbox.get_nowait()
            if reply is not None and not reply.done():
                reply.set_exception(ActorDeadError(f"{self.name} stopped before answering"))
        self.busy = False
        self.system.forget(self)
