"""The routines as a pure fold of the scheduler's stream: what a restart rebuilds.

Where a routine stands is its ``anchor``: every slot up to it is done with (run, skipped, or
passed while it was paused), so its next slot is the first one after. Nothing about time zones
or the clock is folded: the next slot is computed from the anchor when it is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from actors.routines import events as ev
from eventstore import Event, EventStore, fold

#: Correlation ids remembered, so a command replayed after a crash is done once.
RECENT_REFS = 64


@dataclass(frozen=True, slots=True)
class Run:
    """A slot handed to the session (``routine.fired``)."""

    slot: datetime
    late: bool = False
    manual: bool = False


@dataclass(frozen=True, slots=True)
class Routine:
    routine_id: str
    session: str
    chat_id: int
    #: As typed (``daily 08:00``), and the cron expression it stands for.
    schedule: str
    cron: str
    prompt: str
    quiet: bool
    fresh: bool
    created_at: datetime
    anchor: datetime
    created_by: str | None = None
    paused: bool = False
    last_run: Run | None = None
    runs: int = 0

    @property
    def label(self) -> str:
        return f"routine {self.routine_id} ({self.schedule})"


@dataclass(frozen=True, slots=True)
class RoutinesState:
    routines: dict[str, Routine] = field(default_factory=dict)
    #: Routines ever created: the next one is numbered after them.
    created: int = 0
    refs: tuple[str, ...] = ()
    version: int = 0

    def replayed(self, correlation_id: str | None) -> bool:
        return bool(correlation_id) and correlation_id in self.refs

    def of_chat(self, chat_id: int) -> list[Routine]:
        return [r for r in self.routines.values() if r.chat_id == chat_id]


async def load_state(store: EventStore) -> RoutinesState:
    return fold(evolve, RoutinesState(), await store.read_stream(ev.STREAM))


def evolve(state: RoutinesState, event: Event) -> RoutinesState:
    refs = state.refs
    if event.correlation_id:
        refs = (*refs[-(RECENT_REFS - 1) :], event.correlation_id)
    return replace(state, version=event.version, refs=refs, **_changes(state, event))


def _changes(state: RoutinesState, event: Event) -> dict[str, Any]:
    data = event.data
    if event.type == ev.CREATED:
        routine = Routine(
            data["routine_id"],
            data["session"],
            data["chat_id"],
            data["schedule"],
            data["cron"],
            data["prompt"],
            bool(data.get("quiet")),
            bool(data.get("fresh")),
            created_at=event.at,
            anchor=event.at,
            created_by=event.correlation_id,
        )
        return {
            "routines": {**state.routines, routine.routine_id: routine},
            "created": state.created + 1,
        }
    current = state.routines.get(data.get("routine_id", ""))
    if current is None:
        return {}
    changed: Routine | None = current
    match event.type:
        case ev.PAUSED:
            changed = replace(current, paused=True)
        case ev.RESUMED:  # the slots that passed while paused are not run
            changed = replace(current, paused=False, anchor=event.at)
        case ev.DELETED:
            changed = None
        case ev.FIRED:
            run = Run(_at(data["slot"]), bool(data.get("late")), bool(data.get("manual")))
            anchor = current.anchor if run.manual else run.slot  # by hand: the slot still runs
            changed = replace(current, anchor=anchor, last_run=run, runs=current.runs + 1)
        case ev.SKIPPED:
            changed = replace(current, anchor=_at(data["slot"]))
    if changed is None:
        return {"routines": {k: v for k, v in state.routines.items() if k != current.routine_id}}
    return {"routines": {**state.routines, current.routine_id: changed}}


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)
