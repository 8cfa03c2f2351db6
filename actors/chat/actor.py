"""The chat actor: one per Telegram chat (or terminal). Decides what the user sees.

Its mailbox orders a chat's updates (logged by the intake before they reach it) and the notices
of its sessions; it handles each update once and appends what it decided (active session, open
questions, handled updates) to the chat's stream, of which it is the only writer, so a restart
rebuilds it. Every update ends handled: a refusal is said in words, an unexpected failure is
logged and told in one sentence, and neither is retried. The handling itself lives in plain
functions of a ``ChatContext``: ``routes`` picks them for commands and buttons, ``turns``,
``permissions``, ``uploads`` and ``voice`` for the rest, ``topics`` for Telegram's notes about
topics. Each update is answered in the topic it came from (``ChatContext.at``).

Transient on purpose: whether a turn of this chat is running (``Replies.running``, only for the
typing indicator; a restart ends every running turn) and what the front shows of a streaming
reply.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import structlog

from actors.chat import permissions, routes, topics, turns, uploads, voice
from actors.chat import state as cs
from actors.chat.context import ChatContext, ChatDeps
from actors.chat.inbound import (
    FileArrived,
    FileLost,
    FileRefused,
    Incoming,
    Pressed,
    TopicChanged,
    VoiceArrived,
)
from actors.claude.choices import InvalidChoice
from actors.names import InvalidName, PathEscape
from actors.routines.errors import RoutineError
from actors.routines.notices import RoutineNotice
from actors.runtime import Actor
from actors.session import notices as n
from actors.session.catalog import SessionExistsError
from actors.session.errors import SessionError
from eventstore import NewEvent, fold
from eventstore.errors import ConcurrencyError
from personas.catalog import UnknownPersona

log = structlog.get_logger("chat")

#: Refusals whose message is for the user: said in the chat, and the update still counts as
#: handled (replaying it would only refuse again).
USER_ERRORS = (
    SessionError,
    SessionExistsError,
    InvalidName,
    PathEscape,
    UnknownPersona,
    InvalidChoice,
    RoutineError,
)


class ChatActor(Actor[Any]):
    def __init__(self, chat_id: int, deps: ChatDeps) -> None:
        self.chat_id = chat_id
        self.stream = cs.stream_of(chat_id)
        self.deps = deps
        self.state = cs.ChatState(chat_id=chat_id)
        self.chat = ChatContext.of(chat_id, deps, lambda: self.state, self._append)
        self.replies = turns.Replies(self.chat)

    async def on_start(self) -> None:
        structlog.contextvars.bind_contextvars(chat_id=self.chat_id)
        self.state = await self.rebuilt_state()

    async def rebuilt_state(self) -> cs.ChatState:
        """The chat's state as its stream says: what a restart would start from."""
        events = await self.deps.store.read_stream(self.stream)
        return fold(cs.evolve, cs.ChatState(chat_id=self.chat_id), events)

    async def receive(self, message: Any) -> Any:
        chat = self.chat
        match message:
            case (
                Incoming()
                | Pressed()
                | FileArrived()
                | FileRefused()
                | FileLost()
                | VoiceArrived()
                | TopicChanged()
            ):
                here = chat.at(message.where)  # answered in the topic it came from
                await self._handled(here, message.correlation_id, self._inbound(here, message))
            case n.TurnStarted():
                await self.replies.started(message)
            case n.TurnQueued():
                await self.replies.queued(message)
            case n.ReplyProgress():
                await self.replies.progress(message)
            case n.TurnFinished():
                await self.replies.finished(message)
            case n.PermissionAsked():
                await permissions.asked(chat, message)
            case n.PermissionClosed():
                await permissions.closed(chat, message)
            case n.SessionNotice():
                await chat.say_about(message.session, message.text)
            case RoutineNotice():
                thread = chat.state.thread_of(message.session) if message.session else None
                await chat.view.say(
                    chat.chat_id, message.text, silent=message.silent, thread_id=thread
                )
            case _:
                raise TypeError(f"chat actor got an unknown message {message!r}")

    @staticmethod
    async def _inbound(chat: ChatContext, message: Any) -> None:
        """An update; from a topic no session has yet, that topic first becomes one's."""
        if isinstance(message, TopicChanged):
            await topics.changed(chat, message)
            return
        await topics.adopt(chat, message.correlation_id)
        match message:
            case Incoming():
                await routes.on_text(chat, message)
            case Pressed():
                await routes.on_pressed(chat, message)
            case FileArrived():
                await uploads.save(chat, message)
            case FileRefused():
                await uploads.refused(chat, message)
            case FileLost():
                await uploads.lost(chat, message)
            case VoiceArrived():
                await voice.hear(chat, message)

    async def _handled(self, chat: ChatContext, ref: str, work: Coroutine[Any, Any, None]) -> None:
        """Handle an update once, then mark it handled, whatever happened: bad input gets
        words, an unexpected failure is logged with its correlation id and told in one
        sentence. Never retried, never answered twice."""
        if self.state.was_handled(ref):
            work.close()
            return
        try:
            await work
        except USER_ERRORS as exc:
            await self._tell(chat, str(exc))
        except Exception as exc:
            log.exception("chat.update_failed", correlation_id=ref)
            await self._tell(
                chat,
                f"Sorry, that failed inside pocketcode ({type(exc).__name__}); nothing more "
                f"will be done with it. The log has the details under {ref}.",
            )
        await self._append(cs.UPDATE_HANDLED, ref=ref)

    async def _tell(self, chat: ChatContext, text: str) -> None:
        """Say why an update failed; if even that fails, the log has it (the update still
        ends handled: telling nobody beats handling it again forever)."""
        try:
            await chat.say(text)
        except Exception:
            log.exception("chat.say_failed")

    async def _append(self, type_: str, /, **data: Any) -> None:
        """Append, then fold; ``expected_version`` is the version folded (one writer)."""
        try:
            [event] = await self.deps.store.append(
                self.stream, [NewEvent(type_, data)], expected_version=self.state.version
            )
        except ConcurrencyError:
            log.error("chat.written_elsewhere", version=self.state.version)
            self.state = await self.rebuilt_state()
            raise
        self.state = cs.evolve(self.state, event)
