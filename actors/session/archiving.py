"""Archiving a session: packed from the log (the only source of truth), written atomically."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from actors.session.errors import SessionError
from actors.session.state import SessionState
from eventstore import EventStore
from service.archive import build_archive, extract_workdir


def check_archivable(state: SessionState, session: str, correlation_id: str | None) -> str | None:
    """Whether ``/archive`` may pack the session now: None if so, or the archive's path when
    this very command packed it already (replayed after a crash). Raises ``SessionError``
    when it may not, a running turn included (say so, lose nothing)."""
    if not state.exists:
        raise SessionError(f"There is no session named {session}.")
    if state.status == "archived":
        if correlation_id is not None and state.archived_by == correlation_id:
            return state.archive_path or ""
        raise SessionError(f"{session} is already archived.")
    if state.busy:
        raise SessionError(f"{session} is running a turn; /stop it first, then archive.")
    return None


async def pack(
    store: EventStore,
    state: SessionState,
    stream: str,
    archive_dir: Path | None,
    *,
    include_workdir: bool,
    now: datetime,
) -> Path:
    """Write the archive into ``archive_dir`` (None: ``sessions_archive`` next to the
    session's working directory)."""
    events = await store.read_stream(stream)
    workdir = Path(state.cwd) if include_workdir else None
    into = archive_dir or Path(state.cwd).parent / "sessions_archive"
    return await asyncio.to_thread(
        build_archive, events, state.to_json(), into, workdir=workdir, now=now
    )


async def restore_workdir(archive: Path, cwd: Path) -> None:
    """Bring the working directory back from the archive, only if it is gone."""

    def restore() -> None:
        if archive.exists() and not cwd.exists():
            extract_workdir(archive, cwd)

    await asyncio.to_thread(restore)
