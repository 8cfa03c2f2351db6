"""Files the user sends: saved under the active session's ``uploads/``, then announced to the
agent as a message of its own, in order with the user's other messages. A file too big to fetch,
or lost to a restart before it was saved, gets words instead.

A saved file is owner-only whatever the umask, never replaces an earlier upload of the same name
(``name-2.ext``...), and appears whole or not at all: written to a temporary file, synced, then
linked under its name (a link, unlike a rename, never replaces what is there).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from actors.chat import texts
from actors.chat.context import ChatContext
from actors.chat.inbound import FileArrived, FileLost, FileRefused
from actors.chat.turns import queue
from actors.names import contained_path, safe_filename
from actors.session.errors import SessionError


async def save(chat: ChatContext, msg: FileArrived) -> None:
    active = chat.active()
    if active is None:
        await chat.offer_sessions("No active session to put the file in. Pick one:")
        return
    limit = chat.upload_limit_bytes
    if len(msg.data) > limit:
        raise SessionError(
            f"{msg.filename} is larger than the {limit / 1_048_576:g} MB upload limit."
        )
    summary = chat.catalog.get(active)
    assert summary is not None
    folder = contained_path(Path(summary.cwd), "uploads")
    try:
        name = await asyncio.to_thread(_write_file, folder, safe_filename(msg.filename), msg.data)
    except OSError as exc:
        raise SessionError(
            f"{msg.filename} could not be saved in {active}: {exc.strerror or exc}."
        ) from exc
    relative = f"uploads/{name}"
    await chat.say(f"Saved {relative} in {active}.")
    await queue(
        chat, active, texts.uploaded(relative, len(msg.data), msg.caption), msg.correlation_id
    )


async def refused(chat: ChatContext, msg: FileRefused) -> None:
    await chat.say(texts.file_refused(msg.filename, msg.size, msg.limit, msg.reason))


async def lost(chat: ChatContext, msg: FileLost) -> None:
    await chat.say(texts.file_lost(msg.filename))


MAX_SAME_NAME = 1000


def _write_file(folder: Path, name: str, data: bytes) -> str:
    """Save ``data`` in ``folder`` under ``name`` or the first free ``name-N``; returns it."""
    _private_dirs(folder)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")  # mode 0600, umask or not
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        for candidate in _numbered(name):
            try:
                os.link(tmp, folder / candidate)
            except FileExistsError:
                continue
            _fsync_dir(folder)
            return candidate
        raise FileExistsError(f"{MAX_SAME_NAME} files named like {name} are already there")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _numbered(name: str) -> Iterator[str]:
    """``name``, then ``stem-2.ext``, ``stem-3.ext``..."""
    yield name
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    for n in range(2, MAX_SAME_NAME + 1):
        yield f"{stem}-{n}{dot}{ext}"


def _private_dirs(folder: Path) -> None:
    """Create ``folder`` and missing parents as 0700: mkdir's mode is cut by the umask."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir()
            path.chmod(0o700)


def _fsync_dir(folder: Path) -> None:
    """Make the new name itself durable, not only the bytes behind it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
