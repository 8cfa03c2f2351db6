"""A stand-in for the Anthropic Messages API on 127.0.0.1, for running the real ``claude`` CLI.

    async with FakeAnthropicAPI() as api:
        env = {"ANTHROPIC_BASE_URL": api.base_url, "ANTHROPIC_API_KEY": "test", ...}

The reply is scripted by markers in the text of the last user message:

- ``[[mock:slow]]`` or ``[[mock:slow:SECONDS]]``: stream many small deltas with a pause between
  them (default 0.05 s; 200 words unless ``long`` says otherwise), so an interrupt can land.
- ``[[mock:long:N]]``: a reply of exactly N characters.
- ``[[mock:tool:Bash:CMD]]``: a ``tool_use`` block for Bash running CMD (up to the ``]]``); for
  another tool, ``[[mock:tool:NAME:JSON]]`` gives its input. The follow-up request that carries
  the ``tool_result`` is answered with ``Tool said: <result>``.
- ``[[mock:recall]]``: ``Recall: <every user text of the conversation so far, " | " between>``
  (markers removed), so a reply shows what the model was sent of earlier turns.
- anything else: ``Echo: <text>`` (markers removed).

Streaming requests (``"stream": true``) get SSE events as the real API sends them; others get one
JSON message. A request that asks for structured output (``output_config.format`` with a JSON
schema: the session title, when non-essential traffic is allowed) gets a JSON text that fits the
schema, whatever markers its text holds. Every request is recorded (``api.requests``); paths the
stand-in does not know are logged, recorded in ``api.unknown`` and answered 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

log = logging.getLogger("fake_anthropic")

_SLOW = re.compile(r"\[\[mock:slow(?::([0-9.]+))?\]\]")
_LONG = re.compile(r"\[\[mock:long:(\d+)\]\]")
_TOOL = re.compile(r"\[\[mock:tool:([A-Za-z_][\w-]*):(.*?)\]\]", re.DOTALL)
_RECALL = "[[mock:recall]]"
_ANY_MARKER = re.compile(r"\[\[mock:.*?\]\]", re.DOTALL)
_REMINDER = "<system-reminder>"


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path == "/v1/messages"

    @property
    def streaming(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True


@dataclass(frozen=True, slots=True)
class Plan:
    """What one reply is: text (in chunks, with a pause between them) or a tool call."""

    chunks: tuple[str, ...] = ()
    delay_s: float = 0.0
    tool: tuple[str, dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def block_text(content: Any) -> str:
    """The user-visible text of a message's content (string or blocks; reminders left out)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [
        b.get("text", "")
        for b in content
        if isinstance(b, dict)
        and b.get("type") == "text"
        and not str(b.get("text", "")).lstrip().startswith(_REMINDER)
    ]
    return "\n".join(p for p in parts if p)


def user_text(content: Any) -> str:
    """What the user typed: the last text block that is not a reminder.

    After an interrupt the CLI puts ``[Request interrupted by user]`` in its own text block
    before the next message, in the same user message.
    """
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    for b in reversed(content):
        if not (isinstance(b, dict) and b.get("type") == "text"):
            continue
        text = str(b.get("text", ""))
        if text and not text.lstrip().startswith(_REMINDER):
            return text
    return ""


def tool_results(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    out = []
    for b in content:
        if isinstance(b, dict) and b.get("type") == "tool_result":
            inner = b.get("content")
            out.append(inner if isinstance(inner, str) else block_text(inner))
    return out


def last_user(body: Any) -> Any:
    messages = body.get("messages") if isinstance(body, dict) else None
    for msg in reversed(messages or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return msg.get("content")
    return None


def all_text(body: Any) -> str:
    """Every text of every message in a request, for "did it see the earlier turn" checks."""
    messages = body.get("messages") if isinstance(body, dict) else None
    texts: list[str] = []
    for msg in messages or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for b in content:
                if isinstance(b, dict) and isinstance(b.get("text"), str):
                    texts.append(b["text"])
    return "\n".join(texts)


def long_text(n: int) -> str:
    """Exactly n characters, recognisable, with line breaks now and then."""
    unit = "".join(f"{i:04d} lorem ipsum dolor sit amet.\n" for i in range(1000))
    return (unit * (n // len(unit) + 1))[:n]


def _split(text: str, size: int) -> tuple[str, ...]:
    return tuple(text[i : i + size] for i in range(0, len(text), size)) or ("",)


def structured_format(body: Any) -> dict[str, Any] | None:
    """The JSON schema a side request (session title and the like) wants its answer in."""
    config = body.get("output_config") if isinstance(body, dict) else None
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return schema if isinstance(schema, dict) else {}
    return None


def sample_of(schema: Any) -> Any:
    """A small value that satisfies a simple JSON schema."""
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: sample_of(v) for k, v in props.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "Fake session title"


def plan_for(body: Any) -> Plan:
    schema = structured_format(body)
    if schema is not None:
        return Plan(chunks=(json.dumps(sample_of(schema)),))
    content = last_user(body)
    results = tool_results(content)
    if results:
        return Plan(chunks=_split("Tool said: " + "\n".join(results).strip(), 200))
    text = user_text(content)
    if tool := _TOOL.search(text):
        name, arg = tool.group(1), tool.group(2)
        if name == "Bash":
            tool_input: dict[str, Any] = {"command": arg, "description": "Run a command"}
        else:
            try:
                tool_input = json.loads(arg)
            except ValueError:
                tool_input = {"input": arg}
        return Plan(tool=(name, tool_input))
    slow, long = _SLOW.search(text), _LONG.search(text)
    delay = float(slow.group(1) or 0.05) if slow else 0.0
    if long:
        reply = long_text(int(long.group(1)))
        return Plan(chunks=_split(reply, 50 if slow else 500), delay_s=delay)
    if slow:
        return Plan(chunks=tuple(f"w{i:03d} " for i in range(200)), delay_s=delay)
    if _RECALL in text:
        said = [_ANY_MARKER.sub("", t).strip() for t in conversation_texts(body)]
        return Plan(chunks=("Recall: ", " | ".join(t for t in said if t)))
    return Plan(chunks=("Echo: ", _ANY_MARKER.sub("", text).strip()))


def conversation_texts(body: Any) -> list[str]:
    """What the user typed in each user message of a request, in order (tool results and
    reminders left out)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    return [
        user_text(m.get("content"))
        for m in messages or []
        if isinstance(m, dict) and m.get("role") == "user" and user_text(m.get("content"))
    ]


def _tokens(obj: Any) -> int:
    return max(1, len(json.dumps(obj)) // 4)


@dataclass
class FakeAnthropicAPI:
    requests: list[Recorded] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    #: Text replies the stand-in finished streaming (not those cut off by a disconnect).
    completed: list[str] = field(default_factory=list)
    disconnects: int = 0
    base_url: str = ""
    _runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> FakeAnthropicAPI:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self._root)  # answers HEAD / too
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]  # as FakeBotAPI does: the one site's bound port
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeAnthropicAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- queries for tests --------------------------------------------------------------------

    def message_bodies(self, *, side: bool = False) -> list[dict[str, Any]]:
        """Bodies of the conversation's streaming requests (with ``side``, every messages call,
        titles and other structured side requests included)."""
        return [
            r.body
            for r in self.requests
            if r.is_messages
            and isinstance(r.body, dict)
            and (side or (r.streaming and structured_format(r.body) is None))
        ]

    def user_texts(self) -> list[str]:
        """The user's text in each conversation request, in order."""
        return [user_text(last_user(b)) for b in self.message_bodies()]

    # -- handlers -----------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Recorded:
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        keep = ("anthropic-version", "anthropic-beta", "x-api-key", "user-agent", "x-app")
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in keep}
        rec = Recorded(request.method, request.path, headers, body)
        self.requests.append(rec)
        return rec

    async def _root(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(text="ok")

    async def _unknown(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        self.unknown.append(f"{rec.method} {request.path_qs}")
        log.warning("fake_anthropic.unknown %s %s", rec.method, request.path_qs)
        return web.json_response(
            {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}},
            status=404,
        )

    async def _count_tokens(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        return web.json_response({"input_tokens": _tokens(rec.body)})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        body = rec.body if isinstance(rec.body, dict) else {}
        plan = plan_for(body)
        model = str(body.get("model") or "claude-sonnet-4-5")
        msg_id = f"msg_fake_{uuid.uuid4().hex[:20]}"
        input_tokens = _tokens(body.get("messages")) + _tokens(body.get("system"))
        if plan.tool is not None:
            name, tool_input = plan.tool
            tool_id = f"toolu_fake_{uuid.uuid4().hex[:16]}"
            block: dict[str, Any] = {"type": "tool_use", "id": tool_id, "name": name}
            stop_reason, output_tokens = "tool_use", _tokens(tool_input)
        else:
            block = {"type": "text", "text": plan.text}
            stop_reason, output_tokens = "end_turn", max(1, len(plan.text) // 4)
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        headers = {"request-id": f"req_fake_{uuid.uuid4().hex[:16]}"}
        if not rec.streaming:
            content = dict(block, input=plan.tool[1]) if plan.tool else block
            self.completed.append(plan.text)
            return web.json_response(
                {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [content],
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": usage,
                },
                headers=headers,
            )
        resp = web.StreamResponse(
            headers={**headers, "Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)

        async def send(kind: str, data: dict[str, Any]) -> None:
            payload = json.dumps({"type": kind, **data}, separators=(",", ":"))
            await resp.write(f"event: {kind}\ndata: {payload}\n\n".encode())

        try:
            start: dict[str, Any] = {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1},
            }
            await send("message_start", {"message": start})
            if plan.tool is not None:
                await send(
                    "content_block_start",
                    {"index": 0, "content_block": {**block, "input": {}}},
                )
                await send(
                    "content_block_delta",
                    {
                        "index": 0,
                        "delta": {
                            "type": "input_json_delta",
                            "partial_json": json.dumps(plan.tool[1]),
                        },
                    },
                )
            else:
                await send(
                    "content_block_start",
                    {"index": 0, "content_block": {"type": "text", "text": ""}},
                )
                for chunk in plan.chunks:
                    if plan.delay_s:
                        await asyncio.sleep(plan.delay_s)
                    await send(
                        "content_block_delta",
                        {"index": 0, "delta": {"type": "text_delta", "text": chunk}},
                    )
            await send("content_block_stop", {"index": 0})
            await send(
                "message_delta",
                {
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": output_tokens},
                },
            )
            await send("message_stop", {})
            await resp.write_eof()
        except (ConnectionError, asyncio.CancelledError) as exc:
            self.disconnects += 1
            log.info("fake_anthropic.client_gone %r", exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return resp
        self.completed.append(plan.text)
        return resp


async def _main() -> None:  # pragma: no cover - for poking at the CLI by hand
    logging.basicConfig(level=logging.INFO)
    async with FakeAnthropicAPI() as api:
        print(api.base_url, flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(_main())
