"""What the scheduler tells a chat of its own accord."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoutineNotice:
    """Words about a routine (a run skipped); ``silent``: without a notification sound.
    ``session``: the routine's, whose topic they go into where it has one."""

    text: str
    silent: bool = False
    session: str | None = None
