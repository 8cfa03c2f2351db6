"""Sessions side by side: where a chat has topics, each session is one.

A forum supergroup, or a private chat with the bot's topic mode on, has topics; the front says
so with every update (``Where``). There, ``/new`` (and ``/resume``, ``desk``) opens a topic named
after the session it creates, and a message in a topic goes to that topic's session: nothing to
switch; so do the commands about one session (``/stop``, ``/every``, ``/get``, ``/ls``...), and
``/routines`` there lists its routines. What a session says goes into its topic
(``ChatContext.say_about``, ``turns.Replies``, ``permissions``: replies, routines' answers, the
buttons of changed files), which
is what the binding (thread id <-> session) is for: an event of the chat's stream
(``chat.topic_bound``), so a restart, a crash or an outage still delivers into the right topic.

``/session NAME`` opens a topic for a session that has none (one made before topics were on);
``/archive`` closes the topic and ``/unarchive`` reopens it; the General topic keeps the commands
about all sessions (``/session``, ``/personas``, ``/help``, ``/status`` of them all). Telegram's
side is noticed too: a topic the user opens by hand becomes a new session (default persona) named
after its title; closing a topic archives its session and reopening it brings it back; renaming
it is noted (the session keeps its name: names are paths). Where the chat has no topics, each
command here is the plain one of ``session_commands``, ``setting_commands``.

Not replay-proof in one place: a crash between Telegram creating a topic and the binding being
logged leaves that topic unbound (the replayed ``/new`` opens another); written to, it becomes a
session of its own like any hand-made topic.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container

from actors.chat import session_commands, setting_commands, texts
from actors.chat import state as cs
from actors.chat.context import ChatContext
from actors.chat.inbound import TopicChanged
from actors.names import MAX_NAME_LEN
from actors.names import validate_session_name as check_name
from actors.session import messages as sm
from actors.session.errors import SessionError

CREATED, EDITED, CLOSED, REOPENED = "created", "edited", "closed", "reopened"


def session_name_for(title: str, taken: Container[str]) -> str:
    """A valid session name (``actors.names``) for a topic called ``title``: lowercase ASCII
    letters and digits, anything else a ``-``, cut to the limit; ``-2``, ``-3``... when taken."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_]+", "-", ascii_title.lower()).strip("-_")[:MAX_NAME_LEN]
    base = slug.rstrip("-_") or "topic"
    for n in range(1, 10_000):
        suffix = "" if n == 1 else f"-{n}"
        name = base[: MAX_NAME_LEN - len(suffix)].rstrip("-_") + suffix
        if name not in taken:
            return check_name(name)
    raise SessionError(f"Too many sessions are named like {base}; /new NAME picks a name.")


async def open_topic(chat: ChatContext, session: str) -> int | None:
    """The session's topic, opened (and bound in the log) if it has none; None where the
    front could not open one."""
    if (thread := chat.state.thread_of(session)) is not None:
        return thread
    thread = await chat.view.create_topic(chat.chat_id, session)
    if thread is not None:
        await chat.append(cs.TOPIC_BOUND, thread_id=thread, session=session, title=session)
    return thread


async def point_to(chat: ChatContext, name: str, text: str) -> None:
    """``text`` in the session's topic (opened if it has none), and where the command was
    typed, that the session is there."""
    if await open_topic(chat, name) is None:
        await chat.say(f"{name} has no topic. " + _NO_TOPIC.format(name=name))
        return
    await chat.say_about(name, text)
    if chat.here() != name:
        await chat.say(f"{name} is in its topic.")


def _welcome(name: str, persona: str, cwd: object) -> str:
    return f"This topic is session {name} (persona {persona}, in {cwd}): write here to talk to it."


_NO_TOPIC = (
    "Telegram did not let the bot open a topic for it (in a group it must be an admin allowed "
    "to manage topics); /session {name} tries again."
)


# -- the commands, where the chat has topics ---------------------------------------------------


async def new(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/new NAME [PERSONA]``: the session, in a topic of its own."""
    if not chat.where.topics:
        await session_commands.new(chat, args, ref)
        return
    name = check_name(args[0])
    persona, cwd = await session_commands.create(
        chat, name, args[1] if len(args) > 1 else "default", ref
    )
    if await open_topic(chat, name) is None:
        await chat.say(
            f"Created {name} (persona {persona.name}, in {cwd}). " + _NO_TOPIC.format(name=name)
        )
        return
    await chat.say_about(name, _welcome(name, persona.name, cwd))
    await chat.say(f"Created {name} in a topic of its own.")


async def session(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/session NAME``: its topic (opened now if it has none); nothing to switch."""
    if not chat.where.topics or not args or args[0] == "all":
        await session_commands.session(chat, args, ref)
        return
    summary = session_commands.existing(chat, args[0])
    name = summary.name
    if chat.here() == name:
        await chat.say(f"This is {name}'s topic: write here to talk to it.")
        return
    had = chat.state.thread_of(name) is not None
    welcome = _welcome(name, summary.persona, summary.cwd)
    await point_to(chat, name, f"Here is {name}: write here to talk to it." if had else welcome)


async def archive(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/archive NAME``, then its topic is closed (said first: nobody writes in a closed one)."""
    await session_commands.archive(chat, args, ref)
    if (thread := chat.state.thread_of(args[0])) is not None:
        await chat.view.close_topic(chat.chat_id, thread)


async def unarchive(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/unarchive NAME``: back in its topic, reopened (or a new one if it had none)."""
    if not chat.where.topics:
        await session_commands.unarchive(chat, args, ref)
        return
    name = args[0]
    workdir = await session_commands.restore(chat, name, ref)
    if (thread := chat.state.thread_of(name)) is not None:
        await chat.view.reopen_topic(chat.chat_id, thread)
    await point_to(chat, name, f"{name} is back: write here to talk to it.{workdir}")


async def status(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/status``: in General of a chat with topics, every session in a line."""
    if not chat.where.topics or chat.here() is not None:
        await setting_commands.status(chat, args, ref)
        return
    await chat.say(texts.all_status(chat.catalog.listed(), chat.state.threads))


# -- Telegram's side ----------------------------------------------------------------------------


async def adopt(chat: ChatContext, ref: str, title: str | None = None) -> None:
    """A topic no session has yet (opened by hand, or before pocketcode knew it) becomes a
    session's: the active session of its title's name if that one has no topic, else a new one
    (default persona) named after the title. Nothing where the update is not from a topic or
    its topic is bound already."""
    thread = chat.where.thread_id
    if thread is None or chat.here() is not None:
        return
    title = title or f"topic {thread}"
    catalog = chat.catalog
    made = next((s for s in catalog.listed(include_archived=True) if s.created_by == ref), None)
    wanted = session_name_for(title, ())
    same = catalog.get(wanted)
    if made is not None:  # this very update made it before a crash
        name = made.name
    elif same is not None and same.status == "active" and chat.state.thread_of(wanted) is None:
        name = wanted
    else:
        taken = {s.name for s in catalog.listed(include_archived=True)}
        name = session_name_for(title, taken)
        await session_commands.create(chat, name, "default", ref)
    await chat.append(cs.TOPIC_BOUND, thread_id=thread, session=name, title=title)
    summary = catalog.get(name)
    persona = summary.persona if summary is not None else "default"
    await chat.say(_welcome(name, persona, summary.cwd if summary is not None else "?"))


async def changed(chat: ChatContext, msg: TopicChanged) -> None:
    """A topic was opened, renamed, closed or reopened in Telegram."""
    session = chat.here()
    if session is None:  # one no session has: opened (or renamed) becomes one's
        if msg.change in (CREATED, EDITED):
            await adopt(chat, msg.correlation_id, msg.title)
        return
    thread = chat.where.thread_id
    assert thread is not None
    summary = chat.catalog.get(session)
    archived = summary is None or summary.status == "archived"
    if msg.change == EDITED and msg.title and msg.title != chat.state.topics[thread].title:
        await chat.append(cs.TOPIC_RENAMED, thread_id=thread, title=msg.title)
        await chat.say(f"This topic is now “{msg.title}”; it is still session {session}.")
    elif msg.change == CLOSED and not archived:
        await _closed_by_hand(chat, session, thread, msg.correlation_id)
    elif msg.change == REOPENED and archived:
        workdir = await session_commands.restore(chat, session, msg.correlation_id)
        await chat.say(f"{session} is back: write here to talk to it.{workdir}")


async def _closed_by_hand(chat: ChatContext, session: str, thread: int, ref: str) -> None:
    """Closing a session's topic archives the session; one that cannot be archived now (a
    turn running) gets its topic back, and the reason."""
    try:
        path = await chat.ask_session(session, sm.Archive(ref), timeout=300)
    except SessionError as exc:
        await chat.view.reopen_topic(chat.chat_id, thread)
        await chat.say(f"{exc} Its topic is open again.")
        return
    if chat.state.active == session:
        await chat.set_active(None)
    text = f"Archived {session} to {path}: its topic was closed."
    await chat.view.say(chat.chat_id, text)  # in General: nobody writes in a closed topic
