"""Contract tests run against every store (SQLite, PostgreSQL, memory), then what only the
database recorders (SQLite and PostgreSQL) or only SQLite can show."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from eventstore import (
    NO_STREAM,
    ConcurrencyError,
    Event,
    EventStore,
    MemoryEventStore,
    NewEvent,
    NotAnEventLogError,
    SchemaTooNewError,
    SqliteEventStore,
    StoreClosedError,
)
from eventstore.postgres import PostgresEventStore
from eventstore.schema import SCHEMA_VERSION
from tests.pg_server import PgServer

FIXED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

Recorder = SqliteEventStore | PostgresEventStore
#: Opens (or reopens) the same log; keyword arguments go to the recorder's ``open``.
Opener = Callable[..., Awaitable[Recorder]]


@pytest.fixture(params=["sqlite", "postgresql"])
async def open_recorder(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "sqlite":
        return partial(SqliteEventStore.open, tmp_path / "log.db")
    server: PgServer = request.getfixturevalue("postgres")
    return partial(PostgresEventStore.open, await server.create_database())


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    s: EventStore
    if request.param == "sqlite":
        s = await SqliteEventStore.open(tmp_path / "log.db", now=lambda: FIXED)
    elif request.param == "postgresql":
        server: PgServer = request.getfixturevalue("postgres")
        s = await PostgresEventStore.open(await server.create_database(), now=lambda: FIXED)
    else:
        s = MemoryEventStore(now=lambda: FIXED)
    yield s
    await s.close()


async def test_append_assigns_versions_and_global_sequence(store: EventStore) -> None:
    a = await store.append("s:a", [NewEvent("x.one", {"n": 1}), NewEvent("x.two", {"n": 2})])
    b = await store.append("s:b", [NewEvent("x.one", {"n": 3}, correlation_id="upd-7")])
    assert [(e.seq, e.stream, e.version) for e in a + b] == [
        (1, "s:a", 1),
        (2, "s:a", 2),
        (3, "s:b", 1),
    ]
    assert b[0].correlation_id == "upd-7"
    assert b[0].at == FIXED
    read = await store.read_stream("s:a")
    assert [(e.type, e.data) for e in read] == [("x.one", {"n": 1}), ("x.two", {"n": 2})]
    assert await store.read_stream("s:a", after_version=1) == read[1:]
    assert [e.seq for e in [e async for e in store.read_all(after_seq=1)]] == [2, 3]
    assert [e.stream async for e in store.read_all(stream_prefix="s:b")] == ["s:b"]
    assert [e.seq async for e in store.read_all(types={"x.two"})] == [2]
    assert [e.type for e in await store.read_stream("s:a", exclude_types={"x.one"})] == ["x.two"]
    assert await store.stream_version("s:a") == 2
    assert await store.last_seq() == 3


async def test_unicode_payload_round_trips(store: EventStore) -> None:
    data = {"text": "héllo \U0001f600 \u202e <b>&amp;", "nested": {"list": [1, None, True]}}
    await store.append("s:u", [NewEvent("t", data)])
    [event] = await store.read_stream("s:u")
    assert event.data == data


async def test_expected_version_conflict_is_refused_clearly(store: EventStore) -> None:
    await store.append("s:a", [NewEvent("t")], expected_version=NO_STREAM)
    with pytest.raises(ConcurrencyError, match="version 1, not the expected 0"):
        await store.append("s:a", [NewEvent("t")], expected_version=NO_STREAM)
    await store.append("s:a", [NewEvent("t")], expected_version=1)
    assert await store.stream_version("s:a") == 2


async def test_tail_yields_backlog_then_live_events(store: EventStore) -> None:
    await store.append("s:a", [NewEvent("old")])
    seen: list[str] = []
    got_two = asyncio.Event()

    async def follow() -> None:
        async for event in store.tail():
            seen.append(event.type)
            if len(seen) == 2:
                got_two.set()
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0)
    await store.append("s:a", [NewEvent("new")])
    await asyncio.wait_for(got_two.wait(), 5)
    await task
    assert seen == ["old", "new"]


async def test_hundred_concurrent_appenders_lose_and_duplicate_nothing(store: EventStore) -> None:
    async def appender(i: int) -> None:
        for j in range(20):
            await store.append(f"s:{i % 10}", [NewEvent("t", {"i": i, "j": j})])

    await asyncio.gather(*(appender(i) for i in range(100)))
    events = [e async for e in store.read_all()]
    assert len(events) == 2000
    assert [e.seq for e in events] == list(range(1, 2001))
    assert {(e.data["i"], e.data["j"]) for e in events} == {
        (i, j) for i in range(100) for j in range(20)
    }
    for s in range(10):
        versions = [e.version for e in events if e.stream == f"s:{s}"]
        assert versions == list(range(1, 201))


async def test_group_commit_takes_many_appends_per_transaction(open_recorder: Opener) -> None:
    store = await open_recorder()
    await asyncio.gather(*(store.append(f"s:{i}", [NewEvent("t")]) for i in range(100)))
    assert store.commits < 10, "100 concurrent appends should share a handful of commits"
    await store.close()


async def test_conflict_in_a_batch_does_not_fail_the_others(open_recorder: Opener) -> None:
    store = await open_recorder()
    results = await asyncio.gather(
        store.append("s:a", [NewEvent("t")], expected_version=NO_STREAM),
        store.append("s:a", [NewEvent("t")], expected_version=NO_STREAM),
        store.append("s:b", [NewEvent("t")]),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == ["list", "ConcurrencyError", "list"]
    assert await store.last_seq() == 2
    await store.close()


async def test_close_while_a_commit_is_in_flight_keeps_every_acknowledged_append(
    tmp_path: Path,
) -> None:
    """close() commits what is queued; it must wait for the writer's commit in flight, not
    run a second transaction beside it (they would take the same sequence numbers)."""
    store = await SqliteEventStore.open(tmp_path / "log.db")
    await store.append("s:0", [NewEvent("t")])

    def wave(start: int) -> list[asyncio.Task[list[Event]]]:
        return [
            asyncio.create_task(store.append(f"s:{i % 5}", [NewEvent("t", {"i": i})]))
            for i in range(start, start + 50)
        ]

    first = wave(0)
    await asyncio.sleep(0)  # the appenders queue up; the writer is woken after them
    assert len(store._queue) == 50
    await asyncio.sleep(0)
    assert not store._queue  # the writer took the first wave into a commit...
    second = wave(50)
    await asyncio.sleep(0)
    assert len(store._queue) == 50  # ...and the second waits for close() to commit it
    await store.close()
    results = await asyncio.gather(*first, *second, return_exceptions=True)
    acknowledged = [e.data["i"] for r in results if isinstance(r, list) for e in r]
    reopened = await SqliteEventStore.open(tmp_path / "log.db")
    stored = [e.data["i"] async for e in reopened.read_all(after_seq=1)]
    await reopened.close()
    assert sorted(acknowledged) == sorted(stored) == list(range(100))


async def test_append_after_close_is_refused(open_recorder: Opener) -> None:
    store = await open_recorder()
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.append("s", [NewEvent("t")])


async def test_close_commits_what_is_queued_even_mid_commit(open_recorder: Opener) -> None:
    store = await open_recorder()
    appends = [asyncio.create_task(store.append(f"s:{i}", [NewEvent("t")])) for i in range(50)]
    await asyncio.sleep(0)  # all queued; the writer has taken the first batch
    await store.close()
    assert [len(events) for events in await asyncio.gather(*appends)] == [1] * 50
    store = await open_recorder()
    assert await store.last_seq() == 50
    await store.close()


async def test_reopen_continues_sequence_and_versions(open_recorder: Opener) -> None:
    store = await open_recorder()
    await store.append("s:a", [NewEvent("t"), NewEvent("t")])
    await store.close()
    store = await open_recorder()
    [event] = await store.append("s:a", [NewEvent("t")], expected_version=2)
    assert (event.seq, event.version) == (3, 3)
    await store.close()


def test_event_survives_sigkill_right_after_append_returned(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        from eventstore import SqliteEventStore, NewEvent
        async def main():
            store = await SqliteEventStore.open({str(db)!r})
            for i in range(50):
                await store.append("s:k", [NewEvent("t", {{"i": i}})])
            sys.stdout.write("appended\\n"); sys.stdout.flush()
            await asyncio.sleep(3600)
        asyncio.run(main())
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "appended\n"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT data FROM events WHERE stream = 's:k' ORDER BY version").fetchall()
    conn.close()
    assert len(rows) == 50


async def test_the_live_writer_connection_commits_to_disk(tmp_path: Path) -> None:
    """The SIGKILL test above also passes with synchronous=OFF (the OS keeps the page cache):
    what makes an append survive a power cut is WAL + synchronous=FULL on the connection that
    commits, so that is asserted on the live writer, after appends, not on a fresh one."""
    store = await SqliteEventStore.open(tmp_path / "log.db")
    await store.append("s:a", [NewEvent("t")])
    writer = store._writer_conn
    assert list(await writer.execute_fetchall("PRAGMA journal_mode")) == [("wal",)]
    assert list(await writer.execute_fetchall("PRAGMA synchronous")) == [(2,)], "2 is FULL"
    await store.close()


async def test_database_from_a_newer_version_is_refused_and_untouched(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    store = await SqliteEventStore.open(db)
    await store.close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with pytest.raises(SchemaTooNewError, match="newer than this pocketcode"):
        await SqliteEventStore.open(db)
    assert db.read_bytes() == before


async def test_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    db.write_text("this is my shopping list\n")
    with pytest.raises(NotAnEventLogError, match="not a SQLite database"):
        await SqliteEventStore.open(db)
    assert db.read_text() == "this is my shopping list\n"


async def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(NotAnEventLogError, match="not a pocketcode event log"):
        await SqliteEventStore.open(db)


async def test_database_and_directory_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "var" / "log.db"
    store = await SqliteEventStore.open(db)
    await store.close()
    assert db.stat().st_mode & 0o777 == 0o600
    assert db.parent.stat().st_mode & 0o077 == 0


async def test_upcasters_translate_old_versions_on_read(open_recorder: Opener) -> None:
    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"name": data["title"]}

    store = await open_recorder()
    await store.append("s", [NewEvent("thing.named", {"title": "x"}, schema_version=1)])
    await store.close()
    store = await open_recorder(upcasters={("thing.named", 1): v1_to_v2})
    [event] = await store.read_stream("s")
    assert (event.schema_version, event.data) == (2, {"name": "x"})
    await store.close()


async def test_a_lone_surrogate_is_stored_not_refused(store: EventStore) -> None:
    """Not valid UTF-8, yet it must not cost a line of the log (it is kept as its escape)."""
    await store.append("s:u", [NewEvent("t", {"text": "half an emoji: \ud83d"})])
    [event] = await store.read_stream("s:u")
    assert event.data == {"text": "half an emoji: \ud83d"}
