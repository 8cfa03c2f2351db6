"""/resume and /release: a conversation goes from the desk to the chat and back.

claude keeps every conversation in its own store (``actors.claude.store``), whoever started it.
``/resume`` lists those made outside pocketcode (the ones its sessions drive are left out) and
imports one: a new session in the conversation's directory whose first process starts with
``--resume``, so the next message continues it (where the chat has topics, in a topic of its
own, as ``/new`` makes one). ``/release`` stops a session's process, so a
``claude --resume`` at a terminal is the only one writing the conversation; the next chat message
resumes it, with what was said there.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path

from actors.chat import texts, topics
from actors.chat.context import ChatContext
from actors.chat.view import Button, Keyboard
from actors.claude import store
from actors.names import MAX_NAME_LEN, is_valid_session_name
from actors.names import validate_session_name as check_name
from actors.session import messages as sm
from actors.session.errors import SessionError
from actors.session.state import SessionState
from personas.catalog import cwd_problem

#: Conversations listed at once, and how much of each is shown.
SHOWN = 8
PROMPT_SHOWN = 60
LABEL_MAX = 48
#: How much of the last exchange an import shows.
PROMPT_ECHO = 300
REPLY_ECHO = 1500
USAGE = (
    "Usage: /resume [DIR|ID] [as NAME] — DIR is a full path (/… or ~/…), ID a conversation's id."
)


async def resume(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/resume``: list; ``/resume DIR``: list one directory's; ``/resume ID`` (a button) or
    ``/resume DIR|ID as NAME``: import one (DIR: its newest)."""
    target, name = parse(args)
    root = chat.claude_dir
    if root is None:
        raise SessionError(
            "pocketcode cannot tell where claude keeps its conversations: set HOME or "
            "CLAUDE_CONFIG_DIR (claude.env in the config)."
        )
    owners = await chat.catalog.conversations.owners()
    directory = _directory(target) if target is not None and is_path(target) else None
    if target is None or (directory is not None and name is None):
        found = await asyncio.to_thread(
            store.listing, root, skip=owners.keys(), cwd=directory, limit=SHOWN
        )
        text, buttons = listing_text(found, directory, chat.now(), _home())
        await chat.say(text, buttons=buttons)
        return
    if directory is not None:
        newest = await asyncio.to_thread(
            store.listing, root, skip=owners.keys(), cwd=directory, limit=1
        )
        if not newest.conversations:
            raise SessionError(f"claude has no conversation in {directory} to resume.")
        conversation = newest.conversations[0]
    else:
        conversation = await _by_id(root, target, owners)
    await _import(chat, conversation, name, ref)


def parse(args: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(what to resume, the session's name): ``DIR|ID`` and ``as NAME`` are optional; a
    directory may hold spaces (the words are joined again)."""
    if len(args) >= 2 and args[-2].lower() == "as":
        if len(args) == 2:
            raise SessionError(USAGE)
        return " ".join(args[:-2]), check_name(args[-1])
    return (" ".join(args) or None), None


def is_path(target: str) -> bool:
    return target.startswith(("/", "~"))


def _directory(target: str) -> str:
    return os.path.realpath(os.path.expanduser(target))


def _home() -> str:
    return os.path.expanduser("~")


async def _by_id(root: Path, key: str, owners: dict[str, str]) -> store.Conversation:
    found = await asyncio.to_thread(store.find, root, key)
    if not found:
        raise SessionError(f"No conversation of claude has the id {key!r}. {USAGE}")
    if len(found) > 1:
        raise SessionError(f"{key!r} starts {len(found)} conversations' ids: give more of it.")
    conversation = found[0]
    if (owner := owners.get(conversation.session_id)) is not None:
        raise SessionError(
            f"That conversation is pocketcode's session {owner} already: /session {owner}."
        )
    return conversation


async def _import(
    chat: ChatContext, conversation: store.Conversation, name: str | None, ref: str
) -> None:
    cwd = Path(conversation.cwd)
    if not await asyncio.to_thread(cwd.is_dir):
        raise SessionError(f"Its directory {cwd} is gone, so the conversation cannot go on.")
    if cwd_problem(cwd, chat.own_dirs) is not None:
        raise SessionError(f"That conversation works in {cwd}, among pocketcode's own files.")
    directory = chat.catalog.directory
    replayed = next((s.name for s in directory.values() if s.created_by == ref), None)
    name = replayed or name or name_for(conversation.cwd, set(directory))
    persona = chat.personas().get("default")
    create = sm.Create(
        persona.name,
        conversation.cwd,
        chat.chat_id,
        ref,
        claude_session_id=conversation.session_id,
        first_prompt=conversation.first_prompt[:PROMPT_ECHO],
    )
    await chat.ask_session(name, create)
    exchange = await asyncio.to_thread(store.last_exchange, conversation.path)
    text = resumed_text(name, conversation.cwd, exchange, topic=chat.where.topics)
    if chat.where.topics:  # in a topic of its own, as /new makes one
        await topics.point_to(chat, name, text)
        return
    await chat.set_active(name)
    await chat.say(text)


async def release(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/release [NAME]``: stop the session's claude so the conversation can go on at a
    terminal; the session says so in words while a turn runs."""
    name = check_name(args[0]) if args else chat.active()
    if name is None:
        await chat.offer_sessions("No active session to release. Pick one:")
        return
    if chat.catalog.get(name) is None:
        raise SessionError(f"There is no session named {name}.")
    state: SessionState = await chat.ask_session(name, sm.Release(ref, chat.chat_id))
    await chat.say(released_text(state))


# ------------------------------------------------------------------------------ wording


def name_for(cwd: str, taken: Collection[str]) -> str:
    """A session name from a directory's name (``My Project`` -> ``my-project``), numbered
    when taken."""
    base = re.sub(r"[^a-z0-9_-]+", "-", Path(cwd).name.lower()).strip("-_")[:MAX_NAME_LEN]
    base = base if is_valid_session_name(base) else "desk"
    if base not in taken:
        return base
    for n in range(2, 1000):
        numbered = f"{base[: MAX_NAME_LEN - len(str(n)) - 1]}-{n}"
        if numbered not in taken:
            return numbered
    raise SessionError("Every name for this directory is taken: /resume … as NAME.")


def age(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'' if days == 1 else 's'} ago"


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown_dir(cwd: str, home: str) -> str:
    return "~" + cwd[len(home) :] if home not in ("", "/") and cwd.startswith(home + "/") else cwd


def listing_text(
    found: store.Found, directory: str | None, now: datetime, home: str
) -> tuple[str, Keyboard]:
    """The conversations as lines and as buttons: directory, age, first prompt."""
    where = f" in {directory}" if directory else " on this machine"
    if not found.conversations:
        lines = [f"No conversation of claude{where} to resume."]
    else:
        lines = [f"claude's conversations{where}, newest first:"]
    buttons: list[tuple[Button, ...]] = []
    for c in found.conversations:
        when = age(now - c.modified)
        lines.append(f"• {_shown_dir(c.cwd, home)} · {when} · {c.session_id[:8]}")
        lines.append(f"   “{_cut(c.first_prompt, PROMPT_SHOWN)}”")
        label = f"{Path(c.cwd).name or '/'} · {when} · {c.first_prompt}"
        buttons.append((Button(_cut(label, LABEL_MAX), "resume", c.session_id),))
    if found.more:
        lines.append("Older ones: /resume DIR lists one directory's.")
    if found.left_out:
        lines.append(f"({found.left_out} in pocketcode's own sessions are not listed.)")
    if found.conversations:
        lines.append(
            "Tap one to continue it here as a session named after its directory "
            "(/resume ID as NAME to name it)."
        )
    return "\n".join(lines), tuple(buttons)


def resumed_text(name: str, cwd: str, exchange: store.Exchange, *, topic: bool = False) -> str:
    """Said where the session is now: the chat (active) or its own topic (``topic``)."""
    where = "in this topic of its own" if topic else "now active"
    lines = [f"Resumed the conversation in {cwd} as {name}, {where}."]
    if exchange.prompt is not None or exchange.reply is not None:
        lines.append("Where it stands:")
    if exchange.prompt is not None:
        prompt = exchange.prompt.strip()
        lines.append(
            "You: " + (prompt if len(prompt) <= PROMPT_ECHO else prompt[:PROMPT_ECHO] + "…")
        )
    if exchange.reply is not None:
        reply = exchange.reply.strip()
        lines.append(
            "Claude: " + (reply if len(reply) <= REPLY_ECHO else "…" + reply[-REPLY_ECHO:])
        )
    lines.append(
        "Your next message continues it. If claude still runs on it at a terminal, quit it "
        "there first."
    )
    return "\n\n".join(lines)


def released_text(state: SessionState) -> str:
    if state.claude_session_id is None:
        return (
            f"{state.name} has no conversation with claude yet, so there is nothing to go on "
            "with at a terminal."
        )
    return (
        f"{state.name} is released: no claude of pocketcode runs on it. At a terminal:\n"
        f"{texts.desk_line(state.cwd, state.claude_session_id)}\n"
        "Your next message here resumes it, with what was said there."
    )
