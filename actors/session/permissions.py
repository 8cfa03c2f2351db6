"""Permission questions: claude asks whether a tool may run, the user answers in the chat.

Which questions are open is the session's fold (``SessionState.questions``): opened by claude's
``can_use_tool`` line, closed by our answer on its stdin, and all closed when their turn ends or
their process goes. This keeps the rules of answering them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.claude import codec
from actors.session import messages as m
from actors.session import notices as n
from actors.session.state import SessionState

DENIED = "The user denied this."
TIMED_OUT = "No answer from the user in time."
#: ``PermissionClosed.decision`` of a question its turn ended without: nobody answered it.
EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Closing:
    """How an open question closes: the line claude gets, then the notice the chat gets."""

    line: dict[str, Any]
    notice: n.PermissionClosed


class OpenQuestions:
    """The questions of the running process that the user has not answered yet, as the
    session's state (``state``) has them."""

    def __init__(self, session: str, state: Callable[[], SessionState]) -> None:
        self.session = session
        self._state = state

    def ask(self, request: codec.PermissionRequest, cwd: str) -> n.PermissionAsked:
        """What the chat shows of ``request`` (open already: it is in the fold)."""
        summary = codec.tool_status(request.tool_name, request.input, cwd)
        allowance = codec.session_allowance(request)
        turn = self._state().turn
        return n.PermissionAsked(
            self.session,
            request.request_id,
            request.tool_name,
            summary,
            request.input,
            request.description,
            allowance.scope,
            allowance.rules,
            turn.routine if turn is not None else None,
        )

    def answer(self, msg: m.PermissionAnswer) -> Closing | None:
        """How the question ``msg`` answers closes (its line on claude's stdin closes it in
        the fold); None if it is not open (answered, expired)."""
        request = self._state().question(msg.request_id)
        if request is None:
            return None
        closed = n.PermissionClosed(self.session, msg.request_id, msg.decision, False)
        return Closing(answer_line(request, msg), closed)

    def expire(self, request_id: str) -> Closing | None:
        """Deny a question left unanswered too long; None if it is not open any more."""
        if self._state().question(request_id) is None:
            return None
        closed = n.PermissionClosed(self.session, request_id, "deny", True)
        return Closing(codec.permission_deny(request_id, TIMED_OUT), closed)

    def ended(self, questions: tuple[codec.PermissionRequest, ...]) -> list[n.PermissionClosed]:
        """Questions that were open when their turn ended: the chat retires their buttons."""
        return [n.PermissionClosed(self.session, q.request_id, EXPIRED, False) for q in questions]


def answer_line(request: codec.PermissionRequest, msg: m.PermissionAnswer) -> dict[str, Any]:
    """The ``control_response`` that gives claude the user's decision.

    ``allow_session`` also adds the rules ``codec.session_allowance`` chose (the ones the
    question named), so claude stops asking for the same; where it has none, it allows once.
    ``updated_input`` (answers to the agent's questions, an approved plan) is merged into the
    tool's input.
    """
    if msg.decision == "deny":
        return codec.permission_deny(request.request_id, msg.message or DENIED)
    rules = None
    if msg.decision == "allow_session":
        rules = list(codec.session_allowance(request).updates)
    tool_input = {**request.input, **(msg.updated_input or {})}
    return codec.permission_allow(request.request_id, tool_input, rules)
