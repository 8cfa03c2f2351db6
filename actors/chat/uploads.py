"""Files the user sends: saved under the active session's ``uploads/``, then announced to the
agent as a message of its own, in order with the user's other messages. A file too big to fetch,
or lost to a restart before it was saved, gets words instead."""

from __future__ import annotations

import asyncio
from pathlib import Path

from actors.chat import texts
from actors.chat.context import ChatContext
from actors.chat.inbound import FileArrived, FileLost, FileRefused
from actors.chat.turns import queue
from actors.session.errors import SessionError
from service.names import contained_path, safe_filename


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
    name = safe_filename(msg.filename)
    target = contained_path(Path(summary.cwd), "uploads", name)
    await asyncio.to_thread(_write_file, target, msg.data)
    relative = f"uploads/{name}"
    await chat.say(f"Saved {relative} in {active}.")
    await queue(
        chat, active, texts.uploaded(relative, len(msg.data), msg.caption), msg.correlation_id
    )


async def refused(chat: ChatContext, msg: FileRefused) -> None:
    await chat.say(texts.file_refused(msg.filename, msg.size, msg.limit))


async def lost(chat: ChatContext, msg: FileLost) -> None:
    await chat.say(texts.file_lost(msg.filename))


def _write_file(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
