"""``pocketcode archive NAME``: archive a session from the log while the bot is stopped.

The session's state is folded from its stream; the ``session.archived`` event is appended
with ``expected_version`` set to the version that was folded, so if a running bot wrote to the
session in between, the append fails with a clear conflict instead of corrupting the story.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actors.archive.tarball import ArchiveError
from actors.names import InvalidName, validate_session_name
from actors.session import archiving
from actors.session import events as ev
from actors.session.errors import SessionError
from actors.session.state import load_state
from eventstore.errors import ConcurrencyError
from service.commands import CommandError, guarded, open_writable
from service.config import Config, persona_catalog


@guarded
async def cmd_archive(settings: Config, args: argparse.Namespace) -> int:
    """The bot's own archive flow (``actors.session.archiving``), offline: the same checks, the
    same archive, and the ``session.archived`` event appended with the version folded."""
    name = args.name
    try:
        validate_session_name(name)
    except InvalidName as exc:
        raise CommandError(str(exc)) from None
    store = await open_writable(settings.db_path)
    try:
        state = await load_state(store, name)
        if state.turn is not None:  # offline, no /stop: the bot must close it
            raise CommandError(
                f"{name} has a turn open in the log ({state.turn.turn_id}); start the bot so "
                "it closes it (or /stop it), then archive"
            )
        try:
            archiving.check_archivable(state, name, None)
        except SessionError as exc:
            raise CommandError(str(exc)) from None
        if state.process_pid is not None:
            print(
                f"pocketcode: note: the log says a claude process (pid {state.process_pid}) "
                "was running for this session; make sure the bot is stopped",
                file=sys.stderr,
            )
        workdir = persona_catalog(settings).archives_workdir(state.persona)
        if workdir and not await asyncio.to_thread(Path(state.cwd).is_dir):
            print(
                f"pocketcode: note: working directory {state.cwd} is gone; archiving without it",
                file=sys.stderr,
            )
            workdir = False
        try:
            path = await archiving.pack(
                store,
                state,
                ev.stream_of(name),
                settings.archive_dir,
                include_workdir=workdir,
                now=datetime.now(UTC),
            )
        except ArchiveError as exc:
            raise CommandError(f"could not archive {name}: {exc}") from None
        try:
            await store.append(
                ev.stream_of(name),
                [ev.event(ev.ARCHIVED, "cli-archive", path=str(path))],
                expected_version=state.version,
            )
        except ConcurrencyError:
            path.unlink(missing_ok=True)
            raise CommandError(
                f"{name} changed while it was being archived (is the bot running?); "
                "nothing was marked archived — stop the bot and try again, or use /archive "
                f"{name} in Telegram"
            ) from None
    finally:
        await store.close()
    print(path)
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "archive",
        help="archive a session from the log (while the bot is stopped)",
    )
    p.add_argument("name", help="the session to archive")
    p.set_defaults(handler=cmd_archive)
