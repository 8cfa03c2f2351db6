"""Turns a routine started (``actors.routines``): a turn of the session like any other, marked.

The mark (``RoutineRun``) rides in ``session.message_queued`` and ``session.turn_started``, so
the reply is labelled and quieted as the routine asks, also when it is delivered again after a
restart. A routine's run is never merged with other queued messages: its answer is its own.
A ``fresh`` run starts claude without ``--resume``; the fold keeps the user's conversation
aside meanwhile (``SessionState.kept_conversation``) and gives it back when the run ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actors.session.state import Queued


@dataclass(frozen=True, slots=True)
class RoutineRun:
    routine_id: str
    #: How the chat names the routine: ``routine 3 (daily 08:00)``.
    label: str
    #: The slot it runs for, ISO 8601 in UTC (one run per slot: the scheduler's log says so).
    slot: str
    #: The slot in the user's time zone, for words: ``Mon 30 Mar 08:00 CEST``.
    due: str = ""
    #: An answer starting with OK is not shown at all (else as one short, silent line).
    quiet: bool = False
    #: A conversation of its own each run, not the session's.
    fresh: bool = False
    #: It runs later than its slot (pocketcode was not running then).
    late: bool = False
    #: Run by hand (the Run now button), not by the clock.
    manual: bool = False

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: Any) -> RoutineRun | None:
        """The mark in an event's data (None if the event has none); unknown keys are ignored,
        so a newer writer's extra fields never break an older reader."""
        if not isinstance(data, dict):
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def next_batch(pending: Sequence[Queued]) -> Sequence[Queued]:
    """The queued messages the next turn sends: a routine's run alone, else the user's
    messages up to the next routine run (sent together, as always)."""
    if pending and pending[0].routine is not None:
        return pending[:1]
    for n, queued in enumerate(pending):
        if queued.routine is not None:
            return pending[:n]
    return pending


def marked(run: RoutineRun | None) -> dict[str, Any]:
    """The ``routine`` field of an event's data, if the turn is a routine's."""
    return {} if run is None else {"routine": run.to_data()}


def denied_unattended(run: RoutineRun, tool: str, timeout_s: float) -> str:
    """The report of a question of a routine's run that nobody answered in time."""
    return (
        f"⏰ {run.label}: nobody answered its {tool} request within {timeout_s / 60:g} min, "
        "so it was denied; the run goes on without it."
    )
