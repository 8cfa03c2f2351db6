"""The SQLite recorder: one file, WAL, group commit by a single writer task.

Callers ``await append(...)``; their appends queue up while a commit is in flight and the next
commit takes all of them in one transaction. Each caller is released when its batch is on disk
(``synchronous=FULL``), so "appended" means "survives kill -9".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from eventstore.codec import decode, encode
from eventstore.errors import ConcurrencyError, NotAnEventLogError
from eventstore.records import Event
from eventstore.schema import check_file, migrate
from eventstore.store import Batch, GroupCommitter, Now, assign, fail_all, settle, utcnow
from eventstore.upcasting import Upcasters, upcast

_INSERT = (
    "INSERT INTO events (seq, stream, version, type, schema_version, data, at, correlation_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_COLUMNS = "seq, stream, version, type, schema_version, data, at, correlation_id"
_READ_BATCH = 10_000
#: Per-connection settings. Durability comes from WAL + synchronous=FULL (every COMMIT fsyncs
#: the WAL before it returns); the rest only trade memory/disk for speed. A larger autocheckpoint
#: (4000 pages, ~16 MB of WAL) means fewer checkpoint stalls inside commits; the size limit
#: truncates the WAL back after a checkpoint so it does not stay at its high-water mark.
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA wal_autocheckpoint=4000",
    "PRAGMA journal_size_limit=67108864",
    "PRAGMA temp_store=MEMORY",
)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a dropped future's outcome as seen, so asyncio does not log it."""
    if not future.cancelled():
        future.exception()


class SqliteEventStore(GroupCommitter):
    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        *,
        now: Now,
        upcasters: Upcasters,
        poll_interval: float,
    ) -> None:
        super().__init__()
        self.path = path
        self._writer_conn = writer
        self._reader = reader
        self._now = now
        self._upcasters = upcasters
        self._poll_interval = poll_interval
        self._committed = asyncio.Condition()
        self._versions: dict[str, int] = {}
        self._next_seq = 1

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        now: Now = utcnow,
        upcasters: Upcasters | None = None,
        poll_interval: float = 0.5,
    ) -> SqliteEventStore:
        """Open (creating owner-only) and migrate; refuse files that are not ours or too new."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        check_file(path)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))

        def _migrate() -> None:
            conn = sqlite3.connect(path, isolation_level=None)
            try:
                migrate(conn, path)
            except sqlite3.DatabaseError as exc:
                raise NotAnEventLogError(f"{path} cannot be read as an event log: {exc}") from exc
            finally:
                conn.close()

        await asyncio.to_thread(_migrate)
        writer = await aiosqlite.connect(path)
        reader = await aiosqlite.connect(path)
        for conn in (writer, reader):
            for pragma in PRAGMAS:
                await conn.execute(pragma)
        store = cls(
            path, writer, reader, now=now, upcasters=upcasters or {}, poll_interval=poll_interval
        )
        store._next_seq = await store.last_seq() + 1
        store._start_writer()
        return store

    # -- writing -----------------------------------------------------------------------------

    async def _commit(self, batch: Batch) -> None:
        pending = [item for item, _ in batch]
        try:
            await self._load_versions({p.stream for p in pending})
            versions = dict(self._versions)
            at = self._now()
            outcomes, next_seq = assign(pending, versions, self._next_seq, at)
            at_text = at.isoformat()  # one timestamp per commit
            rows = [
                (
                    e.seq,
                    e.stream,
                    e.version,
                    e.type,
                    e.schema_version,
                    encode(e.data),
                    at_text,
                    e.correlation_id,
                )
                for outcome in outcomes
                if not isinstance(outcome, ConcurrencyError)
                for e in outcome
            ]
            if rows:
                await self._write_rows(rows)
                self.commits += 1
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await self._writer_conn.rollback()
            self._versions.clear()
            self._next_seq = await self.last_seq() + 1
            fail_all(batch, exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._versions = versions
        self._next_seq = next_seq
        settle(batch, outcomes)
        async with self._committed:
            self._committed.notify_all()

    async def _write_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert and commit one batch: one transaction, on disk when the COMMIT returns.

        Two calls on aiosqlite's public API, so two hops to the connection's thread per batch.
        Doing both in one hop needs aiosqlite's private ``_execute``; measured against this
        (bench/PROFILE.md, "Group commit"), the hop it saves made no difference on this
        machine, idle or with both cores loaded, so nothing here depends on aiosqlite's
        internals. A failure is rolled back by ``_commit``.
        """
        await self._writer_conn.executemany(_INSERT, rows)
        await self._writer_conn.commit()

    async def _load_versions(self, streams: set[str]) -> None:
        unknown = [s for s in streams if s not in self._versions]
        for start in range(0, len(unknown), 500):
            chunk = unknown[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found: dict[str, int] = dict(
                await self._writer_conn.execute_fetchall(  # type: ignore[arg-type]
                    "SELECT stream, MAX(version) FROM events "
                    f"WHERE stream IN ({marks}) GROUP BY stream",
                    chunk,
                )
            )
            for stream in chunk:
                self._versions[stream] = found.get(stream, 0)

    # -- reading -----------------------------------------------------------------------------

    def _decode(self, rows: Sequence[tuple[Any, ...]]) -> Iterator[Event]:
        """Decode rows lazily; ``at`` repeats within a commit, so parse it once per run."""
        upcasters = self._upcasters
        parse_at = datetime.fromisoformat
        loads = decode
        last_text: str | None = None
        last_at = datetime.min  # replaced by the first row: ``at`` is never None
        for seq, stream, version, type_, schema_version, data, at, correlation_id in rows:
            payload = loads(data)
            if upcasters:
                schema_version, payload = upcast(upcasters, type_, schema_version, payload)
            if at != last_text:
                last_text, last_at = at, parse_at(at)
            yield Event(
                seq, stream, version, type_, schema_version, payload, last_at, correlation_id
            )

    async def read_stream(
        self,
        stream: str,
        *,
        after_version: int = 0,
        exclude_types: Collection[str] = (),
    ) -> list[Event]:
        """A stream in version order; ``exclude_types`` are skipped in SQL, never decoded."""
        where = "stream = ? AND version > ?"
        params: list[Any] = [stream, after_version]
        if exclude_types:
            where += f" AND type NOT IN ({','.join('?' * len(exclude_types))})"
            params += list(exclude_types)
        rows = await self._reader.execute_fetchall(
            f"SELECT {_COLUMNS} FROM events WHERE {where} ORDER BY version", params
        )
        return list(self._decode(rows))  # type: ignore[arg-type]

    async def read_all(
        self,
        *,
        after_seq: int = 0,
        stream_prefix: str | None = None,
        types: Collection[str] | None = None,
    ) -> AsyncIterator[Event]:
        """Every event after ``after_seq`` in global order, read in batches (fine for 1M).

        The next batch is fetched on the reader's thread while this one is being consumed.
        ``types`` narrows to a few event types through the type index (catalog rebuilds).
        """
        where = "seq > ?"
        params: list[Any] = [after_seq]
        if stream_prefix is not None:
            where += " AND stream >= ? AND stream < ?"
            params += [stream_prefix, stream_prefix + "\U0010ffff"]
        if types is not None:
            where += f" AND type IN ({','.join('?' * len(types))})"
            params += list(types)
        sql = f"SELECT {_COLUMNS} FROM events WHERE {where} ORDER BY seq LIMIT {_READ_BATCH}"
        fetch = self._reader.execute_fetchall
        following: asyncio.Future[Any] | None = asyncio.ensure_future(fetch(sql, params))
        try:
            while following is not None:
                rows = await following
                following = None
                if len(rows) == _READ_BATCH:
                    params = [rows[-1][0], *params[1:]]
                    following = asyncio.ensure_future(fetch(sql, params))
                for event in self._decode(rows):
                    yield event
        finally:
            if following is not None:  # the caller stopped early: drop the prefetch
                following.cancel()
                following.add_done_callback(_retrieve)

    async def tail(self, *, after_seq: int = 0) -> AsyncIterator[Event]:
        """Catch up, then follow new commits (ours at once, other processes' by polling)."""
        seen = after_seq
        while not self._closed:
            async for event in self.read_all(after_seq=seen):
                seen = event.seq
                yield event
            async with self._committed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._committed.wait(), self._poll_interval)

    async def stream_version(self, stream: str) -> int:
        async with self._reader.execute(
            "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?", (stream,)
        ) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else 0

    async def last_seq(self) -> int:
        async with self._reader.execute("SELECT COALESCE(MAX(seq), 0) FROM events") as cursor:
            row = await cursor.fetchone()
        return row[0] if row else 0

    async def close(self) -> None:
        """Commit what is queued, then close; later appends fail with StoreClosedError."""
        if self._closed:
            return
        await self._stop_writer()
        async with self._committed:
            self._committed.notify_all()
        await self._writer_conn.close()
        await self._reader.close()
