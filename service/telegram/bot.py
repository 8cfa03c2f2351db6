"""Building the aiogram `Bot` and `Dispatcher` from settings, and the command menu."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BotCommand

from actors.chat import routes
from actors.chat.inbound import Deliver
from actors.runtime.clock import Clock
from service.config import PUBLIC_API_BASE, Config
from service.errors import ConfigError
from service.telegram.denials import DenialLimiter
from service.telegram.middlewares import AccessMiddleware, LogContextMiddleware
from service.telegram.responses import KeepResponseModels
from service.telegram.router import build_router
from service.telegram.sender import TelegramSender
from service.telegram.view import TelegramView

#: The menu shown by Telegram next to the input field (``bot.set_my_commands(COMMANDS)``),
#: from the chat's own command table so the two cannot drift apart.
COMMANDS: list[BotCommand] = [
    BotCommand(command=name, description=description) for name, description in routes.menu()
]


def make_bot(settings: Config) -> Bot:
    """A Bot with no default parse mode (the sender chooses it per message) that keeps its
    response models (``responses``)."""
    tg = settings.telegram
    if tg.token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set")
    session = None
    if tg.api_base.rstrip("/") != PUBLIC_API_BASE:
        session = AiohttpSession(api=TelegramAPIServer.from_base(tg.api_base.rstrip("/")))
    bot = Bot(
        tg.token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=None),
    )
    bot.session.middleware(KeepResponseModels())
    return bot


def build_dispatcher(
    *,
    deliver: Deliver,
    on_denied: Callable[[dict[str, Any]], Awaitable[None]],
    settings: Config,
    denials: DenialLimiter | None = None,
    private_topics: bool = False,
) -> Dispatcher:
    """Dispatcher with log context (outermost), access control, then the handlers.
    ``private_topics``: the bot's topic mode is on in private chats (``getMe``)."""
    tg = settings.telegram
    dp = Dispatcher(name="pocketcode")
    dp.update.outer_middleware(LogContextMiddleware())
    access = AccessMiddleware(tg.allowed_users, tg.allowed_chats, on_denied, denials)
    dp.update.outer_middleware(access)
    limit = tg.upload_limit_mb * 1024 * 1024
    dp.include_router(
        build_router(deliver, upload_limit_bytes=limit, private_topics=private_topics)
    )
    return dp


def make_view(bot: Bot, settings: Config, *, clock: Clock | None = None) -> TelegramView:
    """The Telegram `ChatView` with the configured edit interval and draft use."""
    tg = settings.telegram
    return TelegramView(
        bot,
        TelegramSender(bot),
        edit_interval_s=tg.edit_interval_s,
        use_drafts=tg.use_drafts,
        clock=clock,
    )
