"""Long polling that acknowledges only what is in the log.

aiogram's own polling loop acknowledges an update once its handler returns, even if the handler
failed, so an update whose append failed (disk full) was acknowledged and lost. Here each
``getUpdates`` answer goes through the dispatcher into one batch (``Intake.collecting``), the batch
is logged in one group commit, and only then is the next ``getUpdates`` asked with an offset past
it. While the log cannot be written, intake stops and retries with backoff, and picks up where it
stopped once it can.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import structlog
from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

from service.intake import Intake, Item, LogUnavailable

log = structlog.get_logger("polling")
T = TypeVar("T")

ALLOWED_UPDATES = ["message", "callback_query", "stopped_message_generation"]
#: Retry spacing while Telegram or the log is unavailable.
BACKOFF = BackoffConfig(min_delay=1.0, max_delay=30.0, factor=1.6, jitter=0.1)


async def poll(
    dp: Dispatcher,
    bot: Bot,
    intake: Intake,
    stop: asyncio.Event,
    *,
    polling_timeout: int = 10,
    backoff: BackoffConfig = BACKOFF,
) -> None:
    """Long-poll until ``stop`` is set (the tests and benchmarks poll through this too)."""
    await bot.delete_webhook(drop_pending_updates=False)  # polling after webhook mode
    offset: int | None = None
    while not stop.is_set():
        updates = await _until_stopped(stop, _updates(bot, offset, polling_timeout, stop, backoff))
        if not updates:
            continue
        batch: list[Item] = []
        with intake.collecting(batch):
            for update in updates:
                await _feed(dp, bot, update)
        if not await _log(intake, batch, stop, backoff):
            return  # stopped before the log took them: they are not acknowledged
        offset = updates[-1].update_id + 1
    log.info("pocketcode.stopping")


async def _updates(
    bot: Bot, offset: int | None, timeout: int, stop: asyncio.Event, backoff: BackoffConfig
) -> list[Update]:
    """The next ``getUpdates`` answer, waiting out Telegram's hiccups."""
    delays = Backoff(backoff)
    while not stop.is_set():
        try:
            return await bot.get_updates(
                offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES
            )
        except TelegramRetryAfter as exc:
            await _pause(stop, float(exc.retry_after))
        except (TelegramNetworkError, TelegramServerError, TelegramConflictError) as exc:
            delay = next(delays)
            log.warning("telegram.get_updates_failed", error=str(exc), retry_in_s=round(delay, 1))
            await _pause(stop, delay)
    return []


async def _feed(dp: Dispatcher, bot: Bot, update: Update) -> None:
    """Run one update through the routers (which only collect it into the batch).

    A failure here is a bug in a handler, not the log: it is logged and the update skipped,
    since retrying it would fail again and hold up every chat.
    """
    try:
        await dp.feed_update(bot, update)
    except Exception:
        log.exception("telegram.update_failed", update_id=update.update_id)


async def _log(
    intake: Intake, batch: Sequence[Item], stop: asyncio.Event, backoff: BackoffConfig
) -> bool:
    """Log the batch, retrying while the log is unavailable; False if stopped first."""
    delays = Backoff(backoff)
    while not stop.is_set():
        try:
            await intake.take(batch)
            return True
        except LogUnavailable as exc:
            delay = next(delays)
            log.error(
                "intake.paused",
                error=str(exc),
                updates=len(batch),
                retry_in_s=round(delay, 1),
                note="updates are not acknowledged until they are in the log",
            )
            await _pause(stop, delay)
    return False


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _until_stopped(stop: asyncio.Event, work: Awaitable[T]) -> T | None:
    """``work``'s result, or None as soon as ``stop`` is set (a long poll is cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return None
