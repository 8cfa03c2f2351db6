"""Webhook mode (beside polling): Telegram POSTs updates; only with its secret-token header.

Updates are handled before the response (not in the background), so an update is in the event
log before Telegram hears it was received, exactly as with polling.
"""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

WEBHOOK_PATH = "/telegram/webhook"


def build_webhook_app(dp: Dispatcher, bot: Bot, *, secret: str) -> web.Application:
    """An aiohttp app answering 401 to any request without the right secret-token header."""
    if not secret:
        raise ValueError("webhook mode needs a secret token")
    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token=secret).register(
        app, path=WEBHOOK_PATH
    )
    setup_application(app, dp, bot=bot)
    return app
