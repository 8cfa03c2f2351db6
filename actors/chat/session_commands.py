"""/new, /session, /archive and /unarchive: which sessions exist and which one is active.

The catalog says what exists; the chat's log says which session is active here. Where the chat
has topics, ``topics`` wraps these (a session's topic instead of an active session).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from actors.chat.context import ChatContext
from actors.names import contained_path
from actors.names import validate_session_name as check_name
from actors.session import messages as sm
from actors.session.catalog import SessionSummary
from actors.session.errors import SessionError
from personas.catalog import Persona


async def create(chat: ChatContext, name: str, persona_name: str, ref: str) -> tuple[Persona, Path]:
    """A session ``name`` in its own directory (or its persona's); replayed, the same one."""
    persona = chat.personas().get(persona_name)
    cwd = persona.cwd if persona.cwd is not None else contained_path(chat.sessions_dir, name)
    try:
        await asyncio.to_thread(cwd.mkdir, parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise SessionError(
            f"{name} was not created: its working directory {cwd} cannot be used "
            f"({exc.strerror or exc})."
        ) from None
    await chat.ask_session(name, sm.Create(persona.name, str(cwd), chat.chat_id, ref))
    return persona, cwd


async def new(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """Create a session (``NAME [PERSONA]``) in its own directory and make it active."""
    name = check_name(args[0])
    persona, cwd = await create(chat, name, args[1] if len(args) > 1 else "default", ref)
    await chat.set_active(name)
    await chat.say(
        f"Created {name} (persona {persona.name}, in {cwd}). It is now active: "
        "send a message to start."
    )


def existing(chat: ChatContext, name: str) -> SessionSummary:
    """The session ``name``, not archived; else why not, in words."""
    summary = chat.catalog.get(check_name(name))
    if summary is None:
        raise SessionError(f"There is no session named {name}. /session lists them.")
    if summary.status == "archived":
        raise SessionError(f"{name} is archived; /unarchive {name} first.")
    return summary


async def session(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """Switch to ``NAME``; without one, list the sessions (``all``: the archived ones too)."""
    if args and args[0] != "all":
        summary = existing(chat, args[0])
        await chat.set_active(summary.name)
        await chat.say(f"Switched to {summary.name} ({summary.persona}).")
        return
    await chat.offer_sessions("Sessions:", include_archived=bool(args))


async def archive(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """Pack a session away; if it was active here, the next listed one takes its place."""
    name = check_name(args[0])
    catalog = chat.catalog
    if catalog.get(name) is None:
        raise SessionError(f"There is no session named {name}.")
    path = await chat.ask_session(name, sm.Archive(ref), timeout=300)
    text = f"Archived {name} to {path}."
    if chat.state.active == name:
        nxt = next((s.name for s in catalog.listed() if s.name != name), None)
        await chat.set_active(nxt)
        text += f" Active session is now {nxt}." if nxt else " No session is active now."
    await chat.say(text)


async def restore(chat: ChatContext, name: str, ref: str) -> str:
    """Bring ``name`` back from its archive; what became of its working directory, in words."""
    if chat.catalog.get(check_name(name)) is None:
        raise SessionError(f"There is no session named {name}.")
    workdir: str = await chat.ask_session(name, sm.Unarchive(ref), timeout=300)
    return workdir


async def unarchive(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    workdir = await restore(chat, args[0], ref)
    await chat.set_active(args[0])
    await chat.say(f"{args[0]} is back and active.{workdir}")
