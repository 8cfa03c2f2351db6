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
    """Shows the turns of the chat's sessions as they run, each in its session's topic.

    ``running`` (turn id -> its topic) keeps a topic's typing indicator on while a turn runs
    in it. It is not logged: after a restart no turn of this chat is running until a session
    says so. A routine's turns (``unattended``) are not streamed: their answer is shown at the
    end, quietly if all is well (``routine_texts.answer``).
    """

    chat: ChatContext
    running: dict[str, int | None] = field(default_factory=dict)
    unattended: set[str] = field(default_factory=set)

    async def queued(self, msg: n.TurnQueued) -> None:
        await self.chat.say_about(
            msg.session,
            f"Queued: it goes to the agent when the current turn ends ({msg.queued} waiting).",
        )

    async def started(self, msg: n.TurnStarted) -> None:
        chat, thread = self.chat, self.chat.state.thread_of(msg.session)
        self.running[msg.turn_id] = thread
        await chat.view.typing(chat.chat_id, True, thread_id=thread)
        if msg.routine is not None:
            self.unattended.add(msg.turn_id)
            return
        if msg.merged > 1:
            await chat.say_about(
                msg.session, f"Sending your {msg.merged} queued messages together as one turn."
            )
        label = chat.label(msg.session, "")  # an immediate "Thinking…" placeholder
        await chat.view.reply_progress(chat.chat_id, msg.turn_id, label, None, thread_id=thread)

    async def progress(self, msg: n.ReplyProgress) -> None:
        if msg.turn_id in self.unattended:
            return
        chat, thread = self.chat, self.chat.state.thread_of(msg.session)
        text = chat.label(msg.session, msg.text)
        await chat.view.reply_progress(
            chat.chat_id, msg.turn_id, text, msg.status, thread_id=thread
        )

    async def finished(self, msg: n.TurnFinished) -> None:
        chat, thread = self.chat, self.chat.state.thread_of(msg.session)
        started = self.running.pop(msg.turn_id, thread)  # its topic may be newer than the turn
        self.unattended.discard(msg.turn_id)
        if started not in self.running.values():
            await chat.view.typing(chat.chat_id, False, thread_id=started)
        if msg.routine is None:
            await self._reply(msg, msg.text)
        else:
            await self._routine_answer(msg, msg.routine)
        await chat.append(cs.REPLY_DELIVERED, turn_id=msg.turn_id, session=msg.session)

    async def _reply(self, msg: n.TurnFinished, text: str) -> None:
        """The final reply, in the session's topic; the files its turn changed are buttons
        under it."""
        chat = self.chat
        footer = texts.reply_footer(msg)
        buttons: Keyboard = ()
        if msg.files:  # named under the reply, each a button that sends it
            note, buttons = await files.changed(chat, msg.session, msg.files)
            footer = f"{note}\n{footer}" if footer else note
        await chat.view.reply_done(
            chat.chat_id,
            msg.turn_id,
            chat.label(msg.session, text),
            footer,
            buttons=buttons,
            thread_id=chat.state.thread_of(msg.session),
        )

    async def _routine_answer(self, msg: n.TurnFinished, run: RoutineRun) -> None:
        shown = routine_texts.answer(msg, run)
        if shown.text is None:
            return  # --quiet, and all is well
        if shown.silent:
            await self.chat.say_about(msg.session, shown.text, silent=True)
        else:
            await self._reply(msg, f"{shown.header}\n\n{shown.text}")
