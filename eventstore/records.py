"""Immutable event records: what callers append and what the log gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event not yet recorded: the log assigns its sequence, version and time."""

    type: str
    data: JSON = field(default_factory=dict)
    schema_version: int = 1
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A recorded event. Never rewritten: old schema versions are upcast on read."""

    seq: int
    stream: str
    version: int
    type: str
    schema_version: int
    data: JSON
    at: datetime
    correlation_id: str | None = None

    def to_json(self) -> JSON:
        return {
            "seq": self.seq,
            "stream": self.stream,
            "version": self.version,
            "type": self.type,
            "schema_version": self.schema_version,
            "data": self.data,
            "at": self.at.isoformat(),
            "correlation_id": self.correlation_id,
        }

    @classmethod
    def from_json(cls, obj: JSON) -> Event:
        return cls(
            seq=obj["seq"],
            stream=obj["stream"],
            version=obj["version"],
            type=obj["type"],
            schema_version=obj["schema_version"],
            data=obj["data"],
            at=datetime.fromisoformat(obj["at"]),
            correlation_id=obj.get("correlation_id"),
        )
