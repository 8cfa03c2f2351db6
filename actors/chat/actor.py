"""The chat actor: one per Telegram chat (or terminal). Decides what the user sees.

It parses what was typed, talks to session actors, and turns their notices into calls on a
front-neutral ``ChatView``. What it decides (active session, open questions, handled updates)
is appended to the chat's stream, so a restart rebuilds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from actors.chat import commands as c
from actors.chat import notices as n
from actors.chat import questions as q
from actors.chat import state as cs
from actors.chat import texts
from actors.chat.inbound import FileArrived, FileRefused, Incoming, Pressed
from actors.chat.view import ChatView
from actors.runtime import Actor, ActorRef, AskTimeoutError
from actors.session import events as sev
from actors.session import messages as sm
from actors.session.actor import SessionError
from actors.session.budget import CostCap
from actors.session.catalog import SessionCatalog, SessionExistsError
from actors.session.state import SessionState
from eventstore import EventStore, NewEvent, fold
from service.claude.choices import InvalidChoice, cost_cap_choice, mode_choice, model_choice
from service.names import InvalidName, PathEscape, contained_path, safe_filename
from service.names import validate_session_name as check_name
from service.personas import PersonaCatalog, UnknownPersona

log = structlog.get_logger("chat")
SessionRefs = Callable[[str], ActorRef[Any]]


@dataclass(slots=True)
class ChatDeps:
    store: EventStore
    view: ChatView
    catalog: SessionCatalog
    sessions: SessionRefs
    personas: Callable[[], PersonaCatalog]
    sessions_dir: Path
    upload_limit_bytes: int = 20 * 1024 * 1024


class ChatActor(Actor[Any]):
    def __init__(self, chat_id: int, deps: ChatDeps) -> None:
        self.chat_id = chat_id
        self.stream = cs.stream_of(chat_id)
        self.deps = deps
        self.view = deps.view
        self.state = cs.ChatState(chat_id=chat_id)
        self.running: set[str] = set()
        #: Updates handled by this incarnation: a replayed one may also arrive from the front.
        self.done: set[str] = set()

    async def on_start(self) -> None:
        structlog.contextvars.bind_contextvars(chat_id=self.chat_id)
        events = await self.deps.store.read_stream(self.stream)
        self.state = fold(cs.evolve, cs.ChatState(chat_id=self.chat_id), events)
        for ref, data in list(self.state.unhandled.items()):
            replay = _replayable(data, ref)
            if replay is not None:
                self.ctx.ref.tell(replay)  # logged before the crash, never handled: handle now

    # -- dispatch ------------------------------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        match message:
            case Incoming():
                await self._handled(message.correlation_id, self._on_text(message))
            case Pressed():
                await self._handled(message.correlation_id, self._on_pressed(message))
            case FileArrived():
                await self._handled(message.correlation_id, self._on_file(message))
            case FileRefused():
                await self._handled(message.correlation_id, self._on_file_refused(message))
            case _FileLost():
                text = (
                    f"{message.filename} arrived just before pocketcode restarted and was not "
                    "saved; please send it again."
                )
                await self._handled(message.correlation_id, self._say(text))
            case n.TurnStarted():
                await self._on_turn_started(message)
            case n.TurnQueued():
                await self._say_about(
                    message.session,
                    f"Queued: it goes to the agent when the current turn ends "
                    f"({message.queued} waiting).",
                )
            case n.ReplyProgress():
                await self.view.reply_progress(
                    self.chat_id,
                    message.turn_id,
                    self._label(message.session, message.text),
                    message.status,
                )
            case n.TurnFinished():
                await self._on_turn_finished(message)
            case n.PermissionAsked():
                await self._on_permission_asked(message)
            case n.PermissionClosed():
                await self._on_permission_closed(message)
            case n.SessionNotice():
                await self._say_about(message.session, message.text)
            case _:
                raise TypeError(f"chat actor got an unknown message {message!r}")

    async def _handled(self, ref: str, work: Coroutine[Any, Any, None]) -> None:
        """Handle an update once, then mark it handled; bad input gets words, not a traceback."""
        if ref in self.done:
            work.close()
            return
        self.done.add(ref)
        try:
            await work
        except (
            SessionError,
            SessionExistsError,
            InvalidName,
            PathEscape,
            UnknownPersona,
            InvalidChoice,
        ) as exc:
            await self.view.say(self.chat_id, str(exc))
        await self._append(cs.UPDATE_HANDLED, ref=ref)

    # -- what the user typed -------------------------------------------------------------------

    async def _on_text(self, msg: Incoming) -> None:
        parsed = c.parse(msg.text)
        match parsed:
            case c.Invalid(reason):
                await self.view.say(self.chat_id, reason)
            case c.Plain(text):
                await self._send_to_active(text, msg.correlation_id)
            case c.Command(name, args):
                await getattr(self, f"_cmd_{name}")(args, msg.correlation_id)

    async def _on_pressed(self, msg: Pressed) -> None:
        match msg.action:
            case "switch":
                await self._cmd_session((msg.arg,), msg.correlation_id)
            case "new":
                await self._cmd_new((msg.arg,), msg.correlation_id)
            case "allow" | "allow_session" | "deny":
                await self._answer(msg.arg, msg.action)
            case "answer":
                await self._answer_question(msg.arg)
            case "list":
                await self._cmd_session(("all",) if msg.arg == "all" else (), msg.correlation_id)
            case "model" | "mode":
                setting = sev.MODEL if msg.action == "model" else sev.PERMISSION_MODE
                await self._change_setting(setting, (msg.arg,), msg.correlation_id, msg.handle)
            case _:
                await self.view.say(self.chat_id, "That button is no longer valid.")

    async def _send_to_active(self, text: str, correlation_id: str) -> None:
        active = self._active()
        if active is None:
            await self._offer_sessions("No active session. Create one or pick one:")
            return
        if not text.strip():
            await self.view.say(self.chat_id, "That message is empty; nothing was sent.")
            return
        await self._queue(active, text, correlation_id)

    async def _queue(self, session: str, text: str, correlation_id: str) -> None:
        """Hand a message to a session and wait until it is in the session's log, so the update
        is marked handled only once nothing can lose it."""
        try:
            await self.deps.sessions(session).ask(sm.UserTurn(text, correlation_id), timeout=30)
        except AskTimeoutError:  # it is in the session's mailbox: it will be handled, in order
            await self._say_about(
                session, "The session is busy for a moment; your message goes to it next."
            )

    async def _cmd_start(self, args: tuple[str, ...], ref: str) -> None:
        await self.view.say(self.chat_id, texts.WELCOME + c.help_text())
        if self._active() is None:
            await self._offer_sessions("Start with a session:")

    async def _cmd_help(self, args: tuple[str, ...], ref: str) -> None:
        await self.view.say(self.chat_id, c.help_text())

    async def _cmd_new(self, args: tuple[str, ...], ref: str) -> None:
        name = check_name(args[0])
        personas = self.deps.personas()
        persona = personas.get(args[1] if len(args) > 1 else "default")
        if persona.cwd is not None:
            cwd = persona.cwd
        else:
            cwd = contained_path(self.deps.sessions_dir, name)
        await asyncio.to_thread(cwd.mkdir, parents=True, exist_ok=True, mode=0o700)
        existing = self.deps.catalog.get(name)
        if existing is None or existing.created_by != ref:  # else: this /new, replayed
            await self.deps.catalog.create(name, persona.name, str(cwd), self.chat_id, ref)
        await self._set_active(name)
        await self.view.say(
            self.chat_id,
            f"Created {name} (persona {persona.name}, in {cwd}). It is now active: "
            "send a message to start.",
        )

    async def _cmd_session(self, args: tuple[str, ...], ref: str) -> None:
        if args and args[0] != "all":
            name = check_name(args[0])
            summary = self.deps.catalog.get(name)
            if summary is None:
                raise SessionError(f"There is no session named {name}. /session lists them.")
            if summary.status == "archived":
                raise SessionError(f"{name} is archived; /unarchive {name} first.")
            await self._set_active(name)
            await self.view.say(self.chat_id, f"Switched to {name} ({summary.persona}).")
            return
        await self._offer_sessions("Sessions:", include_archived=bool(args))

    async def _cmd_archive(self, args: tuple[str, ...], ref: str) -> None:
        name = check_name(args[0])
        if self.deps.catalog.get(name) is None:
            raise SessionError(f"There is no session named {name}.")
        path = await self._ask_session(name, sm.Archive(ref), timeout=300)
        text = f"Archived {name} to {path}."
        if self.state.active == name:
            nxt = next((s.name for s in self.deps.catalog.listed() if s.name != name), None)
            await self._set_active(nxt)
            text += f" Active session is now {nxt}." if nxt else " No session is active now."
        await self.view.say(self.chat_id, text)

    async def _cmd_unarchive(self, args: tuple[str, ...], ref: str) -> None:
        name = check_name(args[0])
        if self.deps.catalog.get(name) is None:
            raise SessionError(f"There is no session named {name}.")
        await self._ask_session(name, sm.Unarchive(ref))
        await self._set_active(name)
        await self.view.say(self.chat_id, f"{name} is back and active.")

    async def _cmd_stop(self, args: tuple[str, ...], ref: str) -> None:
        active = self._active()
        if active is None:
            await self.view.say(self.chat_id, "No active session, so nothing to stop.")
            return
        self.deps.sessions(active).tell(sm.Interrupt(ref))

    async def _cmd_status(self, args: tuple[str, ...], ref: str) -> None:
        active = self._active()
        if active is None:
            await self._offer_sessions("No active session.")
            return
        state: SessionState = await self._ask_session(active, sm.GetState())
        cap: CostCap = await self._ask_session(active, sm.GetCostCap())
        await self.view.say(self.chat_id, texts.status(state, cap))

    async def _cmd_cap(self, args: tuple[str, ...], ref: str) -> None:
        """Without an argument: the spend and the cap. With one: checked here, then handed to
        the session, which logs it and says what it means now."""
        active = self._active()
        if active is None:
            await self._offer_sessions("No active session.")
            return
        if not args:
            cap: CostCap = await self._ask_session(active, sm.GetCostCap())
            await self.view.say(self.chat_id, texts.cost_cap(cap))
            return
        await self._ask_session(active, sm.SetCostCap(cost_cap_choice(args[0]), ref))

    async def _cmd_model(self, args: tuple[str, ...], ref: str) -> None:
        await self._change_setting(sev.MODEL, args, ref)

    async def _cmd_mode(self, args: tuple[str, ...], ref: str) -> None:
        await self._change_setting(sev.PERMISSION_MODE, args, ref)

    async def _change_setting(
        self, setting: str, args: tuple[str, ...], ref: str, handle: int | None = None
    ) -> None:
        """Without an argument: the current value and buttons. With one: checked here, then
        handed to the session; it says how it went (at once, or when claude answers)."""
        active = self._active()
        if active is None:
            await self._offer_sessions("No active session.")
            return
        if not args:
            state: SessionState = await self._ask_session(active, sm.GetState())
            text, buttons = texts.setting_menu(state, setting)
            await self.view.say(self.chat_id, text, buttons=buttons)
            return
        value = model_choice(args[0]) if setting == sev.MODEL else mode_choice(args[0])
        await self._ask_session(active, sm.ChangeSetting(setting, value, ref))
        if handle is not None:  # a menu's button: one choice per menu
            await self.view.close_buttons(self.chat_id, handle, f"{active}: {value} chosen.")

    async def _cmd_personas(self, args: tuple[str, ...], ref: str) -> None:
        catalog = self.deps.personas()
        lines = [
            f"{p.name} — {p.description or 'no description'} ({p.model or 'default model'}, "
            f"{p.permission_mode})"
            for p in (catalog.get(name) for name in catalog.names())
        ]
        lines += [f"⚠ {problem}" for problem in catalog.problems]
        await self.view.say(self.chat_id, "\n".join(lines) or "No personas are configured.")

    async def _cmd_allow(self, args: tuple[str, ...], ref: str) -> None:
        await self._answer(args[0], "allow")

    async def _cmd_allowall(self, args: tuple[str, ...], ref: str) -> None:
        await self._answer(args[0], "allow_session")

    async def _cmd_deny(self, args: tuple[str, ...], ref: str) -> None:
        await self._answer(args[0], "deny")

    async def _cmd_answer(self, args: tuple[str, ...], ref: str) -> None:
        await self._answer_question(args[0])

    async def _answer(self, request_id: str, decision: sm.Decision) -> None:
        question = self.state.questions.get(request_id)
        if question is None:
            await self.view.say(self.chat_id, "That question was already answered or expired.")
            return
        message = q.KEEP_PLANNING if question.kind == "plan" and decision == "deny" else None
        answer = sm.PermissionAnswer(request_id, decision, message=message)
        self.deps.sessions(question.session).tell(answer)

    async def _answer_question(self, arg: str) -> None:
        """One option of one of the agent's questions; the last answer sends them all."""
        parsed = q.parse_answer(arg)
        question = self.state.questions.get(parsed[0]) if parsed else None
        if parsed is None or question is None or parsed[1] >= len(question.questions):
            await self.view.say(self.chat_id, "That question was already answered or expired.")
            return
        request_id, qi, oi = parsed
        asked = question.questions[qi]
        if oi >= len(asked["options"]):
            return
        await self._append(
            cs.QUESTION_ANSWERED,
            request_id=request_id,
            question=asked["question"],
            answer=asked["options"][oi],
        )
        question = self.state.questions[request_id]
        if len(question.answers) == len(question.questions):
            updated = {"answers": dict(question.answers)}  # merged into the agent's own input
            answer = sm.PermissionAnswer(request_id, "allow", updated_input=updated)
            self.deps.sessions(question.session).tell(answer)

    async def _on_file(self, msg: FileArrived) -> None:
        active = self._active()
        if active is None:
            await self._offer_sessions("No active session to put the file in. Pick one:")
            return
        if len(msg.data) > self.deps.upload_limit_bytes:
            limit_mb = self.deps.upload_limit_bytes / 1_048_576
            raise SessionError(f"{msg.filename} is larger than the {limit_mb:g} MB upload limit.")
        summary = self.deps.catalog.get(active)
        assert summary is not None
        name = safe_filename(msg.filename)
        target = contained_path(Path(summary.cwd), "uploads", name)
        await asyncio.to_thread(_write_file, target, msg.data)
        relative = f"uploads/{name}"
        text = (
            f"I uploaded a file: {relative} ({len(msg.data):,} bytes), in your working directory."
        )
        if msg.caption.strip():
            text += "\n\n" + msg.caption
        await self.view.say(self.chat_id, f"Saved {relative} in {active}.")
        await self._queue(active, text, msg.correlation_id)

    async def _on_file_refused(self, msg: FileRefused) -> None:
        size = f" ({msg.size / 1_048_576:.1f} MB)" if msg.size else ""
        await self.view.say(
            self.chat_id,
            f"{msg.filename}{size} was not saved: files over {msg.limit / 1_048_576:g} MB are "
            "refused (bots can download at most 20 MB).",
        )

    # -- what sessions tell us ---------------------------------------------------------------

    async def _on_turn_started(self, msg: n.TurnStarted) -> None:
        self.running.add(msg.turn_id)
        await self.view.typing(self.chat_id, True)
        if msg.merged > 1:
            await self._say_about(
                msg.session, f"Sending your {msg.merged} queued messages together as one turn."
            )
        await self.view.reply_progress(
            self.chat_id, msg.turn_id, self._label(msg.session, ""), None
        )

    async def _on_turn_finished(self, msg: n.TurnFinished) -> None:
        self.running.discard(msg.turn_id)
        if not self.running:
            await self.view.typing(self.chat_id, False)
        notes = []
        if msg.outcome == "interrupted":
            notes.append("⏹ Stopped.")
        if msg.error:
            notes.append(f"⚠ {msg.error}")
        if msg.turn_cost_usd or msg.cost_usd:
            notes.append(
                f"${msg.turn_cost_usd:.4f} this turn · ${msg.cost_usd:.2f} in {msg.session}"
            )
        await self.view.reply_done(
            self.chat_id, msg.turn_id, self._label(msg.session, msg.text), "\n".join(notes) or None
        )
        await self._append(cs.REPLY_DELIVERED, turn_id=msg.turn_id, session=msg.session)

    async def _on_permission_asked(self, msg: n.PermissionAsked) -> None:
        text, buttons, markdown = q.render(msg.request_id, msg.tool, msg.summary, msg.input)
        handle = await self.view.say(
            self.chat_id, self._label(msg.session, text), buttons=buttons, markdown=markdown
        )
        await self._append(
            cs.QUESTION_ASKED,
            request_id=msg.request_id,
            session=msg.session,
            handle=handle,
            summary=msg.summary,
            kind=q.kind_of(msg.tool),
            questions=list(q.questions_of(msg.input)),
        )

    async def _on_permission_closed(self, msg: n.PermissionClosed) -> None:
        question = self.state.questions.get(msg.request_id)
        if question is None:
            return
        await self._append(cs.QUESTION_CLOSED, request_id=msg.request_id, decision=msg.decision)
        if question.handle is not None:
            text = q.verdict(
                question.kind, msg.decision, msg.by_timeout, question.summary, question.answers
            )
            await self.view.close_buttons(self.chat_id, question.handle, text)

    # -- helpers -------------------------------------------------------------------------------

    def _active(self) -> str | None:
        active = self.state.active
        summary = self.deps.catalog.get(active) if active else None
        return active if summary is not None and summary.status == "active" else None

    def _label(self, session: str, text: str) -> str:
        """Replies from a session other than the active one say where they come from."""
        return text if session == self.state.active else f"[{session}] {text}"

    async def _say(self, text: str) -> None:
        await self.view.say(self.chat_id, text)

    async def _say_about(self, session: str, text: str) -> None:
        await self.view.say(self.chat_id, self._label(session, text))

    async def _set_active(self, name: str | None) -> None:
        if self.state.active != name:
            await self._append(cs.ACTIVE_CHANGED, session=name)

    async def _offer_sessions(self, title: str, *, include_archived: bool = False) -> None:
        catalog = self.deps.catalog
        text, buttons = texts.session_list(
            title,
            catalog.listed(include_archived=include_archived),
            self.state.active,
            more_archived=not include_archived
            and any(s.status == "archived" for s in catalog.listed(include_archived=True)),
        )
        await self.view.say(self.chat_id, text, buttons=buttons)

    async def _ask_session(self, name: str, message: Any, *, timeout: float = 30) -> Any:
        try:
            return await self.deps.sessions(name).ask(message, timeout=timeout)
        except AskTimeoutError:
            raise SessionError(f"{name} did not answer in time; try again.") from None

    async def _append(self, type_: str, **data: Any) -> None:
        [event] = await self.deps.store.append(self.stream, [NewEvent(type_, data)])
        self.state = cs.evolve(self.state, event)


@dataclass(frozen=True, slots=True)
class _FileLost:
    """A file logged as received but not saved before a crash (its bytes are not in the log)."""

    filename: str
    correlation_id: str


def _replayable(data: dict[str, Any], ref: str) -> Incoming | Pressed | _FileLost | None:
    kind = data.get("kind")
    if kind == "text":
        return Incoming(data.get("user_id", 0), data.get("text", ""), ref)
    if kind == "button":
        return Pressed(data.get("user_id", 0), data["action"], data["arg"], data.get("handle"), ref)
    if kind == "file":
        return _FileLost(str(data.get("filename") or "a file"), ref)
    return None


def _write_file(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
