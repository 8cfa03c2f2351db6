"""What the chat's handlers work with: its view, its sessions, and its state through its log.

Handlers are plain functions of a ``ChatContext`` rather than methods of the actor, so a feature
module sees the chat's edges (say something, ask a session, append to the chat's stream) and
nothing of the mailbox, the dedupe of updates or their replay after a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from actors.chat import state as cs
from actors.chat import texts
from actors.chat.inbound import HERE, Where
from actors.chat.transcription import NoTranscriber, Transcriber
from actors.chat.view import ChatView, Keyboard
from actors.runtime import ActorRef, AskTimeoutError
from actors.session.catalog import SessionCatalog
from actors.session.errors import SessionError
from eventstore import EventStore
from personas.catalog import PersonaCatalog

#: The session actor of a name (started on demand by the registry).
SessionRefs = Callable[[str], ActorRef[Any]]


@dataclass(frozen=True, slots=True)
class ChatServices:
    """What a chat's handlers work with, the same for every chat: declared once, here."""

    view: ChatView
    catalog: SessionCatalog
    sessions: SessionRefs
    personas: Callable[[], PersonaCatalog]
    sessions_dir: Path
    upload_limit_bytes: int = 20 * 1024 * 1024
    transcriber: Transcriber = field(default_factory=NoTranscriber)
    #: The scheduler actor of routines (``actors.routines``); None where none runs.
    routines: Callable[[], ActorRef[Any]] | None = None
    #: Where claude keeps its own conversations (``actors.claude.store``; None: unknown).
    claude_dir: Path | None = None
    #: pocketcode's own directories, which no session may work in (``personas.cwd_problem``).
    own_dirs: Mapping[str, Path] = field(default_factory=dict)
    #: The largest file the front can send (Telegram's bots: 50 MB).
    send_limit_bytes: int = 50 * 1024 * 1024
    #: Wall time, for how old things are (the actor system's clock).
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class ChatDeps(ChatServices):
    """What every chat actor is built with, at the composition root (``service.app``): the
    services, and the log, which only the actor's own append writes to."""

    store: EventStore = field(kw_only=True)


class Append(Protocol):
    """Append one event to the chat's stream and fold it into the chat's state, in that order,
    so what a handler decided survives a restart."""

    async def __call__(self, type_: str, /, **data: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class ChatContext(ChatServices):
    """One chat's edges: the services without the store, which only ``append`` writes to.
    ``current`` reads the actor's state, which every ``append`` changes. ``where``: the topic
    the update being handled came from (``at``); what is said about it goes there."""

    chat_id: int = field(kw_only=True)
    current: Callable[[], cs.ChatState] = field(kw_only=True)
    append: Append = field(kw_only=True)
    where: Where = field(default=HERE, kw_only=True)

    @classmethod
    def of(
        cls, chat_id: int, deps: ChatServices, current: Callable[[], cs.ChatState], append: Append
    ) -> ChatContext:
        shared = {f.name: getattr(deps, f.name) for f in fields(ChatServices)}
        return cls(**shared, chat_id=chat_id, current=current, append=append)

    def at(self, where: Where) -> ChatContext:
        """This chat, handling an update that came from ``where``."""
        return self if where == self.where else replace(self, where=where)

    @property
    def state(self) -> cs.ChatState:
        return self.current()

    def here(self) -> str | None:
        """The session whose topic the update came from (None: not a session's topic)."""
        return self.state.session_in(self.where.thread_id)

    def active(self) -> str | None:
        """The session a message goes to, unless it has since been archived or removed: in a
        chat with topics the topic's own (none in General), elsewhere the chat's active one."""
        active = self.here() if self.where.topics else self.state.active
        summary = self.catalog.get(active) if active else None
        return active if summary is not None and summary.status == "active" else None

    def label(self, session: str, text: str) -> str:
        """Replies from a session other than the active one say where they come from, unless
        they go into the session's own topic."""
        plain = session == self.state.active or self.state.thread_of(session) is not None
        return text if plain else f"[{session}] {text}"

    async def say(
        self, text: str, *, buttons: Keyboard = (), markdown: bool = False, silent: bool = False
    ) -> int | None:
        """Said where the update being handled came from."""
        return await self.view.say(
            self.chat_id,
            text,
            buttons=buttons,
            markdown=markdown,
            silent=silent,
            thread_id=self.where.thread_id,
        )

    async def say_about(self, session: str, text: str, *, silent: bool = False) -> None:
        """Said in the session's topic (the chat itself if it has none)."""
        thread = self.state.thread_of(session)
        await self.view.say(
            self.chat_id, self.label(session, text), silent=silent, thread_id=thread
        )

    async def set_active(self, name: str | None) -> None:
        if self.state.active != name:
            await self.append(cs.ACTIVE_CHANGED, session=name)

    async def offer_sessions(self, title: str, *, include_archived: bool = False) -> None:
        """The session list with buttons: what a chat without an active session is shown. In
        the topic of a session since archived, that it is."""
        if (stranded := self.here()) is not None and self.active() is None:
            await self.say(texts.archived_topic(stranded))
            return
        catalog = self.catalog
        text, buttons = texts.session_list(
            title,
            catalog.listed(include_archived=include_archived),
            None if self.where.topics else self.state.active,
            more_archived=not include_archived
            and any(s.status == "archived" for s in catalog.listed(include_archived=True)),
            conversations=await catalog.conversations.current(),
            topics=self.where.topics,
        )
        await self.say(text, buttons=buttons)

    async def ask_session(self, name: str, message: Any, *, timeout: float = 30) -> Any:
        """A session's answer; a session too busy to answer becomes words for the user."""
        try:
            return await self.sessions(name).ask(message, timeout=timeout)
        except AskTimeoutError:
            raise SessionError(f"{name} did not answer in time; try again.") from None

    def tell_session(self, name: str, message: Any) -> None:
        self.sessions(name).tell(message)
