"""Event types of the scheduler's stream: stable strings, versioned payloads."""

from __future__ import annotations

from typing import Any

from eventstore import NewEvent

#: The one stream of routines; the scheduler actor is its only writer.
STREAM = "routines:schedule"

#: Data: routine_id, session, chat_id, schedule (as typed), cron, prompt, quiet, fresh.
CREATED = "routine.created"
#: Data: routine_id.
PAUSED = "routine.paused"
RESUMED = "routine.resumed"
DELETED = "routine.deleted"
#: Data: routine_id, slot (ISO 8601, UTC), late, manual. Appended before the run is handed to
#: its session, so a slot is never run twice, not even across a crash.
FIRED = "routine.fired"
#: Data: routine_id, slot, reason. A slot passed over (missed while down with catch_up: skip,
#: its session archived).
SKIPPED = "routine.skipped"


def event(type_: str, correlation_id: str | None = None, /, **data: Any) -> NewEvent:
    return NewEvent(type_, data, correlation_id=correlation_id)
