"""What one line of claude's stdout means for the running turn.

Pure: ``read_line`` takes the line, what the chat is shown of the turn and the session's state
(already folded over the line), and returns what the chat is shown after it and what the actor
must do about it: settle a setting, ask a permission, end the turn. The actor does those; this
only reads, so every kind of line is tested without a process or an actor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from actors.claude import codec
from actors.session import budget
from actors.session import events as ev
from actors.session.budget import CostCap
from actors.session.replies import TurnEnd
from actors.session.state import SessionState, SettingRequest
from actors.session.wording import cap_reached, result_error, retry_notice


@dataclass(frozen=True, slots=True)
class Shown:
    """What the chat is shown of the running turn: the reply so far, what the agent is doing."""

    text: str = ""
    status: str | None = None


@dataclass(frozen=True, slots=True)
class LineEffect:
    """What one line changed and what the actor must do about it (one action at most)."""

    shown: Shown
    #: ``shown`` changed in a way the chat should see now (a progress update).
    progressed: bool = False
    #: ``system/init``: the process really started (a failed ``--resume`` never says so).
    init: bool = False
    #: A ``/model`` or ``/mode`` request claude has answered: log how it ended, tell the chat.
    settle: SettingRequest | None = None
    #: claude is retrying the API: words for a message, said once per turn.
    retry_notice: str | None = None
    #: claude asks whether a tool may run.
    permission: codec.PermissionRequest | None = None
    #: The turn's ``result``: how it ends.
    end: TurnEnd | None = None


def read_line(
    line: dict[str, Any],
    shown: Shown,
    state: SessionState,
    *,
    retry_told: bool,
    resume_unconfirmed: bool,
    default_cap: float | None,
) -> LineEffect:
    """React to one stdout line of the running process.

    ``retry_told``: this turn has had its retry message (later retries only refresh the
    status). ``resume_unconfirmed``: the process was started with ``--resume`` and has not
    said ``init`` yet, so a ``result`` now is the resume failing, which the exit handler
    answers by starting afresh. ``default_cap``: the config's cost cap (``SessionConfig``).
    """
    if codec.is_init(line):
        return LineEffect(shown, init=True)
    if (answer := codec.control_answer(line)) is not None:
        pending = state.setting_request(answer.request_id)
        if pending is not None and pending.answered:  # else an interrupt's answer
            return LineEffect(shown, settle=pending)
        return LineEffect(shown)
    if (delta := codec.text_delta(line)) is not None:
        return LineEffect(Shown(shown.text + delta, None), progressed=True)
    if codec.starts_text_block(line):
        if shown.text and not shown.text.endswith("\n\n"):
            return LineEffect(replace(shown, text=shown.text + "\n\n"))
        return LineEffect(shown)
    if uses := codec.tool_uses(line):
        name, tool_input = uses[-1]
        status = codec.tool_status(name, tool_input, state.cwd)
        return LineEffect(replace(shown, status=status), progressed=True)
    if (retry := codec.api_retry_info(line)) is not None:
        words = retry_notice(retry)
        return LineEffect(
            replace(shown, status="⏳ " + words),
            progressed=True,
            retry_notice=None if retry_told else words,
        )
    if (request := codec.permission_request(line)) is not None:
        return LineEffect(shown, permission=request)
    result = codec.result_info(line)
    if result is not None and state.turn is not None and not resume_unconfirmed:
        cap = budget.cost_cap(state, default_cap)
        return LineEffect(shown, end=result_end(result, shown.text, cap))
    return LineEffect(shown)


def result_end(result: codec.ResultInfo, streamed: str, cap: CostCap) -> TurnEnd:
    """How a turn ends by its ``result`` line; ``streamed``: the text it wrote meanwhile."""
    if result.interrupted:
        return TurnEnd(ev.INTERRUPTED, streamed)
    if result.subtype == budget.BUDGET_REACHED:  # what it wrote is the reply
        return TurnEnd(ev.FAILED, streamed, cap_reached(cap), ev.COST_CAP)
    if result.is_error:
        return TurnEnd(ev.FAILED, streamed, result_error(result))
    return TurnEnd(ev.COMPLETED, result.text or streamed)
