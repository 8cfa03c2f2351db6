"""Bytes an event stands for but does not carry, kept beside the log for a while.

The log keeps what happened, not a 20 MB file someone sent: an ``update.received`` of a file or
a voice message records its name and size only. In one process the bytes go from the front to
the chat's actor in memory; when the process that received the update is not the one that
handles it (``pocketcode run --role intake`` and ``worker``), they go through here, keyed by the
update's correlation id, stored before the update is logged, so whoever reads the update from
the log finds them. They are pruned after ``keep_s``: an update is handled within seconds, and
one handled later (a takeover after a crash) is told its file is lost, as after a restart.
"""

from __future__ import annotations

import asyncpg

from eventstore.pgschema import SCHEMA

KEEP_S = 24 * 3600.0
_PUT = f"INSERT INTO {SCHEMA}.payloads (ref, data) VALUES ($1, $2) ON CONFLICT (ref) DO NOTHING"
_PRUNE = f"DELETE FROM {SCHEMA}.payloads WHERE at < now() - make_interval(secs => $1)"
_GET = f"SELECT data FROM {SCHEMA}.payloads WHERE ref = $1"


class Payloads:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> Payloads:
        """``url``'s database must already hold the log's schema (``PostgresEventStore.open``)."""
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=2, server_settings={"application_name": "pocketcode"}
        )
        return cls(pool)

    async def put(self, ref: str, data: bytes, *, keep_s: float = KEEP_S) -> None:
        """Store ``data`` under ``ref`` (durably: before the update is logged); a second copy
        of the same update changes nothing. Older payloads are pruned on the way."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_PUT, ref, data)
            await conn.execute(_PRUNE, float(keep_s))

    async def get(self, ref: str) -> bytes | None:
        data: bytes | None = await self._pool.fetchval(_GET, ref)
        return data

    async def close(self) -> None:
        await self._pool.close()
