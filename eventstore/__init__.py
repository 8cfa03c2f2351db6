"""The append-only event log everything in pocketcode is rebuilt from."""

from eventstore.errors import (
    ConcurrencyError,
    EventStoreError,
    NotAnEventLogError,
    SchemaTooNewError,
    StoreClosedError,
)
from eventstore.memory import MemoryEventStore
from eventstore.projection import fold
from eventstore.records import Event, NewEvent
from eventstore.schema import SCHEMA_VERSION
from eventstore.sqlite import SqliteEventStore
from eventstore.store import NO_STREAM, EventStore, WrappedStore

__all__ = [
    "NO_STREAM",
    "SCHEMA_VERSION",
    "ConcurrencyError",
    "Event",
    "EventStore",
    "EventStoreError",
    "MemoryEventStore",
    "NewEvent",
    "NotAnEventLogError",
    "SchemaTooNewError",
    "SqliteEventStore",
    "StoreClosedError",
    "WrappedStore",
    "fold",
]
