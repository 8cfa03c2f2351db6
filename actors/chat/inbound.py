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
class Incoming:
    """A text message or command, as typed."""

    user_id: int
    text: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class Pressed:
    """A button press (``Button.action``/``arg``); ``handle`` is the message the button was on."""

    user_id: int
    action: str
    arg: str
    handle: int | None
    correlation_id: str


@dataclass(frozen=True, slots=True)
class FileArrived:
    """A document or photo, already downloaded by the front (size-limited)."""

    user_id: int
    filename: str
    data: bytes
    caption: str
    correlation_id: str


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


@dataclass(frozen=True, slots=True)
class VoiceArrived:
    """A voice note or audio file, already downloaded by the front (size-limited as files are);
    a recording over the limit arrives as ``FileRefused``."""

    user_id: int
    filename: str
    data: bytes
    correlation_id: str


Inbound = Incoming | Pressed | FileArrived | FileRefused | VoiceArrived
#: How a front hands an update to the service: the chat id, then what arrived.
Deliver = Callable[[int, Inbound], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FileLost:
    """A file logged as received but not saved before a crash (its bytes are not in the log)."""

    filename: str
    correlation_id: str


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


def replayable(data: dict[str, Any], ref: str) -> Incoming | Pressed | FileLost | FileRefused:
    """The message that hands a logged update to its chat again after a restart. A file's
    bytes were never logged, so it can only be asked for again."""
    user = data.get("user_id") or 0
    match data.get("kind"):
        case "text":
            return Incoming(user, data.get("text", ""), ref)
        case "button":
            return Pressed(user, data["action"], data["arg"], data.get("handle"), ref)
        case "refused":
            size, limit = data.get("size") or 0, data.get("limit") or 0
            name, reason = str(data.get("filename") or "a file"), data.get("reason") or ""
            return FileRefused(user, name, size, limit, ref, reason)
        case "voice":
            return FileLost("Your voice message", ref)
    return FileLost(str(data.get("filename") or "a file"), ref)
