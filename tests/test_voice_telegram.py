"""Voice through Telegram: real aiogram polling the Bot API stand-in, then the whole bot with
the fake claude, the real transcriber and a real SQLite log."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.chat.inbound import RECEIVED, FileRefused, VoiceArrived, update_stream
from tests.e2e_kit import OWNER, running_bot
from tests.fakes.botapi import FakeBotAPI
from tests.test_telegram_router import ME, Harness
from tests.voice_kit import SENTENCE, bundled_model, spoken_ogg


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with FakeBotAPI() as api:
        api.flood.configure(enabled=False)
        h = Harness(api)
        yield h
        await h.stop()


async def test_voice_notes_and_audio_files_arrive_with_their_bytes(harness: Harness) -> None:
    await harness.start()
    uid = harness.api.push_voice(ME, ME, b"OggS voice")
    uid2 = harness.api.push_audio(ME, ME, "memo.mp3", b"ID3 audio")
    assert (await harness.next())[:2] == (
        ME,
        VoiceArrived(ME, "voice_U000001.ogg", b"OggS voice", f"upd-{uid}"),
    )
    assert (await harness.next())[1] == VoiceArrived(ME, "memo.mp3", b"ID3 audio", f"upd-{uid2}")


async def test_a_recording_over_the_limit_is_refused_without_download(harness: Harness) -> None:
    await harness.start(upload_limit_mb=1)
    big = b"x" * (1024 * 1024 + 1)
    uid = harness.api.push_voice(ME, ME, big)
    assert (await harness.next())[1] == FileRefused(
        ME, "voice_U000001.ogg", len(big), 1024 * 1024, f"upd-{uid}"
    )
    assert harness.api.calls_of("getFile") == []


async def test_a_voice_message_is_shown_transcribed_then_answered(tmp_path: Path) -> None:
    async with running_bot(tmp_path, POCKETCODE_VOICE_MODEL=bundled_model()) as bot:
        bot.say("/new work")
        await bot.wait_text("work")
        uid = bot.api.push_voice(OWNER, OWNER, spoken_ogg())
        reply = await bot.wait_text("Echo: ")
        heard = next(t for t in bot.texts() if t.startswith("🎤 "))
        assert heard.lower() == f"🎤 {SENTENCE.lower()}"
        assert reply.startswith(f"Echo: {heard.removeprefix('🎤 ')}\n")
        assert bot.texts().index(heard) < bot.texts().index(reply)
        [received] = [
            e.data
            for e in await bot.app.store.read_stream(update_stream(f"upd-{uid}"))
            if e.type == RECEIVED
        ]
        assert received == {
            "chat_id": OWNER,
            "update_id": uid,
            "user_id": OWNER,
            "kind": "voice",
            "filename": "voice_U000001.ogg",
            "size": len(spoken_ogg()),
        }


async def test_without_the_extra_a_voice_message_says_how_and_is_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as where the extra is missing
    async with running_bot(tmp_path) as bot:
        bot.say("/new work")
        await bot.wait_text("work")
        bot.api.push_voice(OWNER, OWNER, spoken_ogg())
        reply = await bot.wait_text("Echo: ")
        assert bot.texts()[-3:] == [
            "Voice messages are not transcribed here; to turn them on, install "
            "pocketcode[voice] and set voice.model in the config (a Whisper model such as base).",
            "Saved uploads/voice_U000001.ogg in work.",
            reply,
        ]
        assert reply.startswith("Echo: I uploaded a file: uploads/voice_U000001.ogg")
        summary = bot.app.catalog.get("work")
        assert summary is not None
        saved = Path(summary.cwd) / "uploads" / "voice_U000001.ogg"
        assert saved.read_bytes() == spoken_ogg()
