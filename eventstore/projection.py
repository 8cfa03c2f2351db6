"""Projections are plain folds: ``evolve(state, event) -> state``, no database needed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from eventstore.records import Event

S = TypeVar("S")
Evolve = Callable[[S, Event], S]


def fold(evolve: Evolve[S], initial: S, events: Iterable[Event]) -> S:
    """Rebuild state by folding events in order; the same code runs live and on replay."""
    state = initial
    for event in events:
        state = evolve(state, event)
    return state
