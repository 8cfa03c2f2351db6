"""What *Allow* approves, shown whole: the command, the file and its content, the change.

A question that shows less than it approves lets a command's tail (``…; curl … | sh``) run
unseen, so a tool request is shown in full: the command, the diff or the content as one block
(shown verbatim by the front), with every character that would not show written out, and as an
attached file when it does not fit one message. Nothing is ever cut.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

#: Visible characters a question may take: Telegram's 4096, less room for a session label.
MESSAGE_LIMIT = 4000
DESCRIPTION_MAX = 300
EXTRAS_MAX = 300
DIFF_LINES_MAX = 1000  # matched line by line up to this many lines a side (~0.04 s)
_AS_IS = frozenset("\n\t")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}")


def visible(text: str, *, lines: bool = True) -> str:
    """``text`` with each character that would not show written out as ``⟨U+XXXX⟩``: control
    characters (but newline and tab, unless ``lines`` is False), bidi overrides, zero-width and
    other format characters, line separators, lone surrogates, private and unassigned code
    points."""
    keep = _AS_IS if lines else frozenset()
    return "".join(f"⟨U+{ord(ch):04X}⟩" if _hidden(ch, keep) else ch for ch in text)


def _hidden(ch: str, keep: frozenset[str]) -> bool:
    if ch in keep:
        return False
    category = unicodedata.category(ch)
    return category[0] == "C" or category in ("Zl", "Zp")


def one_line(text: str, limit: int) -> str:
    """Words of claude's own (a description) on one visible line, an ellipsis where cut."""
    flat = visible(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Whole:
    """All of what a tool request approves, before it is fitted into a message."""

    header: str  # what the agent wants, in words
    body: str  # the command, diff, content or JSON input, exactly
    filename: str  # the file that carries ``body`` when it does not fit one message
    what: str  # "command", "change", "content", "input": how the question names ``body``
    extras: str = ""  # the rest of the input, on one line ("timeout 600000")


def whole(tool: str, tool_input: Mapping[str, Any], description: str | None) -> Whole:
    """How a request for ``tool`` is shown; any input of an unexpected shape as JSON."""
    shown = _specific(tool, tool_input, description)
    return shown if shown is not None else _as_json(tool, tool_input, description)


def _about(description: str | None, *, skip: tuple[str, ...] = ()) -> str:
    """`` (what claude says it is for)``, unless it says nothing the question does not."""
    if not description or not description.strip() or description.strip() in skip:
        return ""
    return f" ({one_line(description, DESCRIPTION_MAX)})"


def _extras(tool_input: Mapping[str, Any], known: frozenset[str]) -> str | None:
    """The input's other fields on one line; None when they are too long for one."""
    rest = {k: v for k, v in tool_input.items() if k not in known}
    line = visible(", ".join(f"{k} {json.dumps(v, ensure_ascii=False)}" for k, v in rest.items()))
    return line if len(line) <= EXTRAS_MAX else None


_KNOWN = {
    "Bash": frozenset({"command", "description"}),
    "Write": frozenset({"file_path", "content"}),
    "Edit": frozenset({"file_path", "old_string", "new_string", "replace_all"}),
    "MultiEdit": frozenset({"file_path", "edits"}),
}


def _specific(tool: str, tool_input: Mapping[str, Any], description: str | None) -> Whole | None:
    """A tool we know, in its own words; None (so: JSON) for any other tool, an input of an
    unexpected shape, or other fields too long to name on one line."""
    known = _KNOWN.get(tool)
    extras = _extras(tool_input, known) if known is not None else None
    if extras is None:
        return None
    path = tool_input.get("file_path")
    if tool == "Bash":
        command = tool_input.get("command")
        if not isinstance(command, str):
            return None
        about = _about(description or _str(tool_input.get("description")))
        header = f"🔐 The agent wants to run this command{about}."
        return Whole(header, command, "command.sh", "command", extras)
    if not isinstance(path, str):
        return None
    about = _about(description, skip=(path, PurePosixPath(path).name))
    where = visible(path, lines=False)
    if tool == "Write":
        content = tool_input.get("content")
        if not isinstance(content, str):
            return None
        size = measure(content)
        header = f"🔐 The agent wants to write {where} ({size}){about}."
        if not content:
            header = f"🔐 The agent wants to write {where}, empty{about}."
        return Whole(header, content, "content" + _extension(path), "content", extras)
    if tool == "Edit":
        old, new = tool_input.get("old_string"), tool_input.get("new_string")
        if not isinstance(old, str) or not isinstance(new, str):
            return None
        every = " (every occurrence)" if tool_input.get("replace_all") is True else ""
        header = f"🔐 The agent wants to change {where}{every}{about}."
        return Whole(header, _diff(where, old, new), "change.diff", "change", extras)
    edits = tool_input.get("edits")
    if not isinstance(edits, list) or not edits or not all(_is_edit(e) for e in edits):
        return None
    diffs = []
    for i, edit in enumerate(edits, 1):
        every = ", every occurrence" if edit.get("replace_all") is True else ""
        label = f"{where} (change {i} of {len(edits)}{every})"
        diffs.append(_diff(label, edit["old_string"], edit["new_string"]))
    header = f"🔐 The agent wants to make {_count(len(edits), 'change')} to {where}{about}."
    return Whole(header, "\n".join(diffs), "change.diff", "change", extras)


def _as_json(tool: str, tool_input: Mapping[str, Any], description: str | None) -> Whole:
    body = json.dumps(tool_input, indent=2, ensure_ascii=False, default=str)
    name = visible(tool, lines=False)
    header = f"🔐 The agent wants to use {name}{_about(description)} with this input."
    return Whole(header, body, "input.json", "input")


def _is_edit(edit: Any) -> bool:
    return (
        isinstance(edit, dict)
        and isinstance(edit.get("old_string"), str)
        and isinstance(edit.get("new_string"), str)
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def measure(text: str) -> str:
    """``3 lines, 42 characters`` (a last newline ends a line, it does not start one)."""
    lines = text.count("\n") + (not text.endswith("\n"))
    return f"{_count(lines, 'line')}, {_count(len(text), 'character')}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _extension(path: str) -> str:
    suffix = PurePosixPath(path).suffix
    return suffix if _EXTENSION.fullmatch(suffix) else ".txt"


def _diff(label: str, old: str, new: str) -> str:
    """A unified diff of the whole of ``old`` and ``new`` (no line is left out as far context).

    Split on newlines only, so a carriage return or line separator stays a visible character.
    Matching lines costs quadratic time, so past ``DIFF_LINES_MAX`` a side the diff removes all
    of ``old`` and adds all of ``new`` (still whole and exact; it goes as a file anyway).
    """
    if old == new:
        return f"--- {label}\n+++ {label}\n(no change)"
    a, b = old.split("\n"), new.split("\n")
    if max(len(a), len(b)) > DIFF_LINES_MAX:
        hunk = f"@@ -{_span(len(a))} +{_span(len(b))} @@"
        lines = [f"--- {label}", f"+++ {label}", hunk, *("-" + x for x in a), *("+" + x for x in b)]
        return "\n".join(lines)
    return "\n".join(difflib.unified_diff(a, b, label, label, lineterm="", n=max(len(a), len(b))))


def _span(lines: int) -> str:
    return "1" if lines == 1 else f"1,{lines}"


def file_data(text: str) -> bytes:
    """UTF-8 of the file to attach; a lone surrogate is written as its ``\\udXXX`` escape."""
    return text.encode("utf-8", "backslashreplace")
