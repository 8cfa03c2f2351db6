"""The Bot API stand-in answers the real aiogram client like Telegram does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
)

from tests.fakes.botapi import (
    NOT_MODIFIED,
    EntityParseError,
    FakeBotAPI,
    ManualClock,
    entity_faults,
    image_size,
    parse_html,
    png,
)


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


def E(kind: str, offset: int, length: int, **extra: Any) -> MessageEntity:
    return MessageEntity(type=kind, offset=offset, length=length, **extra)


async def test_entities_are_taken_in_utf16_units(api: FakeBotAPI, bot: Bot) -> None:
    entities = [
        E("bold", 2, 1),
        E("text_link", 4, 4, url="https://e.org/a_(b)"),
        E("pre", 9, 3, language="py"),
        E("url", 4, 4),  # Telegram finds URLs itself: the Bot API drops these
        E("italic", 0, 0),  # empty: dropped
    ]
    msg = await bot.send_message(3, "😀b link x=1", entities=entities)
    assert len(msg.entities or []) == 3
    [stored] = api.bot_messages(3)
    assert stored.entities == [
        {"type": "bold", "offset": 2, "length": 1},
        {"type": "text_link", "offset": 4, "length": 4, "url": "https://e.org/a_(b)"},
        {"type": "pre", "offset": 9, "length": 3, "language": "py"},
    ]
    await bot.send_message(3, "<b>x</b>", parse_mode="HTML", entities=[E("italic", 0, 1)])
    assert api.bot_messages(3)[1].entities == [{"type": "bold", "offset": 0, "length": 1}]
    assert api.entity_faults == []


@pytest.mark.parametrize(
    ("text", "entities", "description"),
    [
        ("abc", [E("blink", 0, 1)], "can't parse MessageEntity: Unsupported type specified"),
        ("abc", [E("text_link", 0, 1)], 'can\'t parse MessageEntity: Can\'t find field "url"'),
        ("abc", [E("text_link", 0, 1, url="/docs")],
         "entity URL '/docs' is invalid: URL host is empty"),
        ("abc", [E("text_link", 0, 1, url="localhost:8080/x")],
         "entity URL 'localhost:8080/x' is invalid: Wrong HTTP URL"),
        ("abc", [E("text_link", 0, 1, url="ftp://e.org")],
         "entity URL 'ftp://e.org' is invalid: Unsupported URL protocol"),
        ("abc", [E("text_link", 0, 1, url="https://e.org:99999")],
         "entity URL 'https://e.org:99999' is invalid: Wrong port number specified in the URL"),
        ("abc", [E("bold", 0, 4)],
         "entity beginning at UTF-16 offset 0 ends after the end of the text at UTF-16 offset 4"),
        ("abc", [E("bold", 4, 1)], "entity begins after the end of the text at UTF-16 offset 4"),
        ("abc", [E("bold", -1, 1)], "receive an entity with incorrect offset -1"),
        ("😀b", [E("bold", 1, 2)], "entity begins in a middle of a UTF-16 symbol at byte offset 4"),
        ("😀b", [E("bold", 0, 1)], "entity beginning at UTF-16 offset 0 ends in a middle of a "
         "UTF-16 symbol at byte offset 4"),
    ],
)  # fmt: skip
async def test_entity_refusals(
    bot: Bot, text: str, entities: list[MessageEntity], description: str
) -> None:
    with pytest.raises(TelegramBadRequest) as ei:
        await bot.send_message(1, text, entities=entities)
    assert ei.value.message == "Bad Request: " + description
    with pytest.raises(TelegramBadRequest):
        await bot.send_message_draft(1, 1, text=text, entities=entities)


def test_what_telegram_would_drop_from_valid_entities() -> None:
    def faults(*entities: tuple[str, int, int]) -> list[str]:
        listed = [{"type": t, "offset": o, "length": n} for t, o, n in entities]
        return entity_faults(sorted(listed, key=lambda e: (e["offset"], -e["length"])))

    assert faults(("bold", 0, 5), ("italic", 1, 2), ("code", 3, 1)) == [
        "bold@0+5 is cut out of code@3+1"
    ]
    assert faults(("pre", 0, 5), ("bold", 1, 2)) == ["bold@1+2 is inside pre@0+5"]
    assert faults(("blockquote", 0, 5), ("blockquote", 1, 2)) == [
        "blockquote@1+2 is a quote in blockquote@0+5"
    ]
    assert faults(("text_link", 0, 5), ("code", 1, 2)) == ["code@1+2 is inside text_link@0+5"]
    assert faults(("code", 0, 3), ("text_link", 2, 3)) == ["text_link@2+3 crosses code@0+3"]
    assert faults(("bold", 0, 3), ("italic", 2, 3)) == []  # resplit by Telegram, nothing lost
    assert faults(("blockquote", 0, 9), ("pre", 1, 3), ("bold", 5, 2), ("text_link", 5, 2)) == []


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


async def test_photos_and_their_limits(api: FakeBotAPI, bot: Bot) -> None:
    """sendPhoto: up to 10 MB, width + height at most 10000, one side at most 20 times the
    other, an image Telegram can read; any upload up to 50 MB (HTTP 413 beyond)."""
    sent = await bot.send_photo(4, BufferedInputFile(png(640, 480), "a.png"), caption="shot")
    assert sent.photo is not None
    assert (sent.photo[-1].width, sent.photo[-1].height, sent.caption) == (640, 480, "shot")
    assert api.document_content(sent.photo[-1].file_id) == png(640, 480)
    assert image_size(png(3, 7)) == (3, 7)
    refused = [
        ("PHOTO_INVALID_DIMENSIONS", png(6000, 4001)),
        ("PHOTO_INVALID_DIMENSIONS", png(2100, 100)),
        ("IMAGE_PROCESS_FAILED", b"not an image at all"),
        ("PHOTO_SAVE_FILE_INVALID", png(10, 10) + b"\x00" * (10 * 1024 * 1024)),
    ]
    for description, data in refused:
        with pytest.raises(TelegramBadRequest, match=description):
            await bot.send_photo(4, BufferedInputFile(data, "x.png"))
    assert (await bot.send_photo(4, BufferedInputFile(png(2000, 100), "x.png"))).photo
    with pytest.raises(TelegramEntityTooLarge):
        await bot.send_document(4, BufferedInputFile(b"\x00" * (50 * 1024 * 1024 + 1), "big"))
    assert [m.caption for m in api.bot_messages(4)] == ["shot", None]


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


# --------------------------------------------------------------------------- topics

FORUM = -1001234


async def test_a_forum_opens_topics_and_messages_go_into_them(api: FakeBotAPI, bot: Bot) -> None:
    api.make_forum(FORUM)
    topic = await bot.create_forum_topic(FORUM, "work")
    assert topic.name == "work"
    sent = await bot.send_message(FORUM, "hi", message_thread_id=topic.message_thread_id)
    assert sent.message_thread_id == topic.message_thread_id
    assert sent.is_topic_message
    assert sent.chat.is_forum
    assert [m.text for m in api.thread_messages(FORUM, topic.message_thread_id)] == ["hi"]
    general = await bot.send_message(FORUM, "to all")
    assert general.message_thread_id is None
    assert [m.text for m in api.thread_messages(FORUM, None)] == ["to all"]
    # The bot's own note about the topic is an update too (the Bot API does not skip those).
    [note] = [u for u in await bot.get_updates(timeout=0) if u.message is not None]
    assert note.message is not None
    assert note.message.forum_topic_created is not None
    assert note.message.forum_topic_created.name == "work"
    assert note.message.from_user is not None
    assert note.message.from_user.id == api.bot_id
    assert note.message.message_thread_id == topic.message_thread_id


async def test_a_closed_or_unknown_topic_is_refused_as_telegram_does(
    api: FakeBotAPI, bot: Bot
) -> None:
    api.make_forum(FORUM)
    thread = (await bot.create_forum_topic(FORUM, "work")).message_thread_id
    assert await bot.close_forum_topic(FORUM, thread)
    with pytest.raises(TelegramBadRequest, match="TOPIC_CLOSED"):
        await bot.send_message(FORUM, "hi", message_thread_id=thread)
    with pytest.raises(TelegramBadRequest, match="TOPIC_CLOSED"):
        await bot.send_document(FORUM, BufferedInputFile(b"x", "x.txt"), message_thread_id=thread)
    assert await bot.send_chat_action(FORUM, "typing", message_thread_id=thread)
    assert await bot.reopen_forum_topic(FORUM, thread)
    assert (await bot.send_message(FORUM, "hi", message_thread_id=thread)).message_thread_id
    for unknown in (thread + 100, 1):  # 1: General's id is no topic to send into
        with pytest.raises(TelegramBadRequest, match="message thread not found"):
            await bot.send_message(FORUM, "hi", message_thread_id=unknown)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(-100999, "hi", message_thread_id=thread)  # no topics there
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(-100999, "nope")
    with pytest.raises(TelegramBadRequest, match="TOPIC_ID_INVALID"):
        await bot.close_forum_topic(FORUM, thread + 100)


async def test_private_topics_follow_the_bots_topic_mode(clock: ManualClock) -> None:
    async with FakeBotAPI(clock=clock, private_topics=True) as api:
        bot = make_bot(api)
        try:
            me = await bot.get_me()
            assert me.has_topics_enabled
            assert me.allows_users_to_create_topics
            thread = (await bot.create_forum_topic(9, "work")).message_thread_id
            assert await bot.send_message_draft(9, 5, text="streaming", message_thread_id=thread)
            assert api.draft_threads[(9, 5)] == thread
            assert await bot.send_message_draft(9, 6, text="in general")
            await bot.send_message(9, "done", message_thread_id=thread)
            assert api.drafts[9] == {6: "in general"}, "a message replaces its topic's drafts"
            await bot.send_chat_action(9, "typing", message_thread_id=thread)
            assert api.chat_action_threads == [(9, thread, "typing")]
            with pytest.raises(TelegramBadRequest, match="only for supergroups"):
                await bot.close_forum_topic(9, thread)  # documented for supergroups only
            assert await bot.edit_forum_topic(9, thread, name="renamed")
            assert api.topics[9][thread].name == "renamed"
            # A topic the user opens by hand, and a message in it.
            mine = api.push_topic_created(9, 9, "By hand")
            api.push_message(9, 9, "hello", thread_id=mine)
            updates = [u.message for u in await bot.get_updates(timeout=0) if u.message]
            by_user = [m for m in updates if m.from_user is not None and m.from_user.id == 9]
            assert by_user[0].forum_topic_created is not None
            assert by_user[0].forum_topic_created.name == "By hand"
            assert (by_user[1].text, by_user[1].message_thread_id) == ("hello", mine)
            assert by_user[1].is_topic_message
        finally:
            await bot.session.close()
    async with FakeBotAPI(clock=clock) as off:
        bot = make_bot(off)
        try:
            with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
                await bot.create_forum_topic(9, "work")
        finally:
            await bot.session.close()
