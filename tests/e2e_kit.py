"""The whole bot end to end: real aiogram polling a Bot API stand-in, the real app and actors,
the fake claude over real pipes, a real SQLite log. Only loopback is used."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.utils.backoff import BackoffConfig

from actors.runtime import Clock, SystemClock
from service.app import App, open_app
from service.config import load_settings
from service.polling import poll
from service.telegram.bot import build_dispatcher, make_bot
from service.telegram.denials import DenialLimiter
from service.telegram.sender import TelegramSender
from service.telegram.view import TelegramView
from tests.fakes.botapi import FakeBotAPI, ManualClock, StoredMessage
from tests.session_kit import FAKE_CLAUDE, fake_claude_config

OWNER = 7
STRANGER = 666
#: Polling retries (Telegram down, the log full) a tenth of a second apart, not seconds.
FAST_RETRIES = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=2.0, jitter=0.0)


@dataclass
class Bot_:
    """A running bot: the stand-in, the app, and the dispatcher polling it."""

    api: FakeBotAPI
    app: App
    bot: Bot
    dp: Dispatcher
    view: TelegramView
    clock: ManualClock
    sleeps: list[float] = field(default_factory=list)

    def say(
        self,
        text: str,
        *,
        chat_id: int = OWNER,
        user_id: int = OWNER,
        thread_id: int | None = None,
    ) -> int:
        return self.api.push_message(chat_id, user_id, text, thread_id=thread_id)

    def texts(self, chat_id: int = OWNER) -> list[str]:
        return [m.text or m.caption or "" for m in self.api.bot_messages(chat_id)]

    async def wait_text(self, needle: str, chat_id: int = OWNER, timeout: float = 20) -> str:
        def found() -> str | None:
            return next((t for t in self.texts(chat_id) if needle in t), None)

        await self.api.wait_for(lambda: found() is not None, timeout)
        text = found()
        assert text is not None
        return text

    async def wait_message(self, needle: str, chat_id: int = OWNER) -> StoredMessage:
        await self.wait_text(needle, chat_id)
        return next(m for m in self.api.bot_messages(chat_id) if needle in (m.text or ""))


@contextlib.asynccontextmanager
async def running_bot(
    tmp: Path,
    denials: DenialLimiter | None = None,
    app_clock: Clock | None = None,
    *,
    topics: bool = False,
    **env: str,
) -> AsyncIterator[Bot_]:
    """``app_clock``: the app's (its actors' timers; a ``FakeClock`` for routines); ``topics``:
    the bot's topic mode is on in private chats (as ``getMe`` says at start)."""
    clock = ManualClock()
    api = FakeBotAPI(clock=clock, private_topics=topics)
    api.flood.configure(enabled=False)
    await api.start()
    settings = load_settings(
        fake_claude_config(tmp),
        env={
            "TELEGRAM_BOT_TOKEN": api.token,
            "POCKETCODE_TELEGRAM_API_BASE": api.base_url,
            "POCKETCODE_ALLOWED_USERS": str(OWNER),
            "POCKETCODE_DATA_DIR": str(tmp / "data"),
            "POCKETCODE_CLAUDE_BIN": FAKE_CLAUDE,
            "POCKETCODE_PERSONAS_DIR": str(tmp / "personas"),
            **env,
        },
    )
    bot = make_bot(settings)
    sleeps: list[float] = []

    async def stand_in_sleep(seconds: float) -> None:
        """Flood waits pass on the stand-in's clock: retried at once, no real waiting."""
        sleeps.append(seconds)
        clock.advance(seconds)
        await asyncio.sleep(0)

    app = await open_app(settings, clock=app_clock or SystemClock())
    view = TelegramView(
        bot, TelegramSender(bot, sleep=stand_in_sleep), edit_interval_s=0.02, clock=SystemClock()
    )
    app.view = view
    await app.recover()
    dp = build_dispatcher(
        deliver=app.deliver,
        on_denied=app.on_denied,
        settings=settings,
        denials=denials,
        private_topics=topics,
    )
    running = Bot_(api, app, bot, dp, view, clock, sleeps)
    stop = asyncio.Event()
    polling = asyncio.create_task(
        poll(dp, bot, app.intake, stop, polling_timeout=1, backoff=FAST_RETRIES)
    )
    try:
        yield running
    finally:
        stop.set()
        await polling
        await app.shutdown()
        await view.close()
        await bot.session.close()
        await api.stop()
