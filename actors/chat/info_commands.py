"""/start, /help and /personas: what pocketcode is and offers. They read, and change nothing."""

from __future__ import annotations

from actors.chat import commands as c
from actors.chat import texts
from actors.chat.context import ChatContext


async def start(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    await chat.say(texts.WELCOME + c.help_text())
    if chat.active() is None:
        await chat.offer_sessions("Start with a session:")


async def help_(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    await chat.say(c.help_text())


async def personas(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    await chat.say(texts.personas(chat.personas()))
