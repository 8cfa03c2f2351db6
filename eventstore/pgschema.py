"""The PostgreSQL log's schema and its forward migrations. A newer schema is refused, never altered.

Everything lives in a schema of its own, ``pocketcode``, so the log can share a database with
other applications. ``event_counter`` is one row holding the last sequence number: writers lock
it to number their events (see :mod:`eventstore.postgres` for why). ``leases`` says who may
write for what, and with which fencing token (see :mod:`eventstore.fencing`); ``payloads``
holds for a while the bytes an event stands for but does not carry (``eventstore.pgpayloads``).
"""

from __future__ import annotations

import asyncpg

from eventstore.errors import SchemaTooNewError

SCHEMA = "pocketcode"
#: Commits publish their last sequence number here (``NOTIFY``), for tailing readers.
CHANNEL = "pocketcode_events"
#: Any fixed number: the advisory lock that makes concurrent migrations take turns.
_MIGRATION_LOCK = 0x706F636B6574  # "pocket"

#: Index i holds the script that takes the database from version i to i + 1.
MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE {SCHEMA}.events (
        seq            bigint      PRIMARY KEY,
        stream         text        COLLATE "C" NOT NULL,
        version        bigint      NOT NULL,
        type           text        COLLATE "C" NOT NULL,
        schema_version integer     NOT NULL,
        data           json        NOT NULL,
        at             timestamptz NOT NULL,
        correlation_id text,
        UNIQUE (stream, version)
    );
    CREATE INDEX events_type ON {SCHEMA}.events (type, seq);
    CREATE TABLE {SCHEMA}.event_counter (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        last_seq bigint  NOT NULL
    );
    INSERT INTO {SCHEMA}.event_counter (last_seq) VALUES (0);
    """,
    f"""
    CREATE TABLE {SCHEMA}.leases (
        key        text        COLLATE "C" PRIMARY KEY,
        holder     text        NOT NULL,
        token      bigint      NOT NULL,
        expires_at timestamptz NOT NULL
    );
    CREATE TABLE {SCHEMA}.payloads (
        ref  text        COLLATE "C" PRIMARY KEY,
        data bytea       NOT NULL,
        at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX payloads_at ON {SCHEMA}.payloads (at);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


async def current_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval(
        "SELECT to_regclass($1) IS NOT NULL", f"{SCHEMA}.schema_migrations"
    )
    if not exists:
        return 0
    return int(
        await conn.fetchval(f"SELECT COALESCE(MAX(version), 0) FROM {SCHEMA}.schema_migrations")
    )


def _refuse_newer(found: int, where: str) -> None:
    if found > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{where} has event log schema v{found}, newer than this pocketcode knows "
            f"(v{SCHEMA_VERSION}). Upgrade pocketcode; the database was not changed."
        )


async def migrate(conn: asyncpg.Connection, where: str) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version found before.

    ``json`` (not ``jsonb``) keeps the payload text exactly as written: ``jsonb`` would refuse
    a lone surrogate escape and ``\\u0000``, which the other recorders store. ``COLLATE "C"``
    orders streams by code point whatever the database's locale, so a prefix is a range.
    """
    found = await current_version(conn)
    _refuse_newer(found, where)
    if found == SCHEMA_VERSION:
        return found
    # A session lock taken before the transaction: a transaction that starts after the lock
    # sees the catalog as the previous holder left it (within one, a cached "no such table"
    # could outlive the wait).
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        async with conn.transaction():
            found = await current_version(conn)  # another process may have migrated meanwhile
            _refuse_newer(found, where)
            await conn.execute(
                f"CREATE SCHEMA IF NOT EXISTS {SCHEMA};"
                f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations "
                "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for version in range(found, SCHEMA_VERSION):
                await conn.execute(MIGRATIONS[version])
                await conn.execute(
                    f"INSERT INTO {SCHEMA}.schema_migrations (version) VALUES ($1)", version + 1
                )
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return found
