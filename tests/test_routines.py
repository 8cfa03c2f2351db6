"""Routines through the whole app on the fake clock: /every, the slots, restarts, buttons.

Time is Europe/Berlin (``timezone`` in the config); the clock starts on Friday 27 March 2026
at 13:00 CET, two days before the spring change to CEST (Sunday 29 March, 02:00 -> 03:00).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actors.chat.view import Button
from actors.routines import events as rev
from actors.routines import messages as rm
from actors.routines.schedule import parse_every
from actors.runtime.testkit import FakeClock
from actors.session import events as ev
from eventstore import Event, SqliteEventStore
from tests.app_kit import AppKit

START = datetime(2026, 3, 27, 12, tzinfo=UTC)
BERLIN = "timezone: Europe/Berlin\n"
#: 08:00 in Berlin on the days around the change: CET before it, CEST after.
SAT_8 = datetime(2026, 3, 28, 7, tzinfo=UTC)
SUN_8 = datetime(2026, 3, 29, 6, tzinfo=UTC)
MON_8 = datetime(2026, 3, 30, 6, tzinfo=UTC)
TUE_8 = datetime(2026, 3, 31, 6, tzinfo=UTC)


def new_kit(tmp: Path, config: str = "") -> AppKit:
    return AppKit(tmp, clock=FakeClock(START), config=BERLIN + config)


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[AppKit]:
    kit = new_kit(tmp_path)
    await kit.start()
    await kit.answer("/new work")
    try:
        yield kit
    finally:
        await kit.stop()


async def until(kit: AppKit, when: datetime) -> None:
    """Move the fake clock to ``when``, at most an hour at a time, letting the actors act."""
    while (left := (when - kit.clock.now()).total_seconds()) > 0:
        await kit.clock.advance(min(left, 3600))
        await kit.settle()


async def ended(kit: AppKit, count: int) -> None:
    """Until ``count`` turns have ended in the chat (shown or kept quiet: typing stops)."""
    await kit.view.wait_for(
        lambda: [s.text for s in kit.view.of(1, "typing")].count("off") >= count
    )


async def starts(kit: AppKit) -> list[Event]:
    return [e for e in await kit.session_events("work") if e.type == ev.TURN_STARTED]


async def routine_events(kit: AppKit, type_: str) -> list[dict[str, Any]]:
    assert kit.app is not None
    return [e.data for e in await kit.app.store.read_stream(rev.STREAM) if e.type == type_]


def button(kit: AppKit, arg: str) -> Button:
    """The button with ``arg`` on the latest message that has one."""
    for shown in reversed(kit.view.of(1, "say")):
        for row in shown.buttons:
            for b in row:
                if b.arg == arg:
                    return b
    raise AssertionError(f"no button {arg!r} shown")


async def press(kit: AppKit, arg: str) -> str:
    b = button(kit, arg)
    await kit.press(b.action, b.arg)
    await kit.settle()
    return kit.view.texts(1)[-1]


async def test_a_daily_routine_fires_at_its_minute_across_the_spring_clock_change(
    kit: AppKit,
) -> None:
    said = await kit.answer("/every daily 08:00 [[say:Backups ran; sdb has 12 bad sectors]]")
    assert said.startswith("Routine 1 runs in work: At 08:00 every day, next Sat 28 Mar 08:00 CET")
    await until(kit, SAT_8.replace(hour=6, minute=59))
    assert await starts(kit) == []
    await until(kit, SAT_8)
    [reply] = await kit.view.wait_count(1, "done", 1)
    assert reply.text == "⏰ routine 1 (daily 08:00)\n\nBackups ran; sdb has 12 bad sectors"
    await until(kit, SUN_8.replace(hour=5, minute=59))
    assert len(await starts(kit)) == 1, "the day after the change: not at 07:00 UTC"
    await until(kit, SUN_8)
    await kit.view.wait_count(1, "done", 2)
    assert [e.at for e in await starts(kit)] == [SAT_8, SUN_8]
    fired = await routine_events(kit, rev.FIRED)
    assert [(f["slot"], f["late"]) for f in fired] == [
        (SAT_8.isoformat(), False),
        (SUN_8.isoformat(), False),
    ]


async def test_quiet_when_all_is_well_and_a_problem_arrives_with_a_notification(
    kit: AppKit,
) -> None:
    await kit.answer("/every daily 08:00 --quiet [[say:OK all four disks are healthy]]")
    await kit.answer("/every daily 08:00 --quiet [[say:sdb has 12 reallocated sectors]]")
    await kit.answer("/every daily 08:00 [[say:OK: last night's backups ran.\nDetails…]]")
    before = len(kit.view.shown[1])
    await until(kit, SAT_8)
    await ended(kit, 3)
    shown = kit.view.shown[1][before:]
    assert not any("disks are healthy" in s.text for s in shown), "--quiet and OK: nothing"
    [problem] = [s for s in shown if s.kind == "done"]
    assert problem.text == "⏰ routine 2 (daily 08:00)\n\nsdb has 12 reallocated sectors"
    [ok] = [s for s in shown if s.kind == "say"]
    assert (ok.text, ok.silent) == (
        "⏰ routine 3 (daily 08:00): OK: last night's backups ran.",
        True,
    )
    # All three came due at once: each ran right after the one before, never merged.
    runs = await starts(kit)
    assert [(e.data["routine"]["routine_id"], e.data["merged"]) for e in runs] == [
        ("1", 1),
        ("2", 1),
        ("3", 1),
    ]


async def test_pause_resume_run_now_and_delete_through_the_buttons(kit: AppKit) -> None:
    await kit.answer("/every daily 08:00 [[say:checked]]")
    listed = await kit.answer("/routines")
    assert listed.startswith("Routines here:\n1. work · daily 08:00 (At 08:00 every day)")
    assert (
        await press(kit, "pause 1")
        == "Routine 1 (daily 08:00) is paused: it runs again once resumed."
    )
    await until(kit, SAT_8.replace(minute=30))
    assert await starts(kit) == [], "paused: its slot passes"
    resumed = await press(kit, "resume 1")
    assert resumed == "Routine 1 (daily 08:00) is on: next Sun 29 Mar 08:00 CEST."
    await until(kit, SUN_8)
    await kit.view.wait_count(1, "done", 1)
    assert (
        await press(kit, "run 1")
        == "⏰ Running routine 1 (daily 08:00) now; its answer comes here."
    )
    [_, by_hand] = await kit.view.wait_count(1, "done", 2)
    assert by_hand.text == "⏰ routine 1 (daily 08:00), run by hand\n\nchecked"
    deleted = await press(kit, "delete 1")
    assert (
        deleted
        == "Deleted routine 1 (daily 08:00). To make it again:\n/every daily 08:00 [[say:checked]]"
    )
    await until(kit, MON_8.replace(minute=30))
    assert len(await starts(kit)) == 2, "deleted: no more runs"
    assert await kit.answer("/routines") == "No routines here yet. /every shows how to make one."
    fired = await routine_events(kit, rev.FIRED)
    assert [(f["slot"], f["manual"]) for f in fired] == [
        (SUN_8.isoformat(), False),
        (fired[1]["slot"], True),
    ]


async def test_a_slot_fired_just_before_a_crash_runs_once_and_never_twice(tmp_path: Path) -> None:
    kit = new_kit(tmp_path)
    await kit.start()
    await kit.answer("/new work")
    await kit.answer("/every daily 08:00 [[say:Disks fine]]")
    await kit.stop()
    # pocketcode died right after the scheduler logged the 08:00 slot as fired, before the
    # session had it: the log as such a crash leaves it.
    store = await SqliteEventStore.open(tmp_path / "data" / "var" / "pocketcode.db")
    version = await store.stream_version(rev.STREAM)
    data = {"routine_id": "1", "slot": SAT_8.isoformat(), "late": False, "manual": False}
    await store.append(rev.STREAM, [rev.event(rev.FIRED, None, **data)], expected_version=version)
    await store.close()
    await kit.clock.advance((SAT_8 - START).total_seconds() + 20 * 60)
    await kit.start()
    [reply] = await kit.view.wait_count(1, "done", 1)
    assert reply.text == (
        "⏰ routine 1 (daily 08:00) — late: it was due Sat 28 Mar 08:00 CET, when pocketcode "
        "was not running\n\nDisks fine"
    )
    await kit.stop()  # and once more: the run is queued in the log now, not handed over again
    await kit.start()
    await kit.settle()
    assert len(await starts(kit)) == 1
    await until(kit, SUN_8)
    await kit.view.wait_count(1, "done", 2)
    assert [e.at for e in await starts(kit)] == [SAT_8.replace(minute=20), SUN_8]
    assert [f["slot"] for f in await routine_events(kit, rev.FIRED)] == [
        SAT_8.isoformat(),
        SUN_8.isoformat(),
    ]
    await kit.stop()


async def test_runs_missed_while_down_run_once_late_with_catch_up_once(tmp_path: Path) -> None:
    kit = new_kit(tmp_path)
    await kit.start()
    await kit.answer("/new work")
    await kit.answer("/every daily 08:00 [[say:Updates: 3 pending]]")
    await kit.stop()
    await kit.clock.advance((MON_8 - START).total_seconds() + 3 * 3600)  # down Sat to Mon
    await kit.start()
    [late] = await kit.view.wait_count(1, "done", 1)
    assert late.text.startswith(
        "⏰ routine 1 (daily 08:00) — late: it was due Mon 30 Mar 08:00 CEST, when pocketcode"
    )
    await kit.settle()
    assert len(await starts(kit)) == 1, "three slots missed: one run, for the latest"
    await until(kit, TUE_8)
    [_, on_time] = await kit.view.wait_count(1, "done", 2)
    assert on_time.text.startswith("⏰ routine 1 (daily 08:00)\n\n")
    fired = await routine_events(kit, rev.FIRED)
    assert [(f["slot"], f["late"]) for f in fired] == [
        (MON_8.isoformat(), True),
        (TUE_8.isoformat(), False),
    ]
    await kit.stop()


async def test_runs_missed_while_down_are_skipped_with_catch_up_skip(tmp_path: Path) -> None:
    kit = new_kit(tmp_path, "routines:\n  catch_up: skip\n")
    await kit.start()
    await kit.answer("/new work")
    await kit.answer("/every daily 08:00 [[say:Updates: 3 pending]]")
    await kit.stop()
    await kit.clock.advance((MON_8 - START).total_seconds() + 3 * 3600)
    await kit.start()
    await kit.settle()
    assert await starts(kit) == []
    notice = [s for s in kit.view.of(1, "say") if "did not run" in s.text]
    assert [(s.text, s.silent) for s in notice] == [
        (
            "⏰ routine 1 (daily 08:00) did not run at Mon 30 Mar 08:00 CEST: it was missed "
            "while pocketcode was not running.",
            True,
        )
    ]
    await until(kit, TUE_8)
    await kit.view.wait_count(1, "done", 1)
    assert [e.at for e in await starts(kit)] == [TUE_8]
    await kit.stop()


async def test_a_question_of_an_unattended_run_names_it_and_is_denied_in_time(
    kit: AppKit,
) -> None:
    await kit.answer("/every daily 08:00 [[tool:Bash:df -h]]")
    await until(kit, SAT_8)
    asked = await kit.said("waits for you")
    assert asked.startswith("⏰ routine 1 (daily 08:00) is running unattended and waits for you:")
    assert "df -h" in " ".join(s.verbatim or "" for s in kit.view.of(1, "say"))
    await kit.clock.advance(300)  # claude.permission_timeout_s
    report = await kit.said("nobody answered")
    assert report == (
        "⏰ routine 1 (daily 08:00): nobody answered its Bash request within 5 min, so it was "
        "denied; the run goes on without it."
    )
    [reply] = await kit.view.wait_count(1, "done", 1)
    assert reply.text.startswith("⏰ routine 1 (daily 08:00)\n\n")
    assert any(s.text.startswith("⛔ Denied (no answer in time)") for s in kit.view.of(1, "closed"))


async def test_a_fresh_routine_runs_in_its_own_conversation_and_leaves_the_users_be(
    kit: AppKit,
) -> None:
    await kit.turn("hello there")
    await kit.answer("/every daily 08:00 --fresh [[recall]]")
    await until(kit, SAT_8)
    [_, routine] = await kit.view.wait_count(1, "done", 2)
    assert routine.text.endswith("turns=0; history: "), "a conversation of its own"
    mine = await kit.turn("[[recall]]")
    assert mine.text == "turns=1; history: hello there", "the user's, as it was"
    first, fresh, again = await kit.argvs("work")
    assert not any(a.startswith("--resume") for a in first + fresh)
    [resumed] = [a for a in again if a.startswith("--resume")]
    events = await kit.session_events("work")
    init = next(
        e for e in events if e.type == ev.STDOUT and e.data["line"].get("subtype") == "init"
    )
    assert resumed == f"--resume={init.data['line']['session_id']}"


async def test_a_routine_of_an_archived_session_pauses_and_says_so(kit: AppKit) -> None:
    await kit.answer("/every hourly [[say:ping]]")
    await kit.answer("/new other")
    await kit.answer("/archive work")
    await until(kit, START.replace(hour=13))
    assert await kit.said("did not run") == (
        "⏰ routine 1 (hourly) did not run at Fri 27 Mar 14:00 CET: its session work is "
        "archived; it is paused until you resume it."
    )
    assert "· paused" in await kit.answer("/routines")
    assert await starts(kit) == []


async def test_every_alone_shows_how_and_a_bad_schedule_gets_words(kit: AppKit) -> None:
    usage = await kit.answer("/every")
    assert usage.startswith("/every SCHEDULE [--quiet] [--fresh] PROMPT runs PROMPT")
    assert "/every daily 07:30 Check the disks" in usage
    assert await kit.answer("/every 45m check") == (
        "45m cannot be kept: use a number of minutes that divides an hour (5m, 10m, 15m, 20m, "
        "30m), or a cron expression."
    )
    assert (
        await kit.answer("/routines pause 9") == "There is no routine 9 here; /routines lists them."
    )


async def test_a_command_replayed_after_a_crash_is_done_once(kit: AppKit) -> None:
    """The chat marks an update handled after the scheduler logged it: a crash in between
    hands the same update over again."""
    assert kit.app is not None
    scheduler = kit.app.scheduler()
    add = rm.Add("work", 1, parse_every("hourly [[say:ping]]"), "upd-77")
    assert await scheduler.ask(add) == await scheduler.ask(add)
    assert len(await routine_events(kit, rev.CREATED)) == 1
    run = rm.RunNow("1", 1, "upd-78")
    await scheduler.ask(run)
    await scheduler.ask(run)
    await kit.view.wait_count(1, "done", 1)
    await kit.settle()
    assert len(await routine_events(kit, rev.FIRED)) == 1
    assert len(await starts(kit)) == 1
