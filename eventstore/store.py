"""The event store contract shared by the SQLite recorder and its in-memory twin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from eventstore.errors import ConcurrencyError
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


@dataclass(slots=True)
class PendingAppend:
    """One caller's append waiting for the next group commit."""

    stream: str
    events: Sequence[NewEvent]
    expected_version: int | None


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
