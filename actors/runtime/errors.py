"""Errors of the actor runtime."""

from __future__ import annotations


class ActorError(Exception):
    """Root of the runtime's errors."""


class ActorDeadError(ActorError):
    """The actor stopped (or escalated) before it could handle the message."""


class AskTimeoutError(ActorError, TimeoutError):
    """No reply within the ask's timeout; the message may still be handled later."""
