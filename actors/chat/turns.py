"""A turn as the chat sees it: a message goes to the active session, and the session's notices
come back as the typing indicator, a streamed reply and the final one. /stop interrupts it."""

from __future__ import annotations

from dataclasses import dataclass, field

from actors.chat import files, routine_texts, texts
from actors.chat import state as cs
from actors.chat.context import ChatContext
from actors.chat.view import Keyboard
from actors.runtime import AskTimeoutError
from actors.session import messages as sm
from actors.session import notices as n
from actors.session.routine_runs import RoutineRun


async def send_to_active(chat: ChatContext, text: str, ref: str) -> None:
    """A plain message: to the active session, or a list to pick one from."""
    active = chat.active()
    if active is None:
        await chat.offer_sessions("No active session. Create one or pick one:")
        return
    if not text.strip():
        await chat.say("That message is empty; nothing was sent.")
        return
    await queue(chat, active, text, ref)


async def queue(chat: ChatContext, session: str, text: str, ref: str) -> None:
    """Hand a message to a session and wait until it is in the session's log, so the update
    is marked handled only once nothing can lose it."""
    try:
        await chat.sessions(session).ask(sm.UserTurn(text, ref, chat.chat_id), timeout=30)
    except AskTimeoutError:  # it is in the session's mailbox: it will be handled, in order
        await chat.say_about(
            session, "The session is busy for a moment; your message goes to it next."
        )


async def stop(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    active = chat.active()
    if active is None:
        await chat.say("No active session, so nothing to stop.")
        return
    chat.tell_session(active, sm.Interrupt(ref, chat.chat_id))


@dataclass(slots=True)
class Replies:
    """Shows the turns of the chat's sessions as they run.

    ``running`` keeps the typing indicator on while any turn runs. It is not logged: after a
    restart no turn of this chat is running until a session says so. A routine's turns
    (``unattended``) are not streamed: their answer is shown at the end, quietly if all is
    well (``routine_texts.answer``).
    """

    chat: ChatContext
    running: set[str] = field(default_factory=set)
    unattended: set[str] = field(default_factory=set)

    async def queued(self, msg: n.TurnQueued) -> None:
        await self.chat.say_about(
            msg.session,
            f"Queued: it goes to the agent when the current turn ends ({msg.queued} waiting).",
        )

    async def started(self, msg: n.TurnStarted) -> None:
        self.running.add(msg.turn_id)
        await self.chat.view.typing(self.chat.chat_id, True)
        if msg.routine is not None:
            self.unattended.add(msg.turn_id)
            return
        if msg.merged > 1:
            await self.chat.say_about(
                msg.session, f"Sending your {msg.merged} queued messages together as one turn."
            )
        label = self.chat.label(msg.session, "")  # an immediate "Thinking…" placeholder
        await self.chat.view.reply_progress(self.chat.chat_id, msg.turn_id, label, None)

    async def progress(self, msg: n.ReplyProgress) -> None:
        if msg.turn_id in self.unattended:
            return
        text = self.chat.label(msg.session, msg.text)
        await self.chat.view.reply_progress(self.chat.chat_id, msg.turn_id, text, msg.status)

    async def finished(self, msg: n.TurnFinished) -> None:
        self.running.discard(msg.turn_id)
        self.unattended.discard(msg.turn_id)
        if not self.running:
            await self.chat.view.typing(self.chat.chat_id, False)
        if msg.routine is None:
            await self._reply(msg, msg.text)
        else:
            await self._routine_answer(msg, msg.routine)
        await self.chat.append(cs.REPLY_DELIVERED, turn_id=msg.turn_id, session=msg.session)

    async def _reply(self, msg: n.TurnFinished, text: str) -> None:
        footer = texts.reply_footer(msg)
        buttons: Keyboard = ()
        if msg.files:  # named under the reply, each a button that sends it
            note, buttons = await files.changed(self.chat, msg.session, msg.files)
            footer = f"{note}\n{footer}" if footer else note
        await self.chat.view.reply_done(
            self.chat.chat_id,
            msg.turn_id,
            self.chat.label(msg.session, text),
            footer,
            buttons=buttons,
        )

    async def _routine_answer(self, msg: n.TurnFinished, run: RoutineRun) -> None:
        shown = routine_texts.answer(msg, run)
        if shown.text is None:
            return  # --quiet, and all is well
        if shown.silent:
            await self.chat.say(self.chat.label(msg.session, shown.text), silent=True)
        else:
            await self._reply(msg, f"{shown.header}\n\n{shown.text}")
