"""Voice messages in the chat actor, through the app with the real transcriber and the fake
claude: what was heard goes the way of a typed message, in order; what cannot be heard is
saved; a voice message lost to a crash is asked for again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.chat.inbound import VoiceArrived
from actors.session import events as ev
from tests.app_kit import AppKit
from tests.test_chat_actor import log_unhandled
from tests.voice_kit import SENTENCE, bundled_model, spoken_ogg, tone_ogg

CHAT = 1


@pytest.fixture
async def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppKit]:
    monkeypatch.setenv("FAKE_CLAUDE_STATE_DIR", str(tmp_path / "fake-state"))
    kit = AppKit(tmp_path)
    await kit.start(POCKETCODE_VOICE_MODEL=bundled_model())
    try:
        yield kit
    finally:
        await kit.stop()


async def voice(kit: AppKit, data: bytes, filename: str = "voice_U1.ogg") -> None:
    assert kit.app is not None
    kit.n += 1
    await kit.app.deliver(CHAT, VoiceArrived(7, filename, data, f"upd-{kit.n}"))


async def test_the_transcript_goes_to_the_session_like_a_typed_message_in_order(
    kit: AppKit,
) -> None:
    await kit.send("/new work")
    await voice(kit, spoken_ogg())
    await kit.send("I meant the unit tests")
    await kit.settle()
    heard = await kit.said("🎤 ")
    assert heard.lower() == f"🎤 {SENTENCE.lower()}"
    queued = [
        e.data["text"] for e in await kit.session_events("work") if e.type == ev.MESSAGE_QUEUED
    ]
    assert queued == [heard.removeprefix("🎤 "), "I meant the unit tests"]


async def test_silence_sends_nothing(kit: AppKit) -> None:
    await kit.send("/new work")
    await voice(kit, tone_ogg(440, 3.0, amplitude=0))
    await kit.settle()
    assert kit.view.texts(CHAT)[-1] == (
        "No words were heard in that voice message; nothing was sent."
    )
    assert not [e for e in await kit.session_events("work") if e.type == ev.MESSAGE_QUEUED]


async def test_a_recording_that_cannot_be_heard_is_saved_with_the_reason(kit: AppKit) -> None:
    await kit.send("/new work")
    await voice(kit, b"not a recording", "memo.ogg")
    [done] = await kit.view.wait_count(CHAT, "done", 1)
    said = kit.view.texts(CHAT)
    assert said[-2].startswith("memo.ogg could not be read as audio (")
    assert said[-1] == "Saved uploads/memo.ogg in work."
    assert done.text.startswith("Echo: I uploaded a file: uploads/memo.ogg (15 bytes)")
    summary = kit.app.catalog.get("work") if kit.app else None
    assert summary is not None
    assert (Path(summary.cwd) / "uploads" / "memo.ogg").read_bytes() == b"not a recording"


async def test_without_an_active_session_the_sessions_are_offered(kit: AppKit) -> None:
    await voice(kit, spoken_ogg())
    await kit.settle()
    assert kit.view.texts(CHAT)[-1].startswith(
        "No active session to send the voice message to. Pick one:"
    )


async def test_a_voice_message_logged_but_not_heard_before_a_crash_is_asked_for_again(
    kit: AppKit,
) -> None:
    await kit.send("/new work")
    await kit.settle()
    await log_unhandled(kit, 77, kind="voice", filename="voice_U9.ogg", size=3000)
    await kit.stop()
    kit.view.shown.clear()
    await kit.start(POCKETCODE_VOICE_MODEL=bundled_model())
    await kit.settle()
    assert kit.view.texts(CHAT) == [
        "Your voice message arrived just before pocketcode restarted and was not saved; "
        "please send it again."
    ]
