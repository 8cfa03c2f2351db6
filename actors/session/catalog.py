"""The directory of all sessions: a projection of the session streams' lifecycle events, and
beside it the claude conversations they drive (``conversations``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType

from actors.session import events as ev
from actors.session.conversations import DrivenConversations
from eventstore import Event, EventStore, fold

#: The only event types the directory needs, so a rebuild skips the stdout firehose.
CATALOG_TYPES = frozenset(
    {ev.CREATED, ev.MESSAGE_QUEUED, ev.TURN_STARTED, ev.TURN_ENDED, ev.ARCHIVED, ev.UNARCHIVED}
)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    name: str
    persona: str
    cwd: str
    chat_id: int | None
    status: str
    created_at: datetime
    last_used_at: datetime
    open_turn: bool = False
    queued: int = 0
    #: Correlation id of the update that created it.
    created_by: str | None = None

    @property
    def in_flight(self) -> bool:
        """A turn open or messages waiting: after a restart its actor must see to them."""
        return self.open_turn or self.queued > 0


Directory = Mapping[str, SessionSummary]


def evolve_directory(directory: Directory, event: Event) -> Directory:
    if event.type == ev.CREATED:
        d = event.data
        summary = SessionSummary(
            d["name"],
            d["persona"],
            d["cwd"],
            d.get("chat_id"),
            "active",
            event.at,
            event.at,
            created_by=event.correlation_id,
        )
        return {**directory, summary.name: summary}
    name = event.stream.removeprefix("session:")
    current = directory.get(name)
    if current is None:
        return directory
    if event.type == ev.MESSAGE_QUEUED:
        return {**directory, name: replace(current, queued=current.queued + 1)}
    if event.type == ev.TURN_STARTED:
        merged = event.data.get("merged", 1)
        changed = replace(
            current, last_used_at=event.at, open_turn=True, queued=max(0, current.queued - merged)
        )
        return {**directory, name: changed}
    if event.type == ev.TURN_ENDED:
        return {**directory, name: replace(current, open_turn=False)}
    if event.type == ev.ARCHIVED:
        return {**directory, name: replace(current, status="archived")}
    if event.type == ev.UNARCHIVED:
        return {**directory, name: replace(current, status="active")}
    return directory


class SessionExistsError(ValueError):
    pass


class SessionCatalog:
    """Holds the directory projection; session actors feed it the events they append (it
    never writes: each session's stream has its actor as its only writer)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._directory: Directory = {}
        #: The claude conversations the sessions drive (read from the log when first asked).
        self.conversations = DrivenConversations(store)

    async def load(self) -> None:
        events = [
            e async for e in self.store.read_all(stream_prefix="session:", types=CATALOG_TYPES)
        ]
        self._directory = fold(evolve_directory, {}, events)

    def observe(self, event: Event) -> None:
        self.conversations.observe(event)
        if event.type in CATALOG_TYPES:
            self._directory = evolve_directory(self._directory, event)

    @property
    def directory(self) -> Directory:
        return MappingProxyType(dict(self._directory))

    def get(self, name: str) -> SessionSummary | None:
        return self._directory.get(name)

    def listed(self, *, include_archived: bool = False) -> list[SessionSummary]:
        """Most recently used first."""
        rows = [s for s in self._directory.values() if include_archived or s.status == "active"]
        return sorted(rows, key=lambda s: s.last_used_at, reverse=True)
