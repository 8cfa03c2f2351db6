"""What a front tells the chat actor. The front has already appended the update to the log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


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


Inbound = Incoming | Pressed | FileArrived | FileRefused
#: How a front hands an update to the service: the chat id, then what arrived.
Deliver = Callable[[int, Inbound], Awaitable[None]]
