"""/status, /model, /mode and /cap: what the active session is set to and has spent.

Values are checked here (``actors.claude.choices``), so a typo gets words at once; the session
logs the change and says how it went.
"""

from __future__ import annotations

from actors.chat import texts
from actors.chat.context import ChatContext
from actors.claude.choices import mode_choice, model_choice
from actors.session import events as sev
from actors.session import messages as sm
from actors.session.budget import CostCap, cost_cap_choice
from actors.session.state import SessionState


async def status(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    active = chat.active()
    if active is None:
        await chat.offer_sessions("No active session.")
        return
    state: SessionState = await chat.ask_session(active, sm.GetState())
    cap: CostCap = await chat.ask_session(active, sm.GetCostCap())
    await chat.say(texts.status(state, cap))


async def cap(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """Without an argument: the spend and the cap. With one: checked here, then handed to
    the session, which logs it and says what it means now."""
    active = chat.active()
    if active is None:
        await chat.offer_sessions("No active session.")
        return
    if not args:
        spent: CostCap = await chat.ask_session(active, sm.GetCostCap())
        await chat.say(texts.cost_cap(spent))
        return
    await chat.ask_session(active, sm.SetCostCap(cost_cap_choice(args[0]), ref, chat.chat_id))


async def model(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    await change(chat, sev.MODEL, args, ref)


async def mode(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    await change(chat, sev.PERMISSION_MODE, args, ref)


async def change(
    chat: ChatContext, setting: str, args: tuple[str, ...], ref: str, handle: int | None = None
) -> None:
    """Without an argument: the current value and buttons. With one: checked here, then
    handed to the session; it says how it went (at once, or when claude answers). ``handle``
    is the menu a button was pressed on."""
    active = chat.active()
    if active is None:
        await chat.offer_sessions("No active session.")
        return
    if not args:
        state: SessionState = await chat.ask_session(active, sm.GetState())
        text, buttons = texts.setting_menu(state, setting)
        await chat.say(text, buttons=buttons)
        return
    value = model_choice(args[0]) if setting == sev.MODEL else mode_choice(args[0])
    await chat.ask_session(active, sm.ChangeSetting(setting, value, ref, chat.chat_id))
    if handle is not None:  # a menu's button: one choice per menu
        await chat.view.close_buttons(chat.chat_id, handle, f"{active}: {value} chosen.")
