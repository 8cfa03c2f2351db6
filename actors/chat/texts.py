"""What the chat says, as pure functions: welcome, personas, session lists, status, settings,
reply footers, uploads."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from actors.chat.view import Button, Keyboard
from actors.claude.choices import MODEL_CHOICES
from actors.session import events as ev
from actors.session import notices as n
from actors.session.budget import CostCap, dollars, left_usd
from actors.session.catalog import SessionSummary
from actors.session.state import SessionState
from personas.catalog import PersonaCatalog

WELCOME = (
    "pocketcode drives Claude Code on your server. Keep named sessions, each with a persona; "
    "a plain message goes to the active session.\n\n"
)
SHOWN_SESSIONS = 20


def desk_line(cwd: str, claude_session_id: str) -> str:
    """The command that continues a session's conversation at a terminal, shell-quoted."""
    return f"cd {shlex.quote(cwd)} && claude --resume {shlex.quote(claude_session_id)}"


def session_list(
    title: str,
    sessions: Sequence[SessionSummary],
    active: str | None,
    *,
    more_archived: bool,
    conversations: Mapping[str, str] | None = None,
    topics: bool = False,
) -> tuple[str, Keyboard]:
    """The list with a button per session to switch (``topics``: to open its topic), and one
    to create a new one; under each session with a conversation (``conversations``: session ->
    claude's id), the command that continues it at a terminal."""
    rows: list[tuple[Button, ...]] = []
    lines = [title]
    for s in sessions[:SHOWN_SESSIONS]:
        mark = "✓ " if s.name == active else ""
        if s.status == "archived":
            lines.append(f"• {s.name} ({s.persona}, archived)")
            continue
        lines.append(f"• {mark}{s.name} ({s.persona})")
        if conversations and (conversation := conversations.get(s.name)):
            lines.append(f"   {desk_line(s.cwd, conversation)}")
        rows.append((Button(f"{mark}{s.name}", "switch", s.name),))
    if not sessions:
        lines.append("No sessions yet.")
    taken = {s.name for s in sessions}
    suggestion = next(x for x in ("main", *(f"s{i}" for i in range(1, 999))) if x not in taken)
    rows.append((Button(f"➕ New session “{suggestion}”", "new", suggestion),))
    if more_archived:
        rows.append((Button("Show archived", "list", "all"),))
    lines.append(IN_TOPICS if topics else "Or: /new NAME [PERSONA]")
    return "\n".join(lines), tuple(rows)


#: Under the session list of a chat with topics.
IN_TOPICS = (
    "Each session has its own topic: write in it (a button here opens it). "
    "/new NAME [PERSONA] starts one in a new topic."
)
#: Under /help where the chat has no topics.
TOPICS_HOWTO = (
    "\n\nSessions side by side: with topics, each session gets a topic of its own and "
    "replies land there, so several can work at once without /session. In a private chat, "
    "turn on Threaded Mode for the bot in @BotFather, then restart pocketcode; in a group, "
    "turn on Topics and make the bot an admin allowed to manage topics."
)


def archived_topic(session: str) -> str:
    """Written in the topic of a session that was archived (or is gone)."""
    return f"This topic's session {session} is archived; /unarchive {session} brings it back here."


def all_status(sessions: Sequence[SessionSummary], threads: dict[str, int]) -> str:
    """``/status`` in General of a chat with topics: one line per session."""
    lines = ["Sessions:"]
    for s in sessions:
        state = "running a turn" if s.open_turn else "idle"
        if s.queued:
            state += f", {s.queued} queued"
        where = "its topic" if s.name in threads else "no topic yet"
        lines.append(f"• {s.name} ({s.persona}): {state}, {where}")
    if not sessions:
        lines.append("No sessions yet. /new NAME [PERSONA] starts one.")
    lines.append("/status in a session's topic says more about it.")
    return "\n".join(lines)


def personas(catalog: PersonaCatalog) -> str:
    """``/personas``: one line each, then what is wrong with the files that did not load."""
    lines = [
        f"{p.name} — {p.description or 'no description'} ({p.model or 'default model'}, "
        f"{p.permission_mode})"
        for p in (catalog.get(name) for name in catalog.names())
    ]
    lines += [f"⚠ {problem}" for problem in catalog.problems]
    return "\n".join(lines) or "No personas are configured."


def status(s: SessionState, cap: CostCap | None = None) -> str:
    turn = f"running since {s.turn.started_at:%H:%M:%S} UTC" if s.turn else "idle"
    if s.pending:
        turn += f", {len(s.pending)} queued"
    process = f"claude pid {s.process_pid}" if s.process_pid else "no process (starts on demand)"
    return "\n".join(
        [
            f"Session: {s.name} ({s.status})",
            f"Persona: {s.persona}",
            f"Model: {current(s, ev.MODEL)}",
            f"Permission mode: {current(s, ev.PERMISSION_MODE)}",
            f"Turn: {turn}",
            f"Process: {process}",
            f"Turns: {s.turns}",
            f"Tokens: {s.input_tokens:,} in / {s.output_tokens:,} out",
            f"Cost: ${s.total_cost_usd:.4f}",
            *([f"Cost cap: {cap_summary(cap)}"] if cap is not None else []),
            f"Working directory: {s.cwd}",
            *([at_terminal(s)] if s.claude_session_id else []),
        ]
    )


def at_terminal(s: SessionState) -> str:
    """How to go on with the conversation at a terminal (/release first while claude runs,
    so that two processes never write it)."""
    assert s.claude_session_id is not None
    after = " (/release first)" if s.process_pid else ""
    return f"At a terminal{after}: {desk_line(s.cwd, s.claude_session_id)}"


def cap_summary(cap: CostCap) -> str:
    """The cap for /status: ``$5.00 ($4.58 left), set with /cap``, ``none``..."""
    if cap.cap_usd is None:
        return "none" if cap.default else "none, removed with /cap"
    left = left_usd(cap.cap_usd, cap.spent_usd)
    shown = f"{dollars(cap.cap_usd)} ({dollars(max(0.0, float(left)))} left)"
    return shown + (", the default (claude.max_cost_usd)" if cap.default else ", set with /cap")


def cost_cap(cap: CostCap) -> str:
    """``/cap`` without an argument: what the session has spent and its cap."""
    spent = dollars(cap.spent_usd)
    if cap.cap_usd is None:
        return f"{cap.session} has spent {spent}; no cap. /cap N sets one, in dollars."
    head = f"{cap.session} has spent {spent} of its {dollars(cap.cap_usd)} cap"
    if cap.default:
        head += " (the default, claude.max_cost_usd)"
    if cap.reached:
        return f"{head}: messages are refused until you raise it (/cap N) or remove it (/cap off)."
    left = dollars(float(left_usd(cap.cap_usd, cap.spent_usd)))
    return f"{head}; {left} left. /cap N changes it, /cap off removes it."


#: Permission modes offered as buttons. bypassPermissions (never asks) and dontAsk are typed
#: only: a mis-tap on a phone should not hand the agent every tool without a question.
MODE_BUTTONS = ("default", "acceptEdits", "plan")
_MODES_EXPLAINED = (
    "default asks before edits and commands; acceptEdits lets it edit files without asking; "
    "plan only reads and plans; /mode bypassPermissions never asks; /mode dontAsk refuses "
    "whatever the persona does not allow."
)


def current(s: SessionState, setting: str) -> str:
    """The model or permission mode for /status: the /model or /mode choice if there is one
    (with what claude reported for it), else what claude reported."""
    if setting == ev.MODEL:
        chosen, reported, command = s.model_override, s.model, "/model"
    else:
        chosen, reported, command = s.mode_override, s.permission_mode, "/mode"
    if chosen is None:
        return reported or "the persona's (claude reports it once it starts)"
    shown = chosen if reported in (None, chosen) else f"{chosen} ({reported})"
    return f"{shown}, set with {command}"


def setting_menu(s: SessionState, setting: str) -> tuple[str, Keyboard]:
    """``/model`` or ``/mode`` without an argument: the current value and buttons to switch."""
    choices: tuple[str, ...]
    if setting == ev.MODEL:
        chosen, choices, action = s.model_override, MODEL_CHOICES, "model"
        lines = [
            f"Model of {s.name}: {current(s, setting)}",
            "Pick one (default: claude's own choice), or send /model NAME with a full name "
            "such as claude-sonnet-4-5.",
        ]
    else:
        chosen = s.mode_override or s.permission_mode
        choices, action = MODE_BUTTONS, "mode"
        lines = [f"Permission mode of {s.name}: {current(s, setting)}", _MODES_EXPLAINED]
    buttons = tuple(Button(f"✓ {c}" if c == chosen else c, action, c) for c in choices)
    return "\n".join(lines), (buttons,)


def reply_footer(msg: n.TurnFinished) -> str | None:
    """Under a final reply: how the turn ended if not plainly, and what it cost."""
    notes = []
    if msg.outcome == "interrupted":
        notes.append("⏹ Stopped.")
    if msg.error:
        notes.append(f"⚠ {msg.error}")
    if msg.turn_cost_usd or msg.cost_usd:
        notes.append(f"${msg.turn_cost_usd:.4f} this turn · ${msg.cost_usd:.2f} in {msg.session}")
    return "\n".join(notes) or None


def uploaded(relative: str, size: int, caption: str) -> str:
    """What the agent is told about a file the user sent, with the user's caption."""
    text = f"I uploaded a file: {relative} ({size:,} bytes), in your working directory."
    if caption.strip():
        text += "\n\n" + caption
    return text


def file_refused(filename: str, size: int, limit: int, reason: str = "") -> str:
    """A file the front did not download; ``size`` is 0 when Telegram did not say."""
    if reason:
        return f"{filename} was not saved: {reason}. Please send it again."
    shown = f" ({size / 1_048_576:.1f} MB)" if size else ""
    return (
        f"{filename}{shown} was not saved: files over {limit / 1_048_576:g} MB are "
        "refused (bots can download at most 20 MB)."
    )


def file_lost(filename: str) -> str:
    """A file logged before a restart: its bytes never were, so the user is asked again."""
    return (
        f"{filename} arrived just before pocketcode restarted and was not "
        "saved; please send it again."
    )
