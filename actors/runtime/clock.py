"""Time and ids as injected seams, so actor tests never wait on the wall clock."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

#: Produces unique ids (turn ids, request ids). Tests use SequentialIds.
IdFactory = Callable[[], str]


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall time, UTC: what events record."""
        ...

    def monotonic(self) -> float:
        """Seconds for durations and timeouts."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def uuid_ids() -> str:
    return uuid.uuid4().hex
