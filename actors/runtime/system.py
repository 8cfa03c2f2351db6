"""The actor system: spawns actors, owns the injected clock and ids, tracks idleness."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from actors.runtime.actor import Actor, ActorCell, ActorRef
from actors.runtime.clock import Clock, IdFactory, SystemClock, uuid_ids
from actors.runtime.supervision import RestartPolicy

#: Called on every supervised failure, e.g. to append it to the event log.
FailureHook = Callable[[str, BaseException, bool], Awaitable[None]]
log = structlog.get_logger("actors")


class ActorSystem:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        ids: IdFactory = uuid_ids,
        on_failure: FailureHook | None = None,
        policy: RestartPolicy | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.ids = ids
        self.on_failure = on_failure
        self.policy = policy or RestartPolicy()
        self.cells: dict[str, ActorCell] = {}
        self.idle_event = asyncio.Event()
        self.idle_event.set()  # no actors yet: idle
        self.busy_cells = 0
        self.escalations: list[tuple[str, BaseException]] = []

    def spawn(
        self,
        factory: Callable[[], Actor[Any]],
        name: str,
        *,
        policy: RestartPolicy | None = None,
    ) -> ActorRef[Any]:
        if name in self.cells:
            raise ValueError(f"an actor named {name!r} is already running")
        cell = ActorCell(name, factory, self, policy or self.policy)
        self.cells[name] = cell
        return cell.ref

    def get(self, name: str) -> ActorRef[Any] | None:
        cell = self.cells.get(name)
        return cell.ref if cell else None

    def forget(self, cell: ActorCell) -> None:
        if self.cells.get(cell.name) is cell:
            del self.cells[cell.name]
        cell.refresh()

    def busy_changed(self, delta: int) -> None:
        self.busy_cells += delta
        if self.busy_cells == 0:
            self.idle_event.set()
        else:
            self.idle_event.clear()

    @property
    def idle(self) -> bool:
        return self.busy_cells == 0

    async def report_failure(self, name: str, exc: BaseException, *, escalated: bool) -> None:
        log.error(
            "actor.escalated" if escalated else "actor.failed",
            actor=name,
            error=f"{type(exc).__name__}: {exc}",
        )
        if escalated:
            self.escalations.append((name, exc))
        if self.on_failure is not None:
            try:
                await self.on_failure(name, exc, escalated)
            except Exception:
                log.exception("actor.failure_hook_failed", actor=name)

    async def stop_all(self, *, drain: bool = True, timeout: float = 10.0) -> None:
        cells = list(self.cells.values())
        if not cells:
            return
        await asyncio.wait(
            [asyncio.create_task(c.stop(drain=drain)) for c in cells], timeout=timeout
        )
        for cell in cells:
            if not cell.task.done():
                await cell.stop(drain=False)
