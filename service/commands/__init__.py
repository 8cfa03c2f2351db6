"""Offline subcommands of ``pocketcode``: everything they show is read from the event log.

Each module exposes ``add_parser(sub)`` (registers its subcommand) and an
``async def cmd_x(settings, args) -> int``. Failures are :class:`CommandError` with a
plain-language message; :func:`guarded` prints it and returns non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from eventstore import SqliteEventStore
from eventstore.errors import EventStoreError
from eventstore.schema import SCHEMA_VERSION, check_file, current_version
from eventstore.store import utcnow
from service.config import Config
from service.errors import PocketcodeError

Handler = Callable[[Config, argparse.Namespace], Awaitable[int]]


class CommandError(PocketcodeError):
    """A subcommand cannot do what was asked; the message says why and what to do."""


def fail(message: str, code: int = 1) -> int:
    print(f"pocketcode: {message}", file=sys.stderr)
    return code


def guarded(handler: Handler) -> Handler:
    """Turn every expected failure of ``handler`` into one plain line and a non-zero code."""

    @functools.wraps(handler)
    async def run(settings: Config, args: argparse.Namespace) -> int:
        try:
            return await handler(settings, args)
        except (PocketcodeError, EventStoreError) as exc:
            return fail(str(exc))
        except sqlite3.Error as exc:
            return fail(f"the event log at {settings.db_path} could not be read: {exc}")
        except BrokenPipeError:  # e.g. `pocketcode replay | head`
            return 0
        except OSError as exc:
            return fail(f"{exc.filename or 'file'}: {exc.strerror or exc}")

    return run


def require_log(path: Path) -> None:
    """Refuse early, in words, when there is no usable log at ``path``."""
    if not path.exists():
        raise CommandError(f"no event log at {path} yet — start the bot first")
    check_file(path)
    if path.stat().st_size == 0:
        raise CommandError(f"the event log at {path} is empty — start the bot first")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        found = current_version(conn, path)
    except sqlite3.DatabaseError as exc:
        raise CommandError(f"{path} cannot be read as an event log: {exc}") from None
    finally:
        conn.close()
    if found > SCHEMA_VERSION:
        raise CommandError(
            f"{path} has event log schema v{found}, newer than this pocketcode knows "
            f"(v{SCHEMA_VERSION}): upgrade pocketcode"
        )
    if found < SCHEMA_VERSION:
        raise CommandError(
            f"the event log at {path} has schema v{found}; start the bot once to upgrade it"
        )


async def _connect_readonly(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
    await conn.execute("PRAGMA busy_timeout=5000")
    return conn


async def open_readonly(path: Path, *, poll_interval: float = 0.5) -> SqliteEventStore:
    """The log opened for reading only: nothing is created, migrated or written.

    Safe while the bot runs (WAL readers never block its writer). Appending to this store
    is not possible: it has no writer task and its connections are read-only.
    """
    require_log(path)
    writer = await _connect_readonly(path)
    reader = await _connect_readonly(path)
    return SqliteEventStore(
        path, writer, reader, now=utcnow, upcasters={}, poll_interval=poll_interval
    )


async def open_writable(path: Path) -> SqliteEventStore:
    """The log opened as the bot opens it (it must already exist: never create one here)."""
    require_log(path)
    return await SqliteEventStore.open(path)


def parse_time(text: str, option: str) -> datetime:
    """ISO 8601 (``2026-01-31``, ``2026-01-31T12:00``, ``...Z``); naive means UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"{option} {text!r} is not an ISO date/time (e.g. 2026-01-31 or 2026-01-31T12:30Z)"
        ) from None
    return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)


def stamp(value: datetime | None) -> str:
    if value is None:
        return "-"
    aware = value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns, two spaces apart; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
