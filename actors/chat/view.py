"""The port a front (Telegram, terminal) implements. The chat actor never knows which it serves.

Every call that shows something new takes ``thread_id``: the topic it goes into (None: the chat
itself, or its General topic). A front without topics never gets one (``create_topic`` says so by
answering None), so it can ignore the argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the user; ``action``/``arg`` come back in a ``Pressed`` message.

    Every action also has a typed form (``/session NAME``, ``/allow ID``...), so a front without
    buttons (the terminal) can print them as commands.
    """

    label: str
    action: str
    arg: str = ""


Keyboard = tuple[tuple[Button, ...], ...]


class ChatView(Protocol):
    async def say(
        self,
        chat_id: int,
        text: str,
        *,
        buttons: Keyboard = (),
        markdown: bool = False,
        verbatim: str | None = None,
        silent: bool = False,
        thread_id: int | None = None,
    ) -> int | None:
        """Send a message; returns a handle (message id) for ``close_buttons``.

        ``verbatim`` follows the text in monospace, exactly as it is: every character and
        newline shows and nothing in it is read as formatting (a command to approve).
        ``silent``: it arrives without a notification sound (a routine's "all is well").
        """
        ...

    async def send_file(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        *,
        thread_id: int | None = None,
    ) -> int | None:
        """Send ``data`` as a file named ``filename``; None if the front could not."""
        ...

    async def send_photo(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        *,
        thread_id: int | None = None,
    ) -> int | None:
        """Send an image to be seen as a picture; the front sends it as a file where it
        cannot show it as one (Telegram: too big, odd dimensions). None if it could not."""
        ...

    async def reply_progress(
        self, chat_id: int, key: str, text: str, status: str | None, *, thread_id: int | None = None
    ) -> None:
        """The reply so far. The front throttles (drafts or edits) and never repeats itself;
        replies in different topics of one chat share its limits fairly."""
        ...

    async def reply_done(
        self,
        chat_id: int,
        key: str,
        text: str,
        footer: str | None,
        *,
        buttons: Keyboard = (),
        thread_id: int | None = None,
    ) -> None:
        """The final reply replaces the streamed one: formatted, split, attached if huge;
        ``buttons`` go under its last message."""
        ...

    async def typing(self, chat_id: int, on: bool, *, thread_id: int | None = None) -> None:
        """Keep (or stop) the typing indicator of a topic while a turn runs in it."""
        ...

    async def close_buttons(
        self, chat_id: int, handle: int, text: str, *, verbatim: str | None = None
    ) -> None:
        """An answered question: replace its text (and ``verbatim``, as in ``say``), drop its
        buttons."""
        ...

    async def create_topic(self, chat_id: int, name: str) -> int | None:
        """Open a topic named ``name``; its thread id, or None where the chat has no topics or
        the front could not (the session then lives in the chat itself)."""
        ...

    async def close_topic(self, chat_id: int, thread_id: int) -> bool:
        """Close a topic (nobody writes in it any more); False where the front cannot."""
        ...

    async def reopen_topic(self, chat_id: int, thread_id: int) -> bool:
        """Open a closed topic again; False where the front cannot."""
        ...


class NoTopics:
    """The topic calls of a front without topics (the terminal): it never opens one."""

    async def create_topic(self, chat_id: int, name: str) -> int | None:
        return None

    async def close_topic(self, chat_id: int, thread_id: int) -> bool:
        return False

    async def reopen_topic(self, chat_id: int, thread_id: int) -> bool:
        return False
