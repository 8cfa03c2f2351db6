"""The composition root: the one place that wires store, actors, personas and a front.

Everything injectable (clock, ids, process spawner, view) is passed in here, so tests build
the same app with fakes and the real service builds it with the real parts.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import structlog

from actors.chat import state as cs
from actors.chat.actor import ChatActor
from actors.chat.context import ChatDeps
from actors.chat.inbound import FileArrived, FileRefused, Inbound, Incoming, Pressed
from actors.chat.view import ChatView
from actors.runtime import ActorSystem, Clock, IdFactory, Registry, SystemClock, uuid_ids
from actors.session import events as ev
from actors.session import messages as sm
from actors.session.actor import SessionActor
from actors.session.catalog import SessionCatalog
from actors.session.deps import SessionConfig, SessionDeps
from actors.session.pool import ProcessPool
from eventstore import EventStore, NewEvent
from personas import SHIPPED_DIR
from service.claude.process import Spawner, spawn_claude
from service.config import Settings
from service.eventlog import open_store
from service.personas import PersonaCatalog, load_personas

log = structlog.get_logger("app")


@dataclass
class App:
    settings: Settings
    store: EventStore
    system: ActorSystem
    catalog: SessionCatalog
    pool: ProcessPool
    spawner: Spawner
    view: ChatView | None = None
    sessions: Registry[str] = field(init=False)
    chats: Registry[int] = field(init=False)
    last_update_id: int = 0
    _reaper: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        claude = self.settings.claude
        self.sessions = Registry(
            self.system,
            self._session_actor,
            prefix="session",
            idle_after_s=claude.idle_timeout_s + 60,
        )
        self.chats = Registry(self.system, self._chat_actor, prefix="chat", idle_after_s=3600)

    # -- wiring --------------------------------------------------------------------------------

    def personas(self) -> PersonaCatalog:
        """Read on use, so an edited persona file counts without a restart."""
        dirs = [SHIPPED_DIR]
        if self.settings.personas_dir is not None:
            dirs.append(self.settings.personas_dir)
        return load_personas(dirs)

    def _session_actor(self, name: str) -> SessionActor:
        claude = self.settings.claude

        def settings_for(persona: str) -> Any:
            return self.personas().get(persona).agent_settings()

        def archive_workdir(persona: str) -> bool:
            catalog = self.personas()
            return persona in catalog and catalog.get(persona).archive_workdir

        config = SessionConfig(
            claude_bin=claude.bin,
            idle_timeout_s=claude.idle_timeout_s,
            turn_timeout_s=claude.turn_timeout_s,
            permission_timeout_s=claude.permission_timeout_s,
            max_cost_usd=claude.max_cost_usd,
            archive_dir=self.settings.archive_dir,
        )
        deps = SessionDeps(
            store=self.store,
            spawner=self.spawner,
            notify=self.notify,
            settings_for=settings_for,
            pool=self.pool,
            config=config,
            archive_workdir=archive_workdir,
            observe=self.catalog.observe,
        )
        return SessionActor(name, deps)

    def _chat_actor(self, chat_id: int) -> ChatActor:
        assert self.view is not None, "a front must set the view before chats start"
        deps = ChatDeps(
            store=self.store,
            view=self.view,
            catalog=self.catalog,
            sessions=self.sessions.get,
            personas=self.personas,
            sessions_dir=self.settings.sessions_dir,
            upload_limit_bytes=self.settings.telegram.upload_limit_mb * 1024 * 1024,
        )
        return ChatActor(chat_id, deps)

    def notify(self, chat_id: int, notice: object) -> None:
        self.chats.get(chat_id).tell(notice)

    # -- the front's entry points ---------------------------------------------------------------

    async def deliver(self, chat_id: int, message: Inbound) -> None:
        """Log the update durably (once), then hand it to the chat actor.

        The front awaits this before Telegram is told the update was received, so a crash
        neither loses a message nor handles it twice.
        """
        update_id = _update_id(message.correlation_id)
        if update_id is not None:
            if update_id <= self.last_update_id:
                log.info("telegram.duplicate_update", update_id=update_id)
                return
            self.last_update_id = update_id
        await self.store.append(
            cs.stream_of(chat_id),
            [
                NewEvent(
                    cs.UPDATE_RECEIVED,
                    _record(message, update_id),
                    correlation_id=message.correlation_id,
                )
            ],
        )
        self.chats.get(chat_id).tell(message)

    async def on_denied(self, info: dict[str, Any]) -> None:
        log.warning("access.denied", **info)
        await self.store.append("access:denied", [NewEvent(cs.ACCESS_DENIED, info)])

    # -- lifecycle -----------------------------------------------------------------------------

    async def recover(self) -> None:
        """After a restart: restart the actors the log says have unfinished business."""
        unhandled: dict[int, set[str]] = {}
        async for event in self.store.read_all(
            stream_prefix="chat:", types={cs.UPDATE_RECEIVED, cs.UPDATE_HANDLED}
        ):
            chat_id = int(event.stream.removeprefix("chat:"))
            refs = unhandled.setdefault(chat_id, set())
            if event.type == cs.UPDATE_RECEIVED:
                refs.add(event.correlation_id or "")
                self.last_update_id = max(self.last_update_id, event.data.get("update_id") or 0)
            else:
                refs.discard(event.data.get("ref", ""))
        owed = await self._owed_replies()  # read before in-flight turns get ended below
        for summary in self.catalog.listed(include_archived=True):
            if summary.in_flight:
                log.info("recover.session", session=summary.name)
                if summary.chat_id is not None:
                    self.chats.get(summary.chat_id)
                self.sessions.get(summary.name)
        for name, turn_id in owed:
            self.sessions.get(name).tell(sm.Redeliver(turn_id))
        for chat_id, refs in unhandled.items():
            if refs:
                log.info("recover.chat", chat_id=chat_id, unhandled=len(refs))
                self.chats.get(chat_id)

    async def _owed_replies(self, *, per_session: int = 3) -> list[tuple[str, str]]:
        """Replies a crash kept from the chat: turns that ended with no delivery recorded."""
        ended: dict[str, list[str]] = {}
        delivered: set[str] = set()
        async for event in self.store.read_all(types={ev.TURN_ENDED, cs.REPLY_DELIVERED}):
            if event.type == cs.REPLY_DELIVERED:
                delivered.add(event.data["turn_id"])
            else:
                ended.setdefault(event.stream.removeprefix("session:"), []).append(
                    event.data["turn_id"]
                )
        owed = []
        for name, turn_ids in ended.items():
            summary = self.catalog.get(name)
            if summary is None or summary.chat_id is None:
                continue
            for turn_id in turn_ids[-per_session:]:
                if turn_id not in delivered:
                    log.info("recover.redeliver", session=name, turn_id=turn_id)
                    owed.append((name, turn_id))
        return owed

    def start_reaper(self, every_s: float = 60.0) -> None:
        async def reap() -> None:
            while True:
                await self.system.clock.sleep(every_s)
                await self.chats.reap_idle()
                await self.sessions.reap_idle()

        self._reaper = asyncio.create_task(reap(), name="reaper")

    async def shutdown(self) -> None:
        """Interrupt running turns, stop processes, flush the log: a restart is not a crash."""
        if self._reaper is not None:
            self._reaper.cancel()
        for name in list(self.sessions):
            ref = self.sessions.peek(name)
            if ref is not None:
                with contextlib.suppress(Exception):
                    await ref.ask(sm.Shutdown(), timeout=15)
        await self.system.stop_all()
        await self.store.close()


async def open_app(
    settings: Settings,
    *,
    spawner: Spawner = spawn_claude,
    clock: Clock | None = None,
    ids: IdFactory = uuid_ids,
) -> App:
    clock = clock or SystemClock()
    await asyncio.to_thread(make_private_dirs, settings)
    store = await open_store(settings, now=clock.now)

    async def on_failure(name: str, exc: BaseException, escalated: bool) -> None:
        await store.append(
            "system:actors",
            [
                NewEvent(
                    "actor.failed",
                    {
                        "actor": name,
                        "error": f"{type(exc).__name__}: {exc}",
                        "escalated": escalated,
                    },
                )
            ],
        )

    system = ActorSystem(clock=clock, ids=ids, on_failure=on_failure)
    catalog = SessionCatalog(store)
    await catalog.load()
    app = App(settings, store, system, catalog, ProcessPool(settings.claude.max_processes), spawner)
    for problem in app.personas().problems:
        log.warning("persona.problem", problem=str(problem))
    return app


def make_private_dirs(settings: Settings) -> None:
    """The data directory and what pocketcode keeps in it: readable by the owner only."""
    for path in (
        settings.data_dir,
        settings.db_path.parent,
        settings.sessions_dir,
        settings.archive_dir,
    ):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)


def _update_id(correlation_id: str) -> int | None:
    head, _, number = correlation_id.partition("-")
    return int(number) if head == "upd" and number.isdigit() else None


def _record(message: Inbound, update_id: int | None) -> dict[str, Any]:
    """What the log keeps of an update: enough to handle it again after a crash."""
    base: dict[str, Any] = {"update_id": update_id, "user_id": message.user_id}
    match message:
        case Incoming():
            return {**base, "kind": "text", "text": message.text}
        case Pressed():
            return {
                **base,
                "kind": "button",
                "action": message.action,
                "arg": message.arg,
                "handle": message.handle,
            }
        case FileArrived():
            return {
                **base,
                "kind": "file",
                "filename": message.filename,
                "size": len(message.data),
                "caption": message.caption,
            }
        case FileRefused():
            return {**base, "kind": "refused", "filename": message.filename, "size": message.size}
