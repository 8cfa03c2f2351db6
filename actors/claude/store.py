"""claude's own conversation store, read only: what ``/resume`` lists, imports and shows.

2.1.197 keeps each conversation as JSON lines in ``<config dir>/projects/<dir>/<session id>.jsonl``:
the config dir is ``CLAUDE_CONFIG_DIR``, else ``~/.claude``; ``<dir>`` is the working directory
with every character but ``a-zA-Z0-9`` written as ``-`` (a longer one cut at 200, then ``-`` and
a hash of the path).
It appends to the file as the conversation goes, also when it is resumed (same id, same file).
``user`` and ``assistant`` lines carry the API ``message``, ``cwd``, ``sessionId`` and
``timestamp``; the other types (``queue-operation``, ``last-prompt``, ``summary``, attachments)
are not read. tests/test_real_continuity.py pins these assumptions against the real CLI.

Nothing here raises on an odd store: a line that is not JSON, not an object or not of the
expected shape is skipped, a file that cannot be read is left out. Only the first and the last
part of a file are read, however long the conversation.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: How much of a file's start is read for its directory and first prompt, and of its end for
#: the last exchange.
HEAD_BYTES = 1 << 20
TAIL_BYTES = 256 << 10
#: A longer ``<dir>`` is cut here and a hash of the whole path added (``project_dir_pattern``).
MAX_DIR_NAME = 200
_SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ID_PREFIX = re.compile(r"[0-9a-f][0-9a-f-]{3,35}")
#: What claude itself puts in a user line: slash commands, their output, reminders, notes.
_NOT_TYPED = ("<command-", "<local-command-", "<system-reminder>", "[Request interrupted")


def config_dir(env: Mapping[str, str]) -> Path | None:
    """Where claude keeps its conversations, given the environment it runs with."""
    if explicit := env.get("CLAUDE_CONFIG_DIR"):
        return Path(explicit).expanduser()
    home = env.get("HOME")
    return Path(home) / ".claude" if home else None


def project_dir_pattern(cwd: str) -> str:
    """The folder under ``projects/`` of conversations held in ``cwd``, as a glob pattern: the
    name itself, or for a long one its first 200 characters and any hash after them."""
    name = re.sub(r"[^a-zA-Z0-9]", "-", cwd)
    return name if len(name) <= MAX_DIR_NAME else f"{name[:MAX_DIR_NAME]}-*"


# ------------------------------------------------------------------------------ lines


def _decode(raw: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _message(line: Mapping[str, Any], role: str) -> dict[str, Any] | None:
    """The API message of a ``user`` or ``assistant`` line of the main conversation."""
    if line.get("type") != role or line.get("isSidechain") is True:
        return None
    message = line.get("message")
    return message if isinstance(message, dict) else None


def prompt_text(line: Mapping[str, Any]) -> str | None:
    """What the user typed, if ``line`` is one of their prompts (not a tool result, not a note
    claude wrote itself, not a summary of a compacted conversation)."""
    message = _message(line, "user")
    if message is None or line.get("isMeta") is True or line.get("isCompactSummary") is True:
        return None
    content = message.get("content")
    if isinstance(content, list):
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            return None
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        content = "\n".join(t for t in texts if isinstance(t, str))
    if not isinstance(content, str) or not content.strip():
        return None
    return None if content.lstrip().startswith(_NOT_TYPED) else content


def reply_text(line: Mapping[str, Any]) -> str | None:
    """The text an ``assistant`` line says (its text blocks), if any."""
    message = _message(line, "assistant")
    content = message.get("content") if message is not None else None
    if not isinstance(content, list):
        return None
    texts = [
        b["text"]
        for b in content
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    ]
    return "\n\n".join(texts) or None


def _cwd(line: Mapping[str, Any]) -> str | None:
    cwd = line.get("cwd")
    return cwd if isinstance(cwd, str) and cwd.startswith("/") else None


@dataclass(frozen=True, slots=True)
class Head:
    cwd: str | None
    first_prompt: str | None


def head_of(lines: Iterable[bytes]) -> Head:
    """The working directory and first prompt, from the lines a file starts with."""
    cwd = prompt = None
    for raw in lines:
        line = _decode(raw)
        if line is None:
            continue
        cwd = cwd or _cwd(line)
        prompt = prompt or prompt_text(line)
        if cwd and prompt:
            break
    return Head(cwd, prompt)


@dataclass(frozen=True, slots=True)
class Exchange:
    """The last prompt and what claude answered after it (either may be missing)."""

    prompt: str | None
    reply: str | None


def exchange_of(lines: Iterable[bytes]) -> Exchange:
    """The last exchange, from the lines a file ends with."""
    prompt: str | None = None
    replies: list[str] = []
    for raw in lines:
        line = _decode(raw)
        if line is None:
            continue
        if (typed := prompt_text(line)) is not None:
            prompt, replies = typed, []
        elif (said := reply_text(line)) is not None:
            replies.append(said)
    return Exchange(prompt, "\n\n".join(replies) or None)


# ------------------------------------------------------------------------------ files


@dataclass(frozen=True, slots=True)
class Conversation:
    session_id: str
    cwd: str
    path: Path
    modified: datetime
    first_prompt: str


def _head_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        left = HEAD_BYTES
        while left > 0 and (raw := fh.readline(left)):
            left -= len(raw)
            yield raw


def _tail_lines(path: Path) -> list[bytes]:
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = max(0, size - TAIL_BYTES)
        fh.seek(start)
        lines = fh.read().split(b"\n")
    return lines[1:] if start > 0 else lines  # the first piece may be half a line


def _read(path: Path, mtime: float) -> Conversation | None:
    """The conversation in ``path``; None if it cannot be read or has no prompt or directory
    (nothing to resume)."""
    try:
        head = head_of(_head_lines(path))
    except OSError:
        return None
    if head.cwd is None or head.first_prompt is None:
        return None
    modified = datetime.fromtimestamp(mtime, UTC)
    return Conversation(path.stem, head.cwd, path, modified, head.first_prompt)


def _files(root: Path, pattern: str = "*", folder: str = "*") -> list[tuple[float, Path]]:
    """Conversation files (named by their session id) with their mtimes, newest first."""
    found = []
    for path in (root / "projects").glob(f"{folder}/{pattern}.jsonl"):
        if _SESSION_ID.fullmatch(path.stem) is None:
            continue  # not a conversation (an old CLI's agent-*.jsonl)
        with contextlib.suppress(OSError):
            found.append((path.stat().st_mtime, path))
    return sorted(found, key=lambda f: f[0], reverse=True)


@dataclass(frozen=True, slots=True)
class Found:
    conversations: tuple[Conversation, ...]
    #: How many were left out because they are in ``skip`` (pocketcode's own).
    left_out: int
    #: More were there than ``limit``.
    more: bool


def listing(
    root: Path, *, skip: Collection[str] = (), cwd: str | None = None, limit: int = 10
) -> Found:
    """The conversations in the store, newest first (``cwd``: only those held there), without
    those in ``skip``; files are read only until ``limit`` are found."""
    folder = "*" if cwd is None else project_dir_pattern(cwd)
    shown: list[Conversation] = []
    left_out, more = 0, False
    for mtime, path in _files(root, folder=folder):
        if path.stem in skip:
            left_out += 1
        elif len(shown) == limit:
            more = True
        elif (found := _read(path, mtime)) is not None and cwd in (None, found.cwd):
            shown.append(found)
    return Found(tuple(shown), left_out, more)


def find(root: Path, key: str) -> list[Conversation]:
    """The conversations whose session id is ``key`` or starts with it (at least 4
    characters), newest first."""
    key = key.lower()
    if _ID_PREFIX.fullmatch(key) is None:
        return []
    pattern = key if _SESSION_ID.fullmatch(key) else f"{key}*"
    found = (_read(path, mtime) for mtime, path in _files(root, pattern))
    return [c for c in found if c is not None]


def last_exchange(path: Path) -> Exchange:
    """The conversation's last prompt and reply; nothing when it cannot be read."""
    try:
        return exchange_of(_tail_lines(path))
    except OSError:
        return Exchange(None, None)
