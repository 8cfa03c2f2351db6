"""What the chat says, as pure functions: welcome, session lists, status."""

from __future__ import annotations

from collections.abc import Sequence

from actors.chat.view import Button, Keyboard
from actors.session.catalog import SessionSummary
from actors.session.state import SessionState

WELCOME = (
    "pocketcode drives Claude Code on your server. Keep named sessions, each with a persona; "
    "a plain message goes to the active session.\n\n"
)
SHOWN_SESSIONS = 20


def session_list(
    title: str, sessions: Sequence[SessionSummary], active: str | None, *, more_archived: bool
) -> tuple[str, Keyboard]:
    """The list with a button per session to switch, and one to create a new one."""
    rows: list[tuple[Button, ...]] = []
    lines = [title]
    for s in sessions[:SHOWN_SESSIONS]:
        mark = "✓ " if s.name == active else ""
        if s.status == "archived":
            lines.append(f"• {s.name} ({s.persona}, archived)")
            continue
        lines.append(f"• {mark}{s.name} ({s.persona})")
        rows.append((Button(f"{mark}{s.name}", "switch", s.name),))
    if not sessions:
        lines.append("No sessions yet.")
    taken = {s.name for s in sessions}
    suggestion = next(x for x in ("main", *(f"s{i}" for i in range(1, 999))) if x not in taken)
    rows.append((Button(f"➕ New session “{suggestion}”", "new", suggestion),))
    if more_archived:
        rows.append((Button("Show archived", "list", "all"),))
    lines.append("Or: /new NAME [PERSONA]")
    return "\n".join(lines), tuple(rows)


def status(s: SessionState) -> str:
    turn = f"running since {s.turn.started_at:%H:%M:%S} UTC" if s.turn else "idle"
    if s.pending:
        turn += f", {len(s.pending)} queued"
    process = f"claude pid {s.process_pid}" if s.process_pid else "no process (starts on demand)"
    return "\n".join(
        [
            f"Session: {s.name} ({s.status})",
            f"Persona: {s.persona}",
            f"Model: {s.model or 'not started yet'}",
            f"Turn: {turn}",
            f"Process: {process}",
            f"Turns: {s.turns}",
            f"Tokens: {s.input_tokens:,} in / {s.output_tokens:,} out",
            f"Cost: ${s.total_cost_usd:.4f}",
            f"Working directory: {s.cwd}",
        ]
    )
