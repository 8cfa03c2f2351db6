"""Dispatcher + middlewares + router, polling the Bot API stand-in with the real aiogram client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiogram import Bot, Dispatcher
from pydantic import SecretStr
from structlog.testing import capture_logs

from actors.chat.inbound import FileArrived, FileRefused, Incoming, Pressed
from service.config import Config, TelegramSettings, load_settings
from service.errors import ConfigError
from service.telegram.bot import COMMANDS, build_dispatcher, make_bot, make_view
from service.telegram.view import Act
from tests.fakes.botapi import FakeBotAPI

ME = 42
STRANGER = 666
GROUP = -100555

Delivered = tuple[int, object, dict[str, Any]]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        fake.flood.configure(enabled=False)
        yield fake


class Harness:
    """A polling dispatcher; `delivered` yields (chat_id, message, log context) in order."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.delivered: asyncio.Queue[Delivered] = asyncio.Queue()
        self.denied: list[dict[str, Any]] = []
        self.bot: Bot | None = None
        self.dp: Dispatcher | None = None
        self.task: asyncio.Task[None] | None = None

    async def deliver(self, chat_id: int, message: object) -> None:
        context = dict(structlog.contextvars.get_contextvars())
        await self.delivered.put((chat_id, message, context))

    async def on_denied(self, info: dict[str, Any]) -> None:
        self.denied.append(info)

    async def start(self, **telegram: Any) -> None:
        settings = Config(
            telegram=TelegramSettings(
                token=SecretStr(self.api.token),
                api_base=self.api.base_url,
                allowed_users=frozenset({ME}),
                **telegram,
            )
        )
        self.bot = make_bot(settings)
        self.dp = build_dispatcher(
            deliver=self.deliver, on_denied=self.on_denied, settings=settings
        )
        self.task = asyncio.create_task(
            self.dp.start_polling(
                self.bot,
                handle_as_tasks=False,
                polling_timeout=1,
                handle_signals=False,
                close_bot_session=False,
            )
        )

    async def next(self) -> Delivered:
        return await asyncio.wait_for(self.delivered.get(), 5)

    async def stop(self) -> None:
        if self.dp is not None and self.task is not None:
            await self.dp.stop_polling()
            await self.task
        if self.bot is not None:
            await self.bot.session.close()


@pytest.fixture
async def harness(api: FakeBotAPI) -> AsyncIterator[Harness]:
    h = Harness(api)
    yield h
    await h.stop()


async def test_allowed_text_and_commands_become_incoming(harness: Harness) -> None:
    await harness.start()
    uid = harness.api.push_message(ME, ME, "hello")
    uid2 = harness.api.push_message(ME, ME, "/new x")
    chat, msg, context = await harness.next()
    assert (chat, msg) == (ME, Incoming(ME, "hello", f"upd-{uid}"))
    assert context == {"chat_id": ME, "user_id": ME, "correlation_id": f"upd-{uid}"}
    assert await harness.next() == (
        ME,
        Incoming(ME, "/new x", f"upd-{uid2}"),
        {"chat_id": ME, "user_id": ME, "correlation_id": f"upd-{uid2}"},
    )
    assert structlog.contextvars.get_contextvars() == {}


async def test_stranger_is_ignored_and_recorded(harness: Harness) -> None:
    await harness.start()
    harness.api.push_message(STRANGER, STRANGER, "let me in " + "x" * 500)
    harness.api.push_callback(ME, STRANGER, 1, Act(action="allow", arg="r1").pack())
    uid = harness.api.push_message(ME, ME, "after")
    assert (await harness.next())[1] == Incoming(ME, "after", f"upd-{uid}")
    assert harness.delivered.empty()
    [text, press] = harness.denied
    assert text == {
        "user_id": STRANGER,
        "chat_id": STRANGER,
        "kind": "message",
        "text": ("let me in " + "x" * 500)[:200],
    }
    assert press["kind"] == "callback_query"
    assert harness.api.answered_callbacks == []
    sent = {"sendMessage", "answerCallbackQuery", "sendChatAction", "sendMessageDraft"}
    assert not [m for m, _ in harness.api.calls if m in sent]


async def test_button_press_is_delivered_and_answered(harness: Harness) -> None:
    await harness.start()
    uid = harness.api.push_callback(ME, ME, 7, Act(action="switch", arg="main").pack())
    chat, msg, _ = await harness.next()
    assert (chat, msg) == (ME, Pressed(ME, "switch", "main", 7, f"upd-{uid}"))
    assert len(harness.api.answered_callbacks) == 1


async def test_unknown_button_is_answered_not_delivered(harness: Harness) -> None:
    await harness.start()
    harness.api.push_callback(ME, ME, 7, "zzz")
    harness.api.push_message(ME, ME, "next")
    assert isinstance((await harness.next())[1], Incoming)
    assert len(harness.api.answered_callbacks) == 1


async def test_document_within_limit_arrives_with_bytes(harness: Harness) -> None:
    await harness.start()
    uid = harness.api.push_document(ME, ME, "notes.txt", b"hello file", caption="see this")
    chat, msg, _ = await harness.next()
    assert (chat, msg) == (
        ME,
        FileArrived(ME, "notes.txt", b"hello file", "see this", f"upd-{uid}"),
    )


async def test_photo_arrives(harness: Harness) -> None:
    await harness.start()
    harness.api.push_photo(ME, ME, b"\xff\xd8jpeg")
    _, msg, _ = await harness.next()
    assert isinstance(msg, FileArrived)
    assert msg.data == b"\xff\xd8jpeg"
    assert msg.filename.endswith(".jpg")


async def test_document_over_limit_is_refused_without_download(harness: Harness) -> None:
    await harness.start(upload_limit_mb=1)
    big = b"x" * (1024 * 1024 + 1)
    uid = harness.api.push_document(ME, ME, "big.bin", big)
    _, msg, _ = await harness.next()
    assert msg == FileRefused(ME, "big.bin", len(big), 1024 * 1024, f"upd-{uid}")
    assert harness.api.calls_of("getFile") == []


async def test_group_refused_unless_allowed(harness: Harness) -> None:
    await harness.start()
    harness.api.push_message(GROUP, ME, "hi group", chat_type="supergroup")
    harness.api.push_message(ME, ME, "private")
    assert (await harness.next())[1].text == "private"  # type: ignore[attr-defined]
    assert [d["chat_id"] for d in harness.denied] == [GROUP]


async def test_a_group_is_allowed_by_its_id_and_no_other_group_is(harness: Harness) -> None:
    """An allowed user in some other group must not open the agent to that group."""
    await harness.start(allowed_chats=frozenset({GROUP}))
    uid = harness.api.push_message(GROUP, ME, "hi group", chat_type="supergroup")
    assert (await harness.next())[:2] == (GROUP, Incoming(ME, "hi group", f"upd-{uid}"))
    other = GROUP - 1
    harness.api.push_message(other, ME, "hi other group", chat_type="supergroup")
    harness.api.push_message(ME, ME, "private")
    assert (await harness.next())[1].text == "private"  # type: ignore[attr-defined]
    assert [d["chat_id"] for d in harness.denied] == [other]


def test_allow_groups_is_refused_with_what_replaces_it(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("telegram:\n  allow_groups: true\n")
    with pytest.raises(ConfigError, match="allowed_chats"):
        load_settings(config, env={})
    chats = load_settings(None, env={"POCKETCODE_ALLOWED_CHATS": "-100123, -100456"})
    assert chats.telegram.allowed_chats == frozenset({-100123, -100456})


async def test_update_handled_is_logged_with_duration(harness: Harness) -> None:
    with capture_logs() as logs:
        await harness.start()
        harness.api.push_message(ME, ME, "hello")
        await harness.next()
        await harness.stop()
        harness.dp = None
    handled = [e for e in logs if e["event"] == "telegram.update_handled"]
    assert handled
    assert handled[0]["kind"] == "message"
    assert isinstance(handled[0]["duration_ms"], float)


async def test_commands_are_accepted_by_telegram(api: FakeBotAPI) -> None:
    settings = Config(telegram=TelegramSettings(token=SecretStr(api.token), api_base=api.base_url))
    bot = make_bot(settings)
    try:
        assert await bot.set_my_commands(COMMANDS)
    finally:
        await bot.session.close()
    names = [c["command"] for c in next(iter(api.commands.values()))]
    assert names == [
        "start", "help", "new", "session", "archive", "unarchive", "stop", "status", "model",
        "mode", "cap", "every", "routines", "resume", "release", "get", "ls", "personas",
    ]  # fmt: skip


async def test_make_view_uses_settings(api: FakeBotAPI) -> None:
    settings = Config(
        telegram=TelegramSettings(
            token=SecretStr(api.token), api_base=api.base_url, edit_interval_s=2.5, use_drafts=False
        )
    )
    bot = make_bot(settings)
    try:
        view = make_view(bot, settings)
        assert (view.edit_interval_s, view.use_drafts) == (2.5, False)
        assert await view.say(1, "hi") == 1
    finally:
        await bot.session.close()
