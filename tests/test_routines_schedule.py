"""What /every is typed with, and when its slots come: pure, tested directly."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from actors.routines.schedule import (
    InvalidSchedule,
    explain,
    last_slot,
    next_slot,
    parse_every,
)

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("typed", "cron", "shown"),
    [
        ("daily 08:00", "0 8 * * *", "daily 08:00"),
        ("daily at 7:05", "5 7 * * *", "daily 07:05"),
        ("weekdays 07:30", "30 7 * * 1-5", "weekdays 07:30"),
        ("weekends 10:00", "0 10 * * 0,6", "weekends 10:00"),
        ("mon 09:30", "30 9 * * 1", "mon 09:30"),
        ("Monday 09:30", "30 9 * * 1", "monday 09:30"),
        ("mon,thu 18:00", "0 18 * * 1,4", "mon,thu 18:00"),
        ("hourly", "0 * * * *", "hourly"),
        ("30m", "*/30 * * * *", "30m"),
        ("1m", "* * * * *", "1m"),
        ("2h", "0 */2 * * *", "2h"),
        ("0 8 * * *", "0 8 * * *", "0 8 * * *"),
        ('"15 6 * * 1-5"', "15 6 * * 1-5", "15 6 * * 1-5"),
        ("'0  8 1 * *'", "0 8 1 * *", "0 8 1 * *"),
    ],
)
def test_the_forms_people_type_become_cron(typed: str, cron: str, shown: str) -> None:
    request = parse_every(f"{typed} Check the disks.")
    assert (request.schedule.cron, request.schedule.typed) == (cron, shown)
    assert request.prompt == "Check the disks."


def test_options_go_before_or_after_the_prompt_and_its_lines_are_kept() -> None:
    request = parse_every("daily 08:00 --quiet Check:\n- disks\n- backups --fresh")
    assert (request.quiet, request.fresh) == (True, True)
    assert request.prompt == "Check:\n- disks\n- backups"
    plain = parse_every("hourly say --quiet in the middle stays")
    assert not plain.quiet
    assert plain.prompt == "say --quiet in the middle stays"


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", "Say when"),
        ("daily", "daily needs a time"),
        ("daily 25:00 x", "not a time of day"),
        ("45m check", "45m cannot be kept"),
        ("5h check", "5h cannot be kept"),
        ("0 8 * * * ", "What should the routine do?"),
        ("61 8 * * * check", "not a cron expression"),
        ('"0 8 * *" check', "five fields"),
        ('"0 8 * * * check', "no closing quote"),
        ("tomorrow check", "does not start a schedule"),
        ("daily 08:00 --loud check", "Unknown option --loud"),
    ],
)
def test_what_is_not_a_routine_is_said_in_words(typed: str, said: str) -> None:
    with pytest.raises(InvalidSchedule, match=said):
        parse_every(typed)


def test_explained_by_the_library() -> None:
    assert explain("0 8 * * *") == "At 08:00 every day"


def test_a_daily_slot_keeps_its_local_minute_across_the_spring_change_in_berlin() -> None:
    """Europe/Berlin went from CET (UTC+1) to CEST (UTC+2) on Sunday 29 March 2026."""
    slot = datetime(2026, 3, 27, 12, tzinfo=UTC)
    slots = []
    for _ in range(4):
        found = next_slot("0 8 * * *", slot, BERLIN)
        assert found is not None
        slot = found
        slots.append(slot)
    assert slots == [
        datetime(2026, 3, 28, 7, tzinfo=UTC),
        datetime(2026, 3, 29, 6, tzinfo=UTC),
        datetime(2026, 3, 30, 6, tzinfo=UTC),
        datetime(2026, 3, 31, 6, tzinfo=UTC),
    ]


def test_a_slot_the_clock_change_skips_runs_right_after_it_and_a_repeated_one_once() -> None:
    spring = next_slot("30 2 * * *", datetime(2026, 3, 28, 12, tzinfo=UTC), BERLIN)
    assert spring == datetime(2026, 3, 29, 1, tzinfo=UTC)  # 03:00 CEST, just after the jump
    autumn = datetime(2026, 10, 24, 12, tzinfo=UTC)  # 02:30 comes twice on 25 October
    first = next_slot("30 2 * * *", autumn, BERLIN)
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert next_slot("30 2 * * *", first, BERLIN) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_the_last_slot_is_the_latest_not_after_the_time_given() -> None:
    at = datetime(2026, 3, 30, 6, tzinfo=UTC)  # 08:00 CEST exactly
    assert last_slot("0 8 * * *", at, BERLIN) == at
    later = datetime(2026, 4, 2, 5, 59, 59, 900000, tzinfo=UTC)
    assert last_slot("0 8 * * *", later, BERLIN) == datetime(2026, 4, 1, 6, tzinfo=UTC)
