"""Which event log the app records to: SQLite in the data directory unless a database URL is set."""

from __future__ import annotations

from eventstore import EventStore, SqliteEventStore
from eventstore.store import Now, utcnow
from service.config import Config


async def open_store(settings: Config, *, now: Now = utcnow) -> EventStore:
    """SQLite (the default, nothing to set up) or PostgreSQL (``data.database_url``)."""
    url = settings.data.database_url
    if url is None:
        return await SqliteEventStore.open(settings.db_path, now=now)
    from eventstore.postgres import PostgresEventStore  # asyncpg only loads when it is used

    return await PostgresEventStore.open(url.get_secret_value(), now=now)
