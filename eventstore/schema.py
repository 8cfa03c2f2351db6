"""Schema versions and forward migrations. A newer database is refused, never altered."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from eventstore.errors import NotAnEventLogError, SchemaTooNewError

SQLITE_MAGIC = b"SQLite format 3\x00"

#: Index i holds the script that takes the database from version i to i + 1.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        seq            INTEGER PRIMARY KEY,
        stream         TEXT    NOT NULL,
        version        INTEGER NOT NULL,
        type           TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        data           TEXT    NOT NULL,
        at             TEXT    NOT NULL,
        correlation_id TEXT,
        UNIQUE (stream, version)
    );
    CREATE INDEX events_type ON events (type);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def check_file(path: Path) -> None:
    """Refuse a file that is not SQLite before SQLite gets a chance to touch it."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as fh:
        if fh.read(16) != SQLITE_MAGIC:
            raise NotAnEventLogError(
                f"{path} is not a SQLite database: move it away or point "
                "POCKETCODE_DATA_DIR somewhere else"
            )


def current_version(conn: sqlite3.Connection, path: Path) -> int:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return 0
    if "schema_migrations" not in tables:
        raise NotAnEventLogError(f"{path} is a SQLite database but not a pocketcode event log")
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version found before."""
    found = current_version(conn, path)
    if found > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{path} has event log schema v{found}, newer than this pocketcode knows "
            f"(v{SCHEMA_VERSION}). Upgrade pocketcode; the database was not changed."
        )
    if found == SCHEMA_VERSION:
        return found
    conn.execute("PRAGMA journal_mode=WAL")
    with conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        for version in range(found, SCHEMA_VERSION):
            for statement in filter(str.strip, MIGRATIONS[version].split(";")):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version + 1,))
    return found
