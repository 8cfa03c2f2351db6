"""Keeps aiogram's response models alive, so an API call never builds one again.

aiogram checks every answer with ``Response[method.__returning__]`` (``BaseSession.
check_response``). pydantic keeps such parametrized models in a weak cache, and a model class
is full of reference cycles, so it lives only until the next cyclic garbage collection: the
next call of that method builds it again, ~8 ms of CPU on the event loop (a seventh of the bot's
busy time under load, bench/PROFILE.md). Holding each one from its first use on makes every
later lookup a cache hit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot


class KeepResponseModels(BaseRequestMiddleware):
    """A request middleware holding ``Response[...]`` of every method the bot has called."""

    def __init__(self) -> None:
        self.models: dict[type[TelegramMethod[Any]], type[Response[Any]]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        kind = type(method)
        if kind not in self.models:
            self.models[kind] = Response[method.__returning__]  # type: ignore[name-defined]
        return await make_request(bot, method)
