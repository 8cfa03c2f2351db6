"""The event store contract shared by the recorders (SQLite, PostgreSQL) and the in-memory twin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from eventstore.errors import ConcurrencyError, EventStoreError, StoreClosedError
from eventstore.fencing import Fence
from eventstore.records import Event, NewEvent

Now = Callable[[], datetime]

#: ``expected_version`` meaning "the stream must not exist yet".
NO_STREAM = 0


def utcnow() -> datetime:
    return datetime.now(UTC)


class EventStore(Protocol):
    """Append-only log of streams. Appends are durable when they return."""

    async def append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None = None,
    ) -> list[Event]: ...

    async def read_stream(
        self,
        stream: str,
        *,
        after_version: int = 0,
        exclude_types: Collection[str] = (),
    ) -> list[Event]: ...

    def read_all(
        self,
        *,
        after_seq: int = 0,
        stream_prefix: str | None = None,
        types: Collection[str] | None = None,
    ) -> AsyncIterator[Event]: ...

    def tail(self, *, after_seq: int = 0) -> AsyncIterator[Event]: ...

    async def stream_version(self, stream: str) -> int: ...

    async def last_seq(self) -> int: ...

    async def close(self) -> None: ...


class WrappedStore:
    """An ``EventStore`` around another that changes only how events are appended (redacted,
    fenced): a subclass overrides ``append``; reads and ``close`` go straight through."""

    def __init__(self, inner: EventStore) -> None:
        self.inner = inner

    async def append(
        self, stream: str, events: Sequence[NewEvent], *, expected_version: int | None = None
    ) -> list[Event]:
        return await self.inner.append(stream, events, expected_version=expected_version)

    async def read_stream(
        self, stream: str, *, after_version: int = 0, exclude_types: Collection[str] = ()
    ) -> list[Event]:
        return await self.inner.read_stream(
            stream, after_version=after_version, exclude_types=exclude_types
        )

    def read_all(
        self,
        *,
        after_seq: int = 0,
        stream_prefix: str | None = None,
        types: Collection[str] | None = None,
    ) -> AsyncIterator[Event]:
        return self.inner.read_all(after_seq=after_seq, stream_prefix=stream_prefix, types=types)

    def tail(self, *, after_seq: int = 0) -> AsyncIterator[Event]:
        return self.inner.tail(after_seq=after_seq)

    async def stream_version(self, stream: str) -> int:
        return await self.inner.stream_version(stream)

    async def last_seq(self) -> int:
        return await self.inner.last_seq()

    async def close(self) -> None:
        await self.inner.close()


@dataclass(slots=True)
class PendingAppend:
    """One caller's append waiting for the next group commit."""

    stream: str
    events: Sequence[NewEvent]
    expected_version: int | None
    #: The lease it must be made under (PostgreSQL only: ``eventstore.fencing``).
    fence: Fence | None = None


def assign(
    pending: Sequence[PendingAppend],
    versions: dict[str, int],
    next_seq: int,
    at: datetime,
) -> tuple[list[list[Event] | ConcurrencyError], int]:
    """Give every pending append its versions and sequence numbers, in arrival order.

    ``versions`` is updated in place. A conflicting append gets a ConcurrencyError and takes no
    numbers, so the rest of the batch still commits.
    """
    outcomes: list[list[Event] | ConcurrencyError] = []
    for item in pending:
        current = versions.get(item.stream, 0)
        if item.expected_version is not None and item.expected_version != current:
            outcomes.append(ConcurrencyError(item.stream, item.expected_version, current))
            continue
        records = []
        for new in item.events:
            current += 1
            records.append(
                Event(
                    seq=next_seq,
                    stream=item.stream,
                    version=current,
                    type=new.type,
                    schema_version=new.schema_version,
                    data=new.data,
                    at=at,
                    correlation_id=new.correlation_id,
                )
            )
            next_seq += 1
        versions[item.stream] = current
        outcomes.append(records)
    return outcomes, next_seq


Batch = list[tuple[PendingAppend, "asyncio.Future[list[Event]]"]]


class GroupCommitter:
    """Group commit for the database recorders, by one writer task.

    Callers ``await append(...)``; their appends queue up while a commit is in flight and the
    next commit takes all of them. Subclasses write one batch in one transaction in ``_commit``
    and release its callers with :func:`settle` (or :func:`fail_all`).
    """

    def __init__(self) -> None:
        self._queue: Batch = []
        self._wakeup = asyncio.Event()
        self._closed = False
        self._writer_task: asyncio.Task[None] | None = None
        #: Commits so far, for benchmarks and the latency profile.
        self.commits = 0

    def _start_writer(self) -> None:
        self._writer_task = asyncio.create_task(self._write_loop(), name="eventstore-writer")

    async def append(
        self, stream: str, events: Sequence[NewEvent], *, expected_version: int | None = None
    ) -> list[Event]:
        return await self._enqueue(PendingAppend(stream, events, expected_version))

    async def _enqueue(self, pending: PendingAppend) -> list[Event]:
        if self._closed:
            raise StoreClosedError("event store is closed")
        future: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        self._queue.append((pending, future))
        self._wakeup.set()
        return await future

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch, self._queue = self._queue, []
                await self._commit(batch)
            if self._closed:
                return

    async def _commit(self, batch: Batch) -> None:
        raise NotImplementedError

    async def _stop_writer(self) -> None:
        """Refuse new appends; the writer commits what is queued or in flight, then ends.

        The writer's connection is never used by two commits at once, not even by close().
        """
        self._closed = True
        task = self._writer_task
        if task is not None and not task.done():
            self._wakeup.set()
            await task
        while self._queue:  # no writer task (a store opened read-only), or it died
            batch, self._queue = self._queue, []
            await self._commit(batch)


def settle(batch: Batch, outcomes: Sequence[list[Event] | EventStoreError]) -> None:
    """Release each caller of a committed batch with its events, its conflict or its refusal."""
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if isinstance(outcome, EventStoreError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def fail_all(batch: Batch, exc: BaseException) -> None:
    """Nothing of the batch was committed: every caller gets the error."""
    for _, future in batch:
        if not future.done():
            future.set_exception(exc if isinstance(exc, Exception) else StoreClosedError())
