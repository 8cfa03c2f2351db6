"""The one place that sends chat content to Telegram, so that nothing is silently dropped.

Converts Markdown, splits to Telegram's limits, falls back to plain text when Telegram refuses
the HTML, waits out flood control (429) and retries 5xx/network failures with bounded backoff.
Retries after a network error are at-least-once: a request that reached Telegram before the
connection broke may show twice, which beats losing a reply.
"""

from __future__ import annotations

import asyncio
import html as _html
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
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Message

from service.logs import redact_text
from service.telegram.format import HTMLError, escape, to_telegram_html, visible_text
from service.telegram.split import TELEGRAM_LIMIT, split_html, split_plain

log = structlog.get_logger(__name__)

T = TypeVar("T")
Fmt = Literal["markdown", "html", "plain"]
CAPTION_LIMIT = 1024
_KNOWN_TAG_RE = re.compile(
    r"</?(?:b|strong|i|em|u|ins|s|strike|del|span|tg-spoiler|a|code|pre|blockquote|tg-emoji)"
    r"(?:\s[^<>]*)?>"
)


class TelegramDeliveryError(RuntimeError):
    """Telegram could not be reached or kept refusing; the text never contains the token."""


def redact(text: str, token: str | None = None) -> str:
    """Remove bot tokens from a text (aiogram error texts may contain request URLs)."""
    return redact_text(text, [token] if token else ())


def _is_parse_error(e: TelegramBadRequest) -> bool:
    return "can't parse entities" in e.message


def _plain_of(html: str) -> str:
    """Best-effort visible text of HTML that Telegram refused, for a plain-text resend."""
    try:
        return visible_text(html)
    except HTMLError:
        return _html.unescape(_KNOWN_TAG_RE.sub("", html))


def _markup_key(markup: InlineKeyboardMarkup | None) -> str:
    return json.dumps(markup.model_dump(exclude_none=True), sort_keys=True) if markup else ""


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
        # (chat_id, message_id) -> (text, parse_mode, markup) last shown; skips no-op edits
        self._last: OrderedDict[tuple[int | str, int], tuple[str, str | None, str]] = OrderedDict()

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
        self, chat_id: int | str, message_id: int, text: str, mode: str | None, markup: str
    ) -> None:
        key = (chat_id, message_id)
        self._last[key] = (text, mode, markup)
        self._last.move_to_end(key)
        while len(self._last) > self._remember:
            self._last.popitem(last=False)

    def _to_html(self, text: str, fmt: Fmt) -> str:
        if fmt == "markdown":
            return to_telegram_html(text)
        if fmt == "plain":
            return escape(text)
        return text

    # ------------------------------------------------------------------ public API
    async def send(
        self,
        chat_id: int | str,
        text: str,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
        fmt: Fmt = "markdown",
    ) -> list[int]:
        """Send `text` as one or more messages; return their ids (markup goes on the last).

        `fmt` says what `text` is: the model's Markdown (default), Telegram HTML, or plain.
        """
        html = self._to_html(text, fmt)
        try:
            chunks: list[tuple[str, str | None]] = [
                (c, "HTML") for c in split_html(html, self.limit)
            ]
        except HTMLError:  # caller's HTML is broken: send what it says, as plain text
            chunks = [(c, None) for c in split_plain(_plain_of(html), self.limit)]
        ids: list[int] = []
        for n, (chunk, mode) in enumerate(chunks):
            markup = reply_markup if n == len(chunks) - 1 else None
            ids.extend(await self._send_chunk(chat_id, chunk, mode, markup))
        return ids

    async def _send_chunk(
        self,
        chat_id: int | str,
        chunk: str,
        mode: str | None,
        markup: InlineKeyboardMarkup | None,
    ) -> list[int]:
        async def go(text: str, pm: str | None) -> Message:
            return await self.bot.send_message(chat_id, text, parse_mode=pm, reply_markup=markup)

        try:
            msg = await self._call("sendMessage", chat_id, lambda: go(chunk, mode))
            self._remember_shown(chat_id, msg.message_id, chunk, mode, _markup_key(markup))
            return [msg.message_id]
        except TelegramBadRequest as e:
            if mode is None or not _is_parse_error(e):
                raise
            log.warning("telegram.html_refused", chat_id=chat_id, error=e.message)
        ids: list[int] = []
        parts = split_plain(_plain_of(chunk), self.limit)
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            msg = await self._call(
                "sendMessage",
                chat_id,
                partial(
                    self.bot.send_message,
                    chat_id,
                    part,
                    parse_mode=None,
                    reply_markup=markup if last else None,
                ),
            )
            self._remember_shown(chat_id, msg.message_id, part, None, _markup_key(markup))
            ids.append(msg.message_id)
        return ids

    def _fit_one(self, html: str) -> str:
        """An edit cannot split: keep the first chunk and mark the cut with an ellipsis."""
        chunks = split_html(html, self.limit)
        if len(chunks) <= 1:
            return chunks[0] if chunks else ""
        return split_html(html, self.limit - 1)[0] + "…"

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

        Never sends an edit that changes nothing; "message is not modified" counts as success.
        Text over the limit is cut (an edit cannot be split): send the rest with `send`.
        """
        html = self._to_html(text, fmt)
        mode: str | None = "HTML"
        try:
            body = self._fit_one(html)
        except HTMLError:
            body, mode = (split_plain(_plain_of(html), self.limit) or [""])[0], None
        if not body:
            return False
        markup_key = _markup_key(reply_markup)
        if self._last.get((chat_id, message_id)) == (body, mode, markup_key):
            return True
        try:
            await self._edit_once(chat_id, message_id, body, mode, reply_markup)
        except TelegramBadRequest as e:
            if mode is None or not _is_parse_error(e):
                raise
            body, mode = (split_plain(_plain_of(body), self.limit) or [""])[0], None
            if self._last.get((chat_id, message_id)) == (body, mode, markup_key):
                return True
            try:
                await self._edit_once(chat_id, message_id, body, mode, reply_markup)
            except _Gone:
                return False
        except _Gone:
            return False
        self._remember_shown(chat_id, message_id, body, mode, markup_key)
        return True

    async def _edit_once(
        self,
        chat_id: int | str,
        message_id: int,
        body: str,
        mode: str | None,
        markup: InlineKeyboardMarkup | None,
    ) -> None:
        try:
            await self._call(
                "editMessageText",
                chat_id,
                lambda: self.bot.edit_message_text(
                    text=body,
                    chat_id=chat_id,
                    message_id=message_id,
                    parse_mode=mode,
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
        self, chat_id: int | str, filename: str, data: bytes, caption: str | None = None
    ) -> int:
        """Send bytes as a file; the caption is plain text cut to Telegram's 1024 limit."""
        cap = (
            caption[: CAPTION_LIMIT - 1] + "…"
            if caption and len(caption) > CAPTION_LIMIT
            else caption
        )
        msg = await self._call(
            "sendDocument",
            chat_id,
            lambda: self.bot.send_document(
                chat_id, BufferedInputFile(data, filename), caption=cap or None, parse_mode=None
            ),
        )
        return msg.message_id

    async def send_draft(
        self, chat_id: int, draft_id: int, text: str, *, fmt: Fmt = "markdown"
    ) -> bool:
        """Show a live draft (private chats); best effort: False instead of waiting or raising.

        A draft is superseded by the next one, so waiting out a 429 would only delay fresher
        text; the finished reply must still be sent with `send`.
        """
        html = self._to_html(text, fmt)
        try:
            body, mode = self._fit_one(html), "HTML"
        except HTMLError:
            body, mode = (split_plain(_plain_of(html), self.limit) or [""])[0], None
        try:
            return await self.bot.send_message_draft(
                chat_id, draft_id, text=body, parse_mode=mode, can_stop=True
            )
        except TelegramBadRequest as e:
            if mode is None or not _is_parse_error(e):
                log.warning("telegram.draft_refused", chat_id=chat_id, error=redact(str(e)))
                return False
        except TelegramAPIError as e:
            log.warning("telegram.draft_failed", chat_id=chat_id, error=redact(str(e)))
            return False
        plain = (split_plain(_plain_of(body), self.limit) or [""])[0]
        try:
            return await self.bot.send_message_draft(chat_id, draft_id, text=plain, parse_mode=None)
        except TelegramAPIError as e:
            log.warning("telegram.draft_failed", chat_id=chat_id, error=redact(str(e)))
            return False


class _Gone(Exception):
    """The message to edit no longer exists."""
