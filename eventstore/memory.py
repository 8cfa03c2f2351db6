"""In-memory twin of the SQLite recorder, with the same rules, for fast domain tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Sequence
from functools import partial

from eventstore.errors import ConcurrencyError, StoreClosedError
from eventstore.records import Event, NewEvent
from eventstore.store import Now, PendingAppend, assign, utcnow


class MemoryEventStore:
    def __init__(self, *, now: Now = utcnow) -> None:
        self._now = now
        self._events: list[Event] = []
        self._versions: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._closed = False

    async def append(
        self, stream: str, events: Sequence[NewEvent], *, expected_version: int | None = None
    ) -> list[Event]:
        if self._closed:
            raise StoreClosedError("event store is closed")
        [outcome], _ = assign(
            [PendingAppend(stream, events, expected_version)],
            self._versions,
            len(self._events) + 1,
            self._now(),
        )
        if isinstance(outcome, ConcurrencyError):
            raise outcome
        self._events.extend(outcome)
        async with self._changed:
            self._changed.notify_all()
        return outcome

    async def read_stream(
        self,
        stream: str,
        *,
        after_version: int = 0,
        exclude_types: Collection[str] = (),
    ) -> list[Event]:
        return [
            e
            for e in self._events
            if e.stream == stream and e.version > after_version and e.type not in exclude_types
        ]

    async def read_all(
        self,
        *,
        after_seq: int = 0,
        stream_prefix: str | None = None,
        types: Collection[str] | None = None,
    ) -> AsyncIterator[Event]:
        for event in self._events[after_seq:]:
            if stream_prefix is not None and not event.stream.startswith(stream_prefix):
                continue
            if types is None or event.type in types:
                yield event

    def _news_after(self, seen: int) -> bool:
        return len(self._events) > seen or self._closed

    async def tail(self, *, after_seq: int = 0) -> AsyncIterator[Event]:
        seen = after_seq
        while True:
            while seen < len(self._events):
                seen += 1
                yield self._events[seen - 1]
            async with self._changed:
                await self._changed.wait_for(partial(self._news_after, seen))
            if self._closed and seen >= len(self._events):
                return

    async def stream_version(self, stream: str) -> int:
        return self._versions.get(stream, 0)

    async def last_seq(self) -> int:
        return len(self._events)

    async def close(self) -> None:
        self._closed = True
        async with self._changed:
            self._changed.notify_all()
