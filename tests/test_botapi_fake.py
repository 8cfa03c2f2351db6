"""The Bot API stand-in answers the real aiogram client like Telegram does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BotCommand, BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from tests.fakes.botapi import NOT_MODIFIED, EntityParseError, FakeBotAPI, ManualClock, parse_html


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def api(clock: ManualClock) -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(clock=clock) as fake:
        yield fake


def make_bot(api: FakeBotAPI, token: str | None = None) -> Bot:
    server = TelegramAPIServer.from_base(api.base_url)
    return Bot(token or api.token, session=AiohttpSession(api=server))


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    b = make_bot(api)
    yield b
    await b.session.close()


async def test_get_me_and_wrong_token(api: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.username == "pocket_test_bot"
    other = make_bot(api, "999:wrong-token")
    with pytest.raises(TelegramUnauthorizedError) as ei:
        await other.get_me()
    await other.session.close()
    assert ei.value.message == "Unauthorized"


async def test_send_message_real_shape(api: FakeBotAPI, bot: Bot) -> None:
    kb = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="ok", callback_data="x")]]
    )
    msg = await bot.send_message(42, "<b>hi</b> &amp; bye", parse_mode="HTML", reply_markup=kb)
    assert msg.text == "hi & bye"
    assert msg.from_user is not None
    assert msg.from_user.is_bot
    assert msg.entities is not None
    assert msg.entities[0].type == "bold"
    assert msg.reply_markup is not None
    assert msg.reply_markup.inline_keyboard[0][0].callback_data == "x"
    [shown] = api.chat_messages(42)
    assert (shown.text, shown.parse_mode, shown.source) == ("hi & bye", "HTML", msg.html_text)


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("x" * 4097, "Bad Request: message is too long"),
        ("<b>" + "x" * 4096 + "</b>", None),  # tags do not count
        ("&lt;" * 4097, "Bad Request: message is too long"),
        ("   ", "Bad Request: message text is empty"),
        ("<x>hi</x>", 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'),  # noqa: E501
        ("héllo <b>x", 'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag "b"'),  # noqa: E501
        ("a </b>", "Bad Request: can't parse entities: Unexpected end tag at byte offset 2"),
        ("a < b", 'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2'),
        ("<b>a</i>", "Bad Request: can't parse entities: Unmatched end tag at byte offset 4, "
         'expected "</b>", found "</i>"'),
    ],
)  # fmt: skip
async def test_text_refusals(bot: Bot, text: str, description: str | None) -> None:
    if description is None:
        await bot.send_message(1, text, parse_mode="HTML")
        return
    with pytest.raises(TelegramBadRequest) as ei:
        await bot.send_message(1, text, parse_mode="HTML")
    assert ei.value.message == description


async def test_missing_text_is_empty(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(1, "")


def test_html_parser_details() -> None:
    assert parse_html('<pre><code class="language-py">x</code></pre>').entities == [
        {"type": "pre", "offset": 0, "length": 1, "language": "py"}
    ]
    assert parse_html("😀<i>a</i>").entities == [{"type": "italic", "offset": 2, "length": 1}]
    assert parse_html("a &#60; &#x3e; &quot;", strict_ampersand=False).text == 'a < > "'
    assert parse_html("AT&T", strict_ampersand=False).text == "AT&T"  # Telegram keeps it
    with pytest.raises(EntityParseError, match="byte offset 2"):
        parse_html("AT&T")  # the stand-in refuses it by default
    with pytest.raises(EntityParseError, match="must have class"):
        parse_html('<span class="x">a</span>')
    assert parse_html("<blockquote expandable>q</blockquote>").entities[0]["type"] == (
        "expandable_blockquote"
    )


async def test_edit_refusals_and_state(api: FakeBotAPI, bot: Bot) -> None:
    msg = await bot.send_message(5, "one")
    with pytest.raises(TelegramBadRequest) as ei:
        await bot.edit_message_text(text="one", chat_id=5, message_id=msg.message_id)
    assert ei.value.message == NOT_MODIFIED
    await bot.edit_message_text(text="<i>two</i>", chat_id=5, message_id=msg.message_id,
                                parse_mode="HTML")  # fmt: skip
    assert [m.text for m in api.chat_messages(5)] == ["two"]
    await bot.delete_message(5, msg.message_id)
    assert api.chat_messages(5) == []
    with pytest.raises(TelegramBadRequest) as ei:
        await bot.edit_message_text(text="three", chat_id=5, message_id=msg.message_id)
    assert ei.value.message == "Bad Request: message to edit not found"


@pytest.mark.parametrize("data", ["", "x" * 65, "é" * 33])
async def test_button_data_invalid(bot: Bot, data: str) -> None:
    kb = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="b", callback_data=data)]]
    )
    with pytest.raises(TelegramBadRequest) as ei:
        await bot.send_message(1, "hi", reply_markup=kb)
    assert ei.value.message == "Bad Request: BUTTON_DATA_INVALID"


async def test_flood_control_blocks_until_retry_after(
    api: FakeBotAPI, bot: Bot, clock: ManualClock
) -> None:
    api.flood.configure(rate=1.0, burst=3)
    for _ in range(3):
        await bot.send_message(7, "ok")
    with pytest.raises(TelegramRetryAfter) as ei:
        await bot.send_message(7, "too fast")
    assert ei.value.retry_after == 1
    assert ei.value.message.endswith("Original description: Too Many Requests: retry after 1")
    await bot.send_message(8, "other chats are not blocked")
    clock.advance(0.5)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(7, "still blocked")
    clock.advance(0.5)
    await bot.send_message(7, "after the wait")
    api.flood.configure(enabled=False)
    for _ in range(10):
        await bot.send_message(7, "unlimited")


async def test_get_updates_long_poll_and_offset(api: FakeBotAPI, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=20, allowed_updates=["message"]))
    await api.wait_for(lambda: api.waiting_polls == 1)
    uid = api.push_message(10, 10, "/start hello")
    updates = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 5  # answered on push, not at the timeout
    assert [u.update_id for u in updates] == [uid]
    assert updates[0].message is not None
    assert updates[0].message.text == "/start hello"
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [uid]  # not acknowledged: delivered again
    assert await bot.get_updates(offset=uid + 1, timeout=0) == []
    assert api.pending_updates() == []


async def test_get_updates_empty_after_timeout(bot: Bot) -> None:
    assert await bot.get_updates(timeout=1) == []


async def test_second_poller_conflicts(api: FakeBotAPI, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=20))
    await api.wait_for(lambda: api.waiting_polls == 1)
    second = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(Exception, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, 5)
    assert await second == []


async def test_callback_and_commands(api: FakeBotAPI, bot: Bot) -> None:
    msg = await bot.send_message(3, "pick")
    api.push_callback(3, 3, msg.message_id, "choice:1")
    [update] = await bot.get_updates(timeout=0)
    assert update.callback_query is not None
    assert update.callback_query.data == "choice:1"
    assert await bot.answer_callback_query(update.callback_query.id, text="ok")
    await bot.set_my_commands([BotCommand(command="new", description="New session")])
    assert [c.command for c in await bot.get_my_commands()] == ["new"]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])
    assert await bot.delete_webhook()
    assert await bot.send_chat_action(3, "typing")


async def test_documents_round_trip(api: FakeBotAPI, bot: Bot) -> None:
    api.push_document(4, 4, "notes.txt", b"hello file")
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None
    assert update.message.document is not None
    f = await bot.get_file(update.message.document.file_id)
    assert f.file_path is not None
    data = await bot.download_file(f.file_path)
    assert data is not None
    assert data.read() == b"hello file"
    sent = await bot.send_document(4, BufferedInputFile(b"\x00\x01bin", "out.bin"), caption="c")
    assert sent.document is not None
    assert sent.document.file_name == "out.bin"
    assert api.document_content(sent.document.file_id) == b"\x00\x01bin"
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(4, BufferedInputFile(b"x", "x.txt"), caption="c" * 1025)


async def test_message_draft(api: FakeBotAPI, bot: Bot) -> None:
    assert await bot.send_message_draft(9, 1, text="<b>thinking</b>", parse_mode="HTML")
    assert api.drafts[9] == {1: "thinking"}
    with pytest.raises(TelegramBadRequest):
        await bot.send_message_draft(-100123, 1, text="group")


async def test_fault_injection(api: FakeBotAPI, bot: Bot) -> None:
    api.fail_next(1)
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    await bot.get_me()
    api.set_outage(True, kind="drop")
    with pytest.raises(TelegramNetworkError):
        await bot.get_me()
    api.set_outage(True, kind="502")
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    api.set_outage(False)
    assert (await bot.get_me()).is_bot
