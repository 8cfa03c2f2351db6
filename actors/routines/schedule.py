"""When a routine runs: what ``/every`` was typed with, as a cron expression, and its slots.

The forms people type (``daily 08:00``, ``mon 09:30``, ``30m``) are translated into cron
expressions; everything about time — the next slot, the last one, daylight saving changes in
the user's time zone — is cronsim's (it evaluates cron as Debian's cron does: a slot that a
clock change skips runs right after the change, one it repeats runs once). Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from actors.routines.errors import RoutineError

_WEEK = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
#: Day names as typed (whole, or their first three letters) -> cron's day of week.
DAYS = {name: n for n, day in enumerate(_WEEK) for name in (day, day[:3])}
#: Options of ``/every``, before or after the prompt.
OPTIONS = ("--quiet", "--fresh")
_CRON_FIELD = re.compile(r"[0-9*/,\-A-Za-z#?LW]+")
_EVERY = re.compile(r"(\d+)([mh])")
_TOKEN = re.compile(r"\s*(\S+)")
_TRAILING_OPTION = re.compile(r"\s+(--[a-z]+)\s*$")


class InvalidSchedule(RoutineError):
    """What was typed is not a schedule or routine; the message says the right form."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """``typed``: as the user wrote it (shown back); ``cron``: what cronsim evaluates."""

    typed: str
    cron: str


@dataclass(frozen=True, slots=True)
class EveryRequest:
    """``/every SCHEDULE [--quiet] [--fresh] PROMPT``, parsed."""

    schedule: Schedule
    prompt: str
    quiet: bool = False
    fresh: bool = False


def parse_every(text: str) -> EveryRequest:
    """What follows ``/every``: a schedule, options, then the prompt (its lines kept)."""
    schedule, rest = parse_schedule(text)
    options: set[str] = set()
    while (m := _TOKEN.match(rest)) is not None and m.group(1).startswith("--"):
        options.add(_option(m.group(1)))
        rest = rest[m.end() :]
    while (m := _TRAILING_OPTION.search(rest)) is not None and m.group(1) in OPTIONS:
        options.add(m.group(1))
        rest = rest[: m.start()]
    prompt = rest.strip()
    if not prompt:
        raise InvalidSchedule(
            "What should the routine do? Put the prompt after the schedule, e.g. "
            "/every daily 08:00 Check the disks."
        )
    return EveryRequest(schedule, prompt, "--quiet" in options, "--fresh" in options)


def _option(word: str) -> str:
    if word not in OPTIONS:
        raise InvalidSchedule(f"Unknown option {word[:20]}: the options are --quiet and --fresh.")
    return word


def parse_schedule(text: str) -> tuple[Schedule, str]:
    """The schedule at the start of ``text`` and what follows it."""
    stripped = text.lstrip()
    if stripped[:1] in ("'", '"'):
        end = stripped.find(stripped[0], 1)
        if end < 0:
            raise InvalidSchedule("The quoted cron expression has no closing quote.")
        cron = " ".join(stripped[1:end].split())
        return Schedule(cron, checked(cron)), stripped[end + 1 :]
    words, ends = _words(stripped, 5)
    if not words:
        raise InvalidSchedule("Say when: /every alone shows how.")
    first = words[0].lower()
    if first == "hourly":
        return Schedule("hourly", "0 * * * *"), stripped[ends[0] :]
    if (every := _EVERY.fullmatch(first)) is not None:
        return Schedule(first, _interval(int(every.group(1)), every.group(2))), stripped[ends[0] :]
    if first in ("daily", "weekdays", "weekends") or _days(first) is not None:
        return _at_time(first, words, ends, stripped)
    if len(words) == 5 and all(_CRON_FIELD.fullmatch(w) for w in words):
        cron = " ".join(words)
        return Schedule(cron, checked(cron)), stripped[ends[4] :]
    raise InvalidSchedule(
        f"“{words[0][:20]}” does not start a schedule. Try daily 08:00, mon 09:30, hourly, "
        "30m or a cron expression such as 0 8 * * *; /every alone shows more."
    )


def _words(text: str, count: int) -> tuple[list[str], list[int]]:
    """The first ``count`` words of ``text`` and where each ends."""
    words, ends, at = [], [], 0
    for _ in range(count):
        m = _TOKEN.match(text, at)
        if m is None:
            break
        words.append(m.group(1))
        ends.append(m.end())
        at = m.end()
    return words, ends


def _at_time(first: str, words: list[str], ends: list[int], text: str) -> tuple[Schedule, str]:
    """``daily 08:00``, ``weekdays 7:30``, ``mon,thu 09:30`` (an ``at`` before the time is
    allowed)."""
    index = 2 if len(words) > 2 and words[1].lower() == "at" else 1
    if len(words) <= index:
        raise InvalidSchedule(f"{first} needs a time, e.g. {first} 08:00.")
    try:
        at = datetime.strptime(words[index], "%H:%M")
    except ValueError:
        raise InvalidSchedule(
            f"{words[index][:20]} is not a time of day: write it as HH:MM, e.g. {first} 08:00."
        ) from None
    days = {"daily": "*", "weekdays": "1-5", "weekends": "0,6"}.get(first) or _days(first)
    cron = f"{at.minute} {at.hour} * * {days}"
    return Schedule(f"{first} {at:%H:%M}", checked(cron)), text[ends[index] :]


def _days(word: str) -> str | None:
    """``mon`` or ``mon,thu`` (full names too) as cron's day-of-week list; None if not days."""
    numbers = [DAYS.get(name) for name in word.split(",")]
    return None if None in numbers else ",".join(str(n) for n in numbers)


def _interval(n: int, unit: str) -> str:
    """``30m`` / ``2h`` as cron: every N minutes of the hour / hours of the day, which needs N
    to divide it (cron counts from :00; 45m could not be kept every time)."""
    whole = 60 if unit == "m" else 24
    if not 0 < n <= whole or whole % n:
        parts = "minutes that divides an hour (5m, 10m, 15m, 20m, 30m)"
        if unit == "h":
            parts = "hours that divides a day (1h, 2h, 3h, 4h, 6h, 8h, 12h)"
        raise InvalidSchedule(
            f"{n}{unit} cannot be kept: use a number of {parts}, or a cron expression."
        )
    if unit == "m":
        return "* * * * *" if n == 1 else f"*/{n} * * * *"
    return "0 * * * *" if n == 1 else f"0 */{n} * * *"


def checked(cron: str) -> str:
    """``cron`` if cronsim can evaluate it; else words saying it cannot."""
    if len(cron.split()) != 5:
        raise InvalidSchedule(
            f"“{cron[:40]}” is not a cron expression: it needs five fields "
            "(minute hour day-of-month month day-of-week), e.g. 0 8 * * *."
        )
    try:
        CronSim(cron, datetime(2026, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise InvalidSchedule(f"“{cron[:40]}” is not a cron expression: {exc}.") from None
    return cron


def explain(cron: str) -> str:
    """cronsim's words for it: ``At 08:00 every day``."""
    return CronSim(cron, datetime(2026, 1, 1, tzinfo=UTC)).explain()


def next_slot(cron: str, after: datetime, tz: ZoneInfo) -> datetime | None:
    """The first slot strictly after ``after``, in UTC (None: it never comes again)."""
    try:
        return next(CronSim(cron, after.astimezone(tz))).astimezone(UTC)
    except StopIteration:
        return None


def last_slot(cron: str, at_or_before: datetime, tz: ZoneInfo) -> datetime | None:
    """The latest slot not after ``at_or_before``, in UTC."""
    start = at_or_before.astimezone(tz).replace(microsecond=0) + timedelta(seconds=1)
    try:
        return next(CronSim(cron, start, reverse=True)).astimezone(UTC)
    except StopIteration:
        return None
