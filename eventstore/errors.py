"""Errors of the event log: one root, a few precise kinds a caller can act on."""

from __future__ import annotations


class EventStoreError(Exception):
    """Root of every error the event log raises."""


class ConcurrencyError(EventStoreError):
    """Another writer appended to the stream first: reload, decide again, retry."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream!r} is at version {actual}, not the expected {expected}: "
            "someone else appended first"
        )
        self.stream = stream
        self.expected = expected
        self.actual = actual


class SchemaTooNewError(EventStoreError):
    """The database was written by a newer pocketcode; it is refused, never altered."""


class NotAnEventLogError(EventStoreError):
    """The file is not a SQLite database (or not one of ours)."""


class StoreClosedError(EventStoreError):
    """Append or read after close."""


class StoreUnavailableError(EventStoreError):
    """The database behind the log cannot be reached, or refused the operation."""


class FencedError(EventStoreError):
    """The append carried a lease this writer no longer holds (it lapsed, or another writer
    took it over): nothing was written, and this writer must stop writing for it."""
