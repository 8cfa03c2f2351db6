"""A real SQLite log made full on purpose: ``PRAGMA max_page_count`` on the writer connection,
then filler events until not even a tiny one fits, so the next append fails with SQLite's own
"database or disk is full", as on a full disk. (Events are appended in ``seq`` order, so a new
one always needs room in the table's last page: the one the filler leaves full.)"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator

from eventstore import NewEvent, SqliteEventStore

ROOMY = 1_073_741_823
FILLER = "test:filler"


async def fill(store: SqliteEventStore) -> None:
    conn = store._writer_conn
    cursor = await conn.execute("PRAGMA page_count")
    row = await cursor.fetchone()
    assert row is not None
    await conn.execute(f"PRAGMA max_page_count = {int(row[0])}")
    for size in (1000, 100, 10, 0):
        with contextlib.suppress(sqlite3.OperationalError):
            while True:
                await store.append(FILLER, [NewEvent("test.filler", {"x": "f" * size})])


async def make_room(store: SqliteEventStore) -> None:
    await store._writer_conn.execute(f"PRAGMA max_page_count = {ROOMY}")


@contextlib.asynccontextmanager
async def full(store: SqliteEventStore) -> AsyncIterator[None]:
    """Within this block the log takes no more events."""
    await fill(store)
    try:
        yield
    finally:
        await make_room(store)
