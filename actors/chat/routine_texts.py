"""What the chat says about routines, as pure functions: how /every is typed, the list with
its buttons, and how a routine's answer is shown (quietly when all is well)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from actors.chat.view import Button, Keyboard
from actors.routines.messages import Listed
from actors.routines.schedule import explain
from actors.routines.state import Routine
from actors.session import events as sev
from actors.session import notices as n
from actors.session.routine_runs import RoutineRun

USAGE = """/every SCHEDULE [--quiet] [--fresh] PROMPT runs PROMPT in the active session on a \
schedule; each answer comes here, as a turn of that session (its persona, permissions and cost \
cap).

SCHEDULE, in your time zone (timezone in pocketcode's config):
• daily 08:00 — every day at 08:00
• weekdays 07:30, weekends 10:00
• mon 09:30 — every Monday (sun … sat; mon,thu for several days)
• hourly — at the start of every hour
• 30m, 2h — every 30 minutes, every 2 hours
• 0 8 * * * or "0 8 * * 1-5" — a cron expression (minute hour day month weekday)

An answer that starts with OK arrives as one short line, without a sound; with --quiet, not at \
all. Anything else arrives as a normal reply. With --fresh every run starts a new conversation \
(yours with the session stays as it was).

Examples:
/every daily 07:30 Check the disks (SMART, free space), last night's backups, failed systemd \
units and pending updates. Answer OK and one line if all is fine, else say what is wrong.
/every 30m --quiet --fresh Is https://example.org up? Answer OK if it is.

/routines lists them, with buttons to run one now, pause, resume or delete it."""

#: How much of a prompt a list shows.
PROMPT_SHOWN = 80
#: How much of an OK answer its one line keeps.
OK_LINE = 200
#: An answer that starts with OK, also in bold (``**OK** all fine``).
_OK = re.compile(r"\s*(\*\*)?OK\b")
#: What could start formatting inside a line (a cron's ``*``, a session's ``_``).
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>~|])")


def when(listed: Listed) -> str:
    """When it runs next, in words with the zone: ``next Mon 30 Mar 08:00 CEST``."""
    if listed.routine.paused:
        return "paused"
    if listed.next_at is None:
        return "no slot comes again"
    return f"next {listed.next_at:%a %d %b %H:%M} {listed.next_at.tzname()}"


def line(listed: Listed) -> str:
    """One routine in a list: number, session, schedule in words, options, the prompt."""
    r = listed.routine
    options = [o for o, on in (("quiet", r.quiet), ("fresh conversation", r.fresh)) if on]
    head = f"{r.routine_id}. {r.session} · {r.schedule} ({explain(r.cron)}) · {when(listed)}"
    if options:
        head += " · " + ", ".join(options)
    return f"{head}\n   {_prompt(r)}"


def _prompt(routine: Routine) -> str:
    """Its prompt on one line, cut to ``PROMPT_SHOWN``."""
    prompt = " ".join(routine.prompt.split())
    return prompt if len(prompt) <= PROMPT_SHOWN else prompt[: PROMPT_SHOWN - 1] + "…"


def buttons(routine: Routine) -> tuple[Button, ...]:
    """Run now, pause or resume, delete: the same as ``/routines VERB N`` typed."""
    n = routine.routine_id
    toggle = Button("▶ Resume", "routine", f"resume {n}")
    if not routine.paused:
        toggle = Button("⏸ Pause", "routine", f"pause {n}")
    return (
        Button(f"▶ Run {n} now", "routine", f"run {n}"),
        toggle,
        Button("🗑 Delete", "routine", f"delete {n}"),
    )


def created(listed: Listed) -> tuple[str, Keyboard]:
    r = listed.routine
    text = (
        f"Routine {r.routine_id} runs in {r.session}: {explain(r.cron)}, {when(listed)}. "
        "Its answers come here."
    )
    return f"{text}\n{_prompt(r)}", (buttons(r),)


def listing(routines: list[Listed]) -> tuple[str, Keyboard]:
    if not routines:
        return "No routines here yet. /every shows how to make one.", ()
    lines = ["Routines here:", *(line(x) for x in routines)]
    return "\n".join(lines), tuple(buttons(x.routine) for x in routines)


def recreate(routine: Routine) -> str:
    """The command that makes a deleted routine again."""
    flags = ((" --quiet", routine.quiet), (" --fresh", routine.fresh))
    options = "".join(flag for flag, on in flags if on)
    return f"/every {routine.schedule}{options} {routine.prompt}"


@dataclass(frozen=True, slots=True)
class Answer:
    """How a routine's answer is shown: not at all (``text`` None), as one silent line, or
    as a reply (``header`` above it, with a notification)."""

    text: str | None
    silent: bool = False
    header: str = ""


def answer(msg: n.TurnFinished, run: RoutineRun) -> Answer:
    """An OK answer is one short silent line, or nothing with --quiet; anything else (and a
    turn that did not complete) is a reply like any other, headed by what ran."""
    if msg.outcome == sev.COMPLETED and not msg.error and _OK.match(msg.text):
        if run.quiet:
            return Answer(None)
        first = " ".join(msg.text.strip().splitlines()[0].replace("**", "").split())
        first = first if len(first) <= OK_LINE else first[: OK_LINE - 1] + "…"
        return Answer(f"⏰ {run.label}: {first}{late(run)}", silent=True)
    return Answer(msg.text, header=escaped(f"⏰ {run.label}{late(run)}"))


def late(run: RoutineRun) -> str:
    if run.manual:
        return ", run by hand"
    if run.late:
        return f" — late: it was due {run.due}, when pocketcode was not running"
    return ""


def escaped(text: str) -> str:
    """``text``, one line that starts with a letter or an emoji, as Markdown that shows
    exactly it."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
