"""The chat actor: one per Telegram chat (or terminal). Decides what the user sees.

Its mailbox orders a chat's updates and the notices of its sessions; it handles each update
once and appends what it decided (active session, open questions, handled updates) to the
chat's stream, so a restart rebuilds it and replays what was never handled. The handling
itself lives in plain functions of a ``ChatContext``: ``routes`` picks them for commands and
buttons, ``turns``, ``permissions``, ``uploads`` and ``voice`` for the rest.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import structlog

from actors.chat import notices as n
from actors.chat import permissions, routes, turns, uploads, voice
from actors.chat import state as cs
from actors.chat.context import ChatContext, ChatDeps
from actors.chat.inbound import FileArrived, FileRefused, Incoming, Pressed, VoiceArrived
from actors.chat.uploads import FileLost
from actors.runtime import Actor
from actors.session.catalog import SessionExistsError
from actors.session.errors import SessionError
from eventstore import NewEvent, fold
from service.claude.choices import InvalidChoice
from service.names import InvalidName, PathEscape
from service.personas import UnknownPersona

#: Refusals whose message is for the user: said in the chat, and the update still counts as
#: handled (replaying it would only refuse again).
USER_ERRORS = (
    SessionError,
    SessionExistsError,
    InvalidName,
    PathEscape,
    UnknownPersona,
    InvalidChoice,
)


class ChatActor(Actor[Any]):
    def __init__(self, chat_id: int, deps: ChatDeps) -> None:
        self.chat_id = chat_id
        self.stream = cs.stream_of(chat_id)
        self.deps = deps
        self.state = cs.ChatState(chat_id=chat_id)
        self.chat = ChatContext.of(chat_id, deps, lambda: self.state, self._append)
        self.replies = turns.Replies(self.chat)
        #: Updates handled by this incarnation: a replayed one may also arrive from the front.
        self.done: set[str] = set()

    async def on_start(self) -> None:
        structlog.contextvars.bind_contextvars(chat_id=self.chat_id)
        events = await self.deps.store.read_stream(self.stream)
        self.state = fold(cs.evolve, cs.ChatState(chat_id=self.chat_id), events)
        for ref, data in list(self.state.unhandled.items()):
            replay = _replayable(data, ref)
            if replay is not None:
                self.ctx.ref.tell(replay)  # logged before the crash, never handled: handle now

    async def receive(self, message: Any) -> Any:
        chat = self.chat
        match message:
            case Incoming():
                await self._handled(message.correlation_id, routes.on_text(chat, message))
            case Pressed():
                await self._handled(message.correlation_id, routes.on_pressed(chat, message))
            case FileArrived():
                await self._handled(message.correlation_id, uploads.save(chat, message))
            case FileRefused():
                await self._handled(message.correlation_id, uploads.refused(chat, message))
            case FileLost():
                await self._handled(message.correlation_id, uploads.lost(chat, message))
            case VoiceArrived():
                await self._handled(message.correlation_id, voice.hear(chat, message))
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
            case _:
                raise TypeError(f"chat actor got an unknown message {message!r}")

    async def _handled(self, ref: str, work: Coroutine[Any, Any, None]) -> None:
        """Handle an update once, then mark it handled; bad input gets words, not a traceback."""
        if ref in self.done:
            work.close()
            return
        self.done.add(ref)
        try:
            await work
        except USER_ERRORS as exc:
            await self.chat.say(str(exc))
        await self._append(cs.UPDATE_HANDLED, ref=ref)

    async def _append(self, type_: str, /, **data: Any) -> None:
        [event] = await self.deps.store.append(self.stream, [NewEvent(type_, data)])
        self.state = cs.evolve(self.state, event)


def _replayable(data: dict[str, Any], ref: str) -> Incoming | Pressed | FileLost | None:
    """The message that handles a logged update again after a restart. A file's bytes were
    never logged, so it can only be asked for again."""
    kind = data.get("kind")
    if kind == "text":
        return Incoming(data.get("user_id", 0), data.get("text", ""), ref)
    if kind == "button":
        return Pressed(data.get("user_id", 0), data["action"], data["arg"], data.get("handle"), ref)
    if kind == "file":
        return FileLost(str(data.get("filename") or "a file"), ref)
    if kind == "voice":
        return FileLost("Your voice message", ref)
    return None
