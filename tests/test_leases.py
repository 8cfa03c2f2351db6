"""Leases and fencing on a real PostgreSQL: acquire, renew, lapse, takeover, and the log refusing
a writer whose lease is gone.

Time on the lease table is the database's clock; a test makes a lease lapse by moving its expiry
into the past (what the clock passing it would do), never by sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import pytest

from actors.session import events as ev
from actors.session.catalog import SessionCatalog
from eventstore import NewEvent
from eventstore.errors import FencedError
from eventstore.fencing import Fence
from eventstore.pgleases import Leases
from eventstore.pgschema import SCHEMA
from eventstore.postgres import PostgresEventStore
from service.leases import (
    ChatLeases,
    FencedStore,
    WorkerIdTaken,
    WorkerPlacement,
    chat_key,
    preferred,
)

TTL = 30.0


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[PostgresEventStore]:
    store = await PostgresEventStore.open(pg_url)  # creates the schema, leases included
    yield store
    await store.close()


@pytest.fixture
async def leases(pg: PostgresEventStore, pg_url: str) -> AsyncIterator[Leases]:
    table = await Leases.open(pg_url)
    yield table
    await table.close()


async def lapse(url: str, key: str) -> None:
    """The database's clock passes the lease's expiry."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            f"UPDATE {SCHEMA}.leases SET expires_at = clock_timestamp() - interval '1 second' "
            "WHERE key = $1",
            key,
        )
    finally:
        await conn.close()


def note(n: int) -> list[NewEvent]:
    return [NewEvent("note", {"n": n})]


async def test_a_lease_is_one_holders_until_it_lapses_then_the_next_holder_gets_a_new_token(
    leases: Leases, pg_url: str
) -> None:
    assert await leases.acquire("chat:1", "a", TTL) == 1
    assert await leases.acquire("chat:1", "b", TTL) is None  # held: refused
    assert await leases.acquire("chat:1", "a", TTL) is None  # not taken twice either
    assert await leases.renew("a", TTL, ["chat:1"]) == {"chat:1": 1}
    assert await leases.holders("chat:") == {"chat:1": "a"}

    await lapse(pg_url, "chat:1")
    assert await leases.lapsed("chat:") == ["chat:1"]
    assert await leases.holders("chat:") == {}
    assert await leases.renew("a", TTL, ["chat:1"]) == {}  # lapsed: not renewed, it is lost
    assert await leases.acquire("chat:1", "b", TTL) == 2  # the takeover: a new token
    assert await leases.renew("b", TTL, ["chat:1"]) == {"chat:1": 2}
    assert await leases.renew("a", TTL, ["chat:1"]) == {}


async def test_released_leases_can_be_taken_at_once(leases: Leases) -> None:
    for key in ("chat:1", "chat:2", "chat:3"):
        await leases.acquire(key, "a", TTL)
    await leases.release("a", ["chat:2"])
    assert await leases.acquire("chat:2", "b", TTL) == 2
    assert await leases.acquire("chat:1", "b", TTL) is None
    await leases.release("a")
    assert await leases.acquire("chat:1", "b", TTL) == 2
    assert await leases.renew("a", TTL, ["chat:1", "chat:3"]) == {}


async def test_the_log_refuses_a_writer_whose_lease_was_taken_over(
    pg: PostgresEventStore, leases: Leases, pg_url: str
) -> None:
    old = Fence("chat:7", await leases.acquire("chat:7", "a", TTL) or 0)
    await pg.append("chat:7", note(1), expected_version=0, fence=old)
    await lapse(pg_url, "chat:7")
    new = Fence("chat:7", await leases.acquire("chat:7", "b", TTL) or 0)
    assert new.token == old.token + 1

    with pytest.raises(FencedError, match="chat:7"):
        await pg.append("chat:7", note(2), expected_version=1, fence=old)
    assert await pg.stream_version("chat:7") == 1  # nothing of it was written
    [event] = await pg.append("chat:7", note(3), expected_version=1, fence=new)
    assert (event.version, event.data) == (2, {"n": 3})


async def test_a_lapsed_lease_refuses_its_writer_even_before_anyone_takes_it(
    pg: PostgresEventStore, leases: Leases, pg_url: str
) -> None:
    fence = Fence("chat:8", await leases.acquire("chat:8", "a", TTL) or 0)
    await lapse(pg_url, "chat:8")
    with pytest.raises(FencedError):
        await pg.append("chat:8", note(1), fence=fence)
    assert await pg.stream_version("chat:8") == 0


async def test_a_refused_append_leaves_the_rest_of_its_group_commit_alone(
    pg: PostgresEventStore, leases: Leases, pg_url: str
) -> None:
    held = Fence("chat:1", await leases.acquire("chat:1", "a", TTL) or 0)
    stale = Fence("chat:2", await leases.acquire("chat:2", "a", TTL) or 0)
    await lapse(pg_url, "chat:2")
    commits = pg.commits
    outcomes = await asyncio.gather(
        pg.append("chat:1", note(1), fence=held),
        pg.append("chat:2", note(2), fence=stale),
        pg.append("update:x", note(3)),
        return_exceptions=True,
    )
    assert pg.commits == commits + 1  # one batch
    assert isinstance(outcomes[1], FencedError)
    assert [await pg.stream_version(s) for s in ("chat:1", "chat:2", "update:x")] == [1, 0, 1]
    seqs = [e.seq for o in outcomes if isinstance(o, list) for e in o]
    assert seqs == [1, 2]  # the refused append took no number: the order stays dense


async def test_a_takeover_waits_for_an_append_in_flight(
    pg: PostgresEventStore, leases: Leases, pg_url: str
) -> None:
    """An append holds the counter lock from its lease check to its commit; a takeover takes
    that lock too, so it cannot slip in between (module doc of ``eventstore.fencing``)."""
    await leases.acquire("chat:9", "a", TTL)
    await lapse(pg_url, "chat:9")
    appending = await asyncpg.connect(pg_url)  # an append's transaction, stopped mid-way
    try:
        tx = appending.transaction()
        await tx.start()
        await appending.execute(f"SELECT last_seq FROM {SCHEMA}.event_counter FOR UPDATE")
        takeover = asyncio.create_task(leases.acquire("chat:9", "b", TTL))
        await until_waiting_on_a_lock(appending)
        assert not takeover.done()
        await tx.commit()
        assert await takeover == 2
    finally:
        await appending.close()


async def until_waiting_on_a_lock(conn: asyncpg.Connection) -> None:
    """Until the lease table's connection is blocked on a lock (the server says so)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = 'pocketcode-leases' AND wait_event_type = 'Lock'"
    )
    for _ in range(3000):
        if await conn.fetchval(query):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the takeover never waited for the append's lock")


# --------------------------------------------------------------------------- a worker's leases


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_worker_knows_which_chats_it_lost_and_who_is_alive(
    leases: Leases, pg_url: str
) -> None:
    a, b = ChatLeases(leases, "a", TTL), ChatLeases(leases, "b", TTL)
    await a.join()
    await b.join()
    assert [await a.claim(c) for c in (1, 2)] == [True, True]
    assert not await b.claim(1)
    survey = await b.survey()
    assert (survey.workers, survey.held, survey.lapsed) == (["a", "b"], {1, 2}, set())

    await lapse(pg_url, chat_key(2))
    assert (await b.survey()).lapsed == {2}
    assert await b.claim(2)
    assert await a.renew() == {2}
    assert a.owned == {1: 1}
    assert b.owned == {2: 2}


async def test_a_worker_renews_only_the_chats_it_still_runs(leases: Leases, pg_url: str) -> None:
    a = ChatLeases(leases, "a", TTL)
    await a.join()
    await a.claim(1)
    await a.claim(2)
    before = await expiries(pg_url)
    del a.owned[2]  # let go of here, and the release never reached the database
    assert await a.renew() == set()
    after = await expiries(pg_url)
    assert after["chat:1"] > before["chat:1"]
    assert after["worker:a"] > before["worker:a"]
    assert after["chat:2"] == before["chat:2"]  # not kept alive: it lapses by itself


async def expiries(url: str) -> dict[str, datetime]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(f"SELECT key, expires_at FROM {SCHEMA}.leases")
    finally:
        await conn.close()
    return {r["key"]: r["expires_at"] for r in rows}


async def test_a_worker_cut_off_from_the_database_counts_its_leases_lost_in_time(
    leases: Leases,
) -> None:
    clock = Clock()
    mine = ChatLeases(leases, "a", TTL, monotonic=clock)
    await mine.join()
    await mine.claim(5)
    clock.now += TTL - 0.001
    assert not mine.expired_here()
    clock.now += 0.001  # a whole lease time since the last renewal was sent
    assert mine.expired_here()
    assert mine.drop_all() == {5}
    assert mine.owned == {}


async def test_a_second_worker_with_the_same_name_is_refused(leases: Leases) -> None:
    await ChatLeases(leases, "same", TTL).join()
    with pytest.raises(WorkerIdTaken, match=r"cluster\.worker_id"):
        await ChatLeases(leases, "same", TTL).join()


def test_rendezvous_hashing_agrees_and_moves_only_the_chats_of_a_worker_that_left() -> None:
    workers = ["w1", "w2", "w3"]
    before = {c: preferred(c, workers) for c in range(600)}
    assert before == {c: preferred(c, list(reversed(workers))) for c in range(600)}
    counts = {w: list(before.values()).count(w) for w in workers}
    assert all(120 < n < 280 for n in counts.values()), counts  # spread, not all on one
    after = {c: preferred(c, ["w1", "w3"]) for c in range(600)}
    moved = {c for c in before if before[c] != after[c]}
    assert moved == {c for c in before if before[c] == "w2"}
    assert preferred(1, []) is None


# --------------------------------------------------------------------------- the fenced log


async def test_a_worker_writes_a_chat_and_its_sessions_only_under_the_chat_lease(
    pg: PostgresEventStore, leases: Leases, pg_url: str
) -> None:
    mine = ChatLeases(leases, "a", TTL)
    await mine.join()
    await mine.claim(1)
    placement = WorkerPlacement(mine)
    store = FencedStore(pg, placement)
    placement.catalog = catalog = SessionCatalog(store)
    created = ev.event(ev.CREATED, None, name="s", persona="default", cwd="/x", chat_id=1)
    [first] = await store.append("session:s", [created], expected_version=0)
    catalog.observe(first)
    await store.append("session:s", note(1), expected_version=1)  # its home chat's lease
    await store.append("chat:1", note(1), expected_version=0)
    await store.append("system:actors", note(1))  # needs no lease

    with pytest.raises(FencedError, match="chat:2"):
        await store.append("chat:2", note(1))  # not held here: refused before the database
    other = ev.event(ev.CREATED, None, name="t", persona="default", cwd="/y", chat_id=2)
    with pytest.raises(FencedError):
        await store.append("session:t", [other], expected_version=0)
    with pytest.raises(FencedError, match="its chat"):
        await store.append("session:unknown", note(1))  # a session we know nothing of
    with pytest.raises(FencedError, match="a worker keeps no routines"):
        await store.append("routines:schedule", note(1))  # its one writer: the single process
    assert await pg.stream_version("routines:schedule") == 0
    assert "pocketcode run without --role" in (placement.routines_refusal() or "")

    await lapse(pg_url, chat_key(1))
    assert await ChatLeases(leases, "b", TTL).claim(1)
    with pytest.raises(FencedError):
        await store.append("session:s", note(2), expected_version=2)  # token 1 is stale
    assert await pg.stream_version("session:s") == 2
    assert placement.refusal(1, "s") is None
    assert placement.refusal(3, "new") is None
    assert "belongs to another chat" in (placement.refusal(2, "s") or "")
