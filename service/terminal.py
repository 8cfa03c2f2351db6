"""The terminal front: the same chat actor, driven from stdin and printing plain text.

A terminal has no topics: what a session says all goes to the one screen (``thread_id`` is
never anything but None here).

Useful without a bot token (trying pocketcode out, debugging a session). There are no buttons
in a terminal, so every button is printed as the command a user would type instead; a
permission question's as ``/allow`` (no id: the chat answers the only open question, or lists
them by number). Verbatim blocks and files are printed whole, each line behind a bar, with
characters that would not show (escape sequences among them) written out.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TextIO

from actors.chat import routes
from actors.chat.approval import visible
from actors.chat.inbound import Deliver, Incoming
from actors.chat.view import Button, Keyboard, NoTopics

#: Answers to a permission question: typed without its id (see ``actors.chat.permissions``).
NO_ID = frozenset({"allow", "allow_session", "deny"})
#: Button action -> the command that does the same when typed (from the chat's command table).
BUTTON_COMMANDS: dict[str, str] = routes.typed_forms()


def button_command(button: Button) -> str:
    """The typed form of a button, e.g. ``Button("main", "switch", "main")`` → ``/session main``."""
    command = BUTTON_COMMANDS.get(button.action, f"/{button.action}")
    return command if button.action in NO_ID else f"{command} {button.arg}".rstrip()


def barred(text: str) -> str:
    """Every line of ``text`` behind a bar, so blank and trailing lines show too."""
    return "\n".join(f"│ {line}" for line in visible(text).split("\n"))


class TerminalView(NoTopics):
    """Implements `actors.chat.view.ChatView` by printing to `out`; streams only new text."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._handles = itertools.count(1)
        self._printed: dict[tuple[int, str], str] = {}  # reply text already on screen
        self._status: dict[tuple[int, str], str | None] = {}
        self._at_line_start = True

    def _write(self, text: str) -> None:
        if not text:
            return
        self.out.write(text)
        self.out.flush()
        self._at_line_start = text.endswith("\n")

    def _line(self, text: str) -> None:
        """Print `text` on a line of its own."""
        self._write(("" if self._at_line_start else "\n") + text + "\n")

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
        self._line(text)
        if verbatim is not None:
            self._line(barred(verbatim))
        self._buttons(buttons)
        return next(self._handles)

    def _buttons(self, buttons: Keyboard) -> None:
        for row in buttons:
            for button in row:
                self._line(f"  {button_command(button)}   ({button.label})")

    def _new_part(self, key: tuple[int, str], text: str) -> str:
        """What of `text` is not on screen yet; a rewritten reply is printed again in full."""
        printed = self._printed.get(key, "")
        self._printed[key] = text
        if text.startswith(printed):
            return text[len(printed) :]
        return ("" if self._at_line_start else "\n") + text

    async def reply_progress(
        self, chat_id: int, key: str, text: str, status: str | None, *, thread_id: int | None = None
    ) -> None:
        k = (chat_id, key)
        self._write(self._new_part(k, text))
        if status and status != self._status.get(k):
            self._line(f"[{status}]")
        self._status[k] = status

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
        k = (chat_id, key)
        self._write(self._new_part(k, text))
        self._printed.pop(k, None)
        self._status.pop(k, None)
        if footer:
            self._line(f"({footer})")
        elif not self._at_line_start:
            self._write("\n")
        self._buttons(buttons)

    async def typing(self, chat_id: int, on: bool, *, thread_id: int | None = None) -> None:
        """Nothing to show: streamed text already says the bot is busy."""

    async def send_file(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        *,
        thread_id: int | None = None,
    ) -> int | None:
        """No files in a terminal: a text file is printed whole, under its name; of other
        bytes only the name and size."""
        size = f"{len(data):,} byte{'' if len(data) == 1 else 's'}"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self._line(f"{caption}\n── {filename} ({size}, not text: not shown) ──")
            return next(self._handles)
        self._line(f"{caption}\n── {filename} ({size}) ──")
        self._line(barred(text))
        self._line(f"── end of {filename} ──")
        return next(self._handles)

    async def send_photo(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        *,
        thread_id: int | None = None,
    ) -> int | None:
        """An image cannot show here: its name and size."""
        return await self.send_file(chat_id, filename, data, caption)

    async def close_buttons(
        self, chat_id: int, handle: int, text: str, *, verbatim: str | None = None
    ) -> None:
        """The question is still on screen above, its block with it: only the verdict."""
        self._line(text)


async def _read_line(stdin: asyncio.StreamReader | TextIO) -> str | None:
    """One line without its newline; None at end of input."""
    if isinstance(stdin, asyncio.StreamReader):
        raw = await stdin.readline()
        line = raw.decode(errors="replace") if raw else None
    else:
        line = await asyncio.to_thread(stdin.readline) or None
    return None if line is None else line.rstrip("\r\n")


async def run_terminal_loop(
    deliver: Deliver,
    *,
    user_id: int,
    chat_id: int,
    stdin: asyncio.StreamReader | TextIO,
    prefix: str = "tty",
) -> int:
    """Deliver each typed line as `Incoming` until EOF or ``/quit``; returns lines delivered.

    ``prefix`` makes correlation ids unique across runs (they key handled updates in the log).
    """
    n = 0
    while (line := await _read_line(stdin)) is not None:
        text = line.strip()
        if not text:
            continue
        if text == "/quit":
            break
        n += 1
        await deliver(chat_id, Incoming(user_id, text, correlation_id=f"{prefix}-{n}"))
    return n
