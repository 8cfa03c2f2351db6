"""Render a session's events as Markdown a person would read (for /export and archives).

Pure: the same events always give the same text. It reads only what the log recorded, so
a transcript of a crashed turn shows what the user actually saw before the crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventstore.records import Event

_TOOL_KEYS = {
    "Bash": "command",
    "Read": "file_path",
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "Grep": "pattern",
    "Glob": "pattern",
    "WebFetch": "url",
    "WebSearch": "query",
    "Task": "description",
    "Agent": "description",
}


def one_line(text: str, limit: int = 80) -> str:
    """Collapse whitespace and clip, so a summary never spills over several lines."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def tool_summary(name: str, tool_input: Any) -> str:
    """``Bash: ls -la`` style: the one input that says what the tool call does."""
    if isinstance(tool_input, dict):
        key = _TOOL_KEYS.get(name)
        if key and isinstance(tool_input.get(key), str):
            return f"{name}: {one_line(tool_input[key])}"
        if not tool_input:
            return name
        return f"{name}: {one_line(json.dumps(tool_input, ensure_ascii=False))}"
    return name


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text", "") for b in content if isinstance(b, dict) and "text" in b]
        return " ".join(parts)
    return ""


def _money(value: float) -> str:
    return f"${value:,.4f}"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at.utcoffset() is not None else at.isoformat()


@dataclass
class _Tool:
    summary: str
    status: str | None = None  # "ok" / "error" / "denied"
    detail: str = ""


@dataclass
class _Turn:
    number: int
    at: datetime
    text: str
    merged: int = 1
    tools: dict[str, _Tool] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    outcome: str | None = None
    error: str | None = None

    def assembled(self) -> str:
        return "\n\n".join([*self.texts, "".join(self.partial)]).strip()


class _Renderer:
    """Folds events into turns; kept as a class only to share state between handlers."""

    def __init__(self) -> None:
        self.header: dict[str, Any] = {}
        self.created: datetime | None = None
        self.turns: list[_Turn] = []
        self.current: _Turn | None = None
        self.requests: dict[str, str] = {}  # permission request_id -> tool_use_id
        self.cost_done = 0.0  # cost of earlier claude processes
        self.cost_process = 0.0  # cumulative cost reported by the current process
        self.archived: list[str] = []

    def feed(self, event: Event) -> None:
        kind, data = event.type, event.data
        if kind == "session.created":
            self.header, self.created = data, event.at
        elif kind == "session.turn_started":
            self.current = _Turn(
                len(self.turns) + 1,
                event.at,
                str(data.get("text", "")),
                int(data.get("merged") or 1),
            )
            self.turns.append(self.current)
        elif kind == "session.turn_ended":
            if self.current is not None:
                self.current.outcome = data.get("outcome")
                self.current.error = data.get("error")
            self.current = None
        elif kind == "session.process_started":
            self.cost_done += self.cost_process
            self.cost_process = 0.0
        elif kind == "session.archived":
            self.archived.append(_when(event.at))
        elif kind == "session.stdin" and isinstance(data.get("line"), dict):
            self._stdin(data["line"])
        elif kind in ("session.stdout", "session.stream") and isinstance(data.get("line"), dict):
            self._stdout(data["line"])

    def _stdin(self, line: dict[str, Any]) -> None:
        if line.get("type") != "control_response" or self.current is None:
            return
        response = line.get("response") or {}
        answer = response.get("response") or {}
        tool_id = self.requests.get(str(response.get("request_id")))
        if answer.get("behavior") == "deny" and tool_id in self.current.tools:
            tool = self.current.tools[tool_id]
            tool.status, tool.detail = "denied", str(answer.get("message") or "")

    def _stdout(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        if kind == "result":
            cost = line.get("total_cost_usd")
            if isinstance(cost, int | float):
                self.cost_process = max(self.cost_process, float(cost))
        turn = self.current
        if turn is None:
            return
        if kind == "stream_event":
            ev = line.get("event") or {}
            delta = ev.get("delta") or {}
            if ev.get("type") == "content_block_delta" and delta.get("type") == "text_delta":
                turn.partial.append(str(delta.get("text", "")))
        elif kind == "assistant":
            for block in (line.get("message") or {}).get("content") or []:
                if block.get("type") == "text":
                    turn.texts.append(str(block.get("text", "")))
                    turn.partial.clear()  # the block repeats what the deltas said
                elif block.get("type") == "tool_use":
                    turn.tools[str(block.get("id"))] = _Tool(
                        tool_summary(str(block.get("name")), block.get("input"))
                    )
        elif kind == "user":
            for block in (line.get("message") or {}).get("content") or []:
                if not isinstance(block, dict) or block.get("type") != "tool_result":
                    continue
                tool = turn.tools.get(str(block.get("tool_use_id")))
                if tool is not None and tool.status != "denied":
                    tool.status = "error" if block.get("is_error") else "ok"
                    tool.detail = _result_text(block.get("content"))
        elif kind == "control_request":
            request = line.get("request") or {}
            if request.get("subtype") == "can_use_tool":
                self.requests[str(line.get("request_id"))] = str(request.get("tool_use_id"))
        elif kind == "result":
            turn.result = line

    def render(self) -> str:
        name = self.header.get("name", "unnamed session")
        out = [f"# Session {name}", ""]
        out.append(f"- Persona: {self.header.get('persona', 'unknown')}")
        if self.created is not None:
            out.append(f"- Created: {_when(self.created)}")
        if self.header.get("cwd"):
            out.append(f"- Working directory: `{self.header['cwd']}`")
        out.append("")
        for turn in self.turns:
            out.extend(self._turn(turn))
        total = self.cost_done + self.cost_process
        out.append("---")
        out.append(f"{len(self.turns)} turn(s), total cost {_money(total)}.")
        return "\n".join(out) + "\n"

    def _turn(self, turn: _Turn) -> list[str]:
        out = [f"## Turn {turn.number} — {_when(turn.at)}", ""]
        note = f" ({turn.merged} messages sent together)" if turn.merged > 1 else ""
        out.append(f"**You**{note}:")
        out.append("")
        out.extend("> " + ln if ln else ">" for ln in turn.text.splitlines() or [""])
        out.append("")
        if turn.tools:
            out.append("**Tools:**")
            out.append("")
            for tool in turn.tools.values():
                out.append(f"- {_tool_line(tool)}")
            out.append("")
        result = turn.result or {}
        final = result.get("result")
        clean = turn.outcome in (None, "completed")
        api_error = bool(result.get("is_error")) and clean
        if isinstance(final, str) and final and clean and not api_error:
            reply, status = final, None
        else:
            reply = turn.assembled()
            status = _status(turn, result, api_error)
        out.append("**Claude:**")
        out.append("")
        out.append(reply if reply else "_(no reply)_")
        out.append("")
        if status:
            out.append(f"_{status}_")
            out.append("")
        return out


def _tool_line(tool: _Tool) -> str:
    if tool.status is None:
        return f"{tool.summary} → no result"
    detail = one_line(tool.detail, 60)
    if tool.status == "denied":
        return f"{tool.summary} → denied" + (f": {detail}" if detail else "")
    label = "error" if tool.status == "error" else "ok"
    return f"{tool.summary} → {label}" + (f": {detail}" if detail else "")


def _status(turn: _Turn, result: dict[str, Any], api_error: bool) -> str | None:
    if api_error:
        errors = result.get("errors")
        reason = (
            result.get("result")
            or ("; ".join(map(str, errors)) if isinstance(errors, list) and errors else None)
            or str(result.get("subtype") or "error")
        )
        return f"The turn failed: {one_line(str(reason), 200)}"
    if turn.outcome == "interrupted":
        return "Interrupted by the user; the reply above was cut off."
    if turn.outcome == "failed":
        reason = f": {one_line(turn.error, 200)}" if turn.error else ""
        return f"The turn failed{reason}. The reply above was cut off."
    if turn.outcome == "crashed":
        reason = f" ({one_line(turn.error, 200)})" if turn.error else ""
        return f"The claude process crashed during this turn{reason}; the reply was cut off."
    if turn.outcome is None:
        return "This turn has not finished (still running, or the log ends here)."
    return None


def render_transcript(events: Iterable[Event]) -> str:
    """Markdown transcript: header, one section per turn, total cost at the end."""
    renderer = _Renderer()
    for event in events:
        renderer.feed(event)
    return renderer.render()
