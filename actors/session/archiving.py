"""Archiving a session: packed from the log (the only source of truth), written atomically."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from actors.session.state import SessionState
from eventstore import EventStore
from service.archive import build_archive, extract_workdir


async def pack(
    store: EventStore,
    state: SessionState,
    stream: str,
    archive_dir: Path,
    *,
    include_workdir: bool,
    now: datetime,
) -> Path:
    events = await store.read_stream(stream)
    workdir = Path(state.cwd) if include_workdir else None
    return await asyncio.to_thread(
        build_archive, events, state.to_json(), archive_dir, workdir=workdir, now=now
    )


async def restore_workdir(archive: Path, cwd: Path) -> None:
    """Bring the working directory back from the archive, only if it is gone."""

    def restore() -> None:
        if archive.exists() and not cwd.exists():
            extract_workdir(archive, cwd)

    await asyncio.to_thread(restore)
