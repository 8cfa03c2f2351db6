"""How the agent's requests look in the chat: tool permissions, its questions, its plans.

``AskUserQuestion`` and ``ExitPlanMode`` reach us as ``can_use_tool`` requests like any tool;
answering them is an allow whose ``updatedInput`` carries the answers (or approves the plan).
Pure functions, so the chat actor stays a thin shell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actors.chat import approval as ap
from actors.chat.view import Button, Keyboard
from actors.session import notices as n

ASK = "AskUserQuestion"
PLAN = "ExitPlanMode"
KEEP_PLANNING = "The user wants to keep planning: refine the plan before making changes."
SESSION_LABEL_MAX = 40  # longer rules are named in the question, not on the button


def kind_of(tool: str) -> str:
    return {ASK: "ask", PLAN: "plan"}.get(tool, "tool")


def questions_of(tool_input: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The well-formed questions of an AskUserQuestion input (anything odd is dropped)."""
    raw = tool_input.get("questions")
    found = []
    for q in raw if isinstance(raw, list) else []:
        if not isinstance(q, dict) or not isinstance(q.get("question"), str):
            continue
        options = [
            o["label"]
            for o in q.get("options") or []
            if isinstance(o, dict) and isinstance(o.get("label"), str)
        ]
        if options:
            found.append({"question": q["question"], "options": options})
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Attachment:
    """The whole of a request too long for one message, sent as a file before the question."""

    filename: str
    data: bytes
    caption: str
    sent: str  # what the question says once the file is sent
    unsent: str  # ... and when it could not be


@dataclass(frozen=True, slots=True)
class Shown:
    """A request of the agent as the chat shows it."""

    text: str
    buttons: Keyboard
    markdown: bool = False
    verbatim: str | None = None  # shown after the text, exactly (see ``ChatView.say``)
    attachment: Attachment | None = None
    allows: str = ""  # what "allow for this session" allows, in words; "" when not offered


def render(msg: n.PermissionAsked) -> Shown:
    """How a request of the agent is asked: its text, its buttons."""
    request_id, kind = msg.request_id, kind_of(msg.tool)
    if kind == "ask" and (questions := questions_of(msg.input)):
        lines = ["❓ The agent asks:"]
        rows: list[tuple[Button, ...]] = []
        for qi, q in enumerate(questions):
            lines.append(f"{qi + 1}. {q['question']}" if len(questions) > 1 else q["question"])
            rows += [
                (Button(label, "answer", f"{request_id}|{qi}|{oi}"),)
                for oi, label in enumerate(q["options"])
            ]
        rows.append((Button("Skip the question", "deny", request_id),))
        return Shown("\n".join(lines), tuple(rows))
    if kind == "plan":
        plan = str(msg.input.get("plan") or "(no plan text)")
        buttons: Keyboard = (
            (
                Button("✅ Approve plan", "allow", request_id),
                Button("✏️ Keep planning", "deny", request_id),
            ),
        )
        return Shown(f"📋 **The agent's plan:**\n\n{plan}", buttons, markdown=True)
    return _tool_request(msg)


def _tool_request(msg: n.PermissionAsked) -> Shown:
    """All of what *Allow* approves, and what *Allow for this session* would add, in words."""
    whole = ap.whole(msg.tool, msg.input, msg.description)
    allows = session_allows(msg.tool, msg.scope, msg.rules)
    lines = [whole.header]
    if whole.extras:
        lines.append(f"It also sets: {whole.extras}.")
    lines.append(_scope_line(msg, allows))
    text = "\n".join(lines)
    row: tuple[Button, ...] = (
        Button("✅ Allow", "allow", msg.request_id),
        Button("⛔ Deny", "deny", msg.request_id),
    )
    buttons: Keyboard = (row,)
    if allows:
        label = f"✅ Allow {allows} for this session"
        if msg.scope == "suggested" and len(allows) > SESSION_LABEL_MAX:
            label = "✅ Allow the rules above for this session"
        buttons += ((Button(label, "allow_session", msg.request_id),),)
    body = whole.body
    if len(body) <= ap.MESSAGE_LIMIT:  # cheap check first: a file's content may be megabytes
        block = ap.visible(body)
        if len(text) + 2 + len(block) <= ap.MESSAGE_LIMIT:
            return Shown(text, buttons, verbatim=block or None, allows=allows)
    what = f"The whole {whole.what} ({ap.measure(body)})"
    attachment = Attachment(
        whole.filename,
        ap.file_data(body),
        f"The whole {whole.what} of the question below.",
        f"{what} does not fit in one message: it is in {whole.filename}, just above. "
        "Read it there before you allow it.",
        f"{what} does not fit in one message and could not be sent as a file: "
        "deny it unless you know what it is.",
    )
    return Shown(text, buttons, attachment=attachment, allows=allows)


def session_allows(tool: str, scope: str, rules: tuple[str, ...]) -> str:
    """What *Allow for this session* allows, in words fit for a button ("" if not offered)."""
    match scope:
        case "suggested":
            return ", ".join(ap.visible(rule, lines=False) for rule in rules)
        case "command":
            return "this exact command"
        case "file":
            return "reading this file" if tool == "Read" else "every change to this file"
        case "tool":
            return f"every {ap.visible(tool, lines=False)} use"
    return ""


def _scope_line(msg: n.PermissionAsked, allows: str) -> str:
    match msg.scope:
        case "suggested":
            rules = "rule" if len(msg.rules) == 1 else "rules"
            return f"Allow for this session adds claude's {rules}: {allows}."
        case "command":
            return "Allow for this session allows this exact command again, nothing else."
        case "file":
            if msg.tool == "Read":
                return "Allow for this session allows reading this file again."
            return "Allow for this session allows every change to this file, whatever it is."
        case "tool":
            return f"Allow for this session allows {allows}, whatever its input."
    return "Allow for this session is not offered: no rule of claude's allows only this."


def parse_answer(arg: str) -> tuple[str, int, int] | None:
    """``request_id|question|option`` from an answer button (None if it is not one)."""
    parts = arg.rsplit("|", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def verdict(
    kind: str,
    decision: str,
    by_timeout: bool,
    summary: str,
    answers: Mapping[str, str],
    allows: str = "",
) -> str:
    """What an answered request's message is replaced with (its buttons go)."""
    if decision == "expired":
        return f"⌛ Expired: the turn ended before an answer. {summary}".rstrip()
    late = " (no answer in time)" if by_timeout else ""
    if kind == "ask":
        if decision == "deny":
            return f"❓ Question skipped{late}."
        return "❓ " + "; ".join(f"{q} → {a}" for q, a in answers.items())
    if kind == "plan":
        return "📋 Plan approved." if decision != "deny" else f"📋 Kept planning{late}."
    shown = ap.visible(summary)  # one line already (``codec.tool_status``)
    if decision == "allow_session":
        return f"✅ Allowed for this session{f' ({allows})' if allows else ''}: {shown}"
    word = "✅ Allowed" if decision == "allow" else "⛔ Denied"
    return f"{word}{late}: {shown}"
