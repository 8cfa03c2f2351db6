"""Archiving a session: packed from the log (the only source of truth), written atomically."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from actors.archive.tarball import ArchiveError, build_archive, extract_workdir
from actors.session.errors import SessionError
from actors.session.state import SessionState
from eventstore import EventStore


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


async def restore_workdir(session: str, archive: Path, cwd: Path) -> str:
    """Bring the working directory back from the archive, only if it is gone; says how that
    went. Raises ``SessionError`` (nothing changed) if the archive cannot be read."""

    def restore() -> str:
        if cwd.exists():
            return ""
        if not archive.exists():
            return f" Its working directory {cwd} is gone and {archive} is missing."
        try:
            restored = extract_workdir(archive, cwd)
        except ArchiveError as exc:
            raise SessionError(f"{session} was not unarchived: {exc}.") from None
        if restored is None:
            return ""
        if restored.complete:
            return f" Its working directory was restored ({restored.written:,} entries)."
        shown = "; ".join(f"{name} ({why})" for name, why in restored.skipped[:5])
        more = len(restored.skipped) - 5
        return (
            f" {len(restored.skipped):,} entries of its working directory could not be "
            f"restored and are still only in {archive.name}: {shown}"
            + (f"; and {more:,} more." if more > 0 else ".")
        )

    return await asyncio.to_thread(restore)
