"""What ``pocketcode replay`` prints: filters and one-line-per-event formatting.

Everything is a generator over events in log order, so a million-event log streams in
constant memory (apart from one small counter per turn still being folded).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actors.archive.transcript import one_line, tool_summary
from actors.claude import codec
from eventstore.records import Event

FOLD_PREVIEW = 60


def _aware(value: datetime) -> datetime:
    return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)


@dataclass
class EventFilter:
    """Which events to show. All given criteria must hold.

    ``chat_id`` matches the chat's own stream, the streams of sessions created in that chat,
    and any event that names the chat (its updates, messages it queued elsewhere). The link to
    sessions is learnt from ``session.created`` events as they pass through ``matches``, so
    feed events in log order and from the start of the log (``since`` only hides events; it
    does not stop the learning).
    ``type_glob`` is a shell-style pattern (``session.turn_*``); commas separate several.
    ``since`` is inclusive, ``until`` exclusive; naive datetimes are taken as UTC.
    """

    chat_id: int | str | None = None
    session: str | None = None
    type_glob: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    _chat_sessions: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self._globs = [g.strip() for g in (self.type_glob or "").split(",") if g.strip()]
        self._since = _aware(self.since) if self.since else None
        self._until = _aware(self.until) if self.until else None

    def matches(self, event: Event) -> bool:
        if self.chat_id is not None:
            if event.type == "session.created" and str(event.data.get("chat_id")) == str(
                self.chat_id
            ):
                self._chat_sessions.add(event.stream)
            ours = event.stream == f"chat:{self.chat_id}" or event.stream in self._chat_sessions
            if not ours and str(event.data.get("chat_id")) != str(self.chat_id):
                return False  # an update logged for another chat (``update:*`` streams)
        if self.session is not None and event.stream != f"session:{self.session}":
            return False
        if self._globs and not any(fnmatch.fnmatchcase(event.type, g) for g in self._globs):
            return False
        at = _aware(event.at)
        if self._since is not None and at < self._since:
            return False
        return not (self._until is not None and at >= self._until)

    def select(self, events: Iterable[Event]) -> Iterator[Event]:
        return (event for event in events if self.matches(event))


def format_json(event: Event) -> str:
    """The event as one compact JSON line (for ``replay --json`` and piping into jq)."""
    return json.dumps(event.to_json(), ensure_ascii=False, separators=(",", ":"), default=str)


def _stdin_summary(line: dict[str, Any]) -> str:
    kind, _ = codec.msg_type(line)
    if (text := codec.user_content_text(line)) is not None:
        return f"user {one_line(text, 80)!r}"
    if kind == "control_request":
        request = line.get("request")
        return (
            f"control_request {codec.msg_type(request)[1] if isinstance(request, dict) else None}"
        )
    if (reply := codec.permission_reply(line)) is not None:
        return "control_response" + (f" {reply.behavior}" if reply.behavior else "")
    return str(kind)


def _stream_event_summary(part: codec.StreamPart) -> str:
    if part.delta == "text_delta":
        return f"stream_event text_delta {one_line(part.text or '', 60)!r}"
    if part.delta == "input_json_delta":
        return f"stream_event input_json_delta {one_line(str(part.text), 60)}"
    return f"stream_event {part.event}"


def _stdout_summary(line: dict[str, Any]) -> str:
    """One line for what claude wrote, read through ``codec`` (odd shapes never raise)."""
    kind, sub = codec.msg_type(line)
    if (part := codec.stream_part(line)) is not None:
        return _stream_event_summary(part)
    if kind == "system":
        extra = line.get("status") or line.get("model") or line.get("attempt") or ""
        return f"system {sub} {extra}".rstrip()
    if kind == "assistant":
        parts = [f"text {one_line(text, 60)!r}" for text in codec.assistant_texts(line)]
        parts += [f"tool_use {tool_summary(u.name, u.input)}" for u in codec.tool_use_blocks(line)]
        return "assistant " + "; ".join(parts)
    if kind == "user":
        parts = [
            f"tool_result {'error' if r.is_error else 'ok'} {one_line(r.text, 50)!r}"
            for r in codec.tool_results(line)
        ]
        return "user " + "; ".join(parts)
    if (result := codec.result_info(line)) is not None:
        bits = [f"result {result.subtype}"]
        if result.is_error:
            bits.append("is_error")
        if result.total_cost_usd is not None:
            bits.append(f"cost=${result.total_cost_usd:.4f}")
        bits.append(f"turns={result.num_turns}")
        if result.text is not None:
            bits.append(repr(one_line(result.text, 60)))
        return " ".join(bits)
    if (request := codec.permission_request(line)) is not None:
        return f"control_request can_use_tool {request.tool_name}"
    if kind == "control_request":
        return "control_request"
    return str(kind)


def summarize(event: Event) -> str:
    """A short, single-line description of the event's data."""
    data, kind = event.data, event.type
    line = data.get("line")
    if kind in ("session.stdout", "session.stream") and isinstance(line, dict):
        return _stdout_summary(line)
    if kind == "session.stdin" and isinstance(line, dict):
        return _stdin_summary(line)
    if kind == "session.turn_started":
        merged = data.get("merged")
        note = f" merged={merged}" if merged not in (None, 0, 1) else ""
        return f"{data.get('turn_id')}{note} {one_line(str(data.get('text', '')), 60)!r}"
    if kind == "session.turn_ended":
        err = f" {one_line(str(data['error']), 80)!r}" if data.get("error") else ""
        return f"{data.get('turn_id')} {data.get('outcome')}{err}"
    if kind == "session.stdout_garbage":
        return repr(one_line(str(data.get("text", "")), 80))
    if kind == "session.process_started":
        resume = f" resume={data['resume_id']}" if data.get("resume_id") else ""
        return f"pid={data.get('pid')}{resume}"
    if kind == "session.process_exited":
        expected = "expected" if data.get("expected") else "UNEXPECTED"
        return f"returncode={data.get('returncode')} {expected}"
    if kind == "session.created":
        return (
            f"name={data.get('name')} persona={data.get('persona')} "
            f"chat={data.get('chat_id')} cwd={data.get('cwd')}"
        )
    if kind == "update.received":
        return f"update={data.get('update_id')} {one_line(str(data.get('text', '')), 60)!r}"
    return one_line(json.dumps(data, ensure_ascii=False, default=str), 100)


def _stamp(at: datetime) -> str:
    return _aware(at).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def format_line(event: Event) -> str:
    """``seq time stream type summary``."""
    return f"{event.seq:>8} {_stamp(event.at)} {event.stream} {event.type} {summarize(event)}"


@dataclass
class _Fold:
    first: Event
    deltas: int = 0
    chars: int = 0
    other: int = 0
    preview: str = ""

    def line(self) -> str:
        preview = " ".join(self.preview.split())[:FOLD_PREVIEW]
        more = "…" if self.chars > FOLD_PREVIEW else ""
        text = f'… {self.deltas:,} deltas, {self.chars:,} chars: "{preview}{more}"'
        if self.other:
            text += f" (+{self.other:,} other stream events)"
        e = self.first
        return f"{e.seq:>8} {_stamp(e.at)} {e.stream} {e.type} {text}"


def _line(event: Event) -> dict[str, Any]:
    line = event.data.get("line")
    return line if isinstance(line, dict) else {}


def _stream_part(event: Event) -> codec.StreamPart | None:
    if event.type not in ("session.stdout", "session.stream"):
        return None
    return codec.stream_part(_line(event))


def _ends_fold(event: Event) -> bool:
    if event.type in ("session.turn_started", "session.turn_ended", "session.process_exited"):
        return True
    return event.type == "session.stdout" and codec.is_result(_line(event))


def format_timeline(events: Iterable[Event], verbose: bool = False) -> Iterator[str]:
    """One line per event; unless ``verbose``, a turn's streaming events fold into one line.

    The folded line is printed when the turn ends (its ``result``, ``turn_ended``, the
    process exiting, or the end of input) and carries the first folded event's seq and time.
    """
    if verbose:
        yield from (format_line(event) for event in events)
        return
    folds: dict[str, _Fold] = {}
    for event in events:
        if (part := _stream_part(event)) is not None:
            fold = folds.get(event.stream)
            if fold is None:
                fold = folds[event.stream] = _Fold(event)
            if part.event == "content_block_delta" and part.delta == "text_delta":
                text = part.text or ""
                fold.deltas += 1
                fold.chars += len(text)
                if len(fold.preview) < FOLD_PREVIEW + 1:
                    fold.preview += text[: FOLD_PREVIEW + 1 - len(fold.preview)]
            else:
                fold.other += 1
            continue
        if _ends_fold(event) and event.stream in folds:
            yield folds.pop(event.stream).line()
        yield format_line(event)
    for fold in folds.values():
        yield fold.line()
