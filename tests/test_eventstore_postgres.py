"""What only the PostgreSQL recorder can show: several processes sharing one log.

The contract itself (versions, conflicts, group commit, reads, tail) runs in test_eventstore.py.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from eventstore import ConcurrencyError, NewEvent, SchemaTooNewError
from eventstore.errors import StoreUnavailableError
from eventstore.pgschema import SCHEMA, SCHEMA_VERSION
from eventstore.postgres import PostgresEventStore
from tests.pg_server import PgServer

ROOT = Path(__file__).resolve().parent.parent

#: One writer process: TASKS tasks, each making APPENDS appends of 1-3 events to a stream of its
#: own and, every SHARED_EVERY appends, taking a turn on one stream shared by every process with
#: ``expected_version`` (retrying on a conflict). Prints how many conflicts it met.
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from eventstore import ConcurrencyError, NewEvent
    from eventstore.postgres import PostgresEventStore

    async def main(url, name, tasks, appends, shared_every):
        store = await PostgresEventStore.open(url)
        conflicts = 0

        async def task(t):
            nonlocal conflicts
            for i in range(appends):
                size = 1 + (t + i) % 3
                await store.append(f"{name}:{t}", [NewEvent("own", {"i": i})] * size)
                if i % shared_every == 0:
                    while True:
                        version = await store.stream_version("shared")
                        try:
                            await store.append(
                                "shared", [NewEvent("turn", {"by": name})],
                                expected_version=version,
                            )
                            break
                        except ConcurrencyError:
                            conflicts += 1

        await asyncio.gather(*(task(t) for t in range(tasks)))
        await store.close()
        print(conflicts)

    asyncio.run(main(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])))
    """
)
WRITERS = 3
TASKS, APPENDS, SHARED_EVERY = 10, 30, 10
SHARED_TURNS = TASKS * len(range(0, APPENDS, SHARED_EVERY))
PER_PROCESS = sum(1 + (t + i) % 3 for t in range(TASKS) for i in range(APPENDS)) + SHARED_TURNS


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[PostgresEventStore]:
    store = await PostgresEventStore.open(pg_url)
    yield store
    await store.close()


async def test_writers_in_several_processes_never_let_a_tailer_skip_a_seq(
    pg: PostgresEventStore, pg_url: str
) -> None:
    """Processes commit concurrently; every snapshot a reader takes is a dense prefix."""
    total = WRITERS * PER_PROCESS
    tailed: list[int] = []

    async def tail() -> None:
        async for event in pg.tail():
            tailed.append(event.seq)
            if event.seq >= total:
                return

    async def poll_raw() -> list[tuple[int, int]]:
        """Read what is visible, over and over, on a connection of its own."""
        conn = await asyncpg.connect(pg_url)
        seen, holes = 0, []
        try:
            while seen < total:
                rows = await conn.fetch(
                    f"SELECT seq FROM {SCHEMA}.events WHERE seq > $1 ORDER BY seq", seen
                )
                for (seq,) in rows:
                    if seq != seen + 1:
                        holes.append((seen, seq))
                    seen = seq
                await asyncio.sleep(0.001)  # leave the writers some CPU
        finally:
            await conn.close()
        return holes

    tailer = asyncio.create_task(tail())
    poller = asyncio.create_task(poll_raw())
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            pg_url,
            f"w{n}",
            *map(str, (TASKS, APPENDS, SHARED_EVERY)),
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        for n in range(WRITERS)
    ]
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * WRITERS
    holes = await asyncio.wait_for(poller, 60)
    await asyncio.wait_for(tailer, 60)
    assert holes == [], "a later seq was visible before an earlier one"
    assert tailed == list(range(1, total + 1))
    shared = await pg.read_stream("shared")
    assert [e.version for e in shared] == list(range(1, WRITERS * SHARED_TURNS + 1))
    conflicts = sum(int(out) for out, _ in outputs)
    assert conflicts > 0, "the shared stream should have seen competing appends"


async def test_a_stale_version_from_another_process_is_a_conflict(
    pg: PostgresEventStore, pg_url: str
) -> None:
    other = await PostgresEventStore.open(pg_url)
    try:
        await pg.append("s:a", [NewEvent("t")], expected_version=0)  # pg now caches version 1
        await other.append("s:a", [NewEvent("t")], expected_version=1)
        with pytest.raises(ConcurrencyError, match="version 2, not the expected 1"):
            await pg.append("s:a", [NewEvent("t")], expected_version=1)
        [event] = await pg.append("s:a", [NewEvent("t")], expected_version=2)
        assert (event.seq, event.version) == (3, 3)  # the refused append took no number
    finally:
        await other.close()


async def test_tail_is_woken_by_another_process_commit_not_by_polling(
    pg_url: str,
) -> None:
    """The tail polls only once an hour here: the event can only arrive through NOTIFY."""
    follower = await PostgresEventStore.open(pg_url, poll_interval=3600)
    writer = await PostgresEventStore.open(pg_url)
    try:
        await writer.append("s:a", [NewEvent("before")])
        first_seen = asyncio.Event()
        seen: list[str] = []

        async def follow() -> None:
            async for event in follower.tail():
                seen.append(event.type)
                first_seen.set()
                if len(seen) == 2:
                    return

        task = asyncio.create_task(follow())
        await asyncio.wait_for(first_seen.wait(), 30)
        await writer.append("s:a", [NewEvent("after")])
        await asyncio.wait_for(task, 30)
        assert seen == ["before", "after"]
    finally:
        await writer.close()
        await follower.close()


async def test_a_tail_listens_again_when_its_connection_is_cut(pg_url: str) -> None:
    """Still no polling to fall back on: the lost connection itself wakes the tail."""
    follower = await PostgresEventStore.open(pg_url, poll_interval=3600)
    writer = await PostgresEventStore.open(pg_url)
    admin = await asyncpg.connect(pg_url)
    try:
        await writer.append("s:a", [NewEvent("before")])
        seen: list[str] = []
        first_seen = asyncio.Event()

        async def follow() -> None:
            async for event in follower.tail():
                seen.append(event.type)
                first_seen.set()
                if len(seen) == 2:
                    return

        task = asyncio.create_task(follow())
        await asyncio.wait_for(first_seen.wait(), 30)
        cut = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        assert cut == 1
        await writer.append("s:a", [NewEvent("after")])
        await asyncio.wait_for(task, 30)
        assert seen == ["before", "after"]
    finally:
        await admin.close()
        await writer.close()
        await follower.close()


async def test_close_ends_a_waiting_tail(pg_url: str) -> None:
    store = await PostgresEventStore.open(pg_url, poll_interval=3600)
    await store.append("s:a", [NewEvent("t")])
    seen: list[int] = []
    caught_up = asyncio.Event()

    async def follow() -> None:
        async for event in store.tail():
            seen.append(event.seq)
            caught_up.set()

    task = asyncio.create_task(follow())
    await asyncio.wait_for(caught_up.wait(), 30)
    await store.close()
    await asyncio.wait_for(task, 30)
    assert seen == [1]


async def test_writer_reconnects_after_its_connection_is_cut(
    pg: PostgresEventStore, pg_url: str
) -> None:
    await pg.append("s:a", [NewEvent("t")])
    admin = await asyncpg.connect(pg_url)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert killed >= 1
    failures = 0
    while True:  # an operation meeting a cut connection fails (in words); later ones reconnect
        try:
            version = await pg.stream_version("s:a")
            [event] = await pg.append("s:a", [NewEvent("t")], expected_version=version)
            break
        except StoreUnavailableError:
            failures += 1
            assert failures < 5, "the store does not recover from a cut connection"
    assert event.version == 2
    assert [e.seq async for e in pg.read_all()] == [1, 2]


async def test_newer_schema_is_refused_and_left_untouched(pg_url: str) -> None:
    store = await PostgresEventStore.open(pg_url)
    await store.append("s:a", [NewEvent("t")])
    await store.close()
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            f"INSERT INTO {SCHEMA}.schema_migrations (version) VALUES ($1)", SCHEMA_VERSION + 1
        )
        before = await conn.fetch(f"SELECT version FROM {SCHEMA}.schema_migrations ORDER BY 1")
        with pytest.raises(SchemaTooNewError, match="newer than this pocketcode"):
            await PostgresEventStore.open(pg_url)
        after = await conn.fetch(f"SELECT version FROM {SCHEMA}.schema_migrations ORDER BY 1")
        assert after == before
        assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events") == 1
    finally:
        await conn.close()


async def test_stores_opening_at_once_migrate_once(postgres: PgServer) -> None:
    url = await postgres.create_database()
    stores = await asyncio.gather(*(PostgresEventStore.open(url) for _ in range(4)))
    try:
        await asyncio.gather(*(s.append("s:a", [NewEvent("t")]) for s in stores))
        assert await stores[0].stream_version("s:a") == 4
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_the_password_never_appears_in_an_error(postgres: PgServer) -> None:
    secret = "hunter2-correct-horse"
    url = postgres.url("no_such_database").replace(
        "postgresql://pocketcode@", f"postgresql://pocketcode:{secret}@"
    )
    with pytest.raises(StoreUnavailableError) as caught:
        await PostgresEventStore.open(url)
    message = str(caught.value)
    assert secret not in message
    assert "pocketcode:***@" in message
    assert "no_such_database" in message
