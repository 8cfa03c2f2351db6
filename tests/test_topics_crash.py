"""Topics survive crashes: the real ``pocketcode run`` process (private chat, the bot's topic mode
on) is SIGKILLed mid-turn or before a final reply reached Telegram; after the restart what the
session owes the chat arrives in the session's own topic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.crash_kit import OWNER, Gate, GatedBotAPI, Pocket

CUT_OFF = "pocketcode restarted while this turn was running"
PAD = " ".join(["plain words so that the answer streams for a while"] * 4)


@pytest.fixture
async def api() -> AsyncIterator[GatedBotAPI]:
    stand_in = GatedBotAPI(private_topics=True)
    stand_in.flood.configure(enabled=False)
    await stand_in.start()
    try:
        yield stand_in
    finally:
        if stand_in.gate is not None:
            stand_in.gate.release.set()
        await stand_in.stop()


@pytest.fixture
async def pocket(api: GatedBotAPI, tmp_path: Path) -> AsyncIterator[Pocket]:
    running = Pocket(api, tmp_path, FAKE_CLAUDE_DELTA_CHARS="10")
    try:
        await running.start(timeout=60)
        yield running
    finally:
        running.cleanup()


def in_topic(api: GatedBotAPI, thread: int | None) -> list[str]:
    return [m.text or "" for m in api.thread_messages(OWNER, thread)]


async def two_topics(api: GatedBotAPI) -> dict[str, int]:
    for name in ("calm", "busy"):
        api.push_message(OWNER, OWNER, f"/new {name}")
    done = [f"Created {name} in a topic of its own." for name in ("calm", "busy")]
    await api.wait_for(lambda: in_topic(api, None) == done, 60)
    return {t.name: t.thread_id for t in api.topics[OWNER].values()}


async def test_a_turn_cut_off_by_a_crash_is_told_in_its_sessions_topic(
    api: GatedBotAPI, pocket: Pocket
) -> None:
    threads = await two_topics(api)
    busy = threads["busy"]
    api.push_message(OWNER, OWNER, f"[[slow:30]] {PAD}", thread_id=busy)

    def streaming() -> bool:
        return any(
            "streams for a while" in text and api.draft_threads.get((chat, draft)) == busy
            for chat, draft, text in api.draft_history
        )

    await api.wait_for(streaming, 60)
    pocket.kill()
    await pocket.start(timeout=60)
    await api.wait_for(lambda: any(CUT_OFF in t for t in in_topic(api, busy)), 60)
    assert not any(CUT_OFF in t for t in in_topic(api, threads["calm"]) + in_topic(api, None))
    api.push_message(OWNER, OWNER, "still here?", thread_id=busy)
    await api.wait_for(lambda: any("Echo: still here?" in t for t in in_topic(api, busy)), 60)


async def test_a_reply_the_crash_kept_from_telegram_arrives_in_its_topic(
    api: GatedBotAPI, pocket: Pocket
) -> None:
    threads = await two_topics(api)
    api.gate = Gate("owed-reply", "drop")  # the final send never reaches the chat
    api.push_message(OWNER, OWNER, "owed-reply please", thread_id=threads["calm"])
    await asyncio.wait_for(api.gate.arrived.wait(), 60)
    pocket.kill()
    api.gate.release.set()
    await pocket.start(timeout=60)
    calm = threads["calm"]
    await api.wait_for(lambda: any("Echo: owed-reply" in t for t in in_topic(api, calm)), 60)
    assert sum("Echo: owed-reply" in t for t in in_topic(api, calm)) == 1, "delivered once"
    assert not any("owed-reply" in t for t in in_topic(api, threads["busy"]))
