"""Parsing what the user typed: pure, so it is property-tested and shared by every front."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Spec:
    usage: str
    help: str
    min_args: int = 0
    max_args: int = 0


COMMANDS: dict[str, Spec] = {
    "start": Spec("/start", "what pocketcode is and how to begin"),
    "help": Spec("/help", "the commands"),
    "new": Spec("/new NAME [PERSONA]", "create a session and switch to it", 1, 2),
    "session": Spec("/session [NAME|all]", "list sessions to switch, or switch to NAME", 0, 1),
    "archive": Spec("/archive NAME", "stop a session and pack it into an archive", 1, 1),
    "unarchive": Spec("/unarchive NAME", "bring an archived session back", 1, 1),
    "stop": Spec("/stop", "interrupt the running turn"),
    "status": Spec("/status", "session, persona, model, turn state, tokens, cost and cap"),
    "model": Spec(
        "/model [NAME]",
        "show or switch the active session's model: opus, sonnet, haiku, default or a full name",
        0,
        1,
    ),
    "mode": Spec(
        "/mode [MODE]",
        "show or switch the permission mode: default, acceptEdits, plan, bypassPermissions, "
        "dontAsk",
        0,
        1,
    ),
    "cap": Spec(
        "/cap [DOLLARS|off]",
        "show the active session's spend and cost cap, set the cap (/cap 5, /cap 2.50) or "
        "remove it (/cap off)",
        0,
        1,
    ),
    "personas": Spec("/personas", "the personas you can start sessions with"),
    "allow": Spec("/allow [N]", "allow the open tool request (N: which, when several are)", 0, 1),
    "allowall": Spec(
        "/allowall [N]", "allow it, and what its question names, for the rest of the session", 0, 1
    ),
    "deny": Spec("/deny [N]", "deny the open tool request (N: which, when several are)", 0, 1),
    "answer": Spec("/answer ID", "pick an option of the agent's question", 1, 1),
}
#: Shown in Telegram's command menu (the permission answers are for the terminal front).
MENU = (
    "start",
    "help",
    "new",
    "session",
    "archive",
    "unarchive",
    "stop",
    "status",
    "model",
    "mode",
    "cap",
    "personas",
)


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plain:
    text: str


@dataclass(frozen=True, slots=True)
class Invalid:
    """A command we cannot run; ``reason`` is one line saying the right form."""

    reason: str


Parsed = Command | Plain | Invalid


def parse(text: str) -> Parsed:
    stripped = text.strip()
    if not stripped.startswith("/") or stripped.startswith("//"):
        return Plain(text)
    head, *args = stripped.split()
    name = head[1:].split("@", 1)[0].lower()
    spec = COMMANDS.get(name)
    if spec is None:
        shown = name if len(name) <= 32 else name[:32] + "…"
        return Invalid(f"Unknown command /{shown}. Try /help for the list.")
    if not spec.min_args <= len(args) <= spec.max_args:
        return Invalid(f"Usage: {spec.usage} — {spec.help}.")
    return Command(name, tuple(args))


def help_text() -> str:
    lines = [f"{spec.usage} — {spec.help}" for name, spec in COMMANDS.items()]
    return "\n".join(lines)
