"""Deterministic actor tests: a clock advanced by hand, sequential ids, run-until-idle."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta

from actors.runtime.system import ActorSystem


class FakeClock:
    """Time stands still until ``advance``; sleepers wake in deadline order."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self._start = start
        self._t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

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
        for _ in range(5):  # let freshly created timers register their sleeps first
            await asyncio.sleep(0)
        target = self._t + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._t = max(self._t, deadline)
            if not future.done():
                future.set_result(None)
            for _ in range(5):
                await asyncio.sleep(0)
        self._t = target


class SequentialIds:
    def __init__(self, prefix: str = "id") -> None:
        self._prefix = prefix
        self._n = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}-{next(self._n)}"


async def run_until_idle(system: ActorSystem, *, settle_rounds: int = 10) -> None:
    """Return once every mailbox is empty and no handler is running, and it stays so.

    Handlers awaiting real I/O (a SQLite commit) keep the system busy; the timeout below is a
    safety net against a hung test, not something a test relies on.
    """
    while True:
        await asyncio.wait_for(system.idle_event.wait(), timeout=30)
        for _ in range(settle_rounds):
            await asyncio.sleep(0)
        if system.idle:
            return
