"""Outer middlewares on ``dp.update``: who may talk to the bot, and log context per update.

Access is checked before any handler so a stranger costs nothing and learns nothing: no reply,
no callback answer, not even proof that the bot is alive. Denials go to ``on_denied`` (the app
appends them to the event log) instead, a few per sender per hour (``DenialLimiter``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, Update, User

from service.telegram.denials import DenialLimiter

log = structlog.get_logger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
DENIED_TEXT_LIMIT = 200


def _kind(update: Update) -> str:
    try:
        return update.event_type
    except LookupError:  # an update type this aiogram does not know
        return "unknown"


def _event(update: Update) -> object | None:
    try:
        return update.event
    except LookupError:
        return None


def _user_and_chat(update: Update, data: dict[str, Any]) -> tuple[User | None, Chat | None]:
    """Prefer aiogram's UserContextMiddleware results; fall back to the update itself."""
    user = data.get("event_from_user")
    chat = data.get("event_chat")
    if user is None or chat is None:
        event = _event(update)
        user = user or getattr(event, "from_user", None)
        message = getattr(event, "message", None)
        chat = chat or getattr(event, "chat", None) or getattr(message, "chat", None)
    if user is None and chat is not None and chat.type == "private":
        # Updates with no sender (a draft's stop button): in a private chat, it is the chat's user.
        user = User(id=chat.id, is_bot=False, first_name=chat.first_name or "")
    return user, chat


def _update_text(update: Update) -> str:
    """What the stranger sent, for the log: text, caption, button data or file name."""
    event = _event(update)
    for attr in ("text", "caption", "data", "query"):
        value = getattr(event, attr, None)
        if isinstance(value, str) and value:
            return value
    document = getattr(event, "document", None)
    if document is not None and document.file_name:
        return f"[document] {document.file_name}"
    return ""


class AccessMiddleware(BaseMiddleware):
    """Drops updates from users outside the allow-list, and from group chats not allowed by id
    (an allowed user in some other group must not open the agent to that group); the bot's own
    service messages (Telegram sends those about topics) quietly."""

    def __init__(
        self,
        allowed_users: frozenset[int],
        allowed_chats: frozenset[int],
        on_denied: Callable[[dict[str, Any]], Awaitable[None]],
        denials: DenialLimiter | None = None,
    ) -> None:
        self.allowed_users = frozenset(allowed_users)
        self.allowed_chats = frozenset(allowed_chats)
        self.on_denied = on_denied
        self.denials = denials or DenialLimiter()

    def allows(self, user: User | None, chat: Chat | None) -> bool:
        if user is None or user.id not in self.allowed_users or chat is None:
            return False
        return chat.type == "private" or chat.id in self.allowed_chats

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        user, chat = _user_and_chat(event, data)
        if self.allows(user, chat):
            return await handler(event, data)
        bot = data.get("bot")
        if user is not None and bot is not None and user.id == bot.id:
            return None  # the bot's own notes (a topic it opened or closed): no stranger's
        sender = user.id if user else chat.id if chat else 0
        dropped = self.denials.admit(sender)
        if dropped is None:  # counted, and told with the sender's next recorded denial
            return None
        info: dict[str, Any] = {
            "user_id": user.id if user else None,
            "chat_id": chat.id if chat else None,
            "kind": _kind(event),
            "text": _update_text(event)[:DENIED_TEXT_LIMIT],
        }
        if dropped:
            info["dropped_before"] = dropped
        try:
            await self.on_denied(info)
        except Exception:  # recording a denial must never let the update through or crash
            log.exception("telegram.on_denied_failed")
        return None


class LogContextMiddleware(BaseMiddleware):
    """Binds chat/user/correlation ids for every log line of an update, and times it."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        user, chat = _user_and_chat(event, data)
        ids = {
            "chat_id": chat.id if chat else None,
            "user_id": user.id if user else None,
            "correlation_id": f"upd-{event.update_id}",
        }
        start = time.monotonic()
        with structlog.contextvars.bound_contextvars(**ids):
            try:
                return await handler(event, data)
            finally:
                duration_ms = round((time.monotonic() - start) * 1000, 1)
                log.info("telegram.update_handled", kind=_kind(event), duration_ms=duration_ms)
