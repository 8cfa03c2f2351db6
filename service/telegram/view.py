"""`ChatView` for Telegram: what the chat actor says, shown with Telegram's means and limits.

Streaming replies are throttled per chat (one Bot API call per `edit_interval_s`, latest text
wins) because Telegram rate-limits per chat and a stale intermediate text is worth nothing.
All progress calls run in a background task per chat, so a flood wait never blocks the chat
actor; the final reply waits for an in-flight progress call and then replaces it. Replies in
different topics of one chat share its lane fairly: they take turns (round robin), and a final
reply goes before any progress (none is shown in the interval after one).
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.chat_action import ChatActionSender

from actors.chat.view import Button, Keyboard
from actors.runtime.clock import Clock, SystemClock
from service.telegram.format import messages_for
from service.telegram.rendered import (
    Entity,
    Message,
    Rendered,
    Span,
    join,
    to_message,
    utf16_len,
)
from service.telegram.sender import Fmt, TelegramDeliveryError, TelegramSender
from service.telegram.split import fit, split
from service.telegram.stream import ReplyStream

log = structlog.get_logger(__name__)

PROGRESS_TAIL = 3800  # visible chars of a streaming reply; leaves room for the status line
STATUS_MAX = 200  # characters of the status line under it
THINKING = "Thinking…"
OUTAGE_MAX_DELAY_S = 30.0  # retry spacing while Telegram is unreachable
T = TypeVar("T")
ATTACH_OVER_MESSAGES = 3  # a reply needing more messages is also sent as reply.md
INLINE_RENDER = 1000  # characters of Markdown rendered on the loop (see `rendered`)
FILE_LIMIT = 50 * 1024 * 1024  # the most a bot may upload (Bot API, sendDocument)
PHOTO_LIMIT = 10 * 1024 * 1024  # the most a photo may be (Bot API, sendPhoto)


class Act(CallbackData, prefix="a"):
    """A pressed `Button`, packed into Telegram's 64-byte callback_data."""

    action: str
    arg: str


def pack_button(button: Button) -> str:
    """callback_data for `button`; ValueError (naming the button) if it cannot fit."""
    try:
        return Act(action=button.action, arg=button.arg).pack()
    except ValueError as e:
        raise ValueError(
            f"button {button.label!r} ({button.action} {button.arg!r}) cannot be packed into "
            f"Telegram callback data (max 64 bytes, no ':'): {e}"
        ) from None


def keyboard_markup(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    """Inline keyboard for `buttons` (rows of buttons); None when there are none."""
    rows = [
        [InlineKeyboardButton(text=b.label, callback_data=pack_button(b)) for b in row]
        for row in buttons
        if row
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def progress_message(stream: ReplyStream, text: str, status: str | None) -> Message:
    """What a streaming reply shows: the tail of `text` (or Thinking…), an italic status line.

    `stream` has seen the earlier texts of this reply, so only what is new is rendered.
    """
    stream.feed(text)
    body = stream.shown(PROGRESS_TAIL) if stream.visible() else Rendered(THINKING)
    if status:
        line = "⚙ " + (status if len(status) <= STATUS_MAX else status[: STATUS_MAX - 1] + "…")
        body = join([body, Rendered(line, [Span("italic", 0, len(line))])])
    return to_message(body)


async def rendered(size: int, render: Callable[[], T]) -> T:
    """``render()`` on the loop when it parses at most ``INLINE_RENDER`` characters (less
    work than a hop to a worker thread and back), else in a worker thread, so that a long
    render never holds up the loop."""
    return render() if size <= INLINE_RENDER else await asyncio.to_thread(render)


def render_progress(text: str, status: str | None) -> Message:
    """`progress_message` for a reply seen for the first time."""
    return progress_message(ReplyStream(), text, status)


def with_footer(messages: list[Message], footer: str, limit: int) -> list[Message]:
    """`footer` in italics under the reply: on its last message if it fits, else on its own."""
    length = utf16_len(footer)
    alone: Message = {
        "text": footer,
        "entities": [{"type": "italic", "offset": 0, "length": length}],
    }
    if not messages:
        return [alone]
    last = messages[-1]
    offset = utf16_len(last["text"]) + 2
    if offset + length > limit:
        return [*messages, alone]
    italic: Entity = {"type": "italic", "offset": offset, "length": length}
    joined: Message = {
        "text": last["text"] + "\n\n" + footer,
        "entities": [*last["entities"], italic],
    }
    return [*messages[:-1], joined]


def with_verbatim(text: str, verbatim: str) -> Rendered:
    """``text`` as it is, then ``verbatim`` as a monospace block (a ``pre`` entity): nothing in
    either is read as formatting, and Telegram keeps every newline and space of a ``pre``."""
    return join([Rendered(text), Rendered(verbatim, [Span("pre", 0, len(verbatim))])])


def draft_id_for(chat_id: int, key: str) -> int:
    """A stable, positive, non-zero draft id per reply."""
    return zlib.crc32(f"{chat_id}:{key}".encode()) % 2_000_000_000 + 1


@dataclass
class _Reply:
    """One streaming reply: how it is shown, where, and what was shown last."""

    draft_id: int
    use_draft: bool
    thread_id: int | None = None
    message_id: int | None = None
    shown: Message | None = None
    stream: ReplyStream = field(default_factory=ReplyStream)
    text_shown: bool = False  # the reply's own words (not the placeholder) have been shown


@dataclass
class _Lane:
    """Per chat: pending progress (latest per key, keys in the order they became pending, so
    they take turns) and the one worker that shows it."""

    pending: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    last_call: float | None = None
    task: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class TelegramView:
    """Implements `actors.chat.view.ChatView` on the Bot API through a `TelegramSender`."""

    def __init__(
        self,
        bot: Bot,
        sender: TelegramSender,
        *,
        edit_interval_s: float = 1.0,
        use_drafts: bool = True,
        clock: Clock | None = None,
        chat_types: Callable[[int], str] | None = None,
    ) -> None:
        self.bot = bot
        self.sender = sender
        self.edit_interval_s = edit_interval_s
        self.use_drafts = use_drafts
        self.clock: Clock = clock or SystemClock()
        self._chat_types = chat_types
        self._lanes: dict[int, _Lane] = {}
        self._replies: dict[tuple[int, str], _Reply] = {}
        self._typing: dict[tuple[int, int | None], asyncio.Task[None]] = {}

    def _private(self, chat_id: int) -> bool:
        if self._chat_types is not None:
            return self._chat_types(chat_id) == "private"
        return chat_id > 0

    async def _patiently(self, what: str, chat_id: int, call: Callable[[], Awaitable[T]]) -> T:
        """What the chat is owed waits out a Telegram outage (minutes), in order, unlost.

        The sender already retries a few times; past that, keep trying with a capped backoff.
        Progress updates do not come here: they are best effort and superseded anyway.
        """
        delay = 1.0
        while True:
            try:
                return await call()
            except TelegramDeliveryError as exc:
                log.warning(
                    "telegram.outage", what=what, chat_id=chat_id, retry_in_s=delay, error=str(exc)
                )
                await self.clock.sleep(delay)
                delay = min(delay * 2, OUTAGE_MAX_DELAY_S)

    # ------------------------------------------------------------------ plain messages
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
        markup = keyboard_markup(buttons)
        fmt: Fmt = "markdown" if markdown else "plain"
        sender = self.sender
        if verbatim is not None:
            shown = [to_message(part) for part in split(with_verbatim(text, verbatim))]
            ids = await self._patiently(
                "say",
                chat_id,
                lambda: sender.send_messages(
                    chat_id, shown, reply_markup=markup, silent=silent, thread_id=thread_id
                ),
            )
        else:
            ids = await self._patiently(
                "say",
                chat_id,
                lambda: sender.send(
                    chat_id, text, reply_markup=markup, fmt=fmt, silent=silent, thread_id=thread_id
                ),
            )
        return ids[-1] if ids else None

    async def send_file(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        *,
        thread_id: int | None = None,
    ) -> int | None:
        if len(data) > FILE_LIMIT:  # refused with a 413 that would be retried as a network error
            log.warning("telegram.file_too_big", chat_id=chat_id, file=filename, size=len(data))
            return None
        try:
            return await self._patiently(
                "file",
                chat_id,
                lambda: self.sender.send_document(
                    chat_id, filename, data, caption=caption, thread_id=thread_id
                ),
            )
        except TelegramAPIError as e:  # refused outright: the caller says so in words
            log.warning("telegram.file_refused", chat_id=chat_id, file=filename, error=str(e))
            return None

    async def send_photo(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        *,
        thread_id: int | None = None,
    ) -> int | None:
        """As a photo when Telegram takes it as one; over 10 MB, or refused for what it is
        (dimensions, not an image Telegram can read), as a file."""
        if len(data) <= PHOTO_LIMIT:
            try:
                return await self._patiently(
                    "photo",
                    chat_id,
                    lambda: self.sender.send_photo(
                        chat_id, filename, data, caption=caption, thread_id=thread_id
                    ),
                )
            except TelegramBadRequest as e:
                log.info("telegram.photo_refused", chat_id=chat_id, file=filename, error=e.message)
            except TelegramAPIError as e:  # refused outright: the caller says so in words
                log.warning("telegram.file_refused", chat_id=chat_id, file=filename, error=str(e))
                return None
        return await self.send_file(chat_id, filename, data, caption, thread_id=thread_id)

    async def close_buttons(
        self, chat_id: int, handle: int, text: str, *, verbatim: str | None = None
    ) -> None:
        if verbatim is not None:
            shown = to_message(fit(with_verbatim(text, verbatim)))
            done = await self.sender.edit_message(chat_id, handle, shown, reply_markup=None)
        else:
            done = await self.sender.edit(chat_id, handle, text, reply_markup=None, fmt="plain")
        if not done:
            log.info("telegram.close_buttons_gone", chat_id=chat_id, message_id=handle)

    # ------------------------------------------------------------------ streaming
    def _reply(self, chat_id: int, key: str, thread_id: int | None) -> _Reply:
        reply = self._replies.get((chat_id, key))
        if reply is None:
            draft = self.use_drafts and self._private(chat_id)
            reply = _Reply(draft_id_for(chat_id, key), draft, thread_id)
            self._replies[(chat_id, key)] = reply
        return reply

    async def reply_progress(
        self, chat_id: int, key: str, text: str, status: str | None, *, thread_id: int | None = None
    ) -> None:
        self._reply(chat_id, key, thread_id)
        lane = self._lanes.setdefault(chat_id, _Lane())
        lane.pending[key] = (text, status)  # a pending key keeps its place: keys take turns
        if lane.task is None or lane.task.done():
            lane.task = asyncio.create_task(self._drain(chat_id, lane))

    def _at_once(self, chat_id: int, lane: _Lane) -> bool:
        """Whether the next pending progress skips the edit interval: a new reply's first
        draft ("Thinking…": the user must see at once that the message was taken) and its
        first words, as a draft (drafts are not rate-limited like messages) or as its first
        message. Only what follows waits for the interval, and so does an edit of a
        "Thinking…" message just sent: Telegram allows a chat about one message a second, and
        its 429 would hold the rest of the reply back by a second or more."""
        key = next(iter(lane.pending))
        reply = self._replies.get((chat_id, key))
        if reply is None:
            return False
        first_draft = reply.use_draft and reply.shown is None
        unsent = reply.use_draft or reply.message_id is None
        first_words = bool(lane.pending[key][0]) and not reply.text_shown and unsent
        return first_draft or first_words

    async def _drain(self, chat_id: int, lane: _Lane) -> None:
        """Show pending progress, one call per interval, until nothing is pending."""
        while lane.pending:
            if (wait := self._wait(chat_id, lane)) > 0:
                await self.clock.sleep(wait)
            async with lane.lock:
                if not lane.pending:
                    break
                if self._wait(chat_id, lane) > 0:
                    continue  # a final reply went meanwhile: it goes first, then its interval
                key = next(iter(lane.pending))
                text, status = lane.pending.pop(key)
                reply = self._replies.get((chat_id, key))
                if reply is None:  # finished meanwhile
                    continue
                render = partial(progress_message, reply.stream, text, status)
                shown = await rendered(reply.stream.work(text), render)
                if shown == reply.shown:
                    continue  # never a call that changes nothing
                lane.last_call = self.clock.monotonic()
                try:
                    await self._show_progress(chat_id, reply, shown)
                except (TelegramAPIError, TelegramDeliveryError) as e:
                    log.warning("telegram.progress_failed", chat_id=chat_id, error=str(e))
                    continue
                if text and not reply.text_shown:
                    reply.text_shown = True
                    log.info("reply.first_shown", turn=key, chat_id=chat_id)  # latency profile

    def _wait(self, chat_id: int, lane: _Lane) -> float:
        """Seconds until the lane's next call: one per interval, some at once (``_at_once``)."""
        if lane.last_call is None or not lane.pending or self._at_once(chat_id, lane):
            return 0.0
        return lane.last_call + self.edit_interval_s - self.clock.monotonic()

    async def _show_progress(self, chat_id: int, reply: _Reply, shown: Message) -> None:
        thread = reply.thread_id
        if reply.use_draft:
            if await self.sender.send_draft(chat_id, reply.draft_id, shown, thread_id=thread):
                reply.shown = shown
                return
            reply.use_draft = False  # fall back to a message + edits for this reply
        if reply.message_id is not None and await self.sender.edit_message(
            chat_id, reply.message_id, shown
        ):
            reply.shown = shown
            return
        ids = await self.sender.send_messages(chat_id, [shown], thread_id=thread)
        reply.message_id = ids[0] if ids else None
        reply.shown = shown

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
        lane = self._lanes.setdefault(chat_id, _Lane())
        lane.pending.pop(key, None)
        async with lane.lock:  # waits for a progress call in flight, so its message is known
            reply = self._replies.pop((chat_id, key), None)
            if not lane.pending and lane.task is not None and not lane.task.done():
                lane.task.cancel()  # only ever cancelled while sleeping: we hold the lock
            markup = keyboard_markup(buttons)
            await self._send_final(chat_id, reply, text, footer, markup, thread_id)
            log.info("reply.final_shown", turn=key, chat_id=chat_id)  # for `pocketcode latency`
            lane.last_call = self.clock.monotonic()

    async def _send_final(
        self,
        chat_id: int,
        reply: _Reply | None,
        text: str,
        footer: str | None,
        markup: InlineKeyboardMarkup | None,
        thread_id: int | None,
    ) -> None:
        streamed = reply.message_id if reply is not None else None
        if not text.strip() and not footer:
            if streamed is not None:
                with contextlib.suppress(TelegramAPIError):
                    await self.bot.delete_message(chat_id, streamed)
            elif reply is not None and reply.use_draft and reply.shown is not None:
                empty: Message = {"text": "", "entities": []}
                await self.sender.send_draft(chat_id, reply.draft_id, empty, thread_id=thread_id)
            return
        limit = self.sender.limit
        chunks = (
            await rendered(len(text), partial(messages_for, text, limit)) if text.strip() else []
        )
        if footer:
            chunks = with_footer(chunks, footer, limit)
        if not chunks:
            return
        first, rest = chunks[0], chunks[1:]
        edited = streamed is not None and await self._patiently(
            "reply",
            chat_id,
            lambda: self.sender.edit_message(
                chat_id, streamed, first, reply_markup=None if rest else markup
            ),
        )
        send = partial(self.sender.send_messages, chat_id, thread_id=thread_id)
        for chunk in rest if edited else chunks:
            keyboard = markup if chunk is chunks[-1] else None
            await self._patiently("reply", chat_id, partial(send, [chunk], reply_markup=keyboard))
        if len(chunks) > ATTACH_OVER_MESSAGES:
            body = (text + (f"\n\n_{footer}_\n" if footer else "\n")).encode()
            await self._patiently(
                "reply.md",
                chat_id,
                lambda: self.sender.send_document(
                    chat_id,
                    "reply.md",
                    body,
                    caption="The full reply, as one file.",
                    thread_id=thread_id,
                ),
            )

    # ------------------------------------------------------------------ typing
    async def typing(self, chat_id: int, on: bool, *, thread_id: int | None = None) -> None:
        where = (chat_id, thread_id)
        task = self._typing.get(where)
        running = task is not None and not task.done()
        if on and not running:
            self._typing[where] = asyncio.create_task(self._keep_typing(chat_id, thread_id))
        elif not on and task is not None:
            self._typing.pop(where, None)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_typing(self, chat_id: int, thread_id: int | None) -> None:
        try:
            async with ChatActionSender.typing(
                chat_id=chat_id, bot=self.bot, message_thread_id=thread_id
            ):
                await asyncio.Event().wait()  # until cancelled by typing(chat_id, False)
        except TelegramAPIError as e:
            log.info("telegram.typing_failed", chat_id=chat_id, error=str(e))

    # ------------------------------------------------------------------ topics
    async def create_topic(self, chat_id: int, name: str) -> int | None:
        try:
            return await self.sender.create_topic(chat_id, name)
        except (TelegramAPIError, TelegramDeliveryError) as e:
            log.warning("telegram.topic_not_created", chat_id=chat_id, error=str(e))
            return None

    async def close_topic(self, chat_id: int, thread_id: int) -> bool:
        if self._private(chat_id):  # closeForumTopic is for forum supergroups only
            return False
        return await self._topic_closed(chat_id, thread_id, True)

    async def reopen_topic(self, chat_id: int, thread_id: int) -> bool:
        if self._private(chat_id):
            return False
        return await self._topic_closed(chat_id, thread_id, False)

    async def _topic_closed(self, chat_id: int, thread_id: int, closed: bool) -> bool:
        try:
            await self.sender.close_topic(chat_id, thread_id, closed=closed)
        except (TelegramAPIError, TelegramDeliveryError) as e:
            log.warning("telegram.topic_not_toggled", chat_id=chat_id, closed=closed, error=str(e))
            return False
        return True

    async def close(self) -> None:
        """Stop typing indicators and pending progress; in-flight calls finish first."""
        tasks = [*self._typing.values(), *(lane.task for lane in self._lanes.values() if lane.task)]
        self._typing.clear()
        for lane in self._lanes.values():
            lane.pending.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
