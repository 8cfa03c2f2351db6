"""What the scheduler tells a chat of its own accord."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoutineNotice:
    """Words about a routine (a run skipped); ``silent``: without a notification sound."""

    text: str
    silent: bool = False
