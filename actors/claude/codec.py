"""Pure encode/decode of stream-json lines and typed views of the messages we act on.

Why so careful: one malformed stdin line kills the real CLI (exit 1), and stdout may carry
non-JSON noise or odd shapes. So we only ever serialise with `json`, and nothing that reads a
message raises on an unexpected shape: accessors return None / empty instead.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

STATUS_MAX = 80

# ---------------------------------------------------------------------------- encode


def encode(obj: Mapping[str, Any]) -> bytes:
    """One JSON line (UTF-8, "\\n"-terminated). json.dumps escapes any newline in values.

    Text with lone surrogates cannot be UTF-8: it is sent \\u-escaped (ASCII) instead.
    """
    try:
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return line + b"\n"


def user_turn(text: str) -> dict[str, Any]:
    """A user message, exactly as the CLI expects it on stdin."""
    return {
        "type": "user",
        "message": {"role": "user", "content": text},
        "parent_tool_use_id": None,
        "session_id": "default",
    }


def control_request(request_id: str, subtype: str, **fields: Any) -> dict[str, Any]:
    """Generic control_request (`set_model`, `set_permission_mode`, ...)."""
    return {
        "type": "control_request",
        "request_id": request_id,
        "request": {"subtype": subtype, **fields},
    }


def interrupt_request(request_id: str) -> dict[str, Any]:
    """Stop the running turn; the CLI answers, then emits an error_during_execution result."""
    return control_request(request_id, "interrupt")


def set_model_request(request_id: str, model: str) -> dict[str, Any]:
    """Switch the running process's model (an alias, "default" or a full name). 2.1.197
    answers at once, even mid-turn, with a bare success; the next API call uses the model."""
    return control_request(request_id, "set_model", model=model)


def set_permission_mode_request(request_id: str, mode: str) -> dict[str, Any]:
    """Switch the running process's permission mode; answered with ``{"mode": MODE}``, or an
    error (bypassPermissions in a process not started with it)."""
    return control_request(request_id, "set_permission_mode", mode=mode)


def _control_response(request_id: str, response: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "control_response",
        "response": {"subtype": "success", "request_id": request_id, "response": response},
    }


def permission_allow(
    request_id: str,
    updated_input: Mapping[str, Any],
    updated_permissions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Allow a can_use_tool request; `updated_permissions` (session rules) stop re-asking."""
    body: dict[str, Any] = {"behavior": "allow", "updatedInput": dict(updated_input)}
    if updated_permissions:
        body["updatedPermissions"] = list(updated_permissions)
    return _control_response(request_id, body)


#: Tools whose "allow for this session" can be narrowed to one file: an ``Edit(//PATH)`` rule
#: covers Write, Edit, MultiEdit and NotebookEdit of exactly that file, ``Read(//PATH)`` reading it.
_FILE_RULES: dict[str, tuple[str, str]] = {
    "Write": ("Edit", "file_path"),
    "Edit": ("Edit", "file_path"),
    "MultiEdit": ("Edit", "file_path"),
    "NotebookEdit": ("Edit", "notebook_path"),
    "Read": ("Read", "file_path"),
}
#: Characters a path rule reads as a gitignore-style pattern (a rule with one would match more).
_PATTERN_CHARS = frozenset("*?[]\\!#{}")

SessionScope = Literal["suggested", "command", "file", "tool", "none"]


@dataclass(frozen=True, slots=True)
class SessionAllowance:
    """What "allow for this session" adds to claude's permission rules, and how far it reaches.

    ``scope``: ``suggested`` (claude's own suggestions), ``command`` (this exact Bash command),
    ``file`` (any change to this one file, or reading it), ``tool`` (every use of the tool), or
    ``none`` (no rule can be narrowed to this request: "allow for this session" is not offered).
    """

    scope: SessionScope
    updates: tuple[dict[str, Any], ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        """The rules as claude's settings write them: ``Bash(git status:*)``, ``WebFetch``."""
        return tuple(
            f"{r['toolName']}({r['ruleContent']})" if r.get("ruleContent") else str(r["toolName"])
            for update in self.updates
            for r in update.get("rules") or ()
        )


def _add_rule(tool: str, content: str | None = None) -> dict[str, Any]:
    rule = {"toolName": tool} if content is None else {"toolName": tool, "ruleContent": content}
    return {"type": "addRules", "rules": [rule], "behavior": "allow", "destination": "session"}


def _allow_rules(suggestion: Mapping[str, Any]) -> bool:
    """An ``addRules`` suggestion that allows, with well-formed rules (others are not used)."""
    rules = suggestion.get("rules")
    return (
        suggestion.get("type") == "addRules"
        and suggestion.get("behavior", "allow") == "allow"
        and isinstance(rules, list)
        and bool(rules)
        and all(isinstance(r, dict) and isinstance(r.get("toolName"), str) for r in rules)
    )


def session_allowance(request: PermissionRequest) -> SessionAllowance:
    """What "allow for this session" sends for ``request``.

    claude's own rule suggestions when it made some (scoped to the session). When it made
    none, which 2.1.197 does for exactly the commands it cannot analyse (parse errors, ``$(…)``,
    ``$VAR``, here-documents: the ones most worth reading), a rule for this exact input only,
    never the whole tool: a Bash rule whose content is the command (2.1.197 matches it by
    equality; one with a ``*`` would be a wildcard and one ending in ``:*`` a prefix, so such
    commands get no rule), or an ``Edit``/``Read`` rule for the absolute path (``//PATH``; a path
    with pattern characters gets none; like any gitignore-style pattern it would also cover
    files under PATH, were PATH ever a directory). Checked against the real CLI in
    test_real_claude.py. Other tools without a suggestion get a rule for the whole tool, and
    the chat says so.
    """
    suggested = tuple(
        {**s, "destination": "session"} for s in request.suggestions if _allow_rules(s)
    )
    if suggested:
        return SessionAllowance("suggested", suggested)
    tool, tool_input = request.tool_name, request.input
    if tool == "Bash":
        command = tool_input.get("command")
        if isinstance(command, str) and command.strip() and "*" not in command:
            return SessionAllowance("command", (_add_rule("Bash", command),))
        return SessionAllowance("none")
    if tool in _FILE_RULES:
        rule_tool, key = _FILE_RULES[tool]
        path = tool_input.get(key)
        if (
            isinstance(path, str)
            and path.startswith("/")
            and path.isprintable()
            and path == path.strip()
            and not _PATTERN_CHARS.intersection(path)
        ):
            return SessionAllowance("file", (_add_rule(rule_tool, "/" + path),))
        return SessionAllowance("none")
    return SessionAllowance("tool", (_add_rule(tool),))


def permission_deny(request_id: str, message: str, interrupt: bool = False) -> dict[str, Any]:
    """Deny a can_use_tool request; `interrupt=True` also ends the turn."""
    body: dict[str, Any] = {"behavior": "deny", "message": message}
    if interrupt:
        body["interrupt"] = True
    return _control_response(request_id, body)


# ---------------------------------------------------------------------------- decode


def _no_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity`` are not JSON: a NaN cost in the log would make
    every later cost comparison of the session fail, so such a line is garbage."""
    raise ValueError(f"{name} is not a JSON number")


def decode(raw: bytes | str) -> dict[str, Any] | None:
    """Parse one stdout line; None for blank, non-UTF-8, non-JSON (NaN and the infinities
    included) or non-object lines."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
        if not text.strip():
            return None
        obj = json.loads(text, parse_constant=_no_constant)
    except (ValueError, TypeError, RecursionError, AttributeError):
        return None
    if not isinstance(obj, dict):
        return None
    if _LONE_SURROGATE_ESCAPE.search(text):
        return {_scrub(k): _scrub(v) for k, v in obj.items()}
    return obj


#: A JSON escape of a UTF-16 surrogate; a pair decodes to one character, a lone one to a
#: code point that cannot be written as UTF-8 (SQLite, files, Telegram all refuse it).
_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _scrub(value: Any) -> Any:
    """Replace lone surrogates with U+FFFD, everywhere in a decoded line (rare: slow path)."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: Any) -> float | None:
    """A finite number (never a bool: ``true`` is not a cost)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def msg_type(msg: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(type, subtype) of a message, e.g. ("system", "init")."""
    return _str(msg.get("type")), _str(msg.get("subtype"))


def session_id(msg: Mapping[str, Any]) -> str | None:
    return _str(msg.get("session_id"))


def is_init(msg: Mapping[str, Any]) -> bool:
    return msg_type(msg) == ("system", "init")


def is_result(msg: Mapping[str, Any]) -> bool:
    return msg.get("type") == "result"


def is_permission_request(msg: Mapping[str, Any]) -> bool:
    return (
        msg.get("type") == "control_request"
        and _dict(msg.get("request")).get("subtype") == "can_use_tool"
    )


def is_control_response(msg: Mapping[str, Any]) -> bool:
    return msg.get("type") == "control_response"


@dataclass(frozen=True, slots=True)
class ControlAnswer:
    """The CLI's answer to one of our control requests; ``error`` is None on success."""

    request_id: str
    error: str | None


def _response_to(msg: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The request id and body of a ``control_response`` (either way: claude's or ours)."""
    if msg.get("type") != "control_response":
        return None
    response = _dict(msg.get("response"))
    request_id = _str(response.get("request_id"))
    return None if request_id is None else (request_id, response)


def control_answer(msg: Mapping[str, Any]) -> ControlAnswer | None:
    """A ``control_response`` on stdout (``subtype`` "success" or "error" with ``error``)."""
    if (found := _response_to(msg)) is None:
        return None
    request_id, response = found
    if response.get("subtype") == "success":
        return ControlAnswer(request_id, None)
    return ControlAnswer(request_id, _str(response.get("error")) or "no reason given")


def text_delta(msg: Mapping[str, Any]) -> str | None:
    """Streaming text of a stream_event content_block_delta/text_delta, else None."""
    if msg.get("type") != "stream_event":
        return None
    event = _dict(msg.get("event"))
    if event.get("type") != "content_block_delta":
        return None
    delta = _dict(event.get("delta"))
    return _str(delta.get("text")) if delta.get("type") == "text_delta" else None


def starts_text_block(msg: Mapping[str, Any]) -> bool:
    """A ``content_block_start`` of a text block: a new paragraph of the reply begins."""
    if msg.get("type") != "stream_event":
        return False
    event = _dict(msg.get("event"))
    return event.get("type") == "content_block_start" and (
        _dict(event.get("content_block")).get("type") == "text"
    )


def _assistant_blocks(msg: Mapping[str, Any]) -> list[dict[str, Any]]:
    if msg.get("type") != "assistant":
        return []
    content = _dict(msg.get("message")).get("content")
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


@dataclass(frozen=True, slots=True)
class ToolUse:
    """A ``tool_use`` block: what the agent asked to run."""

    id: str | None
    name: str
    input: dict[str, Any]


def tool_use_blocks(msg: Mapping[str, Any]) -> list[ToolUse]:
    """Every well-formed ``tool_use`` block of an `assistant` message, in order."""
    return [
        ToolUse(_str(b.get("id")), b["name"], _dict(b.get("input")))
        for b in _assistant_blocks(msg)
        if b.get("type") == "tool_use" and isinstance(b.get("name"), str)
    ]


def tool_uses(msg: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(tool name, input) of every tool_use block in an `assistant` message."""
    return [(use.name, use.input) for use in tool_use_blocks(msg)]


def assistant_texts(msg: Mapping[str, Any]) -> list[str]:
    """The text blocks of an `assistant` message, one string per block."""
    return [
        b["text"]
        for b in _assistant_blocks(msg)
        if b.get("type") == "text" and isinstance(b.get("text"), str)
    ]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A ``tool_result`` block of a `user` line: how a tool call went."""

    tool_use_id: str | None
    is_error: bool
    text: str


def _content_text(content: Any) -> str:
    """A tool result's content: a string, or the text of its well-formed text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
    return ""


def tool_results(msg: Mapping[str, Any]) -> list[ToolResult]:
    """The ``tool_result`` blocks of a `user` line (tool output fed back to the model)."""
    if msg.get("type") != "user":
        return []
    content = _dict(msg.get("message")).get("content")
    blocks = content if isinstance(content, list) else []
    return [
        ToolResult(
            _str(b.get("tool_use_id")), b.get("is_error") is True, _content_text(b.get("content"))
        )
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "tool_result"
    ]


def user_content_text(msg: Mapping[str, Any]) -> str | None:
    """The text of a `user` line we wrote (a turn), or None if it is not one."""
    if msg.get("type") != "user":
        return None
    content = _dict(msg.get("message")).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return _content_text(content)
    return None


@dataclass(frozen=True, slots=True)
class PermissionReply:
    """Our answer to a ``can_use_tool`` request, as written on claude's stdin."""

    request_id: str
    behavior: str | None
    message: str | None


def permission_reply(msg: Mapping[str, Any]) -> PermissionReply | None:
    """A ``control_response`` we wrote on stdin (answering a permission question), or None."""
    if (found := _response_to(msg)) is None:
        return None
    request_id, response = found
    answer = _dict(response.get("response"))
    return PermissionReply(request_id, _str(answer.get("behavior")), _str(answer.get("message")))


@dataclass(frozen=True, slots=True)
class StreamPart:
    """A ``stream_event``: the API event's type, its delta's type and the delta's text."""

    event: str | None
    delta: str | None
    text: str | None


def stream_part(msg: Mapping[str, Any]) -> StreamPart | None:
    """What a ``stream_event`` line carries, or None if it is not one."""
    if msg.get("type") != "stream_event":
        return None
    event = _dict(msg.get("event"))
    delta = _dict(event.get("delta"))
    text = _str(delta.get("text")) or _str(delta.get("partial_json"))
    return StreamPart(_str(event.get("type")), _str(delta.get("type")), text)


@dataclass(frozen=True, slots=True)
class InitInfo:
    session_id: str | None
    model: str | None
    cwd: str | None
    permission_mode: str | None
    tools: tuple[str, ...]


def init_info(msg: Mapping[str, Any]) -> InitInfo | None:
    if not is_init(msg):
        return None
    tools = msg.get("tools")
    return InitInfo(
        session_id=session_id(msg),
        model=_str(msg.get("model")),
        cwd=_str(msg.get("cwd")),
        permission_mode=_str(msg.get("permissionMode")),
        tools=tuple(t for t in tools if isinstance(t, str)) if isinstance(tools, list) else (),
    )


@dataclass(frozen=True, slots=True)
class ApiRetry:
    attempt: int | None
    max_retries: int | None
    retry_delay_ms: float | None
    error_status: int | None
    error: str | None


def api_retry_info(msg: Mapping[str, Any]) -> ApiRetry | None:
    """Fields of a `system/api_retry` line (the CLI is retrying an overloaded/failing API)."""
    if msg_type(msg) != ("system", "api_retry"):
        return None
    return ApiRetry(
        attempt=_int(msg.get("attempt")),
        max_retries=_int(msg.get("max_retries")),
        retry_delay_ms=_num(msg.get("retry_delay_ms")),
        error_status=_int(msg.get("error_status")),
        error=_str(msg.get("error")),
    )


@dataclass(frozen=True, slots=True)
class PermissionRequest:
    request_id: str
    tool_name: str
    input: dict[str, Any]
    tool_use_id: str | None
    description: str | None = None
    blocked_path: str | None = None
    suggestions: tuple[dict[str, Any], ...] = ()


def permission_request(msg: Mapping[str, Any]) -> PermissionRequest | None:
    """A can_use_tool control_request, or None (also when id/tool name are missing)."""
    if not is_permission_request(msg):
        return None
    req = _dict(msg.get("request"))
    rid, name = _str(msg.get("request_id")), _str(req.get("tool_name"))
    if rid is None or name is None:
        return None
    sugg = req.get("permission_suggestions")
    return PermissionRequest(
        request_id=rid,
        tool_name=name,
        input=_dict(req.get("input")),
        tool_use_id=_str(req.get("tool_use_id")),
        description=_str(req.get("description")),
        blocked_path=_str(req.get("blocked_path")),
        suggestions=tuple(s for s in sugg if isinstance(s, dict)) if isinstance(sugg, list) else (),
    )


@dataclass(frozen=True, slots=True)
class ResultInfo:
    subtype: str | None
    is_error: bool
    text: str | None
    session_id: str | None
    total_cost_usd: float | None
    num_turns: int | None
    duration_ms: int | None
    api_error_status: int | None
    terminal_reason: str | None
    usage: dict[str, Any] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    permission_denials: tuple[dict[str, Any], ...] = ()

    @property
    def interrupted(self) -> bool:
        return self.terminal_reason == "aborted_streaming"


def result_info(msg: Mapping[str, Any]) -> ResultInfo | None:
    """Typed view of a `result` line; `text` is None after an interrupt."""
    if not is_result(msg):
        return None
    errors, denials = msg.get("errors"), msg.get("permission_denials")
    return ResultInfo(
        subtype=_str(msg.get("subtype")),
        is_error=msg.get("is_error") is True,
        text=_str(msg.get("result")),
        session_id=session_id(msg),
        total_cost_usd=_num(msg.get("total_cost_usd")),
        num_turns=_int(msg.get("num_turns")),
        duration_ms=_int(msg.get("duration_ms")),
        api_error_status=_int(msg.get("api_error_status")),
        terminal_reason=_str(msg.get("terminal_reason")),
        usage=_dict(msg.get("usage")),
        errors=tuple(str(e) for e in errors) if isinstance(errors, list) else (),
        permission_denials=tuple(d for d in denials if isinstance(d, dict))
        if isinstance(denials, list)
        else (),
    )


# ---------------------------------------------------------------------------- status line

_STATUS_KEYS: dict[str, tuple[str, ...]] = {
    "Bash": ("command",),
    "Read": ("file_path",),
    "Write": ("file_path",),
    "Edit": ("file_path",),
    "MultiEdit": ("file_path",),
    "NotebookEdit": ("notebook_path", "file_path"),
    "Grep": ("pattern",),
    "Glob": ("pattern",),
    "LS": ("path",),
    "WebFetch": ("url",),
    "WebSearch": ("query",),
    "Task": ("description", "prompt"),
    "Agent": ("description", "prompt"),
    "Skill": ("skill", "command"),
}
_PATH_KEYS = frozenset({"file_path", "notebook_path", "path"})


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tool_status(name: str, input: Mapping[str, Any], cwd: str | None = None) -> str:
    """One short line like `Bash: ls -la` / `Edit: src/app.py` for a "what is it doing" view.

    Paths under `cwd` are shown relative to it.
    """
    name = _shorten(str(name), STATUS_MAX)
    detail: str | None = None
    keys = _STATUS_KEYS.get(name, ())
    for key in keys:
        value = input.get(key)
        if isinstance(value, str) and value.strip():
            detail = value
            if key in _PATH_KEYS and cwd:
                prefix = cwd.rstrip("/") + "/"
                if detail.startswith(prefix):
                    detail = detail[len(prefix) :]
            break
    if detail is None and not keys:
        detail = next((v for v in input.values() if isinstance(v, str) and v.strip()), None)
    if not detail:
        return name
    return _shorten(f"{name}: {detail}", STATUS_MAX)
