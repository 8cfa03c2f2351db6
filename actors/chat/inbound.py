"""What a front hands the chat actor, and how the intake logs it.

Every update is logged by the intake, before it is acknowledged, as the one event of a stream of
its own (``update:<correlation id>``, appended with ``expected_version`` 0, so the database itself
refuses a second copy of an update however it arrives); the chat actor then handles it and logs
``chat.update_handled`` in its own stream. After a restart, updates received and never handled
are handed to their chats again, rebuilt from the log by ``replayable``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

#: The event of an update's stream: the update as received (``record``), before it is handled.
RECEIVED = "update.received"


@dataclass(frozen=True, slots=True)
class Where:
    """Where in its chat an update was written: the topic (``thread_id``, None for the chat
    itself or its General topic) and whether the chat has topics at all (a forum supergroup,
    or a private chat with the bot's topic mode on). See ``actors.chat.topics``."""

    thread_id: int | None = None
    topics: bool = False


HERE = Where()


@dataclass(frozen=True, slots=True)
class Incoming:
    """A text message or command, as typed."""

    user_id: int
    text: str
    correlation_id: str
    where: Where = HERE


@dataclass(frozen=True, slots=True)
class Pressed:
    """A button press (``Button.action``/``arg``); ``handle`` is the message the button was on."""

    user_id: int
    action: str
    arg: str
    handle: int | None
    correlation_id: str
    where: Where = HERE


@dataclass(frozen=True, slots=True)
class FileArrived:
    """A document or photo, already downloaded by the front (size-limited)."""

    user_id: int
    filename: str
    data: bytes
    caption: str
    correlation_id: str
    where: Where = HERE


@dataclass(frozen=True, slots=True)
class FileRefused:
    """A document or photo the front did not download: over ``limit`` bytes (``size``, 0 if
    Telegram did not say), or, when ``reason`` says why, because the download failed. The chat
    actor tells the user why."""

    user_id: int
    filename: str
    size: int
    limit: int
    correlation_id: str
    reason: str = ""
    where: Where = HERE


@dataclass(frozen=True, slots=True)
class VoiceArrived:
    """A voice note or audio file, already downloaded by the front (size-limited as files are);
    a recording over the limit arrives as ``FileRefused``."""

    user_id: int
    filename: str
    data: bytes
    correlation_id: str
    where: Where = HERE


@dataclass(frozen=True, slots=True)
class TopicChanged:
    """Telegram's service message about a topic: ``change`` is created, edited (``title`` the
    new name, None if only the icon changed), closed or reopened."""

    user_id: int
    change: str
    title: str | None
    correlation_id: str
    where: Where = HERE


Inbound = Incoming | Pressed | FileArrived | FileRefused | VoiceArrived | TopicChanged
#: How a front hands an update to the service: the chat id, then what arrived.
Deliver = Callable[[int, Inbound], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FileLost:
    """A file logged as received but not saved before a crash (its bytes are not in the log)."""

    filename: str
    correlation_id: str
    where: Where = HERE


def update_stream(correlation_id: str) -> str:
    return f"update:{correlation_id}"


def update_id(correlation_id: str) -> int | None:
    """Telegram's ``update_id`` of an ``upd-<id>`` correlation id (None for other fronts)."""
    head, _, number = correlation_id.partition("-")
    return int(number) if head == "upd" and number.isdigit() else None


def record(chat_id: int, message: Inbound) -> dict[str, Any]:
    """What the log keeps of an update: enough to hand it to its chat again after a crash."""
    base: dict[str, Any] = {
        "chat_id": chat_id,
        "update_id": update_id(message.correlation_id),
        "user_id": message.user_id,
    }
    if message.where != HERE:  # a chat without topics logs what it always did
        base |= {"thread_id": message.where.thread_id, "topics": message.where.topics}
    match message:
        case Incoming():
            return {**base, "kind": "text", "text": message.text}
        case Pressed():
            return {
                **base,
                "kind": "button",
                "action": message.action,
                "arg": message.arg,
                "handle": message.handle,
            }
        case FileArrived():
            return {
                **base,
                "kind": "file",
                "filename": message.filename,
                "size": len(message.data),
                "caption": message.caption,
            }
        case FileRefused():
            return {
                **base,
                "kind": "refused",
                "filename": message.filename,
                "size": message.size,
                "limit": message.limit,
                "reason": message.reason,
            }
        case VoiceArrived():
            return {
                **base,
                "kind": "voice",
                "filename": message.filename,
                "size": len(message.data),
            }
        case TopicChanged():
            return {**base, "kind": "topic", "change": message.change, "title": message.title}


def replayable(
    data: dict[str, Any], ref: str
) -> Incoming | Pressed | FileLost | FileRefused | TopicChanged:
    """The message that hands a logged update to its chat again after a restart, in the topic
    it came from. A file's bytes were never logged, so it can only be asked for again."""
    user = data.get("user_id") or 0
    where = Where(data.get("thread_id"), bool(data.get("topics")))
    match data.get("kind"):
        case "text":
            return Incoming(user, data.get("text", ""), ref, where)
        case "button":
            return Pressed(user, data["action"], data["arg"], data.get("handle"), ref, where)
        case "refused":
            size, limit = data.get("size") or 0, data.get("limit") or 0
            name, reason = str(data.get("filename") or "a file"), data.get("reason") or ""
            return FileRefused(user, name, size, limit, ref, reason, where)
        case "voice":
            return FileLost("Your voice message", ref, where)
        case "topic":
            return TopicChanged(user, data["change"], data.get("title"), ref, where)
    return FileLost(str(data.get("filename") or "a file"), ref, where)
