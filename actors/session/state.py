"""Session state as a pure fold of its events: what /status shows and what a restart rebuilds."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from actors.claude import codec
from actors.session import events as ev
from actors.session.routine_runs import RoutineRun
from eventstore import Event, EventStore, fold


@dataclass(frozen=True, slots=True)
class Turn:
    turn_id: str
    text: str
    merged: int
    started_at: datetime
    correlation_id: str | None
    #: The chat whose message started it: its reply, questions and notices go there.
    chat_id: int | None = None
    #: The session's total cost when it started: what it cost is the total at its end minus this.
    cost_at_start: float = 0.0
    saw_result: bool = False
    result_is_error: bool = False
    result_interrupted: bool = False
    result_subtype: str | None = None
    #: The routine that started it (``routine_runs``), if one did.
    routine: RoutineRun | None = None


@dataclass(frozen=True, slots=True)
class Queued:
    text: str
    correlation_id: str | None
    chat_id: int | None = None
    routine: RoutineRun | None = None


@dataclass(frozen=True, slots=True)
class SettingRequest:
    """A ``/model`` or ``/mode`` change asked for and not settled yet (``session.setting_*``)."""

    request_id: str
    setting: str  # ev.MODEL | ev.PERMISSION_MODE
    value: str
    correlation_id: str | None = None
    #: The chat that asked: told how it ended.
    chat_id: int | None = None
    #: claude's control_response has been read (``error`` None: it took the change).
    answered: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SessionState:
    name: str = ""
    persona: str = ""
    cwd: str = ""
    #: The chat that wrote to the session last: where what is not a turn's goes.
    chat_id: int | None = None
    #: Correlation id of the command that created it (a replay of it is not an error).
    created_by: str | None = None
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    status: str = "new"  # new | active | archived
    archive_path: str | None = None
    claude_session_id: str | None = None
    model: str | None = None
    turns: int = 0
    cost_usd: float = 0.0
    process_cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    last_result: str | None = None
    last_outcome: str | None = None
    turn: Turn | None = None
    pending: tuple[Queued, ...] = ()
    process_pid: int | None = None
    crashes: int = 0
    #: When the last of ``crashes`` crashes in a row ended its turn: the backoff counts from it.
    last_crash_at: datetime | None = None
    #: Permission questions claude asked and nobody has answered yet (they close with their
    #: turn, which tells the chat; a new process starts with none).
    questions: tuple[codec.PermissionRequest, ...] = ()
    version: int = 0
    #: Correlation ids of the latest queued messages and setting changes, so a replayed update
    #: is acted on once.
    queued_refs: tuple[str, ...] = ()
    #: Correlation id of the command that archived it (a replay of it is not an error).
    archived_by: str | None = None
    #: The permission mode claude reported (system/init) since the last change.
    permission_mode: str | None = None
    #: What ``/model`` and ``/mode`` chose (None: the persona's); every start passes them on.
    model_override: str | None = None
    mode_override: str | None = None
    setting_requests: tuple[SettingRequest, ...] = ()
    #: What ``/cap`` chose, in dollars (None with ``cost_cap_chosen``: ``/cap off``, no cap).
    cost_cap_usd: float | None = None
    #: Whether ``/cap`` was ever used; until then ``claude.max_cost_usd`` applies.
    cost_cap_chosen: bool = False
    #: The user's conversation, kept aside while a routine runs in a fresh one.
    kept_conversation: str | None = None

    @property
    def exists(self) -> bool:
        return self.status != "new"

    @property
    def busy(self) -> bool:
        return self.turn is not None

    @property
    def total_cost_usd(self) -> float:
        return self.cost_usd + self.process_cost_usd

    def cost_cap(self, default: float | None) -> float | None:
        """The cost cap that applies: the session's own (``/cap``, "off" included), else
        ``default``, the config's ``claude.max_cost_usd``.

        The default is read live, not captured when the session is created. It is the
        operator's policy, not something the user chose: lowering it in the config should
        reach every session that never chose its own, and sessions created before ``/cap``
        existed (whose log holds no cap) keep the cap they always had. The log records only
        what users decided, so the fold stays a function of the events alone.
        """
        return self.cost_cap_usd if self.cost_cap_chosen else default

    def replayed(self, correlation_id: str | None) -> bool:
        """An update acted on already: delivered again after a crash, it is not acted on twice."""
        return bool(correlation_id) and correlation_id in self.queued_refs

    def setting_request(self, request_id: str) -> SettingRequest | None:
        return next((r for r in self.setting_requests if r.request_id == request_id), None)

    def question(self, request_id: str) -> codec.PermissionRequest | None:
        return next((q for q in self.questions if q.request_id == request_id), None)

    @property
    def reply_chat(self) -> int | None:
        """Where the session speaks: the running turn's chat, else the last chat that wrote."""
        return self.turn.chat_id if self.turn is not None else self.chat_id

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "persona": self.persona,
            "cwd": self.cwd,
            "chat_id": self.chat_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "status": self.status,
            "claude_session_id": self.claude_session_id,
            "model": self.model,
            "model_override": self.model_override,
            "permission_mode": self.permission_mode,
            "mode_override": self.mode_override,
            "cost_cap_usd": self.cost_cap_usd,
            "cost_cap_chosen": self.cost_cap_chosen,
            "turns": self.turns,
            "cost_usd": round(self.total_cost_usd, 6),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "last_outcome": self.last_outcome,
            "turn_in_flight": self.turn.turn_id if self.turn else None,
            "queued_messages": len(self.pending),
        }


RECENT_REFS = 64

#: Event types a session fold never needs (partial-message deltas): not even read.
FOLD_SKIPS = frozenset({ev.STREAM})


async def load_state(store: EventStore, name: str) -> SessionState:
    """The session's current state, folded from its stream without the delta firehose."""
    stream = ev.stream_of(name)
    state = fold(evolve, SessionState(), await store.read_stream(stream, exclude_types=FOLD_SKIPS))
    return replace(state, version=await store.stream_version(stream))


def _line(data: dict[str, Any]) -> dict[str, Any]:
    line = data.get("line")
    return line if isinstance(line, dict) else {}


def _count(value: Any) -> int:
    """A token count from claude's output; anything odd counts as nothing, never a crash."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _remember(refs: tuple[str, ...], ref: str | None) -> tuple[str, ...]:
    return (*refs[-(RECENT_REFS - 1) :], ref) if ref else refs


def _answered(state: SessionState, line: dict[str, Any]) -> dict[str, Any]:
    """claude answered a setting change: note how (the actor then settles it)."""
    answer = codec.control_answer(line)
    if answer is None or state.setting_request(answer.request_id) is None:
        return {}  # an interrupt's answer, or one settled already
    requests = tuple(
        replace(r, answered=True, error=answer.error) if r.request_id == answer.request_id else r
        for r in state.setting_requests
    )
    return {"setting_requests": requests}


def _settled(state: SessionState, event: Event) -> dict[str, Any]:
    data = event.data
    left = tuple(r for r in state.setting_requests if r.request_id != data.get("request_id"))
    if event.type == ev.SETTING_REFUSED:
        return {"setting_requests": left}
    if data.get("setting") == ev.MODEL:  # what claude reported is for the old model
        return {"setting_requests": left, "model_override": data["value"], "model": None}
    return {"setting_requests": left, "mode_override": data["value"], "permission_mode": None}


def _stdout(state: SessionState, line: dict[str, Any]) -> dict[str, Any]:
    """What a line claude wrote changes; read through ``codec``, the one parser of lines."""
    if (init := codec.init_info(line)) is not None:
        return {
            "claude_session_id": init.session_id or state.claude_session_id,
            "model": init.model or state.model,
            "permission_mode": init.permission_mode or state.permission_mode,
        }
    if (request := codec.permission_request(line)) is not None:
        if state.turn is None or state.question(request.request_id) is not None:
            return {}  # nobody to ask outside a turn; asked already
        return {"questions": (*state.questions, request)}
    if codec.is_control_response(line):
        return _answered(state, line)
    result = codec.result_info(line)
    if result is None:
        return {}
    turn = state.turn
    if turn is not None:
        turn = replace(
            turn,
            saw_result=True,
            result_is_error=result.is_error,
            result_interrupted=result.interrupted,
            result_subtype=result.subtype,
        )
    cost = result.total_cost_usd
    return {
        "turn": turn,
        "claude_session_id": result.session_id or state.claude_session_id,
        "process_cost_usd": state.process_cost_usd if cost is None else cost,
        "input_tokens": state.input_tokens + _count(result.usage.get("input_tokens")),
        "output_tokens": state.output_tokens + _count(result.usage.get("output_tokens")),
        "last_result": result.text,
    }


def _stdin(state: SessionState, line: dict[str, Any]) -> dict[str, Any]:
    """A line we wrote: an answer to a permission question closes it."""
    reply = codec.permission_reply(line)
    if reply is None or state.question(reply.request_id) is None:
        return {}
    return {"questions": tuple(q for q in state.questions if q.request_id != reply.request_id)}


def _conversation_at_start(state: SessionState, turn: Turn) -> dict[str, Any]:
    """A fresh routine run starts without ``--resume``: the user's conversation waits aside."""
    if turn.routine is None or not turn.routine.fresh:
        return {}
    return {"claude_session_id": None, "kept_conversation": state.claude_session_id}


def _conversation_at_end(state: SessionState) -> dict[str, Any]:
    """... and is the session's again once that run has ended, however it ended."""
    routine = state.turn.routine if state.turn is not None else None
    if routine is None or not routine.fresh:
        return {}
    return {"claude_session_id": state.kept_conversation, "kept_conversation": None}


def _changes(state: SessionState, event: Event) -> dict[str, Any]:
    """What ``event`` changes, as field values (applied in one ``replace``)."""
    data = event.data
    match event.type:
        case ev.CREATED:
            return {
                "name": data["name"],
                "persona": data["persona"],
                "cwd": data["cwd"],
                "chat_id": data.get("chat_id"),
                "created_by": event.correlation_id,
                "created_at": event.at,
                "last_used_at": event.at,
                "status": "active",
            }
        case ev.MESSAGE_QUEUED:
            chat_id = data.get("chat_id", state.chat_id)
            routine = RoutineRun.from_data(data.get("routine"))
            queued = Queued(data["text"], event.correlation_id, chat_id, routine)
            return {
                "pending": (*state.pending, queued),
                "chat_id": chat_id,
                "last_used_at": event.at,
                "queued_refs": _remember(state.queued_refs, event.correlation_id),
            }
        case ev.SETTING_REQUESTED:
            chat_id = data.get("chat_id", state.chat_id)
            request = SettingRequest(
                data["request_id"], data["setting"], data["value"], event.correlation_id, chat_id
            )
            return {
                "setting_requests": (*state.setting_requests, request),
                "chat_id": chat_id,
                "queued_refs": _remember(state.queued_refs, event.correlation_id),
            }
        case ev.SETTING_CHANGED | ev.SETTING_REFUSED:
            return _settled(state, event)
        case ev.COST_CAP_SET:
            return {
                "cost_cap_usd": data.get("cap_usd"),
                "cost_cap_chosen": True,
                "chat_id": data.get("chat_id", state.chat_id),
                "queued_refs": _remember(state.queued_refs, event.correlation_id),
            }
        case ev.TURN_STARTED:
            merged = data.get("merged", 1)
            started_by = state.pending[merged - 1].chat_id if state.pending[:merged] else None
            turn = Turn(
                data["turn_id"],
                data["text"],
                merged,
                event.at,
                event.correlation_id,
                chat_id=data.get(
                    "chat_id", started_by if started_by is not None else state.chat_id
                ),
                cost_at_start=state.total_cost_usd,
                routine=RoutineRun.from_data(data.get("routine")),
            )
            return {
                "turn": turn,
                "turns": state.turns + 1,
                "pending": state.pending[merged:],
                "last_used_at": event.at,
                **_conversation_at_start(state, turn),
            }
        case ev.TURN_ENDED:
            crashed = data["outcome"] == ev.CRASHED
            return {
                "turn": None,
                "last_outcome": data["outcome"],
                "crashes": state.crashes + 1 if crashed else 0,
                "last_crash_at": event.at if crashed else None,
                "questions": (),  # a turn's questions end with it
                **_conversation_at_end(state),
            }
        case ev.STDOUT:
            return _stdout(state, _line(data))
        case ev.STDIN:
            return _stdin(state, _line(data))
        case ev.PROCESS_STARTED:
            return {
                "process_pid": data.get("pid"),
                "cost_usd": state.total_cost_usd,
                "process_cost_usd": 0.0,
                "questions": (),
            }
        case ev.PROCESS_EXITED:
            # Its questions stay open until their turn ends, which tells the chat they expired.
            return {"process_pid": None}
        case ev.RESUME_FAILED:
            return {"claude_session_id": None}
        case ev.IMPORTED:
            return {"claude_session_id": data["claude_session_id"]}
        case ev.ARCHIVED:
            return {
                "status": "archived",
                "archive_path": data.get("path"),
                "archived_by": event.correlation_id,
            }
        case ev.UNARCHIVED:
            return {"status": "active", "archive_path": None}
    return {}


def evolve(state: SessionState, event: Event) -> SessionState:
    return replace(state, version=event.version, **_changes(state, event))
