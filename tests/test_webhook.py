"""Webhook mode answers only requests carrying Telegram's secret-token header."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from actors.chat.inbound import Incoming
from service.config import load_settings, startup_problems
from service.telegram.bot import build_dispatcher, make_bot
from service.telegram.webhook import WEBHOOK_PATH, build_webhook_app

SECRET = "s3cret_token-value"
OWNER = 7

Client = tuple[TestClient[web.Request, web.Application], list[object]]


def update(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 0,
            "text": text,
            "chat": {"id": OWNER, "type": "private"},
            "from": {"id": OWNER, "is_bot": False, "first_name": "Me"},
        },
    }


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    settings = load_settings(
        None,
        env={
            "TELEGRAM_BOT_TOKEN": "123456:TEST-token_abcdefghijklmnop",
            "POCKETCODE_ALLOWED_USERS": str(OWNER),
            "POCKETCODE_DATA_DIR": str(tmp_path),
        },
    )
    delivered: list[object] = []

    async def deliver(chat_id: int, message: object) -> None:
        delivered.append(message)

    async def on_denied(info: dict[str, Any]) -> None:
        raise AssertionError(info)

    bot = make_bot(settings)
    dp = build_dispatcher(deliver=deliver, on_denied=on_denied, settings=settings)
    async with TestClient(TestServer(build_webhook_app(dp, bot, secret=SECRET))) as c:
        yield c, delivered
    await bot.session.close()


async def test_requests_without_the_secret_are_refused(client: Client) -> None:
    c, delivered = client
    missing = await c.post(WEBHOOK_PATH, json=update(1, "hi"))
    wrong = await c.post(
        WEBHOOK_PATH, json=update(2, "hi"), headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
    )
    assert (missing.status, wrong.status) == (401, 401)
    assert delivered == []


async def test_an_update_with_the_secret_is_delivered_before_the_answer(client: Client) -> None:
    c, delivered = client
    response = await c.post(
        WEBHOOK_PATH, json=update(3, "hello"), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert response.status == 200
    assert delivered == [Incoming(OWNER, "hello", "upd-3")]


def test_webhook_mode_without_a_secret_does_not_start(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        env={
            "TELEGRAM_BOT_TOKEN": "123456:TEST-token_abcdefghijklmnop",
            "POCKETCODE_ALLOWED_USERS": "1",
            "POCKETCODE_WEBHOOK_URL": "https://example.org",
        },
    )
    assert any("webhook mode needs a secret" in p for p in startup_problems(settings))


async def test_a_non_ascii_secret_header_is_refused_not_an_error(client: Client) -> None:
    c, delivered = client
    for value in ("sëcret", SECRET + "é", "секрет"):
        response = await c.post(
            WEBHOOK_PATH, json=update(4, "hi"), headers={"X-Telegram-Bot-Api-Secret-Token": value}
        )
        assert response.status == 401, value
    assert delivered == []
