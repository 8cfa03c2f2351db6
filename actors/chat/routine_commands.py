"""/every and /routines: make a routine of the active session (in a chat with topics, the
topic's), list them, run one now, pause, resume or delete one (by button or typed). The
scheduler actor keeps them; this only asks it."""

from __future__ import annotations

from typing import Any

from actors.chat import routine_texts as rt
from actors.chat.context import ChatContext
from actors.routines import messages as rm
from actors.routines.errors import RoutineError
from actors.routines.schedule import parse_every
from actors.runtime import AskTimeoutError

VERBS = ("run", "pause", "resume", "delete")


async def every(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/every SCHEDULE [--quiet] [--fresh] PROMPT`` (``args``: all of it, as typed)."""
    if not args:
        await chat.say(rt.USAGE)
        return
    active = chat.active()
    if active is None:
        await chat.offer_sessions("A routine runs in a session: create one or pick one first.")
        return
    request = parse_every(args[0])
    listed = await _ask(chat, rm.Add(active, chat.chat_id, request, ref))
    text, buttons = rt.created(listed)
    await chat.say(text, buttons=buttons)


async def routines(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/routines``: the list with buttons (in a session's topic, that session's);
    ``/routines VERB N``: what a button does."""
    if not args:
        here = chat.here()
        listed = await _ask(chat, rm.ListRoutines(chat.chat_id))
        text, buttons = rt.listing([x for x in listed if here in (None, x.routine.session)])
        await chat.say(text, buttons=buttons)
        return
    if len(args) != 2 or args[0] not in VERBS:
        await chat.say("Usage: /routines, or /routines run|pause|resume|delete N.")
        return
    verb, routine_id = args
    if verb == "run":
        listed = await _ask(chat, rm.RunNow(routine_id, chat.chat_id, ref))
        await chat.say(f"⏰ Running {listed.routine.label} now; its answer comes here.")
        return
    listed = await _ask(chat, rm.Change(routine_id, chat.chat_id, verb, ref))
    routine = listed.routine
    if verb == "delete":
        await chat.say(f"Deleted {routine.label}. To make it again:\n{rt.recreate(routine)}")
        return
    state = "paused: it runs again once resumed" if routine.paused else f"on: {rt.when(listed)}"
    await chat.say(f"{routine.label.capitalize()} is {state}.", buttons=(rt.buttons(routine),))


async def _ask(chat: ChatContext, message: Any) -> Any:
    if chat.routines is None:
        raise RoutineError("Routines are not running in this pocketcode.")
    try:
        return await chat.routines().ask(message, timeout=30)
    except AskTimeoutError:
        raise RoutineError("The scheduler did not answer in time; try again.") from None
