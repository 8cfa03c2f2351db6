"""The port a front (Telegram, terminal) implements. The chat actor never knows which it serves."""

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
    ) -> int | None:
        """Send a message; returns a handle (message id) for ``close_buttons``.

        ``verbatim`` follows the text in monospace, exactly as it is: every character and
        newline shows and nothing in it is read as formatting (a command to approve).
        ``silent``: it arrives without a notification sound (a routine's "all is well").
        """
        ...

    async def send_file(self, chat_id: int, filename: str, data: bytes, caption: str) -> int | None:
        """Send ``data`` as a file named ``filename``; None if the front could not."""
        ...

    async def send_photo(
        self, chat_id: int, filename: str, data: bytes, caption: str
    ) -> int | None:
        """Send an image to be seen as a picture; the front sends it as a file where it
        cannot show it as one (Telegram: too big, odd dimensions). None if it could not."""
        ...

    async def reply_progress(self, chat_id: int, key: str, text: str, status: str | None) -> None:
        """The reply so far. The front throttles (drafts or edits) and never repeats itself."""
        ...

    async def reply_done(
        self, chat_id: int, key: str, text: str, footer: str | None, *, buttons: Keyboard = ()
    ) -> None:
        """The final reply replaces the streamed one: formatted, split, attached if huge;
        ``buttons`` go under its last message."""
        ...

    async def typing(self, chat_id: int, on: bool) -> None:
        """Keep (or stop) the typing indicator while a turn runs."""
        ...

    async def close_buttons(
        self, chat_id: int, handle: int, text: str, *, verbatim: str | None = None
    ) -> None:
        """An answered question: replace its text (and ``verbatim``, as in ``say``), drop its
        buttons."""
        ...
