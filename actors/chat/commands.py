"""Parsing what the user typed: pure, so it is property-tested and shared by every front. The
commands themselves are ``routes.COMMANDS``, the one table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Spec:
    """How a command is typed: its usage line, what it does, how many arguments it takes."""

    usage: str
    help: str
    min_args: int = 0
    max_args: int = 0


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


def parse(text: str, specs: Mapping[str, Spec]) -> Parsed:
    """A command of ``specs`` with its arguments, plain text, or why it cannot run."""
    stripped = text.strip()
    if not stripped.startswith("/") or stripped.startswith("//"):
        return Plain(text)
    head, *args = stripped.split()
    name = head[1:].split("@", 1)[0].lower()
    spec = specs.get(name)
    if spec is None:
        shown = name if len(name) <= 32 else name[:32] + "…"
        return Invalid(f"Unknown command /{shown}. Try /help for the list.")
    if not spec.min_args <= len(args) <= spec.max_args:
        return Invalid(f"Usage: {spec.usage} — {spec.help}.")
    return Command(name, tuple(args))
