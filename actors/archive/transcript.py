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

from actors.claude import codec
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
    result: codec.ResultInfo | None = None
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
        reply = codec.permission_reply(line)
        if reply is None or self.current is None:
            return
        tool_id = self.requests.get(reply.request_id)
        if reply.behavior == "deny" and tool_id in self.current.tools:
            tool = self.current.tools[tool_id]
            tool.status, tool.detail = "denied", reply.message or ""

    def _stdout(self, line: dict[str, Any]) -> None:
        """Read through ``codec``, the one parser of claude's lines (odd shapes are skipped)."""
        result = codec.result_info(line)
        if result is not None and result.total_cost_usd is not None:
            self.cost_process = max(self.cost_process, result.total_cost_usd)
        turn = self.current
        if turn is None:
            return
        if (delta := codec.text_delta(line)) is not None:
            turn.partial.append(delta)
        elif texts := codec.assistant_texts(line):
            turn.texts.extend(texts)
            turn.partial.clear()  # the block repeats what the deltas said
        if uses := codec.tool_use_blocks(line):
            for use in uses:
                turn.tools[str(use.id)] = _Tool(tool_summary(use.name, use.input))
        for done in codec.tool_results(line):
            tool = turn.tools.get(str(done.tool_use_id))
            if tool is not None and tool.status != "denied":
                tool.status = "error" if done.is_error else "ok"
                tool.detail = done.text
        if (request := codec.permission_request(line)) is not None:
            self.requests[request.request_id] = str(request.tool_use_id)
        if result is not None:
            turn.result = result

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
        result = turn.result
        final = result.text if result is not None else None
        clean = turn.outcome in (None, "completed")
        api_error = result is not None and result.is_error and clean
        if final and clean and not api_error:
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


def _status(turn: _Turn, result: codec.ResultInfo | None, api_error: bool) -> str | None:
    if api_error and result is not None:
        reason = result.text or "; ".join(result.errors) or result.subtype or "error"
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
