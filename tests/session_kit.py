"""A session actor wired to the fake claude over real pipes, a real SQLite log and a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from actors.claude.argv import AgentSettings
from actors.claude.process import spawn_claude
from actors.runtime import ActorRef, ActorSystem
from actors.runtime.testkit import FakeClock, SequentialIds
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session.actor import SessionActor
from actors.session.deps import SessionConfig, SessionDeps
from actors.session.pool import ProcessPool
from eventstore import Event, EventStore, SqliteEventStore
from tests import log_truth

FAKE_CLAUDE = str(Path(__file__).parent / "fakes" / "fake_claude.py")


def fake_claude_config(tmp: Path, text: str = "", **claude_env: str) -> Path:
    """A config file under ``tmp`` whose ``claude.env`` gives the fake its state directory
    (claude gets no other variables of the test's environment), then ``text`` after it. The
    state directory is also ``CLAUDE_CONFIG_DIR``: the fake keeps its conversations there as
    the real CLI does in its config directory, where ``/resume`` looks for them."""
    state = str(tmp / "fake-state")
    env = {"FAKE_CLAUDE_STATE_DIR": state, "CLAUDE_CONFIG_DIR": state, **claude_env}
    path = tmp / "pocketcode.yaml"
    tmp.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"claude": {"env": env}}) + text, encoding="utf-8")
    return path


@dataclass
class Inbox:
    """What the chat actor would have been told, awaitable without sleeps."""

    notices: list[tuple[int, object]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __call__(self, chat_id: int, notice: object) -> None:
        self.notices.append((chat_id, notice))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def of(self, kind: type) -> list[Any]:
        return [x for _, x in self.notices if isinstance(x, kind)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 15) -> Any:
        async def until() -> Any:
            async with self.changed:
                return await self.changed.wait_for(predicate)

        return await asyncio.wait_for(until(), timeout)

    def said(self) -> list[str]:
        """The session's notices to the chat, in order."""
        return [x.text for x in self.of(n.SessionNotice)]

    async def told(self, needle: str) -> str:
        """The first notice holding ``needle``, once it has been told."""
        await self.wait_for(lambda: any(needle in t for t in self.said()))
        return next(t for t in self.said() if needle in t)

    async def finished(self, count: int = 1) -> list[n.TurnFinished]:
        await self.wait_for(lambda: len(self.of(n.TurnFinished)) >= count)
        return self.of(n.TurnFinished)


@dataclass
class SessionKit:
    store: EventStore
    tmp: Path
    clock: FakeClock = field(default_factory=FakeClock)
    inbox: Inbox = field(default_factory=Inbox)
    config: SessionConfig | None = None
    settings: AgentSettings = field(default_factory=AgentSettings)
    max_processes: int = 4
    system: ActorSystem = field(init=False)
    pool: ProcessPool = field(init=False)

    def __post_init__(self) -> None:
        self.system = ActorSystem(clock=self.clock, ids=SequentialIds("turn"))
        self.clock.attach(self.system)
        log_truth.track(self.system)
        self.pool = ProcessPool(self.max_processes)
        self.config = self.config or SessionConfig(
            claude_bin=FAKE_CLAUDE,
            env=(("FAKE_CLAUDE_STATE_DIR", str(self.tmp / "fake-state")),),
        )

    def deps(self) -> SessionDeps:
        assert self.config is not None
        return SessionDeps(
            store=self.store,
            spawner=spawn_claude,
            notify=self.inbox,
            settings_for=lambda _persona: self.settings,
            pool=self.pool,
            config=self.config,
        )

    async def create(self, name: str, chat_id: int = 42) -> ActorRef[Any]:
        """Spawn the session's actor and have it write its first event (it is the only
        writer of its stream)."""
        cwd = self.tmp / "sessions" / name
        cwd.mkdir(parents=True, exist_ok=True)
        ref = self.spawn(name)
        await ref.ask(m.Create("default", str(cwd), chat_id))
        return ref

    def spawn(self, name: str) -> ActorRef[Any]:
        return self.system.spawn(lambda: SessionActor(name, self.deps()), f"session:{name}")

    async def stop(self) -> None:
        """Stop the actors (a restart, when another kit spawns them again), first checking
        that each one's state is the fold of its log."""
        await log_truth.compare(self.system)
        await self.system.stop_all()

    async def events(self, name: str) -> list[Event]:
        return await self.store.read_stream(ev.stream_of(name))

    async def types(self, name: str) -> list[str]:
        return [e.type for e in await self.events(name)]


@contextlib.asynccontextmanager
async def open_session_kit(tmp: Path, **options: Any) -> AsyncIterator[SessionKit]:
    """A kit on a fresh SQLite log under ``tmp`` that records the kit's clock's time; its
    actors and log closed after."""
    clock = options.pop("clock", None) or FakeClock()
    store = await SqliteEventStore.open(tmp / "log.db", now=clock.now)
    kit = SessionKit(store, tmp, clock=clock, **options)
    try:
        yield kit
        await log_truth.compare(kit.system)  # (again, if the test stopped it: nothing runs)
    finally:
        await kit.system.stop_all()
        await store.close()
