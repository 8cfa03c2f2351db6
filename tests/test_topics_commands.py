"""The commands about one session, typed in its topic, and what comes of them landing there:
routines (/every, /routines, their answers, questions and notices), files (/get, /ls, the
buttons under a reply) and the desk (/resume opens a topic, /release). Through the whole app on a
recording view and the fake clock; the log is compared with live state at the end
(``AppKit.stop``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.chat import state as cs
from actors.chat.inbound import Where
from actors.runtime.testkit import FakeClock
from tests.app_kit import AppKit, Shown
from tests.test_continuity import DESK_ID, plant
from tests.test_routines import BERLIN, SAT_8, START, until

CHAT = 1
GENERAL = Where(None, True)
PNG = bytes.fromhex("89504e470d0a1a0a") + b"\x00" * 40


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[AppKit]:
    kit = AppKit(tmp_path, clock=FakeClock(START), config=BERLIN)
    await kit.start()
    try:
        yield kit
    finally:
        await kit.stop()


def topic(thread: int) -> Where:
    return Where(thread, True)


async def new(kit: AppKit, name: str) -> int:
    """``/new NAME`` in General; the thread id of the topic it opened."""
    await kit.send(f"/new {name}", where=GENERAL)
    await kit.settle()
    [thread] = [t for t, (title, _) in kit.view.topics[CHAT].items() if title == name]
    return thread


async def typed(kit: AppKit, text: str, where: Where) -> Shown:
    """What ``text`` typed at ``where`` made the chat show last."""
    before = len(kit.view.shown.get(CHAT, []))
    await kit.send(text, where=where)
    await kit.settle()
    shown = kit.view.shown[CHAT][before:]
    assert shown, f"{text} showed nothing"
    return shown[-1]


def workdir(kit: AppKit, session: str) -> Path:
    assert kit.app is not None
    summary = kit.app.catalog.get(session)
    assert summary is not None
    return Path(summary.cwd)


async def test_a_routine_made_in_a_topic_runs_there_and_everything_of_it_lands_there(
    kit: AppKit,
) -> None:
    work, other = await new(kit, "work"), await new(kit, "other")
    made = await typed(kit, "/every daily 08:00 [[say:sdb has 12 bad sectors]]", topic(work))
    assert made.text.startswith("Routine 1 runs in work: At 08:00 every day")
    assert made.thread_id == work
    await typed(kit, "/every daily 08:00 [[say:OK backups ran]]", topic(work))
    await typed(kit, "/every daily 08:00 [[tool:Bash:df -h]]", topic(work))
    refused = await typed(kit, "/every daily 08:00 no session here", GENERAL)
    assert refused.text.startswith("A routine runs in a session"), "General has none"

    mine = await typed(kit, "/routines", topic(work))
    assert mine.text.count("· daily 08:00") == 3
    theirs = await typed(kit, "/routines", topic(other))
    assert theirs.text == "No routines here yet. /every shows how to make one."
    everyone = await typed(kit, "/routines", GENERAL)
    assert everyone.text.count("· daily 08:00") == 3

    await until(kit, SAT_8)
    asked = await kit.said("waits for you")
    assert asked.startswith("⏰ routine 3 (daily 08:00) is running unattended")
    question = next(s for s in kit.view.of(CHAT, "say") if s.text == asked)
    assert question.thread_id == work
    allow = question.buttons[0][0]
    assert allow.action == "allow"
    await kit.press(allow.action, allow.arg, handle=question.handle, where=topic(work))
    [problem, _] = await kit.view.wait_count(CHAT, "done", 2)
    assert problem.text == "⏰ routine 1 (daily 08:00)\n\nsdb has 12 bad sectors"
    ok = next(s for s in kit.view.of(CHAT, "say") if s.text.startswith("⏰ routine 2"))
    assert (ok.text, ok.silent) == ("⏰ routine 2 (daily 08:00): OK backups ran", True)
    assert {s.thread_id for s in (problem, ok, *kit.view.of(CHAT, "done"))} == {work}
    assert kit.view.in_topic(CHAT, work, "typing")[-1] == "off"

    await typed(kit, "/archive work", GENERAL)
    await until(kit, SAT_8.replace(day=29))
    skipped = next(s for s in kit.view.of(CHAT, "say") if "did not run" in s.text)
    assert skipped.text.endswith("its session work is archived; it is paused until you resume it.")
    assert skipped.thread_id == work, "the routine's notice goes into its session's topic"


async def test_get_ls_and_the_buttons_of_a_topic_are_its_sessions_files(kit: AppKit) -> None:
    work, other = await new(kit, "work"), await new(kit, "other")
    (workdir(kit, "work") / "shot.png").write_bytes(PNG)
    (workdir(kit, "other") / "theirs.txt").write_text("other's")

    photo = await typed(kit, "/get shot.png", topic(work))
    assert (photo.kind, photo.text, photo.thread_id) == ("photo", "shot.png · work", work)
    listing = await typed(kit, "/ls", topic(other))
    assert listing.text.startswith("other: its directory holds 0 folder(s) and 1 file(s).")
    assert listing.thread_id == other
    nothing = await typed(kit, "/ls", GENERAL)
    assert nothing.thread_id is None
    assert nothing.text.startswith("No active session to list."), "General is no session's"

    await typed(kit, "/mode acceptEdits", topic(work))
    await kit.send("[[tool:Write:report.txt|all done]] write it", where=topic(work))
    [reply] = await kit.view.wait_count(CHAT, "done", 1)
    assert reply.thread_id == work
    assert reply.footer is not None
    assert reply.footer.startswith("📝 Changed: report.txt")
    [[button]] = reply.buttons
    before = len(kit.view.shown[CHAT])
    await kit.press(button.action, button.arg, where=topic(work))
    await kit.settle()
    [sent] = kit.view.shown[CHAT][before:]
    assert (sent.kind, sent.filename, sent.data, sent.thread_id) == (
        "file",
        "report.txt",
        b"all done",
        work,
    )


async def test_resume_in_a_topics_chat_opens_a_topic_as_new_does(kit: AppKit) -> None:
    desk_dir = kit.tmp / "desk" / "My Project"
    plant(kit, desk_dir)
    await typed(kit, "/resume", GENERAL)
    await kit.press("resume", DESK_ID, where=GENERAL)
    await kit.settle()
    [thread] = [t for t, (title, _) in kit.view.topics[CHAT].items() if title == "my-project"]
    [resumed] = kit.view.in_topic(CHAT, thread)
    assert resumed.startswith(
        f"Resumed the conversation in {desk_dir} as my-project, in this topic of its own."
    )
    assert "You: [[mock:recall]] what did I say?" in resumed
    assert kit.view.in_topic(CHAT, None)[-1] == "my-project is in its topic."
    assert kit.app is not None
    events = await kit.app.store.read_stream(cs.stream_of(CHAT))
    bound = [e.data for e in events if e.type == cs.TOPIC_BOUND]
    assert bound == [{"thread_id": thread, "session": "my-project", "title": "my-project"}]

    await kit.send("[[recall]] and now?", where=topic(thread))
    [reply] = await kit.view.wait_count(CHAT, "done", 1)
    assert reply.thread_id == thread
    assert reply.text.startswith("turns=3; history: remember the word pineapple | ")
    released = await typed(kit, "/release", topic(thread))
    assert released.thread_id == thread
    assert released.text.startswith("my-project is released: no claude of pocketcode runs on it.")
