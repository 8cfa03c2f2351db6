"""aiogram's response models are built once per method, not again after every garbage collection."""

from __future__ import annotations

import gc
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import GetMe, GetMyName, Response, SendMessage, TelegramMethod

from service.config import load_settings
from service.telegram.bot import make_bot
from service.telegram.responses import KeepResponseModels
from tests.fakes.botapi import FakeBotAPI


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Bot]:
    settings = load_settings(
        None,
        env={
            "TELEGRAM_BOT_TOKEN": api.token,
            "POCKETCODE_TELEGRAM_API_BASE": api.base_url,
            "POCKETCODE_ALLOWED_USERS": "7",
            "POCKETCODE_DATA_DIR": str(tmp_path),
        },
    )
    b = make_bot(settings)
    yield b
    await b.session.close()


def model_of(method: type[TelegramMethod[Any]]) -> type[Response[Any]]:
    """What aiogram validates ``method``'s answers with (``BaseSession.check_response``)."""
    return Response[method.__returning__]  # type: ignore[name-defined]


async def test_a_second_call_after_a_collection_uses_the_model_built_for_the_first(
    bot: Bot,
) -> None:
    await bot.get_me()
    await bot.send_message(7, "hi")
    first = {m: weakref.ref(model_of(m)) for m in (GetMe, SendMessage)}
    gc.collect()
    await bot.get_me()
    await bot.send_message(7, "hi again")
    for method, model in first.items():
        assert model() is not None, f"{method.__name__}'s model was collected"
        assert model_of(method) is model(), "built again"
    [keeper] = [m for m in bot.session.middleware if isinstance(m, KeepResponseModels)]
    assert set(keeper.models) == {GetMe, SendMessage}


def test_without_it_pydantic_lets_a_response_model_go_at_the_next_collection() -> None:
    """Why it exists: a method no bot of this process has called (``getMyName``)."""
    model = weakref.ref(model_of(GetMyName))
    gc.collect()
    assert model() is None
