"""Deterministic actor tests: a clock advanced by hand, sequential ids, run-until-idle."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from actors.runtime.actor import Actor
from actors.runtime.system import ActorSystem

#: What ``FakeClock.advance`` waits on before and after waking each sleeper.
Settle = Callable[[], Awaitable[None]]


class FakeClock:
    """Time stands still until ``advance``; sleepers wake in deadline order.

    ``attach`` a system and ``advance`` lets it finish what is pending (mailboxes, handlers)
    before time moves and after each sleeper wakes, rather than a fixed number of yields: a
    timer a handler sets is registered before the clock passes its deadline.
    """

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self._start = start
        self._t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._settle: Settle = _yields

    def attach(self, system: ActorSystem) -> None:
        """Settle ``system`` (its mailboxes; not its actors' outside I/O, which time passing
        may be meant to cut short) around every step of ``advance``."""
        self._settle = lambda: run_until_idle(system, io=False)

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._t)

    def monotonic(self) -> float:
        return self._t

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._t + seconds, next(self._order), future))
        await future

    @property
    def pending(self) -> int:
        return sum(1 for *_, f in self._sleepers if not f.done())

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline has come, in order."""
        await self._settle()  # timers set by what is still being handled register first
        target = self._t + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._t = max(self._t, deadline)
            if not future.done():
                future.set_result(None)
            await self._settle()
        self._t = target


class SequentialIds:
    def __init__(self, prefix: str = "id") -> None:
        self._prefix = prefix
        self._n = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}-{next(self._n)}"


async def _yields() -> None:
    """Without a system to settle: let freshly created tasks run up to their first wait."""
    for _ in range(5):
        await asyncio.sleep(0)


async def run_until_idle(system: ActorSystem, *, io: bool = True, timeout: float = 30) -> None:
    """Return once every mailbox is empty, no handler is running and (``io``) no actor awaits
    outside I/O that will answer with a message (``Actor.awaits_io``: a claude process writing
    a turn's output), and it stays so.

    Handlers awaiting real I/O (a SQLite commit) keep the system busy. A process's output has
    nothing to await on this loop until its pump reads it, so that wait polls the actors. The
    timeout is a safety net against a hung test (a claude that hangs on purpose needs
    ``io=False`` and the clock), not something a test relies on.
    """
    async with asyncio.timeout(timeout):
        while True:
            await system.idle_event.wait()
            await _yields()
            if not system.idle:
                continue
            if io and any(_awaits_io(cell.actor) for cell in list(system.cells.values())):
                await asyncio.sleep(0.002)
                continue
            return


def _awaits_io(actor: Actor[Any] | None) -> bool:
    return actor is not None and actor.awaits_io()
