"""Webhook mode (beside polling): Telegram POSTs updates; only with its secret-token header.

Updates are handled before the response (not in the background), so an update is in the event
log before Telegram hears it was received, exactly as with polling.
"""

from __future__ import annotations

import secrets

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

WEBHOOK_PATH = "/telegram/webhook"


class _SecretHandler(SimpleRequestHandler):
    """aiogram compares the header as text with ``secrets.compare_digest``, which raises
    TypeError on non-ASCII text: a 500 instead of a 401. Comparing bytes refuses it like any
    other wrong secret, still in constant time."""

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        expected = (self.secret_token or "").encode()
        given = telegram_secret_token.encode("utf-8", "replace")
        return bool(expected) and secrets.compare_digest(given, expected)


def build_webhook_app(dp: Dispatcher, bot: Bot, *, secret: str) -> web.Application:
    """An aiohttp app answering 401 to any request without the right secret-token header."""
    if not secret:
        raise ValueError("webhook mode needs a secret token")
    app = web.Application()
    _SecretHandler(dp, bot, handle_in_background=False, secret_token=secret).register(
        app, path=WEBHOOK_PATH
    )
    setup_application(app, dp, bot=bot)
    return app
