"""``pocketcode migrate --to postgresql://…``: copy the SQLite log into an empty PostgreSQL one.

Run it with the bot stopped. Every event keeps its seq, stream, version, type, schema version,
data, time and correlation id. The copy is read back and compared with the source event by event
inside the transaction that wrote it, so a copy that does not match (or a log that grew while it
was copied) leaves the target as empty as it was. The source is read in batches, never whole.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from eventstore import Event, SqliteEventStore
from eventstore.dburl import is_postgres_url, redact
from service.commands import CommandError, guarded, open_readonly
from service.config import Config

WHERE_TO = (
    "say where to: pocketcode migrate --to postgresql://USER@HOST/DATABASE (keep the password "
    "in PGPASSWORD or ~/.pgpass, or give the whole URL as POCKETCODE_DATABASE_URL)"
)


async def _upto(source: SqliteEventStore, last: int, streams: set[str]) -> AsyncIterator[Event]:
    async for event in source.read_all():
        if event.seq > last:
            return
        streams.add(event.stream)
        yield event


async def _unchanged_upto(source: SqliteEventStore, last: int) -> AsyncIterator[Event]:
    """The source read again for the comparison, then a check that nothing was added since."""
    async for event in _upto(source, last, set()):
        yield event
    if await source.last_seq() != last:
        raise CommandError(
            "the SQLite log grew while it was being copied (is the bot running?); nothing was "
            "migrated — stop the bot and run this again"
        )


@guarded
async def cmd_migrate(settings: Config, args: argparse.Namespace) -> int:
    configured = settings.data.database_url
    url = args.to or (configured.get_secret_value() if configured else None)
    if not url:
        raise CommandError(WHERE_TO)
    if not is_postgres_url(url):
        raise CommandError(f"--to must be a postgresql:// URL; {WHERE_TO}")
    from eventstore.postgres import import_log  # asyncpg only loads when it is used

    where = redact(url, url)
    source = await open_readonly(settings.db_path)
    try:
        last = await source.last_seq()
        if last == 0:
            raise CommandError(f"the event log at {settings.db_path} has no events to migrate")
        print(f"copying {last:,} events from {settings.db_path} to {where} ...", file=sys.stderr)
        streams: set[str] = set()
        start = time.perf_counter()
        count = await import_log(url, _upto(source, last, streams), _unchanged_upto(source, last))
        elapsed = time.perf_counter() - start
    finally:
        await source.close()
    print(
        f"migrated {count:,} events of {len(streams):,} streams (seq 1..{last:,}) "
        f"from {settings.db_path} to {where}"
    )
    print(
        f"copied, then verified event by event (seq, stream, version, type, schema version, "
        f"data, time, correlation id) in {elapsed:.1f} s ({count / elapsed:,.0f} events/s)"
    )
    print(
        "next: set POCKETCODE_DATABASE_URL (or data.database_url) to that database and start "
        f"the bot; {settings.db_path} is left as it was, keep it as a backup"
    )
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "migrate",
        help="copy the SQLite event log into an empty PostgreSQL database (bot stopped)",
    )
    p.add_argument(
        "--to",
        metavar="URL",
        help="postgresql://USER@HOST[:PORT]/DATABASE (default: POCKETCODE_DATABASE_URL)",
    )
    p.set_defaults(handler=cmd_migrate)
