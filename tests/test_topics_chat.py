"""Sessions side by side, one topic each: the chat actor through the app, on a recording view.

The view opens topics when asked, as Telegram does in a chat with topics; what a topic was shown
is ``view.in_topic(chat, thread)``. The chat's log is compared with its live state at the end of
every test (``AppKit.stop``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.chat import state as cs
from actors.chat import texts
from actors.chat.inbound import (
    Incoming,
    TopicChanged,
    VoiceArrived,
    Where,
    record,
    replayable,
)
from actors.chat.topics import session_name_for
from actors.names import is_valid_session_name
from tests.app_kit import AppKit, open_app_kit

CHAT = 1
GENERAL = Where(None, True)


@pytest.fixture
async def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppKit]:
    async with open_app_kit(tmp_path, monkeypatch) as kit:
        yield kit


def topic(thread: int | None) -> Where:
    return Where(thread, True)


async def new(kit: AppKit, name: str, *args: str) -> int:
    """``/new NAME`` in General; the thread id of the topic it opened."""
    await kit.send(" ".join(["/new", name, *args]), where=GENERAL)
    await kit.settle()
    assert kit.app is not None
    threads = [t for t, (title, _) in kit.view.topics[CHAT].items() if title == name]
    assert len(threads) == 1, kit.view.topics
    return threads[0]


async def chat_events(kit: AppKit) -> list[tuple[str, dict[str, object]]]:
    assert kit.app is not None
    events = await kit.app.store.read_stream(cs.stream_of(CHAT))
    return [(e.type, e.data) for e in events if e.type.startswith("chat.topic_")]


async def done_in(kit: AppKit, thread: int | None, count: int = 1) -> list[str]:
    await kit.view.wait_for(lambda: len(kit.view.in_topic(CHAT, thread, "done")) >= count)
    return kit.view.in_topic(CHAT, thread, "done")


async def test_new_opens_a_topic_and_a_message_there_gets_its_reply_there(kit: AppKit) -> None:
    work = await new(kit, "work")
    assert await chat_events(kit) == [
        (cs.TOPIC_BOUND, {"thread_id": work, "session": "work", "title": "work"})
    ]
    [welcome] = kit.view.in_topic(CHAT, work)
    assert welcome.startswith("This topic is session work (persona default")
    assert kit.view.in_topic(CHAT, None) == ["Created work in a topic of its own."]
    await kit.send("hello there", where=topic(work))
    assert await done_in(kit, work) == ["Echo: hello there"], "no [work] label in its own topic"
    assert kit.view.in_topic(CHAT, work, "typing") == ["on", "off"]
    assert kit.view.in_topic(CHAT, work, "progress")[0] == ""
    assert kit.view.in_topic(CHAT, None, "done") == []


async def test_each_topic_goes_to_its_own_session_without_switching(kit: AppKit) -> None:
    alpha, beta = await new(kit, "alpha"), await new(kit, "beta")
    await kit.send("[[slow:20]] to alpha", where=topic(alpha))  # beta was created last
    await kit.send("to beta", where=topic(beta))
    assert await done_in(kit, alpha) == ["Echo: [[slow:20]] to alpha"]
    assert await done_in(kit, beta) == ["Echo: to beta"]
    await kit.send("/status", where=topic(beta))
    await kit.settle()
    assert kit.view.in_topic(CHAT, beta)[-1].startswith("Session: beta")


async def test_general_keeps_the_commands_about_all_sessions(kit: AppKit) -> None:
    await new(kit, "alpha")
    await new(kit, "beta", "homelab")
    await kit.send("hello?", where=GENERAL)
    await kit.settle()
    offer = kit.view.of(CHAT, "say")[-1]
    assert offer.thread_id is None
    assert texts.IN_TOPICS in offer.text, "General sends nobody a message: topics do"
    assert "✓" not in offer.text
    await kit.send("/status", where=GENERAL)
    await kit.settle()
    status = kit.view.in_topic(CHAT, None)[-1]
    assert "• alpha (default): idle, its topic" in status
    assert "• beta (homelab): idle, its topic" in status
    await kit.send("/help", where=GENERAL)
    await kit.settle()
    assert texts.TOPICS_HOWTO.strip() not in kit.view.in_topic(CHAT, None)[-1]


async def test_without_topics_help_says_how_to_turn_them_on(kit: AppKit) -> None:
    await kit.send("/help")
    await kit.settle()
    assert kit.view.texts(CHAT)[-1].endswith(texts.TOPICS_HOWTO)
    await kit.send("/new work")
    await kit.settle()
    assert kit.view.topics == {}, "no topic where the chat has none"
    assert await chat_events(kit) == []


async def test_a_session_made_before_topics_gets_one_with_session_name(kit: AppKit) -> None:
    await kit.send("/new old")  # topics were off then
    await kit.settle()
    await kit.send("/session old", where=GENERAL)
    await kit.settle()
    [(thread, shown)] = kit.view.topics[CHAT].items()
    assert shown == ["old", False]
    assert kit.view.in_topic(CHAT, thread)[0].startswith("This topic is session old")
    assert kit.view.in_topic(CHAT, None)[-1] == "old is in its topic."
    await kit.send("/session old", where=GENERAL)  # a second time: the same topic
    await kit.settle()
    assert len(kit.view.topics[CHAT]) == 1
    assert kit.view.in_topic(CHAT, thread)[-1] == "Here is old: write here to talk to it."


async def test_archive_closes_the_topic_and_unarchive_reopens_it(kit: AppKit) -> None:
    work = await new(kit, "work")
    await kit.send("/archive work", where=topic(work))
    await kit.settle()
    assert kit.view.in_topic(CHAT, work)[-1].startswith("Archived work to ")
    assert kit.view.topics[CHAT][work] == ["work", True]
    await kit.send("still there?", where=topic(work))
    await kit.settle()
    assert kit.view.in_topic(CHAT, work)[-1] == texts.archived_topic("work")
    await kit.send("/unarchive work", where=GENERAL)
    await kit.settle()
    assert kit.view.topics[CHAT][work] == ["work", False]
    assert kit.view.in_topic(CHAT, work)[-1] == "work is back: write here to talk to it."
    await kit.send("again", where=topic(work))
    assert await done_in(kit, work) == ["Echo: again"]


async def test_a_topic_opened_by_hand_becomes_a_session_named_after_it(kit: AppKit) -> None:
    await kit.topic_changed("created", 501, "My Project!")
    await kit.topic_changed("created", 502, "my project")
    await kit.settle()
    assert kit.app is not None
    assert {s.name: s.persona for s in kit.app.catalog.listed()} == {
        "my-project": "default",
        "my-project-2": "default",
    }
    assert kit.view.in_topic(CHAT, 501)[0].startswith("This topic is session my-project ")
    await kit.send("hi", where=topic(502))
    assert await done_in(kit, 502) == ["Echo: hi"]
    # A topic pocketcode never heard of (opened while it was down): named from its number.
    await kit.send("who is here?", where=topic(777))
    assert await done_in(kit, 777) == ["Echo: who is here?"]
    assert kit.app.catalog.get("topic-777") is not None


async def test_a_topic_named_like_a_session_without_one_becomes_its_topic(kit: AppKit) -> None:
    await kit.send("/new notes")  # made before topics were on: no topic
    await kit.settle()
    await kit.topic_changed("created", 600, "notes")
    await kit.settle()
    assert kit.app is not None
    assert [s.name for s in kit.app.catalog.listed()] == ["notes"]
    assert (await chat_events(kit))[-1] == (
        cs.TOPIC_BOUND,
        {"thread_id": 600, "session": "notes", "title": "notes"},
    )


async def test_renaming_a_topic_is_noticed_and_the_session_keeps_its_name(kit: AppKit) -> None:
    work = await new(kit, "work")
    await kit.topic_changed("edited", work, "Work, part two")
    await kit.topic_changed("edited", work, None)  # only the icon changed
    await kit.settle()
    assert (await chat_events(kit))[-1] == (
        cs.TOPIC_RENAMED,
        {"thread_id": work, "title": "Work, part two"},
    )
    said = kit.view.in_topic(CHAT, work)
    assert said[-1] == "This topic is now “Work, part two”; it is still session work."
    await kit.send("hi", where=topic(work))
    assert await done_in(kit, work) == ["Echo: hi"]


async def test_closing_a_topic_archives_its_session_and_reopening_brings_it_back(
    kit: AppKit,
) -> None:
    work = await new(kit, "work")
    await kit.topic_changed("closed", work)
    await kit.settle()
    assert kit.app is not None
    summary = kit.app.catalog.get("work")
    assert summary is not None
    assert summary.status == "archived"
    archived = kit.view.in_topic(CHAT, None)[-1]
    assert archived.startswith("Archived work to ")
    assert "its topic was closed" in archived
    await kit.topic_changed("reopened", work)
    await kit.settle()
    summary = kit.app.catalog.get("work")
    assert summary is not None
    assert summary.status == "active"
    assert kit.view.in_topic(CHAT, work)[-1] == "work is back: write here to talk to it."


async def test_closing_the_topic_of_a_busy_session_reopens_it_and_says_why(kit: AppKit) -> None:
    work = await new(kit, "work")
    await kit.send("[[tool:Bash:echo hi]] wait for me", where=topic(work))
    await kit.view.wait_for(lambda: any("🔐" in t for t in kit.view.in_topic(CHAT, work)))
    assert kit.app is not None
    summary = kit.app.catalog.get("work")
    assert summary is not None
    assert summary.open_turn, "the question holds the turn open"
    kit.view.topics[CHAT][work][1] = True  # what the user did in Telegram
    await kit.topic_changed("closed", work)
    await kit.settle()
    assert kit.view.topics[CHAT][work][1] is False, "opened again"
    assert kit.view.in_topic(CHAT, work)[-1] == (
        "work is running a turn; /stop it first, then archive. Its topic is open again."
    )
    await kit.send("/deny", where=topic(work))
    await kit.settle()


async def test_a_typed_answer_in_a_topic_answers_that_topics_question(kit: AppKit) -> None:
    alpha, beta = await new(kit, "alpha"), await new(kit, "beta")
    await kit.send("[[tool:Bash:echo from-alpha]] go", where=topic(alpha))
    await kit.send("[[tool:Bash:echo from-beta]] go", where=topic(beta))

    def asked(thread: int) -> bool:
        return any("🔐" in t for t in kit.view.in_topic(CHAT, thread))

    await kit.view.wait_for(lambda: asked(alpha) and asked(beta))
    await kit.send("/allow", where=topic(beta))  # two are open: beta's topic means beta's
    assert await done_in(kit, beta) == ["Tool said: Bash ok: echo from-beta"]
    assert kit.view.in_topic(CHAT, alpha, "done") == []
    await kit.send("/allow", where=topic(alpha))
    assert await done_in(kit, alpha) == ["Tool said: Bash ok: echo from-alpha"]


async def test_topics_are_rebuilt_from_the_log_after_a_restart(kit: AppKit) -> None:
    work = await new(kit, "work")
    await kit.stop()
    kit.view.shown.clear()
    await kit.start()
    await kit.send("after the restart", where=topic(work))
    assert await done_in(kit, work) == ["Echo: after the restart"]
    assert len(kit.view.topics[CHAT]) == 1, "no second topic"


def test_an_update_from_a_topic_is_logged_and_replayed_with_its_topic() -> None:
    here = Where(42, True)
    for message in (
        Incoming(7, "hi", "upd-1", here),
        TopicChanged(7, "created", "Work", "upd-2", here),
    ):
        logged = record(1, message)
        assert (logged["thread_id"], logged["topics"]) == (42, True)
        assert replayable(logged, message.correlation_id) == message
    lost = replayable(record(1, VoiceArrived(7, "v.ogg", b"x", "upd-3", here)), "upd-3")
    assert lost.where == here
    assert "thread_id" not in record(1, Incoming(7, "hi", "upd-4")), "no topics: logged as before"


@pytest.mark.parametrize(
    ("title", "taken", "name"),
    [
        ("Work", (), "work"),
        ("My Project!", (), "my-project"),
        ("  Ünïcödé   Straße ", (), "unicode-strae"),
        ("🚀🚀", (), "topic"),
        ("_x_", (), "x"),
        ("work", ("work",), "work-2"),
        ("work", ("work", "work-2"), "work-3"),
        ("a" * 40, (), "a" * 32),
        ("a" * 40, ("a" * 32,), "a" * 30 + "-2"),
    ],
)
def test_a_topic_title_becomes_a_valid_free_session_name(
    title: str, taken: tuple[str, ...], name: str
) -> None:
    got = session_name_for(title, taken)
    assert got == name
    assert is_valid_session_name(got)
