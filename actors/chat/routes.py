"""The chat's router: which handler runs for each typed command and each button.

Two explicit tables rather than methods found by name: what /archive runs is one lookup away,
and a test checks that every command ``commands.parse`` accepts has a handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from actors.chat import commands as c
from actors.chat import info_commands as info
from actors.chat import permissions, session_commands, setting_commands, turns
from actors.chat.context import ChatContext
from actors.chat.inbound import Incoming, Pressed
from actors.session import events as sev

#: A command's handler: the chat, the arguments (their count already checked by
#: ``commands.parse``) and the update's correlation id, which makes a replayed command idempotent.
CommandHandler = Callable[[ChatContext, tuple[str, ...], str], Awaitable[None]]
#: A button's handler. Every button does what a typed command would (see ``view.Button``).
ButtonHandler = Callable[[ChatContext, Pressed], Awaitable[None]]

COMMANDS: dict[str, CommandHandler] = {
    "start": info.start,
    "help": info.help_,
    "new": session_commands.new,
    "session": session_commands.session,
    "archive": session_commands.archive,
    "unarchive": session_commands.unarchive,
    "stop": turns.stop,
    "status": setting_commands.status,
    "model": setting_commands.model,
    "mode": setting_commands.mode,
    "cap": setting_commands.cap,
    "personas": info.personas,
    "allow": lambda chat, args, ref: permissions.answer_typed(chat, args, "allow"),
    "allowall": lambda chat, args, ref: permissions.answer_typed(chat, args, "allow_session"),
    "deny": lambda chat, args, ref: permissions.answer_typed(chat, args, "deny"),
    "answer": lambda chat, args, ref: permissions.answer_question(chat, args[0]),
}

BUTTONS: dict[str, ButtonHandler] = {
    "switch": lambda chat, p: session_commands.session(chat, (p.arg,), p.correlation_id),
    "new": lambda chat, p: session_commands.new(chat, (p.arg,), p.correlation_id),
    "list": lambda chat, p: session_commands.session(
        chat, ("all",) if p.arg == "all" else (), p.correlation_id
    ),
    "allow": lambda chat, p: permissions.answer(chat, p.arg, "allow"),
    "allow_session": lambda chat, p: permissions.answer(chat, p.arg, "allow_session"),
    "deny": lambda chat, p: permissions.answer(chat, p.arg, "deny"),
    "answer": lambda chat, p: permissions.answer_question(chat, p.arg),
    "model": lambda chat, p: setting_commands.change(
        chat, sev.MODEL, (p.arg,), p.correlation_id, p.handle
    ),
    "mode": lambda chat, p: setting_commands.change(
        chat, sev.PERMISSION_MODE, (p.arg,), p.correlation_id, p.handle
    ),
}


async def on_text(chat: ChatContext, msg: Incoming) -> None:
    """A command runs its handler; anything else goes to the active session."""
    match c.parse(msg.text):
        case c.Invalid(reason):
            await chat.say(reason)
        case c.Plain(text):
            await turns.send_to_active(chat, text, msg.correlation_id)
        case c.Command(name, args):
            await COMMANDS[name](chat, args, msg.correlation_id)


async def on_pressed(chat: ChatContext, msg: Pressed) -> None:
    """A button no handler knows (one sent by an older version) gets words, not an error."""
    handler = BUTTONS.get(msg.action)
    if handler is None:
        await chat.say("That button is no longer valid.")
        return
    await handler(chat, msg)
