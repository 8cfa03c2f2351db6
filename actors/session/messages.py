"""What a session actor accepts: from the chat actor, and from its own process reader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from actors.session.routine_runs import RoutineRun

if TYPE_CHECKING:
    from actors.session.process import Live

Decision = Literal["allow", "allow_session", "deny"]


@dataclass(frozen=True, slots=True)
class Create:
    """``/new``: the session's first event, written by the session itself (the only writer
    of its stream). Answered once it is in the log; a name taken already raises
    ``SessionExistsError`` (unless this very command made it: a replay).

    ``claude_session_id``: a conversation claude already has, which the session continues
    (``/resume``); logged as ``session.imported`` in the same append, so its first process
    starts with ``--resume``."""

    persona: str
    cwd: str
    chat_id: int | None
    correlation_id: str | None = None
    claude_session_id: str | None = None
    first_prompt: str = ""


@dataclass(frozen=True, slots=True)
class UserTurn:
    """A message for the agent; ``chat_id`` is the chat that sent it and gets the reply."""

    text: str
    correlation_id: str | None = None
    chat_id: int | None = None


@dataclass(frozen=True, slots=True)
class RoutineTurn:
    """A routine's run (``actors.routines``): queued and run like a ``UserTurn``, marked with
    ``run`` so its reply is labelled; ``correlation_id`` names the slot, so a run handed over
    again after a restart is queued once."""

    text: str
    run: RoutineRun
    correlation_id: str | None = None
    chat_id: int | None = None


@dataclass(frozen=True, slots=True)
class Interrupt:
    correlation_id: str | None = None
    chat_id: int | None = None


@dataclass(frozen=True, slots=True)
class PermissionAnswer:
    """``updated_input`` is merged into the tool's input (answers to the agent's questions)."""

    request_id: str
    decision: Decision
    updated_input: dict[str, Any] | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeSetting:
    """``/model`` or ``/mode``: ``setting`` is ``events.MODEL`` or ``events.PERMISSION_MODE``,
    ``value`` already checked (``actors.claude.choices``). Answered once it is in the log."""

    setting: str
    value: str
    correlation_id: str | None = None
    chat_id: int | None = None


@dataclass(frozen=True, slots=True)
class SetCostCap:
    """``/cap``: the session's own cost cap in dollars, already checked
    (``actors.claude.choices``); None removes it. Answered once it is in the log."""

    cap_usd: float | None
    correlation_id: str | None = None
    chat_id: int | None = None


@dataclass(frozen=True, slots=True)
class GetCostCap:
    """Answered with a ``budget.CostCap``: the spend and the cap that applies, the config's
    default included (which ``SessionState`` alone cannot tell)."""


@dataclass(frozen=True, slots=True)
class StopProcess:
    """Stop the process cleanly (idle, least recently used, archive); resumed on demand."""

    reason: str


@dataclass(frozen=True, slots=True)
class Release:
    """``/release``: stop the process so the conversation can go on at a terminal (refused in
    words while a turn runs). Answered with the ``SessionState`` after the stop."""

    correlation_id: str | None = None
    chat_id: int | None = None


@dataclass(frozen=True, slots=True)
class Shutdown:
    """pocketcode is stopping: interrupt the turn, stop the process, not a crash."""


@dataclass(frozen=True, slots=True)
class GetState:
    pass


# -- internal: from the reader task and timers (carry the process generation) ---------------


@dataclass(frozen=True, slots=True)
class LinesReady:
    """The process's stdout has lines waiting in ``live``: the actor logs them (the only
    writer of the session's stream), folds them, then acts on them."""

    live: Live


@dataclass(frozen=True, slots=True)
class Exited:
    """The process's stdout ended (it exited), or reading it failed (``failure``)."""

    generation: int
    returncode: int | None
    stderr_tail: tuple[str, ...]
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class IdleCheck:
    generation: int


@dataclass(frozen=True, slots=True)
class PermissionTimeout:
    request_id: str


@dataclass(frozen=True, slots=True)
class TurnTimeout:
    turn_id: str


@dataclass(frozen=True, slots=True)
class Resume:
    """A crash backoff has passed: start the next queued turn."""


@dataclass(frozen=True, slots=True)
class Archive:
    """Stop the process and pack the session from the log; answers with the archive path."""

    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Unarchive:
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Redeliver:
    """The chat never confirmed it showed this turn's reply (a crash): send it again."""

    turn_id: str
