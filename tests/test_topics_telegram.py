"""Sessions in topics end to end: real aiogram polling the Bot API stand-in, a private chat with
the bot's topic mode on (Bot API 9.3+), the real app and fake claudes over real pipes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e_kit import OWNER, Bot_, running_bot
from tests.fakes.botapi import StoredMessage, png

SESSIONS = ("alpha", "beta", "gamma")


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot_]:
    async with running_bot(tmp_path, topics=True) as running:
        yield running


async def open_topics(bot: Bot_, *names: str) -> dict[str, int]:
    """``/new NAME`` for each in General; the thread of each session's topic."""
    for name in names:
        bot.say(f"/new {name}")
        await bot.wait_text(f"Created {name} in a topic of its own.")
    return {t.name: t.thread_id for t in bot.api.topics[OWNER].values()}


def in_topic(bot: Bot_, thread: int | None) -> list[str]:
    return [m.text or m.caption or "" for m in bot.api.thread_messages(OWNER, thread)]


def question_in(bot: Bot_, thread: int) -> StoredMessage | None:
    return next((m for m in bot.api.thread_messages(OWNER, thread) if "🔐" in (m.text or "")), None)


async def test_three_sessions_in_three_topics_run_at_once_and_answer_in_their_own(
    bot: Bot_,
) -> None:
    threads = await open_topics(bot, *SESSIONS)
    assert sorted(threads) == sorted(SESSIONS)
    notes = [m for m in bot.api.chat_messages(OWNER) if m.service and m.from_bot]
    assert len(notes) == len(SESSIONS), "Telegram tells the bot of the topics it opened..."
    strangers = [e async for e in bot.app.store.read_all(stream_prefix="access:")]
    assert strangers == [], "...and those notes of its own are no stranger's"
    for name in SESSIONS:  # each asks a question first: all three turns are then open at once
        bot.say(f"[[tool:Bash:echo {name}]] [[slow:20]] go", thread_id=threads[name])
    await bot.api.wait_for(lambda: all(question_in(bot, threads[n]) for n in SESSIONS), 20)
    questions = {n: question_in(bot, threads[n]) for n in SESSIONS}
    for name in SESSIONS:
        summary = bot.app.catalog.get(name)
        assert summary is not None
        assert summary.open_turn, f"{name}'s turn waits for its answer"

    # Answered inside each topic: by its button, by /allow and by /deny typed there.
    asked = questions["alpha"]
    assert asked is not None
    assert asked.reply_markup is not None
    allow = asked.reply_markup["inline_keyboard"][0][0]
    assert allow["text"].endswith("Allow")
    bot.api.push_callback(OWNER, OWNER, asked.message_id, allow["callback_data"])
    bot.say("/allow", thread_id=threads["beta"])  # three are open: the topic says which
    bot.say("/deny", thread_id=threads["gamma"])

    def answered(name: str) -> bool:
        return any(f"Tool said: Bash ok: echo {name}" in t for t in in_topic(bot, threads[name]))

    denied = questions["gamma"]
    assert denied is not None
    await bot.api.wait_for(lambda: answered("alpha") and answered("beta"), 20)
    await bot.api.wait_for(lambda: "Denied" in (denied.text or ""), 20)
    gamma = threads["gamma"]
    await bot.api.wait_for(lambda: any("this turn" in t for t in in_topic(bot, gamma)), 20)
    for name, thread in threads.items():
        others = [n for n in SESSIONS if n != name]
        shown = "\n".join(in_topic(bot, thread))
        assert not any(f"echo {n}" in shown for n in others), f"{name}'s topic: {shown}"
        assert f"[{name}]" not in shown, "no labels inside a session's own topic"
    assert "Bash ok" not in "\n".join(in_topic(bot, gamma)), "gamma's command never ran"
    assert in_topic(bot, None) == [f"Created {n} in a topic of its own." for n in SESSIONS]
    drafted = set(bot.api.draft_threads.values())
    assert {threads["alpha"], threads["beta"]} <= drafted, "each reply streamed in its topic"
    typed = {thread for _, thread, _ in bot.api.chat_action_threads}
    assert set(threads.values()) <= typed, "typing shows in each topic"


async def test_a_topic_opened_by_hand_is_a_session_and_general_lists_them_all(
    bot: Bot_,
) -> None:
    await open_topics(bot, "alpha")
    mine = bot.api.push_topic_created(OWNER, OWNER, "Side Project")
    bot.say("hello from my topic", thread_id=mine)
    await bot.api.wait_for(lambda: any("Echo: hello" in t for t in in_topic(bot, mine)), 20)
    assert in_topic(bot, mine)[0].startswith("This topic is session side-project (persona default")
    bot.api.push_topic_edited(OWNER, OWNER, mine, "Side Project, v2")
    await bot.api.wait_for(
        lambda: any("still session side-project" in t for t in in_topic(bot, mine))
    )
    bot.say("/status")
    status = await bot.wait_text("Sessions:")
    assert "• side-project (default): idle, its topic" in status
    assert "• alpha (default): idle, its topic" in status


async def test_without_topics_the_chat_is_as_before_and_help_says_how(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        bot.say("/new work")
        await bot.wait_text("Created work (persona default")
        bot.say("/help")
        assert "Threaded Mode" in await bot.wait_text("Sessions side by side")
        assert bot.api.calls_of("createForumTopic") == []
        assert all(m.thread_id is None for m in bot.api.bot_messages(OWNER))


async def test_a_topics_files_come_into_it_from_get_and_from_the_buttons_under_its_reply(
    bot: Bot_,
) -> None:
    threads = await open_topics(bot, "work", "other")
    work = threads["work"]
    summary = bot.app.catalog.get("work")
    assert summary is not None
    (Path(summary.cwd) / "shot.png").write_bytes(png(640, 480))
    bot.say("/get shot.png", thread_id=work)
    await bot.api.wait_for(lambda: any(m.photo for m in bot.api.thread_messages(OWNER, work)), 20)
    bot.say("/mode acceptEdits", thread_id=work)
    await bot.api.wait_for(lambda: any("acceptEdits" in t for t in in_topic(bot, work)), 20)
    bot.say("[[tool:Write:report.txt|all done]] write the report", thread_id=work)
    await bot.api.wait_for(lambda: any("📝 Changed" in t for t in in_topic(bot, work)), 20)
    reply = next(m for m in bot.api.thread_messages(OWNER, work) if "📝" in (m.text or ""))
    [button] = (reply.reply_markup or {})["inline_keyboard"][0]
    assert button["text"] == "📄 report.txt"
    bot.api.push_callback(OWNER, OWNER, reply.message_id, button["callback_data"])
    await bot.api.wait_for(
        lambda: any(m.document for m in bot.api.thread_messages(OWNER, work)), 20
    )
    [report] = [m for m in bot.api.thread_messages(OWNER, work) if m.document]
    assert report.document is not None
    assert report.document["file_name"] == "report.txt"
    assert bot.api.document_content(report.document["file_id"]) == b"all done"
    assert in_topic(bot, None) == [f"Created {n} in a topic of its own." for n in threads]
    assert in_topic(bot, threads["other"])[1:] == [], "nothing of work's in other's topic"
