"""Every reply of the corpus (inputs written by others, and LLM-style replies) sent through the
real aiogram client to the Bot API stand-in: all accepted as sent, whole, no word lost."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from service.telegram.format import messages_for, render
from service.telegram.sender import TelegramSender
from tests.fakes.botapi import FakeBotAPI
from tests.markdown_corpus import corpus, lost_words


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        fake.flood.configure(enabled=False)
        yield fake


@pytest.fixture
async def sender(api: FakeBotAPI) -> AsyncIterator[TelegramSender]:
    bot = Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
    yield TelegramSender(bot)
    await bot.session.close()


def _canonical(entities: Sequence[Mapping[str, Any]]) -> list[str]:
    """Entities in one order (Telegram orders those over the same range its own way)."""
    return sorted(json.dumps(e, sort_keys=True) for e in entities)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_corpus_is_large_and_mostly_written_by_others() -> None:
    names = [s.name.split(":")[0] for s in corpus()]
    assert names.count("spec") == 655
    assert len(names) >= 1500
    assert sum(n not in ("generated", "reply") for n in names) >= 1000


async def test_every_reply_arrives_accepted_whole_and_unchanged(
    api: FakeBotAPI, sender: TelegramSender
) -> None:
    problems: dict[str, str] = {}
    sent = 0
    for chat, sample in enumerate(corpus(), start=1):
        messages = messages_for(sample.markdown)
        if not sample.markdown.strip():
            assert messages == [], sample.name
            continue
        await sender.send_messages(chat, messages)
        sent += len(messages)
        shown = [(m.text, _canonical(m.entities)) for m in api.bot_messages(chat)]
        if shown != [(m["text"], _canonical(m["entities"])) for m in messages]:
            problems[sample.name] = "not shown as sent"
        elif lost := lost_words(sample.markdown, messages):
            problems[sample.name] = f"words lost: {sorted(lost)}"
        elif _squash("".join(m["text"] for m in messages)) != _squash(render(sample.markdown).text):
            problems[sample.name] = "the messages put together are not the whole reply"
    assert problems == {}
    assert [status for _, _, status in api.log if status != 200] == []
    assert api.entity_faults == [], "Telegram would have dropped or cut some formatting"
    assert sent > len(corpus())


def test_the_word_check_notices_a_lost_word() -> None:
    """The check above would fail if words went missing (as they did with the old converter)."""
    markdown = "The docs【1】 say [so](https://e.org/a_(b))."
    assert lost_words(markdown, messages_for(markdown)) == set()
    assert lost_words(markdown, [{"text": "The docs say so.", "entities": []}]) == {
        "1",
        "https",
        "org",
        "b",
    }
