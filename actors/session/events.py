"""Event types of a session stream (``session:<name>``): stable strings, versioned payloads."""

from __future__ import annotations

from typing import Any

from eventstore import NewEvent

CREATED = "session.created"
#: ``/resume``: the session continues a conversation claude already has (written beside
#: ``session.created``). Data: claude_session_id, the conversation's first prompt.
IMPORTED = "session.imported"
MESSAGE_QUEUED = "session.message_queued"
TURN_STARTED = "session.turn_started"
TURN_ENDED = "session.turn_ended"
STDIN = "session.stdin"
STDOUT = "session.stdout"
#: ``stream_event`` lines (partial-message deltas): the firehose, typed apart so that folds,
#: which never need them, skip them in SQL instead of decoding them.
STREAM = "session.stream"
STDOUT_GARBAGE = "session.stdout_garbage"
PROCESS_STARTED = "session.process_started"
PROCESS_EXITED = "session.process_exited"
RESUME_FAILED = "session.resume_failed"
ARCHIVED = "session.archived"
UNARCHIVED = "session.unarchived"
#: ``/model`` and ``/mode``: asked for (the command), then changed (the session now uses it,
#: or will at its next start) or refused by claude. Data: setting, value, request_id.
SETTING_REQUESTED = "session.setting_requested"
SETTING_CHANGED = "session.setting_changed"
SETTING_REFUSED = "session.setting_refused"
#: ``/cap``: the session's own cost cap. Data: cap_usd (a number, or None for no cap).
COST_CAP_SET = "session.cost_cap_set"

# Settings a user may change on a running session.
MODEL = "model"
PERMISSION_MODE = "permission_mode"

# Turn outcomes.
COMPLETED = "completed"
INTERRUPTED = "interrupted"
FAILED = "failed"
CRASHED = "crashed"

#: ``session.turn_ended`` reason of a turn that claude stopped at the cost cap.
COST_CAP = "cost_cap"


def stream_of(name: str) -> str:
    return f"session:{name}"


def event(type_: str, correlation_id: str | None = None, /, **data: Any) -> NewEvent:
    return NewEvent(type_, data, correlation_id=correlation_id)
