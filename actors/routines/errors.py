"""Refusals of routine commands, in words for the chat."""

from __future__ import annotations


class RoutineError(ValueError):
    """A routine command that cannot be done (no such routine here...); the message says why."""
