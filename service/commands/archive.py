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

from actors.archive.tarball import ArchiveError, build_archive
from actors.names import InvalidName, validate_session_name
from actors.session import events as ev
from actors.session.state import SessionState, evolve
from eventstore import fold
from eventstore.errors import ConcurrencyError
from personas import SHIPPED_DIR
from personas.catalog import load_personas
from service.commands import CommandError, guarded, open_writable
from service.config import Config


def _wants_workdir(settings: Config, persona: str) -> bool:
    """The persona's ``archive_workdir`` flag, read the way the app reads it."""
    dirs = [SHIPPED_DIR]
    if settings.personas_dir is not None:
        dirs.append(settings.personas_dir)
    try:
        catalog = load_personas(dirs)
    except Exception:  # a broken persona file must not block archiving: skip the workdir
        return False
    return persona in catalog and catalog.get(persona).archive_workdir


@guarded
async def cmd_archive(settings: Config, args: argparse.Namespace) -> int:
    name = args.name
    try:
        validate_session_name(name)
    except InvalidName as exc:
        raise CommandError(str(exc)) from None
    store = await open_writable(settings.db_path)
    try:
        events = await store.read_stream(ev.stream_of(name))
        state = fold(evolve, SessionState(), events)
        if not state.exists:
            raise CommandError(f"there is no session named {name}")
        if state.status == "archived":
            raise CommandError(f"{name} is already archived ({state.archive_path})")
        if state.turn is not None:
            raise CommandError(
                f"{name} has a turn open in the log ({state.turn.turn_id}); start the bot so "
                "it closes it (or /stop it), then archive"
            )
        if state.process_pid is not None:
            print(
                f"pocketcode: note: the log says a claude process (pid {state.process_pid}) "
                "was running for this session; make sure the bot is stopped",
                file=sys.stderr,
            )
        workdir: Path | None = None
        if _wants_workdir(settings, state.persona):
            workdir = Path(state.cwd)
            if not workdir.is_dir():
                print(
                    f"pocketcode: note: working directory {workdir} is gone; archiving without it",
                    file=sys.stderr,
                )
                workdir = None
        try:
            path = await asyncio.to_thread(
                build_archive,
                events,
                state.to_json(),
                settings.archive_dir,
                workdir=workdir,
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
