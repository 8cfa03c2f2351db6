"""The chat's one command table: how each command is typed, what runs it, whether Telegram's
menu shows it, and which buttons do the same. The parser, the router, the Telegram command menu,
``/help`` and the terminal front's typed form of buttons all read it, so they cannot disagree;
a test checks that every button has a handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from actors.chat import commands as c
from actors.chat import (
    desk,
    files,
    permissions,
    routine_commands,
    setting_commands,
    texts,
    topics,
    turns,
)
from actors.chat import info_commands as info
from actors.chat.commands import Spec
from actors.chat.context import ChatContext
from actors.chat.inbound import Incoming, Pressed
from actors.session import events as sev

#: Words a path may have (a command's arguments are split at spaces, then joined again).
MAX_PATH_WORDS = 32
#: A command's handler: the chat, the arguments (their count already checked by
#: ``commands.parse``) and the update's correlation id, which makes a replayed command idempotent.
CommandHandler = Callable[[ChatContext, tuple[str, ...], str], Awaitable[None]]
#: A button's handler. Every button does what a typed command would (see ``view.Button``).
ButtonHandler = Callable[[ChatContext, Pressed], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route:
    """One command. ``buttons``: the actions of the buttons that do what it does (the terminal
    prints such a button as this command); ``menu``: shown in Telegram's command menu."""

    spec: Spec
    run: CommandHandler
    menu: bool = True
    buttons: tuple[str, ...] = ()
    #: The handler gets everything after the command as one argument, its lines kept (a
    #: prompt), instead of the words.
    raw: bool = False


async def start(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    await chat.say(texts.WELCOME + help_text())
    if chat.active() is None:
        await chat.offer_sessions("Start with a session:")


async def help_(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    await chat.say(help_text() + ("" if chat.where.topics else texts.TOPICS_HOWTO))


COMMANDS: dict[str, Route] = {
    "start": Route(Spec("/start", "what pocketcode is and how to begin"), start),
    "help": Route(Spec("/help", "the commands"), help_),
    "new": Route(
        Spec("/new NAME [PERSONA]", "create a session and switch to it", 1, 2),
        topics.new,
        buttons=("new",),
    ),
    "session": Route(
        Spec("/session [NAME|all]", "list sessions to switch, or switch to NAME", 0, 1),
        topics.session,
        buttons=("switch", "list"),
    ),
    "archive": Route(
        Spec("/archive NAME", "stop a session and pack it into an archive", 1, 1),
        topics.archive,
    ),
    "unarchive": Route(
        Spec("/unarchive NAME", "bring an archived session back", 1, 1), topics.unarchive
    ),
    "stop": Route(Spec("/stop", "interrupt the running turn"), turns.stop),
    "status": Route(
        Spec("/status", "session, persona, model, turn state, tokens, cost and cap"),
        topics.status,
    ),
    "model": Route(
        Spec(
            "/model [NAME]",
            "show or switch the active session's model: opus, sonnet, haiku, default or a full "
            "name",
            0,
            1,
        ),
        setting_commands.model,
        buttons=("model",),
    ),
    "mode": Route(
        Spec(
            "/mode [MODE]",
            "show or switch the permission mode: default, acceptEdits, plan, "
            "bypassPermissions, dontAsk",
            0,
            1,
        ),
        setting_commands.mode,
        buttons=("mode",),
    ),
    "cap": Route(
        Spec(
            "/cap [DOLLARS|off]",
            "show the active session's spend and cost cap, set the cap (/cap 5, /cap 2.50) or "
            "remove it (/cap off)",
            0,
            1,
        ),
        setting_commands.cap,
    ),
    "every": Route(
        Spec(
            "/every SCHEDULE PROMPT",
            "run PROMPT in the active session on a schedule (/every alone: how)",
            0,
            4096,
        ),
        routine_commands.every,
        raw=True,
    ),
    "routines": Route(
        Spec(
            "/routines [run|pause|resume|delete N]",
            "the routines of this chat, to run now, pause, resume or delete",
            0,
            2,
        ),
        routine_commands.routines,
        buttons=("routine",),
    ),
    "resume": Route(
        Spec(
            "/resume [DIR|ID] [as NAME]",
            "continue here a conversation started with claude at a terminal: lists them, "
            "newest first (DIR: one directory's)",
            0,
            MAX_PATH_WORDS,
        ),
        desk.resume,
        buttons=("resume",),
    ),
    "release": Route(
        Spec(
            "/release [NAME]",
            "stop the session's claude so its conversation can go on at a terminal",
            0,
            1,
        ),
        desk.release,
    ),
    "get": Route(
        Spec("/get PATH", "send a file of the session's directory", 1, MAX_PATH_WORDS),
        files.get,
    ),
    "ls": Route(
        Spec("/ls [DIR]", "list a folder of the session's directory", 0, MAX_PATH_WORDS),
        files.ls,
    ),
    "open": Route(
        Spec("/open N.I", "fetch a file or open a folder of a list (what its buttons do)", 1, 1),
        lambda chat, args, ref: files.open_entry(chat, args),
        menu=False,
        buttons=("open",),
    ),
    "personas": Route(Spec("/personas", "the personas you can start sessions with"), info.personas),
    # The permission answers are buttons in Telegram; typed, they are for the terminal front.
    "allow": Route(
        Spec("/allow [N]", "allow the open tool request (N: which, when several are)", 0, 1),
        lambda chat, args, ref: permissions.answer_typed(chat, args, "allow"),
        menu=False,
        buttons=("allow",),
    ),
    "allowall": Route(
        Spec(
            "/allowall [N]",
            "allow it, and what its question names, for the rest of the session",
            0,
            1,
        ),
        lambda chat, args, ref: permissions.answer_typed(chat, args, "allow_session"),
        menu=False,
        buttons=("allow_session",),
    ),
    "deny": Route(
        Spec("/deny [N]", "deny the open tool request (N: which, when several are)", 0, 1),
        lambda chat, args, ref: permissions.answer_typed(chat, args, "deny"),
        menu=False,
        buttons=("deny",),
    ),
    "answer": Route(
        Spec("/answer ID", "pick an option of the agent's question", 1, 1),
        lambda chat, args, ref: permissions.answer_question(chat, args[0]),
        menu=False,
        buttons=("answer",),
    ),
}
#: What ``commands.parse`` reads.
SPECS: dict[str, Spec] = {name: route.spec for name, route in COMMANDS.items()}

BUTTONS: dict[str, ButtonHandler] = {
    "switch": lambda chat, p: topics.session(chat, (p.arg,), p.correlation_id),
    "new": lambda chat, p: topics.new(chat, (p.arg,), p.correlation_id),
    "list": lambda chat, p: topics.session(
        chat, ("all",) if p.arg == "all" else (), p.correlation_id
    ),
    "allow": lambda chat, p: permissions.answer(chat, p.arg, "allow"),
    "allow_session": lambda chat, p: permissions.answer(chat, p.arg, "allow_session"),
    "deny": lambda chat, p: permissions.answer(chat, p.arg, "deny"),
    "answer": lambda chat, p: permissions.answer_question(chat, p.arg),
    "routine": lambda chat, p: routine_commands.routines(
        chat, tuple(p.arg.split()), p.correlation_id
    ),
    "model": lambda chat, p: setting_commands.change(
        chat, sev.MODEL, (p.arg,), p.correlation_id, p.handle
    ),
    "mode": lambda chat, p: setting_commands.change(
        chat, sev.PERMISSION_MODE, (p.arg,), p.correlation_id, p.handle
    ),
    "resume": lambda chat, p: desk.resume(chat, (p.arg,), p.correlation_id),
    "open": lambda chat, p: files.open_entry(chat, (p.arg,)),
}


def parse(text: str) -> c.Parsed:
    return c.parse(text, SPECS)


def help_text() -> str:
    """``/help``: every command, as typed, and what it does."""
    return "\n".join(f"{r.spec.usage} — {r.spec.help}" for r in COMMANDS.values())


def menu() -> list[tuple[str, str]]:
    """Telegram's command menu: (command, description) of the commands it shows."""
    return [
        (name, r.spec.help[:1].upper() + r.spec.help[1:]) for name, r in COMMANDS.items() if r.menu
    ]


def typed_forms() -> dict[str, str]:
    """Button action -> the command that does the same when typed (for the terminal)."""
    return {action: f"/{name}" for name, r in COMMANDS.items() for action in r.buttons}


async def on_text(chat: ChatContext, msg: Incoming) -> None:
    """A command runs its handler; anything else goes to the active session."""
    match parse(msg.text):
        case c.Invalid(reason):
            await chat.say(reason)
        case c.Plain(text):
            await turns.send_to_active(chat, text, msg.correlation_id)
        case c.Command(name, args):
            route = COMMANDS[name]
            typed = args_as_typed(msg.text) if route.raw else args
            await route.run(chat, typed, msg.correlation_id)


def args_as_typed(text: str) -> tuple[str, ...]:
    """Everything after the command, its lines kept (none: no arguments)."""
    parts = text.strip().split(maxsplit=1)
    return tuple(parts[1:])


async def on_pressed(chat: ChatContext, msg: Pressed) -> None:
    """A button no handler knows (one sent by an older version) gets words, not an error."""
    handler = BUTTONS.get(msg.action)
    if handler is None:
        await chat.say("That button is no longer valid.")
        return
    await handler(chat, msg)
