"""How the agent's requests look in the chat: tool permissions, its questions, its plans.

``AskUserQuestion`` and ``ExitPlanMode`` reach us as ``can_use_tool`` requests like any tool;
answering them is an allow whose ``updatedInput`` carries the answers (or approves the plan).
Pure functions, so the chat actor stays a thin shell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.chat.view import Button, Keyboard

ASK = "AskUserQuestion"
PLAN = "ExitPlanMode"
KEEP_PLANNING = "The user wants to keep planning: refine the plan before making changes."


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


def render(
    request_id: str, tool: str, summary: str, tool_input: Mapping[str, Any]
) -> tuple[str, Keyboard, bool]:
    """Text, buttons, and whether the text is Markdown, for a request of the agent."""
    kind = kind_of(tool)
    if kind == "ask" and (questions := questions_of(tool_input)):
        lines = ["❓ The agent asks:"]
        rows: list[tuple[Button, ...]] = []
        for qi, q in enumerate(questions):
            lines.append(f"{qi + 1}. {q['question']}" if len(questions) > 1 else q["question"])
            rows += [
                (Button(label, "answer", f"{request_id}|{qi}|{oi}"),)
                for oi, label in enumerate(q["options"])
            ]
        rows.append((Button("Skip the question", "deny", request_id),))
        return "\n".join(lines), tuple(rows), False
    if kind == "plan":
        plan = str(tool_input.get("plan") or "(no plan text)")
        buttons: Keyboard = (
            (
                Button("✅ Approve plan", "allow", request_id),
                Button("✏️ Keep planning", "deny", request_id),
            ),
        )
        return f"📋 **The agent's plan:**\n\n{plan}", buttons, True
    buttons = (
        (Button("✅ Allow", "allow", request_id), Button("⛔ Deny", "deny", request_id)),
        (Button("✅ Allow for this session", "allow_session", request_id),),
    )
    return f"🔐 The agent wants to run {summary}", buttons, False


def parse_answer(arg: str) -> tuple[str, int, int] | None:
    """``request_id|question|option`` from an answer button (None if it is not one)."""
    parts = arg.rsplit("|", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def verdict(
    kind: str, decision: str, by_timeout: bool, summary: str, answers: Mapping[str, str]
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
    word = {"allow": "✅ Allowed", "allow_session": "✅ Allowed for this session"}.get(
        decision, "⛔ Denied"
    )
    return f"{word}{late}: {summary}"
