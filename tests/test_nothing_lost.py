"""No failure loses or doubles a message: a full log at intake, updates out of order, output that
cannot be logged mid-turn, a command that raises, replies to the chat that asked."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient, TestServer

from actors.chat import routes
from actors.chat.inbound import RECEIVED, update_stream
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session.state import load_state
from eventstore import EventStore, SqliteEventStore
from service.telegram.bot import build_dispatcher, make_bot
from service.telegram.webhook import WEBHOOK_PATH, build_webhook_app
from tests.app_kit import AppKit, app_settings, open_app_kit
from tests.e2e_kit import running_bot
from tests.full_log import fill, full, make_room
from tests.session_kit import open_session_kit

SECRET = "s3cret_token-value"


async def until(predicate: Callable[[], bool], timeout: float = 20) -> None:
    """Wait for something the bot does on its own (a retry after a backoff)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - the bot retries on its own: nothing to await
            await asyncio.sleep(0.01)


def log_of(store: EventStore) -> SqliteEventStore:
    """The SQLite log under the app's redacting wrapper."""
    inner = getattr(store, "inner", store)
    assert isinstance(inner, SqliteEventStore)
    return inner


async def received(store: EventStore, ref: str) -> list[dict[str, Any]]:
    return [e.data for e in await store.read_stream(update_stream(ref)) if e.type == RECEIVED]


# -- intake ------------------------------------------------------------------------------------


async def test_while_the_log_is_full_no_update_is_acknowledged_and_none_is_lost(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        bot.say("/new work")
        await bot.wait_text("Created work")
        store = log_of(bot.app.store)
        with structlog.testing.capture_logs() as logs:
            await fill(store)
            ids = [bot.say(f"message {i}") for i in range(3)]
            await until(lambda: sum(e["event"] == "intake.paused" for e in logs) >= 2)
            pending = {u["update_id"] for u in bot.api.pending_updates()}
            assert set(ids) <= pending, "nothing is acknowledged before it is in the log"
            await make_room(store)
            await bot.api.wait_for(lambda: not bot.api.pending_updates(), 20)
        await bot.wait_text("Echo: message 0")
        for i, update_id in enumerate(ids):
            [record] = await received(store, f"upd-{update_id}")
            assert record["text"] == f"message {i}"
        events = await store.read_stream(ev.stream_of("work"))
        queued = [e.data["text"] for e in events if e.type == ev.MESSAGE_QUEUED]
        assert queued == ["message 0", "message 1", "message 2"], "each once, in order"


@pytest.fixture
async def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppKit]:
    async with open_app_kit(tmp_path, monkeypatch) as kit:
        yield kit


def webhook_update(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "text": text,
            "chat": {"id": 1, "type": "private"},
            "from": {"id": 7, "is_bot": False, "first_name": "Me"},
        },
    }


async def test_webhook_updates_out_of_order_are_each_handled_once(kit: AppKit) -> None:
    """Telegram posts over parallel connections: 12 may arrive before 11, and a retry of 12
    after both. Deduplication is by the ids in the log, not by the highest one seen."""
    assert kit.app is not None
    settings = app_settings(kit.tmp, TELEGRAM_BOT_TOKEN="123456:TEST-token_abcdefghijklmnop")
    bot = make_bot(settings)
    dp = build_dispatcher(deliver=kit.app.deliver, on_denied=kit.app.on_denied, settings=settings)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    await kit.send("/new work")
    await kit.settle()
    async with TestClient(TestServer(build_webhook_app(dp, bot, secret=SECRET))) as client:
        for update_id, text in ((12, "/status"), (11, "/help"), (12, "/status")):
            answer = await client.post(
                WEBHOOK_PATH, json=webhook_update(update_id, text), headers=headers
            )
            assert answer.status == 200
        await kit.settle()
        texts = kit.view.texts(1)
        assert sum(t.startswith("Session: work") for t in texts) == 1
        assert sum(t.startswith("/start") for t in texts) == 1, "the earlier id is not dropped"
        store = log_of(kit.app.store)
        async with full(store):
            refused = await client.post(
                WEBHOOK_PATH, json=webhook_update(13, "/personas"), headers=headers
            )
        assert refused.status == 500, "not logged: Telegram must send it again"
        again = await client.post(
            WEBHOOK_PATH, json=webhook_update(13, "/personas"), headers=headers
        )
        assert again.status == 200
        await kit.settle()
    await bot.session.close()
    assert len(await received(store, "upd-13")) == 1
    assert sum("default" in t and "homelab" in t for t in kit.view.texts(1)) == 1


# -- a turn whose output cannot be logged --------------------------------------------------------


async def test_a_turn_whose_output_cannot_be_logged_ends_in_words_and_the_next_is_taken(
    tmp_path: Path,
) -> None:
    async with open_session_kit(tmp_path) as kit:
        store = kit.store
        assert isinstance(store, SqliteEventStore)
        ref = await kit.create("work")
        ref.tell(m.UserTurn("[[slow:20]] [[long:6000]] first"))
        await kit.inbox.wait_for(lambda: kit.inbox.of(n.ReplyProgress))
        await fill(store)
        told = await kit.inbox.told("could not be written")
        assert "Your next message starts it again" in told
        await make_room(store)
        ref.tell(m.UserTurn("second"))
        first, second = await kit.inbox.finished(2)
        assert first.outcome == ev.FAILED
        assert first.error is not None
        assert "event log could not be written" in first.error
        assert second.text == "Echo: second"
        actor = kit.system.cells["session:work"].actor
        assert actor is not None
        assert actor.state == await load_state(store, "work")  # type: ignore[attr-defined]


# -- a command that raises -----------------------------------------------------------------------


async def test_a_command_that_fails_is_answered_once_and_never_replayed(
    kit: AppKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    failing = dataclasses.replace(routes.COMMANDS["personas"], run=broken)
    monkeypatch.setitem(routes.COMMANDS, "personas", failing)
    await kit.send("/personas")
    await kit.settle()
    [said] = [t for t in kit.view.texts(1) if "failed inside pocketcode" in t]
    assert "RuntimeError" in said
    assert "upd-1" in said
    await kit.send("/help")
    await kit.settle()
    kit.view.shown.clear()
    await kit.stop()
    await kit.start()
    await kit.settle()
    assert kit.view.texts(1) == [], "handled once: nothing replayed or answered again"


async def test_new_with_a_file_as_the_working_directory_is_refused_in_words(
    kit: AppKit,
) -> None:
    (kit.tmp / "personas").mkdir(exist_ok=True)
    (kit.tmp / "afile").write_text("not a directory")
    (kit.tmp / "personas" / "odd.yaml").write_text(f"cwd: {kit.tmp / 'afile'}\n")
    said = await kit.answer("/new x odd")
    assert said.startswith("x was not created: its working directory")
    await kit.stop()
    kit.view.shown.clear()
    await kit.start()
    await kit.settle()
    assert kit.view.texts(1) == []


# -- replies go to the chat that asked -----------------------------------------------------------


async def test_a_session_answers_the_chat_that_wrote_to_it(kit: AppKit) -> None:
    """Made in a group, used from a private chat: the reply comes to the private chat."""
    group, private = -100, 1
    await kit.send("/new shared", chat_id=group)
    await kit.settle()
    await kit.send("/session shared", chat_id=private)
    reply = await kit.turn("hello from private", chat_id=private)
    assert reply.text == "Echo: hello from private"
    assert kit.view.of(group, "done") == []
    await kit.send("/cap 3", chat_id=private)
    assert "cost cap is now $3.00" in await kit.said("cost cap", chat_id=private)
    assert not any("cost cap" in t for t in kit.view.texts(group))
