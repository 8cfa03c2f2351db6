"""What Telegram can fail at on the way in: a file download, a press too old to answer. Each is
still an update the chat hears about, never a silent drop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import GetFile

from actors.chat.inbound import FileArrived, FileRefused, Incoming, Pressed
from service.telegram.router import download_failure
from service.telegram.view import Act
from tests.fakes.botapi import FakeBotAPI, ManualClock
from tests.test_telegram_router import ME, Harness


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def harness(clock: ManualClock) -> AsyncIterator[Harness]:
    async with FakeBotAPI(clock=clock, callback_answer_window_s=15) as api:
        api.flood.configure(enabled=False)
        h = Harness(api)
        yield h
        await h.stop()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (404, "Telegram no longer has the file (HTTP 404)"),
        (503, "Telegram's file server answered HTTP 503"),
        ("drop", "the connection to Telegram failed"),
    ],
)
async def test_a_download_that_fails_is_refused_with_the_reason(
    harness: Harness, fault: int | str, reason: str
) -> None:
    await harness.start()
    if fault == "drop":  # aiohttp retries a GET once on a reused connection that closed
        harness.api.fail_downloads(2, "drop")
    else:
        harness.api.fail_downloads(1, int(fault))
    uid = harness.api.push_document(ME, ME, "notes.pdf", b"%PDF-1.7")
    after = harness.api.push_message(ME, ME, "after")
    _, msg, _ = await harness.next()
    assert msg == FileRefused(ME, "notes.pdf", 8, 20 * 2**20, f"upd-{uid}", reason)
    assert (await harness.next())[1] == Incoming(ME, "after", f"upd-{after}")


async def test_a_getfile_that_fails_is_refused_with_the_reason(harness: Harness) -> None:
    await harness.start()
    harness.api.fail_next(1, 502, methods=["getFile"])
    uid = harness.api.push_document(ME, ME, "notes.pdf", b"%PDF-1.7")
    _, msg, _ = await harness.next()
    assert isinstance(msg, FileRefused)
    assert (msg.correlation_id, msg.reason) == (
        f"upd-{uid}",
        "Telegram had a server error (Bad Gateway)",
    )
    harness.api.push_document(ME, ME, "again.pdf", b"%PDF-1.7")  # the next one still comes
    assert isinstance((await harness.next())[1], FileArrived)


def test_every_download_failure_has_words_and_no_url() -> None:
    url = "https://api.telegram.org/file/bot123:SECRET/documents/file_1.pdf"
    info = aiohttp.RequestInfo(url, "GET", {}, url)  # type: ignore[arg-type]
    gone = aiohttp.ClientResponseError(info, (), status=404)
    refused = TelegramBadRequest(GetFile(file_id="x"), "Bad Request: invalid file_id")
    reasons = [
        download_failure(e)
        for e in (
            TimeoutError(),
            gone,
            aiohttp.ClientConnectionError(url),
            refused,
            ValueError(url),
        )
    ]
    assert reasons == [
        "the download from Telegram timed out",
        "Telegram no longer has the file (HTTP 404)",
        "the connection to Telegram failed",
        "Telegram refused to hand it over (Bad Request: invalid file_id)",
        "the download failed",
    ]


async def test_a_press_too_old_to_answer_is_still_delivered(
    harness: Harness, clock: ManualClock
) -> None:
    uid = harness.api.push_callback(ME, ME, 7, Act(action="switch", arg="main").pack())
    clock.advance(60)  # pocketcode was down a minute: Telegram no longer takes the answer
    await harness.start()
    chat, msg, _ = await harness.next()
    assert (chat, msg) == (ME, Pressed(ME, "switch", "main", 7, f"upd-{uid}"))
    assert [s for m, _, s in harness.api.log if m == "answerCallbackQuery"] == [400]
    assert harness.api.answered_callbacks == []
