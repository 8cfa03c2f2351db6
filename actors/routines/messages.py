"""What the scheduler actor accepts: routine commands from chats, and its own timers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from actors.routines.schedule import EveryRequest
from actors.routines.state import Routine


@dataclass(frozen=True, slots=True)
class Add:
    """``/every``: a routine for ``session``, reporting to ``chat_id``. Answered with its
    ``Listed`` once it is in the log (a replay of the same command: the routine it made)."""

    session: str
    chat_id: int
    request: EveryRequest
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """Pause, resume or delete a routine of ``chat_id``; answered with its ``Listed`` (as it
    was, for a deleted one). ``RoutineError`` if the chat has no such routine."""

    routine_id: str
    chat_id: int
    verb: str  # pause | resume | delete
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class RunNow:
    """Run a routine of ``chat_id`` now, besides its schedule. Answered with its ``Listed``."""

    routine_id: str
    chat_id: int
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class ListRoutines:
    """Answered with the ``Listed`` routines of ``chat_id``."""

    chat_id: int


@dataclass(frozen=True, slots=True)
class GetState:
    pass


@dataclass(frozen=True, slots=True)
class Due:
    """Timer: look at the routine again (its slot may have come)."""

    routine_id: str


@dataclass(frozen=True, slots=True)
class Listed:
    """A routine and when it runs next, in the user's time zone (None: paused, or never)."""

    routine: Routine
    next_at: datetime | None
