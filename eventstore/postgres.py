"""The PostgreSQL recorder: the same log as SQLite's, shared by several processes.

**Global order a tailing reader can never skip.** A writer numbers its events while holding the
row lock of the one-row ``event_counter`` table and keeps it until its transaction commits. So
transactions commit one at a time in sequence order: the one that will hold seqs 11..20 can only
read the counter once the one holding 1..10 has committed, and PostgreSQL releases a
transaction's locks only after its commit is visible to new snapshots. Any snapshot that shows
seq 20 therefore shows 1..19 too, and a rolled-back transaction gives its numbers back, so seqs
stay dense. (A ``SEQUENCE`` would let writers overlap, but then a later number can become
visible before an earlier one, rollbacks leave holes, and every reader would have to hold back
behind the oldest transaction still in flight.) The price is that writers, across processes,
take turns for the length of one transaction; group commit keeps those few and full: one
transaction carries every append that queued while the previous one was in flight.

**Optimistic concurrency across processes.** Expected versions are checked under that same
lock, so the check is exact even with other processes writing. Each process caches stream
versions but trusts the cache only while the counter still holds the number it last wrote
itself; if anyone else moved it, the cache is dropped and versions are read again.
``UNIQUE (stream, version)`` stays as the last guard. The version query is a statement of its
own *after* the lock is taken: under READ COMMITTED a statement sees what was committed when it
started, and a statement that waited for the lock would read versions from before the wait.

**Fencing.** An append may carry a lease it must be made under (``fence=``); the lease is
checked in the batch's transaction, under the counter lock, and a stale one refuses that append
alone with ``FencedError`` (see :mod:`eventstore.fencing`).

**Tailing.** Every commit ``NOTIFY``s its last seq; notifications are delivered at commit, in
commit order. ``tail`` waits for them on a ``LISTEN`` connection; it polls only as a safety net
(every ``poll_interval`` seconds), e.g. while that connection is being re-established.

Appends are durable when they return as far as the server's settings make them (the defaults,
``fsync=on`` and ``synchronous_commit=on``, flush the WAL before COMMIT returns). If the
connection breaks during COMMIT the caller gets an error, yet the batch may have been written:
PostgreSQL cannot say which over a dead connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from eventstore.codec import decode, encode
from eventstore.dburl import redact
from eventstore.errors import (
    EventStoreError,
    FencedError,
    StoreUnavailableError,
)
from eventstore.fencing import Fence
from eventstore.pgleases import held
from eventstore.pgschema import CHANNEL, SCHEMA, migrate
from eventstore.records import Event, NewEvent
from eventstore.store import (
    Batch,
    GroupCommitter,
    Now,
    PendingAppend,
    assign,
    fail_all,
    settle,
    utcnow,
)
from eventstore.upcasting import Upcasters, upcast

_COLUMNS = ("seq", "stream", "version", "type", "schema_version", "data", "at", "correlation_id")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM {SCHEMA}.events"
_LOCK_COUNTER = f"SELECT last_seq FROM {SCHEMA}.event_counter FOR UPDATE"
_VERSIONS = (
    f"SELECT s, (SELECT max(version) FROM {SCHEMA}.events WHERE stream = s) "
    "FROM unnest($1::text[]) AS s"
)
#: One statement per batch: the rows (one array per column, one time for the commit), the
#: counter, and the notification that COMMIT will deliver.
_INSERT = f"""
WITH added AS (
    INSERT INTO {SCHEMA}.events ({", ".join(_COLUMNS)})
    SELECT seq, stream, version, type, schema_version, data, $7, correlation_id
    FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::integer[],
                $6::json[], $8::text[])
        AS t (seq, stream, version, type, schema_version, data, correlation_id)
), counted AS (
    UPDATE {SCHEMA}.event_counter SET last_seq = $9::bigint
)
SELECT pg_notify('{CHANNEL}', $9::bigint::text)
"""
_READ_BATCH = 10_000
#: Failures of the database or the connection to it (not of our own code).
_DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)


def _aware(at: datetime) -> datetime:
    """PostgreSQL would read a naive time as the server process's local time: it means UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class PostgresEventStore(GroupCommitter):
    def __init__(
        self,
        url: str,
        writer: asyncpg.Connection,
        readers: asyncpg.Pool,
        *,
        now: Now,
        upcasters: Upcasters,
        poll_interval: float,
    ) -> None:
        super().__init__()
        self._url = url
        self._writer_conn = writer
        self._readers = readers
        self._listener: asyncpg.Connection | None = None
        self._now = now
        self._upcasters = upcasters
        self._poll_interval = poll_interval
        self._versions: dict[str, int] = {}
        #: The counter as this process last left it; ``None``: trust no cached version.
        self._known_last: int | None = None
        #: Set (and replaced) at every commit of any process: what waiting tails wait for.
        self._news = asyncio.Event()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        now: Now = utcnow,
        upcasters: Upcasters | None = None,
        poll_interval: float = 5.0,
        readers: int = 4,
    ) -> PostgresEventStore:
        """Connect, migrate (refusing a newer schema) and start the writer."""
        where = redact(url, url)
        writer = await _connect(url)
        try:
            await migrate(writer, where)
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=readers, server_settings=_SERVER_SETTINGS
            )
        except _DB_ERRORS as exc:
            await writer.close()
            raise _unavailable(exc, url) from None
        except BaseException:
            await writer.close()
            raise
        store = cls(
            url, writer, pool, now=now, upcasters=upcasters or {}, poll_interval=poll_interval
        )
        store._start_writer()
        return store

    # -- writing -----------------------------------------------------------------------------

    async def append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None = None,
        fence: Fence | None = None,
    ) -> list[Event]:
        """Append durably; with ``fence``, only while that lease holds (else ``FencedError``)."""
        return await self._enqueue(PendingAppend(stream, events, expected_version, fence))

    async def _commit(self, batch: Batch) -> None:
        try:
            outcomes, last = await self._write([item for item, _ in batch])
        except BaseException as exc:
            self._known_last = None
            if not isinstance(exc, asyncpg.PostgresError):  # the connection itself may be bad:
                self._writer_conn.terminate()  # the next commit opens a new one
            failure = _unavailable(exc, self._url) if isinstance(exc, _DB_ERRORS) else exc
            fail_all(batch, failure)
            if not isinstance(exc, Exception):
                raise
            return
        if last is not None:
            self.commits += 1
            self._announce()
        settle(batch, outcomes)

    async def _write(
        self, pending: list[PendingAppend]
    ) -> tuple[list[list[Event] | EventStoreError], int | None]:
        """One transaction: lock the counter, check leases and versions, insert; the last seq
        written."""
        if self._writer_conn.is_closed():
            self._writer_conn = await _connect(self._url)
        conn = self._writer_conn
        async with conn.transaction():
            last: int = await conn.fetchval(_LOCK_COUNTER)
            if last != self._known_last:
                self._versions.clear()  # someone else wrote: what we knew may be stale
            unknown = list({p.stream for p in pending} - self._versions.keys())
            if unknown:
                for stream, version in await conn.fetch(_VERSIONS, unknown):
                    self._versions[stream] = version or 0
            versions = dict(self._versions)
            at = _aware(self._now())
            refused = await _refused(conn, pending)
            accepted = [p for p, no in zip(pending, refused, strict=True) if no is None]
            assigned, next_seq = assign(accepted, versions, last + 1, at)
            numbered = iter(assigned)
            outcomes: list[list[Event] | EventStoreError] = [
                no if no is not None else next(numbered) for no in refused
            ]
            events = [e for outcome in assigned if isinstance(outcome, list) for e in outcome]
            if events:
                await conn.execute(
                    _INSERT,
                    [e.seq for e in events],
                    [e.stream for e in events],
                    [e.version for e in events],
                    [e.type for e in events],
                    [e.schema_version for e in events],
                    [encode(e.data) for e in events],
                    at,
                    [e.correlation_id for e in events],
                    next_seq - 1,
                )
        self._versions = versions
        self._known_last = next_seq - 1
        return outcomes, (next_seq - 1 if events else None)

    # -- reading -----------------------------------------------------------------------------

    def _decode(self, rows: Sequence[asyncpg.Record]) -> Iterator[Event]:
        upcasters = self._upcasters
        for seq, stream, version, type_, schema_version, data, at, correlation_id in rows:
            payload = decode(data)
            if upcasters:
                schema_version, payload = upcast(upcasters, type_, schema_version, payload)
            yield Event(seq, stream, version, type_, schema_version, payload, at, correlation_id)

    async def read_stream(
        self,
        stream: str,
        *,
        after_version: int = 0,
        exclude_types: Collection[str] = (),
    ) -> list[Event]:
        """A stream in version order; ``exclude_types`` are skipped in SQL, never decoded."""
        sql = f"{_SELECT} WHERE stream = $1 AND version > $2"
        params: list[Any] = [stream, after_version]
        if exclude_types:
            sql += " AND type <> ALL($3::text[])"
            params.append(list(exclude_types))
        rows = await self._fetch(f"{sql} ORDER BY version", *params)
        return list(self._decode(rows))

    async def read_all(
        self,
        *,
        after_seq: int = 0,
        stream_prefix: str | None = None,
        types: Collection[str] | None = None,
    ) -> AsyncIterator[Event]:
        """Every event after ``after_seq`` in global order, in batches, the next one prefetched.

        Each batch is its own query: thanks to the commit order a later batch can only add
        events after the last one seen, never one before it.
        """
        sql = f"{_SELECT} WHERE seq > $1"
        params: list[Any] = [after_seq]
        if stream_prefix is not None:
            sql += " AND stream >= $2 AND stream < $3"
            params += [stream_prefix, stream_prefix + "\U0010ffff"]
        if types is not None:
            sql += f" AND type = ANY(${len(params) + 1}::text[])"
            params.append(list(types))
        sql += f" ORDER BY seq LIMIT {_READ_BATCH}"
        following: asyncio.Future[list[asyncpg.Record]] | None = asyncio.ensure_future(
            self._fetch(sql, *params)
        )
        try:
            while following is not None:
                rows = await following
                following = None
                if len(rows) == _READ_BATCH:
                    params[0] = rows[-1][0]
                    following = asyncio.ensure_future(self._fetch(sql, *params))
                for event in self._decode(rows):
                    yield event
        finally:
            if following is not None:  # the caller stopped early: drop the prefetch
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError, *_DB_ERRORS):
                    await following

    async def tail(
        self, *, after_seq: int = 0, types: Collection[str] | None = None
    ) -> AsyncIterator[Event]:
        """Catch up, then follow new commits of every process, woken by their notifications;
        ``types``: only events of those types (the rest is skipped in SQL)."""
        seen = after_seq
        while not self._closed:
            await self._listen()
            news = self._news  # taken before reading: news during the read is not missed
            caught_up = True
            async for event in self.read_all(after_seq=seen, types=types):
                seen, caught_up = event.seq, False
                yield event
            if caught_up:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(news.wait(), self._poll_interval)

    async def stream_version(self, stream: str) -> int:
        rows = await self._fetch(
            f"SELECT COALESCE(max(version), 0) FROM {SCHEMA}.events WHERE stream = $1", stream
        )
        return int(rows[0][0])

    async def last_seq(self) -> int:
        rows = await self._fetch(f"SELECT COALESCE(max(seq), 0) FROM {SCHEMA}.events")
        return int(rows[0][0])

    async def _fetch(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        try:
            return await self._readers.fetch(sql, *params)
        except _DB_ERRORS as exc:
            raise _unavailable(exc, self._url) from None

    # -- notifications -----------------------------------------------------------------------

    def _announce(self, *_: object) -> None:
        """Wake every waiting tail: a commit is visible (ours, another process's), or we closed.

        Also the callback of the LISTEN connection, for a notification (which seq it names does
        not matter: tails read whatever follows what they have seen) and for its loss.
        """
        self._news.set()
        self._news = asyncio.Event()

    async def _listen(self) -> None:
        """(Re)open the LISTEN connection; while it cannot be opened, tails poll."""
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            listener = await _connect(self._url)
        except StoreUnavailableError:
            return
        # A lost connection wakes the tails too: they read, then listen again at once.
        listener.add_termination_listener(self._announce)
        try:
            await listener.add_listener(CHANNEL, self._announce)
        except _DB_ERRORS:
            listener.terminate()
            return
        if self._closed:
            listener.terminate()
        else:
            self._listener = listener

    async def close(self) -> None:
        """Commit what is queued, then close; later appends fail with StoreClosedError."""
        if self._closed:
            return
        await self._stop_writer()
        self._announce()  # tails see ``_closed`` and end
        if self._listener is not None:
            await self._listener.close()
        await self._writer_conn.close()
        await self._readers.close()


_SERVER_SETTINGS = {"application_name": "pocketcode"}


async def _refused(
    conn: asyncpg.Connection, pending: Sequence[PendingAppend]
) -> list[FencedError | None]:
    """Per append, its refusal if it carries a lease that no longer holds (else None)."""
    fences = {p.fence for p in pending if p.fence is not None}
    valid = await held(conn, fences) if fences else set()
    return [
        None
        if p.fence is None or p.fence in valid
        else FencedError(
            f"append to {p.stream!r} refused: the lease {p.fence.key} (token {p.fence.token}) "
            "is no longer held by this writer"
        )
        for p in pending
    ]


async def _connect(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(url, server_settings=_SERVER_SETTINGS)
    except (*_DB_ERRORS, ValueError) as exc:
        raise _unavailable(exc, url) from None


def _unavailable(exc: BaseException, url: str) -> StoreUnavailableError:
    """The error in words, with the password (should it appear anywhere) hidden."""
    detail = redact(str(exc) or type(exc).__name__, url)
    return StoreUnavailableError(f"the PostgreSQL event log at {redact(url, url)}: {detail}")


async def import_log(url: str, events: AsyncIterable[Event], expected: AsyncIterable[Event]) -> int:
    """Copy ``events`` into the (empty) log at ``url``, keeping their seqs and versions.

    One transaction holding the counter lock, so no writer can interleave: COPY, then read
    everything back and compare it with ``expected`` (the source read again) event by event.
    A non-empty log is refused before anything is copied; any difference rolls everything
    back, leaving the log empty. Returns how many events were copied.
    """
    where = redact(url, url)
    conn = await _connect(url)
    try:
        await migrate(conn, where)
        async with conn.transaction():
            await conn.fetchval(_LOCK_COUNTER)
            present = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events")
            if present:
                raise EventStoreError(
                    f"the PostgreSQL log at {where} is not empty (it holds {present:,} "
                    f"event{'s' if present != 1 else ''}): "
                    "migrate only copies into an empty log; point it at a new database"
                )
            await conn.copy_records_to_table(
                "events", schema_name=SCHEMA, columns=list(_COLUMNS), records=_rows(events)
            )
            count = await _verify(conn, expected)
            await conn.execute(
                f"UPDATE {SCHEMA}.event_counter "
                f"SET last_seq = (SELECT COALESCE(max(seq), 0) FROM {SCHEMA}.events)"
            )
        await conn.execute(f"ANALYZE {SCHEMA}.events")
    except _DB_ERRORS as exc:
        raise _unavailable(exc, url) from None
    finally:
        await conn.close()
    return count


async def _rows(events: AsyncIterable[Event]) -> AsyncIterator[tuple[Any, ...]]:
    async for e in events:
        yield (
            e.seq,
            e.stream,
            e.version,
            e.type,
            e.schema_version,
            encode(e.data),
            _aware(e.at),
            e.correlation_id,
        )


def _fields(e: Event) -> tuple[Any, ...]:
    """An event as the row it is stored as (in ``_COLUMNS`` order), its data decoded."""
    return (
        e.seq,
        e.stream,
        e.version,
        e.type,
        e.schema_version,
        e.data,
        _aware(e.at),
        e.correlation_id,
    )


async def _verify(conn: asyncpg.Connection, expected: AsyncIterable[Event]) -> int:
    """Read the copy back in seq order (same transaction) and compare it with ``expected``."""
    count = 0
    source = aiter(expected)
    async for row in conn.cursor(f"{_SELECT} ORDER BY seq", prefetch=_READ_BATCH):
        original = await anext(source, None)
        if original is None:
            raise EventStoreError(
                f"verification failed: seq {row[0]} was copied but is not in the source"
            )
        copied = (*row[:5], decode(row[5]), row[6], row[7])
        if copied != (wanted := _fields(original)):
            field = next(n for n, a, b in zip(_COLUMNS, copied, wanted, strict=True) if a != b)
            raise EventStoreError(
                f"verification failed at source seq {original.seq}: the copy's {field} differs"
            )
        count += 1
    if (missing := await anext(source, None)) is not None:
        raise EventStoreError(
            f"verification failed: seq {missing.seq} of the source was not copied"
        )
    return count
