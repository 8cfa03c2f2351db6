"""The lease table on PostgreSQL: taking, renewing and releasing leases, and the check an
append makes under its lease (see :mod:`eventstore.fencing` for why this is safe)."""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

from eventstore.fencing import Fence
from eventstore.pgschema import SCHEMA

#: Whether a lease lapsed is always decided by the database's clock.
_NOW = "clock_timestamp()"
#: A lease that is free or lapsed becomes ours with the next token; a held one stays as it is.
#: One statement that first takes the log's counter lock (takeovers and appends take turns), so
#: no lock is held while the client is away between statements.
_ACQUIRE = f"""
WITH turn AS (SELECT last_seq FROM {SCHEMA}.event_counter FOR UPDATE)
INSERT INTO {SCHEMA}.leases AS l (key, holder, token, expires_at)
SELECT $1, $2, 1, {_NOW} + make_interval(secs => $3) FROM turn
ON CONFLICT (key) DO UPDATE
    SET holder = excluded.holder, token = l.token + 1, expires_at = excluded.expires_at
    WHERE l.expires_at <= {_NOW}
RETURNING token
"""
_RENEW = f"""
UPDATE {SCHEMA}.leases SET expires_at = {_NOW} + make_interval(secs => $2)
WHERE holder = $1 AND key = ANY($3::text[]) AND expires_at > {_NOW}
RETURNING key, token
"""
_RELEASE = (
    f"UPDATE {SCHEMA}.leases SET expires_at = {_NOW} "
    f"WHERE holder = $1 AND expires_at > {_NOW} AND ($2::text[] IS NULL OR key = ANY($2))"
)
_HELD = (
    f"SELECT key, token FROM {SCHEMA}.leases WHERE key = ANY($1::text[]) AND expires_at > {_NOW}"
)
_HOLDERS = (
    f"SELECT key, holder FROM {SCHEMA}.leases WHERE starts_with(key, $1) AND expires_at > {_NOW}"
)
_LAPSED = f"SELECT key FROM {SCHEMA}.leases WHERE starts_with(key, $1) AND expires_at <= {_NOW}"


async def held(conn: asyncpg.Connection, fences: set[Fence]) -> set[Fence]:
    """Which of ``fences`` hold right now (the append's transaction asks, under the counter
    lock)."""
    rows = await conn.fetch(_HELD, sorted({f.key for f in fences}))
    return {Fence(key, token) for key, token in rows} & fences


class Leases:
    """The lease table, over a connection pool of its own (a renewal never waits behind reads
    or the log's writer)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> Leases:
        """``url``'s database must already hold the log's schema (``PostgresEventStore.open``)."""
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=2, server_settings={"application_name": "pocketcode-leases"}
        )
        return cls(pool)

    async def acquire(self, key: str, holder: str, ttl_s: float) -> int | None:
        """Take ``key`` for ``ttl_s`` seconds if it is free or lapsed: its new token, else None
        (someone holds it, maybe ``holder`` itself)."""
        token: int | None = await self._pool.fetchval(_ACQUIRE, key, holder, float(ttl_s))
        return token

    async def renew(self, holder: str, ttl_s: float, keys: Collection[str]) -> dict[str, int]:
        """Extend the leases of ``keys`` that ``holder`` still holds by ``ttl_s`` from now;
        returns them, by key. A key missing from the answer has lapsed: it may be someone
        else's already. (A lease the holder let go of without telling lapses by itself.)"""
        rows = await self._pool.fetch(_RENEW, holder, float(ttl_s), list(keys))
        return {key: token for key, token in rows}

    async def release(self, holder: str, keys: Collection[str] | None = None) -> None:
        """Let ``holder``'s leases (those of ``keys``; default all) lapse now: the others may
        take them at once."""
        await self._pool.execute(_RELEASE, holder, None if keys is None else list(keys))

    async def holders(self, prefix: str) -> dict[str, str]:
        """The leases under ``prefix`` that are held, and by whom."""
        return {key: holder for key, holder in await self._pool.fetch(_HOLDERS, prefix)}

    async def lapsed(self, prefix: str) -> list[str]:
        """The keys under ``prefix`` whose lease has lapsed (nobody holds them)."""
        return [key for (key,) in await self._pool.fetch(_LAPSED, prefix)]

    async def close(self) -> None:
        await self._pool.close()
