#!/usr/bin/env python3
"""A stand-in for the `claude` CLI speaking stream-json over real pipes.

Why: tests (and benchmarks) need a process that behaves like the recorded transcripts in
tests/fixtures/protocol without network, cost or a 245 MB Node process. Stdlib only, fast start.

Reply text is `Echo: <user text>`. Markers inside the user text script behaviour:
  [[tool:NAME:ARG]]   ask to use tool NAME (e.g. [[tool:Bash:ls -la]]), then run it (pretend);
                      [[tool:AskUserQuestion:Q?|A|B]] asks a question, [[tool:ExitPlanMode:PLAN]]
                      a plan, [[tool:Write:PATH|CONTENT]] and [[tool:Edit:PATH|OLD|NEW]] change a
                      file. Rule suggestions are 2.1.197's: the exact command for Bash, none for a
                      command it cannot analyse (a newline, `$`, a backquote, `<<`), only
                      `setMode acceptEdits` for file edits; a session rule `Edit(//PATH)` allows
                      every edit tool on PATH.
  [[crash]] / [[crash:CODE]]   exit (1 / CODE) mid-stream after a few deltas
  [[hang]]            no output at all (interrupts ignored, stdin EOF ignored) until killed
  [[hang_hard]]       like [[hang]] but SIGTERM is ignored too: only SIGKILL ends it
  [[garbage]]         print a non-JSON line before the reply
  [[huge:N]]          reply of N characters sent in a single delta (multi-megabyte lines)
  [[long:N]]          reply of N characters in many deltas
  [[slow:MS]]         MS milliseconds between deltas (interruptible)
  [[api_error]] / [[api_error:STATUS]]   api_retry lines, then an is_error result (529 default)
  [[api_retry:N]]     N api_retry lines (529), then a normal reply
  [[stderr:TEXT]]     write TEXT as a line on stderr
  [[recall]]          reply with the turn count and the earlier user texts of this session
  [[env]]             reply with this process's environment, NAME=value a line (a `printenv`)
  [[cat:PATH]]        reply with the text of the file PATH (a `cat` of a file the agent found)
  [[say:TEXT]]        reply with TEXT, exactly (an answer of the agent's own words)
Control requests on stdin are answered as 2.1.197 answers them: `set_model` (aliases resolved;
the next init and assistant messages carry the model), `set_permission_mode` (answered with the
mode; bypassPermissions refused unless the process was started able to bypass), `interrupt`,
`initialize`, `get_context_usage`; any other subtype gets an error response.
`--max-budget-usd=X` works as in 2.1.197: the process's cumulative cost is checked after each
API call (tool call or reply); the call that reaches X (>=) ends the turn with an
`error_max_budget_usd` result (what it streamed stays streamed), every later turn answers the
same error at once, and the process exits 1 when stdin closes. Cost: $5 per million input
tokens, $25 per million output tokens (a plain turn is about $0.10).
An allowed Write or Edit of a file inside the working directory really changes it.
Env: FAKE_CLAUDE_STATE_DIR (its config directory: conversations kept as 2.1.197 keeps them, in
projects/<dir>/<session id>.jsonl), FAKE_CLAUDE_STARTUP_MS, FAKE_CLAUDE_DELTA_CHARS (40),
CLAUDE_CODE_MAX_RETRIES (retries shown for [[api_error]], default 2).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections import deque
from typing import Any

VERSION = "2.1.197"
DEFAULT_MODEL = "claude-opus-4-8[1m]"
#: What 2.1.197 resolves the aliases to (seen in system/init after set_model).
MODEL_ALIASES = {
    "opus": "claude-opus-4-8",
    "sonnet": "claude-sonnet-5",
    "haiku": "claude-haiku-4-5-20251001",
    "opusplan": "claude-sonnet-5",
}
BYPASS_REFUSED = (
    "Cannot set permission mode to bypassPermissions because the session was not launched "
    "with --dangerously-skip-permissions"
)
ALL_TOOLS = [
    "Task",
    "Bash",
    "CronCreate",
    "CronDelete",
    "CronList",
    "Edit",
    "EnterWorktree",
    "ExitWorktree",
    "NotebookEdit",
    "Read",
    "ReportFindings",
    "ScheduleWakeup",
    "SendMessage",
    "Skill",
    "TaskCreate",
    "TaskGet",
    "TaskList",
    "TaskOutput",
    "TaskStop",
    "TaskUpdate",
    "WebFetch",
    "WebSearch",
    "Workflow",
    "Write",
]
SKILLS = [
    "deep-research",
    "update-config",
    "verify",
    "debug",
    "code-review",
    "simplify",
    "batch",
    "fewer-permission-prompts",
    "loop",
    "claude-api",
    "run",
    "run-skill-generator",
]
SLASH = [
    *SKILLS,
    "clear",
    "compact",
    "config",
    "context",
    "heapdump",
    "init",
    "reload-skills",
    "review",
    "security-review",
    "usage",
    "insights",
    "goal",
    "team-onboarding",
]
AGENTS = ["claude", "Explore", "general-purpose", "Plan", "statusline-setup"]
READ_ONLY_TOOLS = {"Read", "Grep", "Glob", "LS"}
EDIT_TOOLS = {"Edit", "Write", "MultiEdit", "NotebookEdit"}
FILLER = "The quick brown fox jumps over the lazy dog. "

BOOL_FLAGS = {
    "-p",
    "--print",
    "--verbose",
    "--include-partial-messages",
    "--continue",
    "-c",
    "--dangerously-skip-permissions",
    "--allow-dangerously-skip-permissions",
    "--fork-session",
    "--strict-mcp-config",
    "--replay-user-messages",
}
VALUE_FLAGS = {
    "--output-format",
    "--input-format",
    "--model",
    "--system-prompt",
    "--append-system-prompt",
    "--permission-mode",
    "--allowedTools",
    "--allowed-tools",
    "--disallowedTools",
    "--disallowed-tools",
    "--max-turns",
    "--permission-prompt-tool",
    "--resume",
    "-r",
    "--session-id",
    "--fallback-model",
    "--mcp-config",
    "--settings",
    "--add-dir",
    "--max-budget-usd",
    "--setting-sources",
    "--agents",
}
MARKER = re.compile(r"\[\[([a-z_]+)(?::(.*?))?\]\]", re.S)
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


class Interrupted(Exception):
    """Raised inside a turn when an interrupt control_request arrived."""


def fail(message: str, code: int = 1) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os._exit(code)


def parse_argv(argv: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in BOOL_FLAGS:
            opts[arg.lstrip("-")] = True
        elif "=" in arg and arg.split("=", 1)[0] in VALUE_FLAGS:
            key, value = arg.split("=", 1)
            opts[key.lstrip("-")] = value
        elif arg in VALUE_FLAGS:
            if i + 1 >= len(argv):
                fail(f"error: option '{arg} <value>' argument missing")
            opts[arg.lstrip("-")] = argv[i + 1]
            i += 1
        else:
            fail(f"error: unknown option '{arg}'")
        i += 1
    for alias, name in (
        ("allowed-tools", "allowedTools"),
        ("disallowed-tools", "disallowedTools"),
        ("r", "resume"),
        ("print", "p"),
    ):
        if alias in opts:
            opts[name] = opts.pop(alias)
    if not opts.get("p"):
        fail("fake_claude: only --print (-p) mode is supported")
    if opts.get("output-format") != "stream-json" or opts.get("input-format") != "stream-json":
        fail("fake_claude: needs --output-format=stream-json --input-format=stream-json")
    if not opts.get("verbose"):
        fail("Error: When using --print, --output-format=stream-json requires --verbose")
    return opts


def resolve_model(name: str | None) -> str:
    """The model a `--model` / `set_model` value means: aliases (any case, `[1m]` kept) resolve,
    full names stay; nothing or "default" is the default model."""
    if not name or name.lower() == "default":
        return DEFAULT_MODEL
    base, context = (name[:-4], name[-4:]) if name.lower().endswith("[1m]") else (name, "")
    full = MODEL_ALIASES.get(base.lower())
    return full + context if full else name


def parse_budget(value: str | None) -> float | None:
    """`--max-budget-usd`: a positive number, refused at start as the CLI refuses it."""
    if value is None:
        return None
    try:
        budget = float(value)
    except ValueError:
        budget = float("nan")
    if not budget > 0:  # NaN too
        fail(
            f"error: option '--max-budget-usd <amount>' argument '{value}' is invalid. "
            "--max-budget-usd must be a positive number greater than 0"
        )
    return budget


def js_number(value: float) -> str:
    """A number as JavaScript prints it in a template string (5, not 5.0)."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def call_cost(in_tok: int, out_tok: int) -> float:
    return in_tok * 5e-6 + out_tok * 25e-6


def split_tools(value: str | None) -> list[str]:
    return [t for t in re.split(r"[,\s]+", value or "") if t]


class Fake:
    """All state of one fake CLI process; the reader thread and the turn loop share it."""

    def __init__(self, opts: dict[str, Any]) -> None:
        self.opts = opts
        self.cwd = os.path.realpath(os.getcwd())
        self.model = resolve_model(opts.get("model"))
        self.permission_mode = opts.get("permission-mode") or "default"
        self.can_bypass = self.permission_mode == "bypassPermissions" or bool(
            opts.get("dangerously-skip-permissions")
            or opts.get("allow-dangerously-skip-permissions")
        )
        self.allowed = split_tools(opts.get("allowedTools"))
        self.disallowed = split_tools(opts.get("disallowedTools"))
        self.session_rules: list[tuple[str, str | None]] = []
        self.stdio_permissions = opts.get("permission-prompt-tool") == "stdio"
        self.max_turns = int(opts["max-turns"]) if opts.get("max-turns") else None
        self.budget = parse_budget(opts.get("max-budget-usd"))
        self.over_budget = False
        self.delta_chars = max(1, int(os.environ.get("FAKE_CLAUDE_DELTA_CHARS", "40")))
        self.state_dir = os.environ.get("FAKE_CLAUDE_STATE_DIR") or os.path.join(
            os.environ.get("TMPDIR", "/tmp"), "fake-claude-state"
        )
        self.out_lock = threading.Lock()
        self.cv = threading.Condition()
        self.inbox: deque[str | None] = deque()
        self.responses: dict[str, dict[str, Any]] = {}
        self.busy = False
        self.interrupted = False
        self.hung = False
        self.eof = False
        self.total_cost = 0.0
        self.model_usage: dict[str, float] = {"in": 0, "out": 0}
        self.session_id = str(uuid.uuid4())
        self.history: list[str] = []
        self.last_uuid: str | None = None
        self.turns = 0
        self.partial: tuple[str, int, str] | None = None

    # ---- output -------------------------------------------------------------------------
    def emit_raw(self, line: str) -> None:
        with self.out_lock:
            if self.hung:
                return
            try:
                sys.stdout.buffer.write(line.encode("utf-8", "surrogatepass") + b"\n")
                sys.stdout.buffer.flush()
            except (BrokenPipeError, ValueError):
                os._exit(1)

    def emit(self, obj: dict[str, Any]) -> None:
        self.emit_raw(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))

    # ---- sessions on disk ---------------------------------------------------------------
    # Shaped like 2.1.197's store (FAKE_CLAUDE_STATE_DIR stands for its config directory):
    # projects/<cwd, non-alphanumerics as '-'>/<session id>.jsonl, a `user` and an `assistant`
    # line per turn (message, cwd, sessionId, timestamp) and a `last-prompt` line, appended.
    def session_path(self, session_id: str) -> str:
        slug = re.sub(r"[^A-Za-z0-9]", "-", self.cwd)
        return os.path.join(self.state_dir, "projects", slug, session_id + ".jsonl")

    def load_session(self) -> None:
        resume = self.opts.get("resume")
        wanted = self.opts.get("session-id")
        if resume:
            path = self.session_path(resume)
            try:
                with open(path, "rb") as fh:
                    lines = [json.loads(raw) for raw in fh if raw.strip()]
            except (OSError, ValueError):
                msg = f"No conversation found with session ID: {resume}"
                sys.stderr.write(msg + "\n")
                sys.stderr.flush()
                self.emit(
                    {
                        "type": "result",
                        "subtype": "error_during_execution",
                        "duration_ms": 0,
                        "duration_api_ms": 0,
                        "is_error": True,
                        "num_turns": 0,
                        "stop_reason": None,
                        "session_id": resume,
                        "total_cost_usd": 0,
                        "usage": usage(0, 0),
                        "modelUsage": {},
                        "permission_denials": [],
                        "uuid": new_uuid(),
                        "errors": [msg],
                    }
                )
                os._exit(1)
            self.session_id = resume
            for line in lines:
                content = (line.get("message") or {}).get("content")
                if line.get("type") == "user" and isinstance(content, str):
                    self.history.append(content)
                if line.get("uuid"):
                    self.last_uuid = line["uuid"]
            self.turns = len(self.history)
        elif wanted:
            if not UUID_RE.match(wanted):
                fail("Error: Invalid session ID. Must be a valid UUID.")
            if os.path.exists(self.session_path(wanted)):
                fail(f"Error: Session ID {wanted} is already in use.")
            self.session_id = wanted

    def save_session(self, user_text: str, reply: str) -> None:
        self.history.append(user_text)
        self.turns += 1
        path = self.session_path(self.session_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        common = {"cwd": self.cwd, "sessionId": self.session_id, "version": VERSION}
        asked, answered = new_uuid(), new_uuid()
        lines = [
            {
                "parentUuid": self.last_uuid, "isSidechain": False, "type": "user",
                "message": {"role": "user", "content": user_text}, "uuid": asked,
                "timestamp": timestamp(), **common,
            },
            {
                "parentUuid": asked, "isSidechain": False, "type": "assistant",
                "message": {
                    "role": "assistant", "model": self.model,
                    "content": [{"type": "text", "text": reply}],
                },
                "uuid": answered, "timestamp": timestamp(), **common,
            },
            {"type": "last-prompt", "lastPrompt": user_text, "sessionId": self.session_id},
        ]  # fmt: skip
        self.last_uuid = answered
        with open(path, "a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)

    def write_file(self, name: str, tool_input: dict[str, Any]) -> None:
        """What an allowed Write or Edit does to a file inside the working directory (outside
        it, and for a failed edit, nothing: the reply is the same either way)."""
        target = os.path.realpath(os.path.join(self.cwd, str(tool_input.get("file_path", ""))))
        if not target.startswith(self.cwd + os.sep):
            return
        if name == "Write":
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as fh:
                fh.write(str(tool_input.get("content", "")))
        elif name == "Edit" and os.path.isfile(target):
            with open(target, encoding="utf-8") as fh:
                text = fh.read()
            old, new = str(tool_input.get("old_string", "")), str(tool_input.get("new_string", ""))
            if old and old in text:
                with open(target, "w", encoding="utf-8") as fh:
                    fh.write(text.replace(old, new, 1))

    # ---- stdin --------------------------------------------------------------------------
    def reader(self) -> None:
        stdin = sys.stdin.buffer
        while True:
            raw = stdin.readline()
            if not raw:
                with self.cv:
                    self.eof = True
                self.push(None)
                return
            if self.hung or not raw.strip():
                continue
            try:
                msg = json.loads(raw)
            except ValueError:
                msg = None
            if not isinstance(msg, dict):
                with self.out_lock:
                    sys.stderr.write(f"Error parsing streaming input line: {raw[:200]!r}\n")
                    sys.stderr.flush()
                    os._exit(1)
            kind = msg.get("type")
            if kind == "user":
                self.push(user_text(msg))
            elif kind == "control_request":
                self.on_control_request(msg)
            elif kind == "control_response":
                response = msg.get("response") or {}
                with self.cv:
                    self.responses[str(response.get("request_id"))] = response
                    self.cv.notify_all()

    def push(self, item: str | None) -> None:
        with self.cv:
            self.inbox.append(item)
            self.cv.notify_all()

    def on_control_request(self, msg: dict[str, Any]) -> None:
        rid = msg.get("request_id")
        req = msg.get("request") or {}
        sub = req.get("subtype")
        body: dict[str, Any] | None = None
        error: str | None = None
        if sub == "interrupt":
            with self.cv:
                if self.busy:
                    self.interrupted = True
                    self.cv.notify_all()
        elif sub == "initialize":
            body = {
                "commands": [],
                "agents": [],
                "output_style": "default",
                "available_output_styles": ["default"],
                "models": [],
                "account": {
                    "tokenSource": "none",
                    "apiKeySource": "ANTHROPIC_API_KEY",
                    "apiProvider": "firstParty",
                },
                "pid": os.getpid(),
            }
        elif sub == "set_model":
            model = req.get("model")
            if model is not None and not isinstance(model, str):
                return  # 2.1.197 never answers a non-string model
            self.model = resolve_model(model)
        elif sub == "set_permission_mode":
            mode = req.get("mode")
            if mode == "bypassPermissions" and not self.can_bypass:
                error = BYPASS_REFUSED
            else:
                self.permission_mode = mode  # any string is taken, as by the real CLI
                body = {"mode": mode}
        elif sub == "get_context_usage":
            body = {"totalTokens": 19456 + 40 * self.turns, "maxTokens": 1000000}
        else:
            error = f"Unsupported control request subtype: {sub}"
        response: dict[str, Any] = {"subtype": "success", "request_id": rid}
        if error is not None:
            response = {"subtype": "error", "request_id": rid, "error": error}
        elif body is not None:
            response["response"] = body
        self.emit({"type": "control_response", "response": response})

    # ---- waiting ------------------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up (and abort the turn) at once on an interrupt."""
        with self.cv:
            if self.cv.wait_for(lambda: self.interrupted, timeout=seconds):
                raise Interrupted

    def check(self) -> None:
        if self.interrupted:
            raise Interrupted

    def await_permission(self, rid: str) -> dict[str, Any]:
        """The answer to can_use_tool `rid`; an interrupt or stdin EOF aborts the turn."""
        with self.cv:
            self.cv.wait_for(lambda: rid in self.responses or self.interrupted or self.eof)
            if rid not in self.responses:
                raise Interrupted
            return self.responses.pop(rid)

    # ---- message shapes -----------------------------------------------------------------
    def wire_model(self) -> str:
        return self.model.replace("[1m]", "")

    def init_msg(self) -> dict[str, Any]:
        slug = re.sub(r"[^A-Za-z0-9]", "-", self.cwd)
        return {
            "type": "system",
            "subtype": "init",
            "cwd": self.cwd,
            "session_id": self.session_id,
            "tools": [t for t in ALL_TOOLS if t not in self.disallowed],
            "mcp_servers": [],
            "model": self.model,
            "permissionMode": self.permission_mode,
            "slash_commands": SLASH,
            "apiKeySource": "ANTHROPIC_API_KEY",
            "claude_code_version": VERSION,
            "output_style": "default",
            "agents": AGENTS,
            "skills": SKILLS,
            "plugins": [],
            "analytics_disabled": True,
            "product_feedback_disabled": True,
            "uuid": new_uuid(),
            "memory_paths": {"auto": f"{os.path.expanduser('~')}/.claude/projects/{slug}/memory/"},
            "fast_mode_state": "off",
        }

    def status_msg(self) -> dict[str, Any]:
        return {
            "type": "system",
            "subtype": "status",
            "status": "requesting",
            "uuid": new_uuid(),
            "session_id": self.session_id,
        }

    def stream(self, event: dict[str, Any], **extra: Any) -> None:
        self.emit(
            {
                "type": "stream_event",
                "event": event,
                "session_id": self.session_id,
                "parent_tool_use_id": None,
                "uuid": new_uuid(),
                **extra,
            }
        )

    def assistant(self, msg_id: str, content: list[dict[str, Any]], in_tokens: int) -> None:
        self.emit(
            {
                "type": "assistant",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.wire_model(),
                    "content": content,
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": api_usage(in_tokens, 1),
                    "context_management": None,
                },
                "parent_tool_use_id": None,
                "session_id": self.session_id,
                "uuid": new_uuid(),
                "request_id": "req_mock_" + uuid.uuid4().hex[:12],
            }
        )

    def user_blocks(self, content: list[dict[str, Any]], **extra: Any) -> None:
        self.emit(
            {
                "type": "user",
                "message": {"role": "user", "content": content},
                "parent_tool_use_id": None,
                "session_id": self.session_id,
                "uuid": new_uuid(),
                "timestamp": timestamp(),
                **extra,
            }
        )

    def start_message(self, in_tokens: int) -> str:
        msg_id = "msg_mock_" + uuid.uuid4().hex[:20]
        self.stream(
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.wire_model(),
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": api_usage(in_tokens, 1),
                },
            },
            ttft_ms=10,
        )
        return msg_id

    def end_message(self, stop_reason: str, out_tokens: int) -> None:
        self.stream({"type": "content_block_stop", "index": 0})
        self.stream(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": out_tokens},
            }
        )
        self.stream({"type": "message_stop"})

    def result(
        self, subtype: str, t0: float, num_turns: int, in_tok: int, out_tok: int, **fields: Any
    ) -> None:
        self.total_cost += call_cost(in_tok, out_tok)
        self.model_usage["in"] += in_tok
        self.model_usage["out"] += out_tok
        ms = int((time.monotonic() - t0) * 1000)
        msg: dict[str, Any] = {"type": "result", "subtype": subtype}
        if subtype == "success":
            msg.update(
                is_error=fields.pop("is_error", False),
                api_error_status=fields.pop("api_error_status", None),
                duration_ms=ms,
                duration_api_ms=ms,
            )
            if not msg["is_error"]:
                msg.update(ttft_ms=ms, ttft_stream_ms=ms, time_to_request_ms=1)
            msg.update(num_turns=num_turns, result=fields.pop("result"))
        else:
            msg.update(duration_ms=ms, duration_api_ms=0, is_error=True, num_turns=num_turns)
        msg.update(
            stop_reason=fields.pop("stop_reason", "end_turn"),
            session_id=self.session_id,
            total_cost_usd=self.total_cost,
            usage=usage(in_tok, out_tok),
        )
        msg["modelUsage"] = (
            {}
            if not self.model_usage["in"]
            else {
                self.model: {
                    "inputTokens": self.model_usage["in"],
                    "outputTokens": self.model_usage["out"],
                    "cacheReadInputTokens": 0,
                    "cacheCreationInputTokens": 0,
                    "webSearchRequests": 0,
                    "costUSD": self.total_cost,
                    "contextWindow": 1000000,
                    "maxOutputTokens": 64000,
                }
            }
        )
        msg["permission_denials"] = fields.pop("permission_denials", [])
        terminal = fields.pop("terminal_reason", "completed")
        if terminal is not None:  # a budget result has none
            msg["terminal_reason"] = terminal
        msg.update(fast_mode_state="off", uuid=new_uuid())
        msg.update(fields)
        self.emit(msg)

    def reaches_budget(self, in_tok: int, out_tok: int) -> bool:
        """Whether this turn's calls so far bring the process's cost to its budget."""
        spent = self.total_cost + call_cost(in_tok, out_tok)
        return self.budget is not None and spent >= self.budget

    def budget_result(
        self, t0: float, num_turns: int, in_tok: int, out_tok: int, **fields: Any
    ) -> None:
        """The turn ends at the budget (as 2.1.197: zero usage for the turn, no
        terminal_reason); from now on every turn answers the same."""
        self.over_budget = True
        assert self.budget is not None
        self.result(
            "error_max_budget_usd",
            t0,
            num_turns,
            in_tok,
            out_tok,
            terminal_reason=None,
            usage=usage(0, 0),
            errors=[f"Reached maximum budget (${js_number(self.budget)})"],
            **fields,
        )

    # ---- a turn -------------------------------------------------------------------------
    def stream_text(
        self, text: str, in_tok: int, slow_s: float, crash: int | None, chunk: int
    ) -> None:
        """One API message with a single text block, streamed in deltas."""
        msg_id = self.start_message(in_tok)
        self.stream(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        )
        pieces = [text[i : i + chunk] for i in range(0, len(text), chunk)] or [""]
        done = ""
        self.partial = (msg_id, in_tok, "")
        for i, piece in enumerate(pieces):
            if i and slow_s:
                self.sleep(slow_s)
            self.check()
            self.stream(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                }
            )
            done += piece
            self.partial = (msg_id, in_tok, done)
            if crash is not None and i >= min(2, len(pieces) - 1):
                sys.stdout.flush()
                os._exit(crash)
        self.partial = None
        self.assistant(msg_id, [{"type": "text", "text": text}], in_tok)
        self.end_message("end_turn", max(1, len(text) // 4))

    def run_turn(self, text: str) -> None:
        t0 = time.monotonic()
        marks: list[tuple[str, str | None]] = MARKER.findall(text)
        names = {m[0]: m[1] for m in marks}
        if "hang_hard" in names:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for name, arg in marks:  # before hanging, so a test can sync on it
            if name == "stderr":
                sys.stderr.write((arg or "") + "\n")
                sys.stderr.flush()
        if "hang" in names or "hang_hard" in names:
            with self.out_lock:
                self.hung = True
            while True:
                time.sleep(3600)
        self.partial = None
        in_tok = 19450 + 40 * len(self.history) + len(text) // 4
        num_turns = 1
        try:
            self.emit(self.init_msg())
            self.emit(self.status_msg())
            if self.over_budget:  # no API call at all
                self.budget_result(t0, num_turns, 0, 0, stop_reason=None)
                return
            if "garbage" in names:
                self.emit_raw("this line is not JSON {garbage from fake_claude")
            if ("api_error" in names or "api_retry" in names) and self.api_errors(names, t0):
                return
            reply, chunk = self.reply_for(text, names)
            slow_s = int(names.get("slow") or 0) / 1000.0
            crash = None
            if "crash" in names:
                crash = int(names["crash"] or 1)
            tools = [(n, a or "") for n, a in marks if n == "tool"]
            denials: list[dict[str, Any]] = []
            total_in, total_out = 0, 0
            for spec in tools:
                tool_name, _, arg = spec[1].partition(":")
                outcome = self.use_tool(tool_name, arg, in_tok, denials)
                total_in += in_tok
                total_out += 18
                num_turns += 1
                if outcome is None:
                    self.result(
                        "error_during_execution",
                        t0,
                        num_turns,
                        total_in,
                        total_out,
                        stop_reason="tool_use",
                        terminal_reason="aborted_tools",
                        permission_denials=denials,
                    )
                    return
                reply = f"Tool said: {outcome}"
                if self.reaches_budget(total_in, total_out):
                    self.budget_result(
                        t0,
                        num_turns,
                        total_in,
                        total_out,
                        stop_reason="tool_use",
                        permission_denials=denials,
                    )
                    self.save_session(text, reply)
                    return
                self.emit(self.status_msg())
                if self.max_turns is not None and num_turns - 1 >= self.max_turns:
                    n = self.max_turns
                    self.result(
                        "error_max_turns",
                        t0,
                        num_turns,
                        total_in,
                        total_out,
                        stop_reason="tool_use",
                        terminal_reason="max_turns",
                        permission_denials=denials,
                        errors=[f"Reached maximum number of turns ({n})"],
                    )
                    return
            self.stream_text(reply, in_tok, slow_s, crash, chunk)
            out_tok = max(1, len(reply) // 4)
            if self.reaches_budget(total_in + in_tok, total_out + out_tok):
                self.budget_result(
                    t0,
                    num_turns,
                    total_in + in_tok,
                    total_out + out_tok,
                    permission_denials=denials,
                )
                self.save_session(text, reply)
                return
            self.result(
                "success",
                t0,
                num_turns,
                total_in + in_tok,
                total_out + out_tok,
                result=reply,
                permission_denials=denials,
            )
            self.save_session(text, reply)
        except Interrupted:
            # Read into a declared local: mypy would keep self.partial narrowed to the None set
            # before the try, not seeing that stream_text() sets it.
            partial: tuple[str, int, str] | None = self.partial
            if partial and partial[2]:
                msg_id, tok, done = partial
                self.assistant(msg_id, [{"type": "text", "text": done}], tok)
            self.user_blocks([{"type": "text", "text": "[Request interrupted by user]"}])
            self.result(
                "error_during_execution",
                t0,
                num_turns + 1,
                0,
                0,
                stop_reason=None,
                terminal_reason="aborted_streaming",
                errors=["[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null"],
            )

    def reply_for(self, text: str, names: dict[str, str | None]) -> tuple[str, int]:
        if "huge" in names:
            n = int(names["huge"] or 0)
            return (FILLER * (n // len(FILLER) + 1))[:n], max(n, 1)
        if "long" in names:
            n = int(names["long"] or 0)
            return (FILLER * (n // len(FILLER) + 1))[:n], self.delta_chars
        if "recall" in names:
            return f"turns={self.turns}; history: {' | '.join(self.history)}", self.delta_chars
        if "env" in names:  # what `printenv` in a tool would show
            lines = [f"{k}={v}" for k, v in sorted(os.environ.items())]
            return "\n".join(lines), self.delta_chars
        if "cat" in names:  # what `cat PATH` in a tool would show
            with open(names["cat"] or "", encoding="utf-8") as fh:
                return fh.read(), self.delta_chars
        if "say" in names:
            return names["say"] or "", self.delta_chars
        return f"Echo: {text}", self.delta_chars

    def api_errors(self, names: dict[str, str | None], t0: float) -> bool:
        """Emit api_retry lines; return True when the turn ended with an API error result."""
        persistent = "api_error" in names
        status = int(names.get("api_error") or 529) if persistent else 529
        retries = (
            int(os.environ.get("CLAUDE_CODE_MAX_RETRIES", "2"))
            if persistent
            else int(names.get("api_retry") or 1)
        )
        error = {529: "overloaded", 429: "rate_limit"}.get(status, "server_error")
        for attempt in range(1, retries + 1):
            self.check()
            self.emit(
                {
                    "type": "system",
                    "subtype": "api_retry",
                    "attempt": attempt,
                    "max_retries": retries if persistent else 10,
                    "retry_delay_ms": 500.0 * attempt,
                    "error_status": status,
                    "error": error,
                    "session_id": self.session_id,
                    "uuid": new_uuid(),
                }
            )
        if not persistent:
            return False
        text = (
            f"API Error: {status} mock error {status}. This is a server-side issue, usually "
            "temporary — try again in a moment."
        )
        self.emit(
            {
                "type": "assistant",
                "message": {
                    "id": new_uuid(),
                    "container": None,
                    "model": "<synthetic>",
                    "role": "assistant",
                    "stop_details": None,
                    "stop_reason": "stop_sequence",
                    "stop_sequence": "",
                    "type": "message",
                    "usage": api_usage(0, 0),
                    "content": [{"type": "text", "text": text}],
                    "context_management": None,
                },
                "parent_tool_use_id": None,
                "session_id": self.session_id,
                "uuid": new_uuid(),
                "error": error,
                "request_id": "req_mock_" + uuid.uuid4().hex[:12],
            }
        )
        self.result(
            "success",
            t0,
            1,
            0,
            0,
            is_error=True,
            api_error_status=status,
            result=text,
            stop_reason="stop_sequence",
        )
        return True

    def tool_allowed(self, name: str, arg: str) -> bool | None:
        """True: run without asking; False: refuse without asking; None: ask."""
        if name in self.disallowed:
            return False
        if self.permission_mode == "bypassPermissions" or name in READ_ONLY_TOOLS:
            return True
        if self.permission_mode == "acceptEdits" and name in EDIT_TOOLS:
            return True
        for rule in self.allowed:
            if rule == name or rule == f"{name}({arg})":
                return True
            prefix = rule[len(name) + 1 : -3]
            if rule.startswith(f"{name}(") and rule.endswith(":*)") and arg.startswith(prefix):
                return True
        if any(n == name and (c is None or c == arg) for n, c in self.session_rules):
            return True
        path = "/" + os.path.join(self.cwd, arg)
        if name in EDIT_TOOLS and ("Edit", path) in self.session_rules:
            return True
        return None if self.stdio_permissions else False

    def use_tool(
        self, name: str, arg: str, in_tok: int, denials: list[dict[str, Any]]
    ) -> str | None:
        """One tool_use API message plus its result; returns the tool output or None to stop."""
        tool_input = tool_input_for(name, arg)
        tool_id = "toolu_mock_" + uuid.uuid4().hex[:16]
        msg_id = self.start_message(in_tok)
        self.stream(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": tool_id, "name": name, "input": {}},
            }
        )
        self.stream(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(tool_input)},
            }
        )
        self.assistant(
            msg_id, [{"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}], in_tok
        )
        self.check()
        subject = tool_input.get("file_path", arg) if name in EDIT_TOOLS else arg
        verdict = self.tool_allowed(name, subject)
        message = f"Claude requested permissions to use {name}, but you haven't granted it yet."
        stop = False
        if verdict is None:
            rid = str(uuid.uuid4())
            request: dict[str, Any] = {
                "subtype": "can_use_tool",
                "tool_name": name,
                "display_name": name,
                "input": tool_input,
                "description": tool_input.get("description")
                or os.path.basename(tool_input.get("file_path", name)),  # as 2.1.197 describes
                "permission_suggestions": suggestions_for(name, arg, self.cwd),
            }
            if "file_path" in tool_input:
                request["blocked_path"] = os.path.join(self.cwd, tool_input["file_path"])
            request["tool_use_id"] = tool_id
            self.emit({"type": "control_request", "request_id": rid, "request": request})
            answer = self.await_permission(rid).get("response") or {}
            verdict = answer.get("behavior") == "allow"
            if verdict:
                tool_input = answer.get("updatedInput") or tool_input
                self.apply_permission_updates(answer.get("updatedPermissions") or [])
            else:
                message = str(answer.get("message") or "denied")
                stop = bool(answer.get("interrupt"))
        self.end_message("tool_use", 18)
        if not verdict:
            denials.append({"tool_name": name, "tool_use_id": tool_id, "tool_input": tool_input})
            self.user_blocks(
                [
                    {
                        "type": "tool_result",
                        "content": message,
                        "is_error": True,
                        "tool_use_id": tool_id,
                    }
                ],
                tool_use_result=f"Error: {message}",
            )
            return None if stop else message
        if name in ("Write", "Edit"):
            self.write_file(name, tool_input)
        if isinstance(tool_input.get("answers"), dict):
            output = f"{name} ok: " + "; ".join(
                f"{q} -> {a}" for q, a in tool_input["answers"].items()
            )
        else:
            output = f"{name} ok: {first_value(tool_input)}"
        self.user_blocks(
            [{"tool_use_id": tool_id, "type": "tool_result", "content": output, "is_error": False}],
            tool_use_result={
                "stdout": output,
                "stderr": "",
                "interrupted": False,
                "isImage": False,
                "noOutputExpected": False,
            },
        )
        return output

    def apply_permission_updates(self, updates: list[Any]) -> None:
        for upd in updates:
            if not isinstance(upd, dict):
                continue
            if upd.get("type") == "addRules" and upd.get("behavior", "allow") == "allow":
                for rule in upd.get("rules") or []:
                    if isinstance(rule, dict) and rule.get("toolName"):
                        self.session_rules.append((rule["toolName"], rule.get("ruleContent")))
            elif upd.get("type") == "setMode" and upd.get("mode"):
                self.permission_mode = upd["mode"]

    # ---- main loop ----------------------------------------------------------------------
    def main(self) -> None:
        startup_ms = int(os.environ.get("FAKE_CLAUDE_STARTUP_MS", "0") or 0)
        if startup_ms:
            time.sleep(startup_ms / 1000.0)
        self.load_session()
        threading.Thread(target=self.reader, daemon=True).start()
        while True:
            with self.cv:
                self.cv.wait_for(lambda: bool(self.inbox))
                text = self.inbox.popleft()
                if text is None:
                    break
                self.busy = True
                self.interrupted = False
            try:
                self.run_turn(text)
            finally:
                with self.cv:
                    self.busy = False
                    self.interrupted = False
        sys.stdout.flush()
        os._exit(1 if self.over_budget else 0)


def user_text(msg: dict[str, Any]) -> str:
    content = (msg.get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def suggestions_for(name: str, arg: str, cwd: str) -> list[dict[str, Any]]:
    """The rule suggestions of a can_use_tool request, as 2.1.197 makes them."""
    accept_edits = {"type": "setMode", "mode": "acceptEdits", "destination": "session"}
    if name in EDIT_TOOLS:
        return [accept_edits]
    if name == "Bash" and re.search(r"[\n$`]|<<", arg):
        return []  # 2.1.197: "Parse error", "Contains command_substitution"...
    return [
        {
            "type": "addRules",
            "rules": [{"toolName": name, "ruleContent": arg}],
            "behavior": "allow",
            "destination": "localSettings",
        },
        {"type": "addDirectories", "directories": [cwd], "destination": "session"},
        accept_edits,
    ]


def tool_input_for(name: str, arg: str) -> dict[str, Any]:
    if name == "AskUserQuestion":  # arg: "Question?|Option A|Option B"
        question, *options = arg.split("|")
        return {"questions": [{
            "question": question, "header": question[:12], "multiSelect": False,
            "options": [{"label": o, "description": f"pick {o}"} for o in options],
        }]}  # fmt: skip
    if name == "ExitPlanMode":
        return {"plan": arg}
    if name == "Bash":
        return {"command": arg, "description": f"run {arg}"}
    if name == "Write":
        path, _, content = arg.partition("|")
        return {"file_path": path, "content": content}
    if name == "Edit":
        path, old, new = [*arg.split("|", 2), "", ""][:3]
        return {"file_path": path, "old_string": old, "new_string": new, "replace_all": False}
    if name in ("Read", "MultiEdit"):
        return {"file_path": arg}
    if name in ("Grep", "Glob"):
        return {"pattern": arg}
    if name == "WebFetch":
        return {"url": arg, "prompt": "summarise"}
    return {"input": arg}


def first_value(obj: dict[str, Any]) -> str:
    for value in obj.values():
        return str(value)
    return ""


def api_usage(in_tok: int, out_tok: int) -> dict[str, int]:
    return {
        "input_tokens": in_tok,
        "output_tokens": out_tok,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def usage(in_tok: int, out_tok: int) -> dict[str, Any]:
    return {
        "input_tokens": in_tok,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": out_tok,
        "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
        "service_tier": "standard",
        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
        "inference_geo": "",
        "iterations": [],
        "speed": "standard",
    }


def new_uuid() -> str:
    return str(uuid.uuid4())


def timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


if __name__ == "__main__":
    if sys.argv[1:] == ["--version"]:
        print(f"{VERSION} (Claude Code)")
        sys.exit(0)
    Fake(parse_argv(sys.argv[1:])).main()
