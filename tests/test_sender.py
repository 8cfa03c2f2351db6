"""TelegramSender over the real aiogram client against the stand-in: nothing is lost."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Literal

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from service.telegram.format import messages_for, render
from service.telegram.rendered import Message
from service.telegram.sender import TelegramDeliveryError, TelegramSender
from tests.fakes.botapi import FakeBotAPI, ManualClock

CHAT = 77


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def api(clock: ManualClock) -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(clock=clock) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    b = Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
    yield b
    await b.session.close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def sender(bot: Bot, clock: ManualClock, sleeps: list[float]) -> TelegramSender:
    async def fake_sleep(seconds: float) -> None:  # time passes only for the stand-in's clock
        sleeps.append(seconds)
        clock.advance(seconds)

    return TelegramSender(bot, sleep=fake_sleep, max_retries=3)


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def long_reply() -> str:
    paras = []
    for n in range(60):
        paras.append(f"Paragraph **{n}** says *something* about a < b & c. " * 3)
        if n % 10 == 5:
            paras.append("```python\n" + "\n".join(f"x{i} = {i} << 2" for i in range(40)) + "\n```")
    md = "\n\n".join(paras)
    assert len(md) >= 10_000
    return md


async def test_long_reply_arrives_whole_in_valid_chunks(
    api: FakeBotAPI, sender: TelegramSender, sleeps: list[float]
) -> None:
    api.flood.configure(rate=1.0, burst=1)
    md = long_reply()
    kb = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Stop", callback_data="s")]]
    )
    ids = await sender.send(CHAT, md, reply_markup=kb)
    shown = api.bot_messages(CHAT)
    assert [m.message_id for m in shown] == ids
    assert len(ids) >= 3
    for m in shown:
        assert m.parse_mode is None
        assert {e["type"] for e in m.entities} >= {"bold", "italic"}
        assert len(m.text or "") <= 4096
    assert any(e["type"] == "pre" for m in shown for e in m.entities)
    assert shown[-1].reply_markup is not None
    assert shown[0].reply_markup is None
    joined = "".join(m.text or "" for m in shown)
    assert _squash(joined) == _squash(render(md).text)
    assert "**" not in joined
    assert len(sleeps) == len(ids) - 1  # flood control was met and waited out


async def test_waits_out_a_429_storm_and_loses_nothing(
    api: FakeBotAPI, sender: TelegramSender, sleeps: list[float]
) -> None:
    api.flood.configure(rate=0.25, burst=1)
    for n in range(8):
        await sender.send(CHAT, f"message {n}")
    assert [m.text for m in api.bot_messages(CHAT)] == [f"message {n}" for n in range(8)]
    refused = [p for m, p, status in api.log if status == 429]
    assert len(refused) == len(sleeps) >= 7
    assert all(s == 4 for s in sleeps)


#: a link Telegram refuses ("entity URL '/docs' is invalid: ..."): the formatting is at fault
REFUSED: Message = {
    "text": "see the docs",
    "entities": [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "text_link", "offset": 4, "length": 8, "url": "/docs"},
    ],
}


async def test_refused_formatting_falls_back_to_plain_text(
    api: FakeBotAPI, sender: TelegramSender
) -> None:
    [mid] = await sender.send_messages(CHAT, [REFUSED])
    assert [(m, s) for m, _, s in api.log] == [("sendMessage", 400), ("sendMessage", 200)]
    [shown] = api.bot_messages(CHAT)
    assert (shown.message_id, shown.text, shown.entities) == (mid, "see the docs", [])
    edited: Message = {"text": "see the new docs", "entities": REFUSED["entities"]}
    assert await sender.edit_message(CHAT, mid, edited)
    assert (api.bot_messages(CHAT)[0].text, api.bot_messages(CHAT)[0].entities) == (
        "see the new docs",
        [],
    )
    assert await sender.send_draft(CHAT, 9, REFUSED)
    assert api.drafts[CHAT] == {9: "see the docs"}


async def test_other_refusals_are_not_hidden(api: FakeBotAPI, sender: TelegramSender) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await sender.send_messages(CHAT, [{"text": "x" * 5000, "entities": []}])


async def test_plain_text_is_sent_as_written(api: FakeBotAPI, sender: TelegramSender) -> None:
    await sender.send(CHAT, "a < b **c** & [d](e)", fmt="plain")
    [shown] = api.bot_messages(CHAT)
    assert (shown.text, shown.entities) == ("a < b **c** & [d](e)", [])


async def test_markdown_edge_cases_are_accepted(api: FakeBotAPI, sender: TelegramSender) -> None:
    api.flood.configure(enabled=False)
    for md in ["**unbalanced", "```\nunclosed fence <x>", "a & b < c", "_a **b_ c**", "<b>raw</b>"]:
        await sender.send(CHAT, md)
    assert all(s == 200 for _, _, s in api.log)


async def test_never_sends_a_noop_edit(api: FakeBotAPI, sender: TelegramSender, bot: Bot) -> None:
    [mid] = await sender.send(CHAT, "hello")
    assert await sender.edit(CHAT, mid, "hello")
    assert api.calls_of("editMessageText") == []
    assert await sender.edit(CHAT, mid, "hello **world**")
    assert await sender.edit(CHAT, mid, "hello **world**")
    assert len(api.calls_of("editMessageText")) == 1
    assert api.bot_messages(CHAT)[0].text == "hello world"
    # a sender without memory of the text: the refusal "not modified" still counts as success
    fresh = TelegramSender(bot)
    assert await fresh.edit(CHAT, mid, "hello **world**")
    assert len(api.calls_of("editMessageText")) == 2
    await bot.delete_message(CHAT, mid)
    assert await sender.edit(CHAT, mid, "gone") is False


async def test_long_edit_is_cut_to_one_message(api: FakeBotAPI, sender: TelegramSender) -> None:
    [mid] = await sender.send(CHAT, "start")
    assert await sender.edit(CHAT, mid, "word " * 2000)
    text = api.bot_messages(CHAT)[0].text or ""
    assert len(text) <= 4096
    assert text.endswith("…")


async def test_retries_server_errors_with_backoff(
    api: FakeBotAPI, sender: TelegramSender, sleeps: list[float]
) -> None:
    api.fail_next(2, status=502)
    assert len(await sender.send(CHAT, "through")) == 1
    assert sleeps == [0.5, 1.0]
    assert [m.text for m in api.bot_messages(CHAT)] == ["through"]


@pytest.mark.parametrize("kind", ["502", "drop"])
async def test_gives_up_with_a_clear_error_without_token(
    api: FakeBotAPI, sender: TelegramSender, sleeps: list[float], kind: Literal["502", "drop"]
) -> None:
    api.set_outage(True, kind=kind)
    with pytest.raises(TelegramDeliveryError) as ei:
        await sender.send(CHAT, "lost?")
    assert "sendMessage to chat 77 failed after 4 attempts" in str(ei.value)
    assert api.token not in str(ei.value)
    assert api.token.split(":")[1] not in str(ei.value)
    assert sleeps == [0.5, 1.0, 2.0]


async def test_outage_then_recovery_delivers(api: FakeBotAPI, bot: Bot, clock: ManualClock) -> None:
    api.set_outage(True, kind="drop")
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        if len(waited) == 2:
            api.set_outage(False)

    sender = TelegramSender(bot, sleep=sleep)
    assert len(await sender.send(CHAT, "eventually")) == 1
    assert [m.text for m in api.bot_messages(CHAT)] == ["eventually"]


async def test_send_document(api: FakeBotAPI, sender: TelegramSender) -> None:
    mid = await sender.send_document(CHAT, "report.txt", b"data", caption="c" * 2000)
    [shown] = api.bot_messages(CHAT)
    assert shown.message_id == mid
    assert shown.document is not None
    assert api.document_content(shown.document["file_id"]) == b"data"
    assert shown.caption is not None
    assert len(shown.caption) == 1024


async def test_send_draft(api: FakeBotAPI, sender: TelegramSender) -> None:
    [draft] = messages_for("thinking about **it**")
    assert await sender.send_draft(CHAT, 5, draft)
    assert api.drafts[CHAT] == {5: "thinking about it"}
    assert api.calls_of("sendMessageDraft")[0]["entities"] == [
        {"type": "bold", "offset": 15, "length": 2}
    ]
    assert await sender.send_draft(-100, 5, draft) is False  # groups have no drafts
