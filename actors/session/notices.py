"""What session actors tell the chat actor. The chat actor turns these into what the user sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.session.routine_runs import RoutineRun


@dataclass(frozen=True, slots=True)
class TurnQueued:
    session: str
    queued: int


@dataclass(frozen=True, slots=True)
class TurnStarted:
    session: str
    turn_id: str
    merged: int
    routine: RoutineRun | None = None


@dataclass(frozen=True, slots=True)
class ReplyProgress:
    """The reply so far (cumulative), and what the agent is doing right now."""

    session: str
    turn_id: str
    text: str
    status: str | None = None


@dataclass(frozen=True, slots=True)
class PermissionAsked:
    """claude asks whether a tool may run: all of what *Allow* approves, and what *Allow for
    this session* would add (``scope`` as in ``codec.SessionAllowance``, ``rules`` by name)."""

    session: str
    request_id: str
    tool: str
    summary: str
    input: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    scope: str = "none"
    rules: tuple[str, ...] = ()
    #: The routine whose unattended run asks, if one does.
    routine: RoutineRun | None = None


@dataclass(frozen=True, slots=True)
class PermissionClosed:
    session: str
    request_id: str
    decision: str
    by_timeout: bool


@dataclass(frozen=True, slots=True)
class TurnFinished:
    session: str
    turn_id: str
    outcome: str  # completed | interrupted | failed | crashed
    text: str
    cost_usd: float
    turn_cost_usd: float
    error: str | None = None
    routine: RoutineRun | None = None
    #: Files the turn created or changed (``changes.FileChanges``), as claude named them.
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionNotice:
    """Plain words about the session itself: retries, crashes, restarts, caps."""

    session: str
    text: str
