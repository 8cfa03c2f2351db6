"""The composition root: the one place that wires store, actors, personas and a front.

Everything injectable (clock, ids, process spawner, view) is passed in here, so tests build
the same app with fakes and the real service builds it with the real parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from actors.chat import state as cs
from actors.chat.actor import ChatActor
from actors.chat.context import ChatDeps
from actors.chat.inbound import RECEIVED, Inbound, replayable
from actors.chat.transcription import NoTranscriber, Transcriber
from actors.chat.view import ChatView
from actors.claude import store
from actors.claude.environment import claude_environment
from actors.claude.process import Spawner, spawn_claude
from actors.routines.actor import SchedulerActor
from actors.routines.deps import SchedulerDeps
from actors.runtime import (
    ActorRef,
    ActorSystem,
    Clock,
    IdFactory,
    Registry,
    SystemClock,
    uuid_ids,
)
from actors.session import events as ev
from actors.session import messages as sm
from actors.session.actor import SessionActor
from actors.session.catalog import SessionCatalog
from actors.session.deps import SessionConfig, SessionDeps
from actors.session.pool import ProcessPool
from eventstore import EventStore, NewEvent
from personas.catalog import PersonaCatalog
from service.config import Config, database_exposed, own_dirs, persona_catalog, secret_values
from service.errors import ConfigError
from service.eventlog import open_store
from service.intake import Intake
from service.redaction import RedactingStore, RedactingView, Secrets
from service.voice import build_transcriber

log = structlog.get_logger("app")


@dataclass
class App:
    settings: Config
    #: Redacts pocketcode's secrets from every event before it is appended (``open_app``).
    store: EventStore
    system: ActorSystem
    catalog: SessionCatalog
    pool: ProcessPool
    spawner: Spawner
    view: ChatView | None = None
    transcriber: Transcriber = field(default_factory=NoTranscriber)
    secrets: Secrets = field(default_factory=Secrets)
    sessions: Registry[str] = field(init=False)
    chats: Registry[int] = field(init=False)
    intake: Intake = field(init=False)
    _reaper: asyncio.Task[None] | None = None
    _scheduler: ActorRef[Any] | None = None

    def __post_init__(self) -> None:
        claude = self.settings.claude
        self.sessions = Registry(
            self.system,
            self._session_actor,
            prefix="session",
            idle_after_s=claude.idle_timeout_s + 60,
        )
        self.chats = Registry(self.system, self._chat_actor, prefix="chat", idle_after_s=3600)
        self.intake = Intake(self.store, self.hand_over)

    # -- wiring --------------------------------------------------------------------------------

    def personas(self) -> PersonaCatalog:
        return persona_catalog(self.settings)

    def _session_actor(self, name: str) -> SessionActor:
        claude = self.settings.claude

        def settings_for(persona: str) -> Any:
            return self.personas().get(persona).agent_settings()

        def archive_workdir(persona: str) -> bool:
            return self.personas().archives_workdir(persona)

        config = SessionConfig(
            claude_bin=claude.bin,
            idle_timeout_s=claude.idle_timeout_s,
            turn_timeout_s=claude.turn_timeout_s,
            permission_timeout_s=claude.permission_timeout_s,
            max_cost_usd=claude.max_cost_usd,
            env=tuple(sorted(claude.env.items())),
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
            view=RedactingView(self.view, self.secrets),
            catalog=self.catalog,
            sessions=self.sessions.get,
            personas=self.personas,
            sessions_dir=self.settings.sessions_dir,
            upload_limit_bytes=self.settings.telegram.upload_limit_mb * 1024 * 1024,
            transcriber=self.transcriber,
            routines=self.scheduler,
            claude_dir=self.claude_dir(),
            own_dirs=own_dirs(self.settings),
            now=self.system.clock.now,
        )
        return ChatActor(chat_id, deps)

    def claude_dir(self) -> Path | None:
        """Where the claude that sessions run keeps its conversations: its config directory
        in the environment it starts with (``claude.env`` over pocketcode's own)."""
        env, _ = claude_environment(os.environ, self.settings.claude.env)
        return store.config_dir(env)

    def scheduler(self) -> ActorRef[Any]:
        """The routines' scheduler (one for the app), started on first use."""
        if self._scheduler is None or not self._scheduler.alive:
            deps = SchedulerDeps(
                store=self.store,
                sessions=self.sessions.get,
                catalog=self.catalog,
                notify=self.notify,
                tz=self.settings.zone,
                catch_up=self.settings.routines.catch_up,
            )
            self._scheduler = self.system.spawn(lambda: SchedulerActor(deps), "routines")
        return self._scheduler

    def notify(self, chat_id: int, notice: object) -> None:
        self.chats.get(chat_id).tell(notice)

    def hand_over(self, chat_id: int, message: object) -> None:
        """A logged update, to its chat actor's mailbox (in order with the chat's others)."""
        self.chats.get(chat_id).tell(message)

    # -- the front's entry points ---------------------------------------------------------------

    async def deliver(self, chat_id: int, message: Inbound) -> None:
        """Log the update durably (once), then hand it to the chat actor (``Intake``).

        The front awaits this before Telegram is told the update was received, so a crash
        neither loses a message nor handles it twice.
        """
        await self.intake.deliver(chat_id, message)

    async def on_denied(self, info: dict[str, Any]) -> None:
        """A stranger's update (a few per sender per hour): logged without what they wrote."""
        log.warning("access.denied", **{k: v for k, v in info.items() if k != "text"})
        await self.store.append("access:denied", [NewEvent(cs.ACCESS_DENIED, info)])

    # -- lifecycle -----------------------------------------------------------------------------

    async def recover(self) -> None:
        """After a restart: restart the actors the log says have unfinished business."""
        unhandled = await self._unhandled_updates()
        owed = await self._owed_replies()  # read before in-flight turns get ended below
        for summary in self.catalog.listed(include_archived=True):
            if summary.in_flight:
                log.info("recover.session", session=summary.name)
                if summary.chat_id is not None:
                    self.chats.get(summary.chat_id)
                self.sessions.get(summary.name)
        for name, turn_id in owed:
            self.sessions.get(name).tell(sm.Redeliver(turn_id))
        for chat_id, updates in unhandled.items():
            log.info("recover.chat", chat_id=chat_id, unhandled=len(updates))
            for ref, data in updates:  # logged before the crash, never handled: hand over now
                self.hand_over(chat_id, replayable(data, ref))
        self.scheduler()  # the routines' timers, set again from the log

    async def _unhandled_updates(self) -> dict[int, list[tuple[str, dict[str, Any]]]]:
        """Updates logged and not handled, per chat, in the order they came."""
        received: dict[str, tuple[int, dict[str, Any]]] = {}
        async for event in self.store.read_all(types={RECEIVED, cs.UPDATE_HANDLED}):
            if event.type == RECEIVED:
                received[event.correlation_id or ""] = (event.data["chat_id"], event.data)
            else:
                received.pop(event.data.get("ref", ""), None)
        unhandled: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        for ref, (chat_id, data) in received.items():
            unhandled.setdefault(chat_id, []).append((ref, data))
        return unhandled

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
    settings: Config,
    *,
    spawner: Spawner = spawn_claude,
    clock: Clock | None = None,
    ids: IdFactory = uuid_ids,
) -> App:
    clock = clock or SystemClock()
    await asyncio.to_thread(make_private_dirs, settings)
    secrets = Secrets(secret_values(settings))
    store = RedactingStore(await open_store(settings, now=clock.now), secrets)

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
    pool = ProcessPool(settings.claude.max_processes)
    app = App(settings, store, system, catalog, pool, spawner, secrets=secrets)
    app.transcriber = build_transcriber(settings.voice, settings.models_dir)
    for problem in app.personas().problems:
        log.warning("persona.problem", problem=str(problem))
    return app


def make_private_dirs(settings: Config) -> None:
    """Create the data directory and what pocketcode keeps in it readable by the owner only.

    A directory that exists keeps its mode: its owner chose it (say 0750 for a backup group).
    The database is refused when others can read it, as no one should by accident.
    """
    for path in (
        settings.data_dir,
        settings.db_path.parent,
        settings.sessions_dir,
        settings.archive_dir,
    ):
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.chmod(0o700)  # mkdir's mode is cut by the umask
    if (problem := database_exposed(settings.db_path)) is not None:
        raise ConfigError(problem)
