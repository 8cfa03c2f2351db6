"""Files out of a session end to end: real aiogram over HTTP against the Bot API stand-in, the
real app, the fake claude. /get sends documents and photos (a picture Telegram will not take as
a photo goes as a file), /ls and the buttons under a reply fetch files and open folders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e_kit import OWNER, Bot_, running_bot
from tests.fakes.botapi import StoredMessage, png


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot_]:
    async with running_bot(tmp_path) as running:
        running.say("/new work")
        await running.wait_text("Created work")
        yield running


def workdir(bot: Bot_) -> Path:
    summary = bot.app.catalog.get("work")
    assert summary is not None
    return Path(summary.cwd)


async def next_message(bot: Bot_, command: str) -> StoredMessage:
    """Send ``command``; the first message the bot sends after it."""
    seen = len(bot.api.bot_messages(OWNER))
    bot.say(command)
    await bot.api.wait_for(lambda: len(bot.api.bot_messages(OWNER)) > seen, 20)
    return bot.api.bot_messages(OWNER)[seen]


async def press(bot: Bot_, message: StoredMessage, label: str) -> StoredMessage:
    """Press the button labelled ``label`` on ``message``; the bot's next message."""
    [data] = [b["callback_data"] for b in keyboard(message) if b["text"] == label]
    seen = len(bot.api.bot_messages(OWNER))
    bot.api.push_callback(OWNER, OWNER, message.message_id, data)
    await bot.api.wait_for(lambda: len(bot.api.bot_messages(OWNER)) > seen, 20)
    return bot.api.bot_messages(OWNER)[seen]


def keyboard(message: StoredMessage) -> list[dict[str, Any]]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


def content(bot: Bot_, message: StoredMessage) -> bytes:
    if message.document is not None:
        return bot.api.document_content(message.document["file_id"])
    assert message.photo is not None
    return bot.api.document_content(message.photo[-1]["file_id"])


async def test_get_sends_documents_and_photos(bot: Bot_) -> None:
    cwd = workdir(bot)
    (cwd / "notes.txt").write_text("remember the milk\n")
    (cwd / "shot.png").write_bytes(png(640, 480))
    (cwd / "banner.png").write_bytes(png(2100, 100))  # too narrow to be a Telegram photo
    (cwd / "poster.png").write_bytes(png(20, 20) + b"\x00" * (10 * 1024 * 1024))  # > 10 MB

    notes = await next_message(bot, "/get notes.txt")
    assert notes.document is not None
    assert (notes.document["file_name"], notes.caption) == ("notes.txt", "notes.txt · work")
    assert content(bot, notes) == b"remember the milk\n"

    shot = await next_message(bot, "/get shot.png")
    assert shot.photo is not None
    assert (shot.photo[-1]["width"], shot.photo[-1]["height"]) == (640, 480)
    assert content(bot, shot) == png(640, 480)

    banner = await next_message(bot, "/get banner.png")
    assert banner.document is not None, "refused as a photo (PHOTO_INVALID_DIMENSIONS)"
    assert content(bot, banner) == png(2100, 100)
    poster = await next_message(bot, "/get poster.png")
    assert poster.document is not None
    assert len(bot.api.calls_of("sendPhoto")) == 2, "a photo over 10 MB is not even tried"


async def test_what_cannot_or_may_not_be_sent_is_said_in_words(bot: Bot_) -> None:
    with (workdir(bot) / "dump.bin").open("wb") as fh:
        fh.truncate(60 * 1024 * 1024)
    big = await next_message(bot, "/get dump.bin")
    assert big.text == (
        "dump.bin is 60.0 MB, over the 50.0 MB a bot may send on Telegram, so it stays in "
        "work's directory."
    )
    escape = await next_message(bot, "/get ../../../../etc/passwd")
    assert escape.text == ("The path '../../../../etc/passwd' leads outside the allowed directory.")
    assert not bot.api.calls_of("sendDocument")


async def test_ls_buttons_open_folders_and_fetch_files(bot: Bot_) -> None:
    cwd = workdir(bot)
    (cwd / "docs").mkdir()
    (cwd / "docs" / "guide.md").write_text("# Guide\n")
    top = await next_message(bot, "/ls")
    assert top.text is not None
    assert top.text.startswith("work: its directory holds 1 folder(s) and 0 file(s).")
    assert [b["text"] for b in keyboard(top)] == ["📁 docs/"]
    docs = await press(bot, top, "📁 docs/")
    assert [b["text"] for b in keyboard(docs)] == ["📄 guide.md (8 B)", "⬆ .."]
    guide = await press(bot, docs, "📄 guide.md (8 B)")
    assert guide.document is not None
    assert content(bot, guide) == b"# Guide\n"
    assert all(len(b["callback_data"].encode()) <= 64 for b in keyboard(docs))


async def test_the_files_a_turn_wrote_are_buttons_under_its_reply(bot: Bot_) -> None:
    bot.say("/mode acceptEdits")
    await bot.wait_text("acceptEdits")
    bot.say("[[tool:Write:report.txt|all done]] write the report")
    await bot.wait_text("Tool said: Write ok")
    reply = next(m for m in bot.api.bot_messages(OWNER) if "Tool said" in (m.text or ""))
    assert reply.text is not None
    assert "📝 Changed: report.txt" in reply.text
    report = await press(bot, reply, "📄 report.txt")
    assert report.document is not None
    assert (report.document["file_name"], content(bot, report)) == ("report.txt", b"all done")
