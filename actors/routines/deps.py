"""What the scheduler actor is built with, at the composition root (``service.app``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from actors.runtime import ActorRef
from actors.session.catalog import SessionCatalog
from eventstore import EventStore

#: What to do with a slot missed while pocketcode was not running: run it once, late, or not.
CatchUp = Literal["once", "skip"]


@dataclass(frozen=True, slots=True)
class SchedulerDeps:
    store: EventStore
    #: The session actor of a name (started on demand).
    sessions: Callable[[str], ActorRef[Any]]
    catalog: SessionCatalog
    #: Tells the chat actor of a chat id something (a ``RoutineNotice``).
    notify: Callable[[int, object], None]
    #: The user's time zone: schedules are read in it (``timezone`` in the config).
    tz: ZoneInfo
    catch_up: CatchUp = "once"
