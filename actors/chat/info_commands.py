"""/personas: what pocketcode offers. It reads, and changes nothing (/start and /help, which
read the command table, live beside it in ``routes``)."""

from __future__ import annotations

from actors.chat import texts
from actors.chat.context import ChatContext


async def personas(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    await chat.say(texts.personas(chat.personas()))
