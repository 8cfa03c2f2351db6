"""The one place that sends chat content to Telegram, so that nothing is silently dropped.

Sends text with its formatting as `MessageEntity` lists (Markdown is converted by
`format.messages_for`), splits to Telegram's limits, resends as plain text when Telegram
refuses the formatting, waits out flood control (429) and retries 5xx/network failures with
bounded backoff. Retries after a network error are at-least-once: a request that reached
Telegram before the connection broke may show twice, which beats losing a reply. What Telegram
refuses to put into a topic (closed, or gone) goes to the chat's General topic instead.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Literal, TypeVar

import structlog
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, MessageEntity
from aiogram.types import Message as TelegramMessage

from service.logs import redact_text
from service.telegram.format import messages_for, one_message_for, plain_messages
from service.telegram.rendered import Message, Rendered, to_message
from service.telegram.split import TELEGRAM_LIMIT, fit

log = structlog.get_logger(__name__)

T = TypeVar("T")
Fmt = Literal["markdown", "plain"]
CAPTION_LIMIT = 1024
#: Telegram's refusals of a message's formatting (tdlib's wording, as the Bot API passes it on)
_FORMAT_REFUSED = re.compile(
    r"can't parse entities|can't parse MessageEntity|: entity |: receive an entity"
)
#: Telegram's refusals of a topic: closed (the server's TOPIC_CLOSED), deleted, or unknown
#: ("message thread not found", the Bot API's own words for any thread it cannot find).
_TOPIC_REFUSED = re.compile(r"TOPIC_CLOSED|TOPIC_DELETED|message thread not found", re.IGNORECASE)


class TelegramDeliveryError(RuntimeError):
    """Telegram could not be reached or kept refusing; the text never contains the token."""


def redact(text: str, token: str | None = None) -> str:
    """Remove bot tokens from a text (aiogram error texts may contain request URLs)."""
    return redact_text(text, [token] if token else ())


def _is_format_error(e: TelegramBadRequest) -> bool:
    return _FORMAT_REFUSED.search(e.message) is not None


def _is_topic_refused(e: TelegramBadRequest) -> bool:
    return _TOPIC_REFUSED.search(e.message) is not None


def _entities(message: Message) -> list[MessageEntity] | None:
    return [MessageEntity.model_validate(e) for e in message["entities"]] or None


def _plain(message: Message) -> Message:
    """The same words without formatting: what is sent when Telegram refuses the formatting."""
    return {"text": message["text"], "entities": []}


def _shown_key(message: Message, markup: InlineKeyboardMarkup | None) -> tuple[str, str, str]:
    """What a message shows, comparable: an edit to the same is never sent."""
    keyboard = json.dumps(markup.model_dump(exclude_none=True), sort_keys=True) if markup else ""
    return message["text"], json.dumps(message["entities"], sort_keys=True), keyboard


class TelegramSender:
    """Sends, edits and streams chat content with Telegram's refusals handled."""

    def __init__(
        self,
        bot: Bot,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        max_retries: int = 5,
        max_flood_waits: int = 50,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        limit: int = TELEGRAM_LIMIT,
        remember: int = 2000,
    ) -> None:
        self.bot = bot
        self._sleep = sleep
        self.max_retries = max_retries
        self.max_flood_waits = max_flood_waits
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.limit = limit
        self._remember = remember
        # (chat_id, message_id) -> what it shows (`_shown_key`); skips edits that change nothing
        self._last: OrderedDict[tuple[int | str, int], tuple[str, str, str]] = OrderedDict()

    # ------------------------------------------------------------------ retries
    async def _call(self, what: str, chat_id: int | str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run one API call, waiting out 429s and retrying transient failures (bounded)."""
        failures = floods = 0
        while True:
            try:
                return await fn()
            except TelegramRetryAfter as e:
                floods += 1
                if floods > self.max_flood_waits:
                    raise TelegramDeliveryError(
                        f"{what} to chat {chat_id}: still flood-limited after {floods - 1} waits"
                    ) from None
                log.info("telegram.flood_wait", what=what, chat_id=chat_id, seconds=e.retry_after)
                await self._sleep(float(e.retry_after))
            except (TelegramServerError, TelegramNetworkError) as e:
                failures += 1
                reason = redact(str(e), self.bot.token)
                if failures > self.max_retries:
                    raise TelegramDeliveryError(
                        f"{what} to chat {chat_id} failed after {failures} attempts: {reason}"
                    ) from None
                delay = min(self.max_delay, self.base_delay * 2 ** (failures - 1))
                log.warning("telegram.retry", what=what, chat_id=chat_id, delay=delay, error=reason)
                await self._sleep(delay)

    def _remember_shown(
        self, chat_id: int | str, message_id: int, shown: tuple[str, str, str]
    ) -> None:
        key = (chat_id, message_id)
        self._last[key] = shown
        self._last.move_to_end(key)
        while len(self._last) > self._remember:
            self._last.popitem(last=False)

    async def _messages(self, text: str, fmt: Fmt) -> list[Message]:
        """What `send` sends for `text`: the model's Markdown (converted off the event loop)
        or plain text, split to the limit."""
        if fmt == "plain":
            return plain_messages(text, self.limit)
        return await asyncio.to_thread(messages_for, text, self.limit)

    # ------------------------------------------------------------------ public API
    async def send(
        self,
        chat_id: int | str,
        text: str,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
        fmt: Fmt = "markdown",
        silent: bool = False,
        thread_id: int | None = None,
    ) -> list[int]:
        """Send `text` as one or more messages; return their ids (markup goes on the last).

        `fmt` says what `text` is: the model's Markdown (default) or plain text; `silent`
        sends it without a notification sound (`disable_notification`).
        """
        messages = await self._messages(text, fmt)
        return await self.send_messages(
            chat_id, messages, reply_markup=reply_markup, silent=silent, thread_id=thread_id
        )

    async def send_messages(
        self,
        chat_id: int | str,
        messages: list[Message],
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
        silent: bool = False,
        thread_id: int | None = None,
    ) -> list[int]:
        """Send prepared messages (`format.messages_for`) in order, into topic `thread_id`;
        markup goes on the last."""
        ids: list[int] = []
        for n, message in enumerate(messages):
            markup = reply_markup if n == len(messages) - 1 else None
            ids.append(await self._send_one(chat_id, message, markup, silent, thread_id))
        return ids

    async def _into_topic(
        self,
        what: str,
        chat_id: int | str,
        thread_id: int | None,
        call: Callable[[int | None], Awaitable[T]],
    ) -> T:
        """``call(thread_id)``; if Telegram refuses the topic, ``call(None)``: the chat's
        General topic gets it rather than nobody."""
        try:
            return await call(thread_id)
        except TelegramBadRequest as e:
            if thread_id is None or not _is_topic_refused(e):
                raise
            log.warning(
                "telegram.topic_refused",
                what=what,
                chat_id=chat_id,
                thread_id=thread_id,
                error=e.message,
            )
        return await call(None)

    async def _send_one(
        self,
        chat_id: int | str,
        message: Message,
        markup: InlineKeyboardMarkup | None,
        silent: bool = False,
        thread_id: int | None = None,
    ) -> int:
        async def go(m: Message, thread: int | None) -> int:
            sent = await self._call(
                "sendMessage",
                chat_id,
                lambda: self.bot.send_message(
                    chat_id,
                    m["text"],
                    message_thread_id=thread,
                    parse_mode=None,
                    entities=_entities(m),
                    reply_markup=markup,
                    disable_notification=silent or None,
                ),
            )
            self._remember_shown(chat_id, sent.message_id, _shown_key(m, markup))
            return sent.message_id

        try:
            return await self._into_topic("sendMessage", chat_id, thread_id, partial(go, message))
        except TelegramBadRequest as e:
            if not message["entities"] or not _is_format_error(e):
                raise
            log.warning("telegram.formatting_refused", chat_id=chat_id, error=e.message)
        return await self._into_topic(
            "sendMessage", chat_id, thread_id, partial(go, _plain(message))
        )

    async def edit(
        self,
        chat_id: int | str,
        message_id: int,
        text: str,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
        fmt: Fmt = "markdown",
    ) -> bool:
        """Show `text` in an existing message; True if it now shows it, False if it is gone.

        Text over the limit is cut (an edit cannot be split): send the rest with `send`.
        """
        if fmt == "plain":
            one = to_message(fit(Rendered(text), self.limit))
        else:
            one = await asyncio.to_thread(one_message_for, text, self.limit)
        return await self.edit_message(chat_id, message_id, one, reply_markup=reply_markup)

    async def edit_message(
        self,
        chat_id: int | str,
        message_id: int,
        message: Message,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> bool:
        """Show a prepared message in an existing one; True if it shows it, False if it is gone.

        Never sends an edit that changes nothing; "message is not modified" counts as success.
        """
        if not message["text"].strip():
            return False
        try:
            return await self._show_in(chat_id, message_id, message, reply_markup)
        except TelegramBadRequest as e:
            if not message["entities"] or not _is_format_error(e):
                raise
            log.warning("telegram.formatting_refused", chat_id=chat_id, error=e.message)
        return await self._show_in(chat_id, message_id, _plain(message), reply_markup)

    async def _show_in(
        self,
        chat_id: int | str,
        message_id: int,
        message: Message,
        markup: InlineKeyboardMarkup | None,
    ) -> bool:
        shown = _shown_key(message, markup)
        if self._last.get((chat_id, message_id)) == shown:
            return True
        try:
            await self._edit_once(chat_id, message_id, message, markup)
        except _Gone:
            return False
        self._remember_shown(chat_id, message_id, shown)
        return True

    async def _edit_once(
        self,
        chat_id: int | str,
        message_id: int,
        message: Message,
        markup: InlineKeyboardMarkup | None,
    ) -> None:
        try:
            await self._call(
                "editMessageText",
                chat_id,
                lambda: self.bot.edit_message_text(
                    text=message["text"],
                    chat_id=chat_id,
                    message_id=message_id,
                    parse_mode=None,
                    entities=_entities(message),
                    reply_markup=markup,
                ),
            )
        except TelegramBadRequest as e:
            if "message is not modified" in e.message:
                return
            if "message to edit not found" in e.message:
                self._last.pop((chat_id, message_id), None)
                raise _Gone from None
            raise

    async def send_document(
        self,
        chat_id: int | str,
        filename: str,
        data: bytes,
        caption: str | None = None,
        *,
        thread_id: int | None = None,
    ) -> int:
        """Send bytes as a file; the caption is plain text cut to Telegram's 1024 limit."""
        file = BufferedInputFile(data, filename)
        return await self._send_file(
            "sendDocument", self.bot.send_document, chat_id, file, caption, thread_id
        )

    async def send_photo(
        self,
        chat_id: int | str,
        filename: str,
        data: bytes,
        caption: str | None = None,
        *,
        thread_id: int | None = None,
    ) -> int:
        """Send an image as a photo (Telegram checks its size and dimensions: a refusal is a
        ``TelegramBadRequest``); the caption as for ``send_document``."""
        file = BufferedInputFile(data, filename)
        return await self._send_file(
            "sendPhoto", self.bot.send_photo, chat_id, file, caption, thread_id
        )

    async def _send_file(
        self,
        method: str,
        send: Callable[..., Awaitable[TelegramMessage]],
        chat_id: int | str,
        file: BufferedInputFile,
        caption: str | None,
        thread_id: int | None,
    ) -> int:
        async def go(thread: int | None) -> int:
            msg = await self._call(
                method,
                chat_id,
                lambda: send(
                    chat_id,
                    file,
                    message_thread_id=thread,
                    caption=_caption(caption),
                    parse_mode=None,
                ),
            )
            return msg.message_id

        return await self._into_topic(method, chat_id, thread_id, go)

    async def create_topic(self, chat_id: int | str, name: str) -> int:
        """Open a topic; its thread id."""
        topic = await self._call(
            "createForumTopic", chat_id, lambda: self.bot.create_forum_topic(chat_id, name)
        )
        return topic.message_thread_id

    async def close_topic(self, chat_id: int | str, thread_id: int, *, closed: bool) -> None:
        """Close (or reopen) a topic."""
        toggle = self.bot.close_forum_topic if closed else self.bot.reopen_forum_topic
        method = "closeForumTopic" if closed else "reopenForumTopic"
        await self._call(method, chat_id, lambda: toggle(chat_id, thread_id))

    async def send_draft(
        self, chat_id: int, draft_id: int, message: Message, *, thread_id: int | None = None
    ) -> bool:
        """Show a live draft (private chats); best effort: False instead of waiting or raising.

        A draft is superseded by the next one, so waiting out a 429 would only delay fresher
        text; the finished reply must still be sent with `send_messages`.
        """
        for attempt in (message, _plain(message)):
            try:
                return await self.bot.send_message_draft(
                    chat_id,
                    draft_id,
                    message_thread_id=thread_id,
                    text=attempt["text"],
                    parse_mode=None,
                    entities=_entities(attempt),
                    can_stop=True,
                )
            except TelegramBadRequest as e:
                if attempt is not message or not message["entities"] or not _is_format_error(e):
                    log.warning("telegram.draft_refused", chat_id=chat_id, error=redact(str(e)))
                    return False
            except TelegramAPIError as e:
                log.warning("telegram.draft_failed", chat_id=chat_id, error=redact(str(e)))
                return False
        return False


def _caption(caption: str | None) -> str | None:
    """A caption as plain text cut to Telegram's 1024 limit; None for none."""
    if caption and len(caption) > CAPTION_LIMIT:
        return caption[: CAPTION_LIMIT - 1] + "…"
    return caption or None


class _Gone(Exception):
    """The message to edit no longer exists."""
