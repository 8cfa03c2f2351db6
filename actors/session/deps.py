"""What a session actor is built from: its settings, and the services the composition root
(``service.app``) hands it, so tests swap in fakes without monkeypatching."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from actors.claude.argv import AgentSettings
from actors.claude.process import Spawner
from actors.session.pool import ProcessPool
from eventstore import Event, EventStore, NewEvent

#: Tells the chat actor of ``chat_id`` something (a ``actors.session.notices`` value).
Notify = Callable[[int, object], None]
#: Resolves a persona name to the CLI settings it asks for.
SettingsFor = Callable[[str], AgentSettings]
#: The actor's append, handed to its collaborators: logs an event, then folds it into the state.
Append = Callable[[NewEvent], Awaitable[Event]]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    claude_bin: str = "claude"
    idle_timeout_s: float = 1800.0
    turn_timeout_s: float = 1800.0
    permission_timeout_s: float = 300.0
    #: The cost cap of sessions that never set their own with ``/cap`` (read live: see
    #: ``SessionState.cost_cap``); None: no cap.
    max_cost_usd: float | None = None
    kill_after_interrupt_s: float = 30.0
    env: tuple[tuple[str, str], ...] = ()
    archive_dir: Path | None = None


@dataclass(slots=True)
class SessionDeps:
    store: EventStore
    spawner: Spawner
    notify: Notify
    settings_for: SettingsFor
    pool: ProcessPool
    config: SessionConfig
    #: Whether a persona asks for its working directory to go into archives.
    archive_workdir: Callable[[str], bool] = lambda _persona: False
    #: Sees every event this session appends (the session directory projection).
    observe: Callable[[Event], None] = lambda _event: None
