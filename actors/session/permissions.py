"""Permission questions: claude asks whether a tool may run, the user answers in the chat.

A question lives only as long as the process that asked it (a new process asks again), so the
open ones are kept in memory, not folded from the log (which holds every line of them anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.chat import notices as n
from actors.session import messages as m
from service.claude import codec

DENIED = "The user denied this."
TIMED_OUT = "No answer from the user in time."


@dataclass(frozen=True, slots=True)
class Closing:
    """How an open question closes: the line claude gets, then the notice the chat gets."""

    line: dict[str, Any]
    notice: n.PermissionClosed


class OpenQuestions:
    """The questions of the running process that the user has not answered yet."""

    def __init__(self, session: str) -> None:
        self.session = session
        self._open: dict[str, codec.PermissionRequest] = {}

    def ask(self, request: codec.PermissionRequest, cwd: str) -> n.PermissionAsked:
        """Keep ``request`` open; returns what the chat shows of it."""
        self._open[request.request_id] = request
        summary = codec.tool_status(request.tool_name, request.input, cwd)
        allowance = codec.session_allowance(request)
        return n.PermissionAsked(
            self.session,
            request.request_id,
            request.tool_name,
            summary,
            request.input,
            request.description,
            allowance.scope,
            allowance.rules,
        )

    def answer(self, msg: m.PermissionAnswer) -> Closing | None:
        """Close the question ``msg`` answers; None if it is not open (answered, expired)."""
        request = self._open.pop(msg.request_id, None)
        if request is None:
            return None
        closed = n.PermissionClosed(self.session, msg.request_id, msg.decision, False)
        return Closing(answer_line(request, msg), closed)

    def expire(self, request_id: str) -> Closing | None:
        """Deny a question left unanswered too long; None if it is not open any more."""
        if self._open.pop(request_id, None) is None:
            return None
        closed = n.PermissionClosed(self.session, request_id, "deny", True)
        return Closing(codec.permission_deny(request_id, TIMED_OUT), closed)

    def clear(self) -> None:
        """The turn ended or is being interrupted: its questions will not be answered."""
        self._open.clear()


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
