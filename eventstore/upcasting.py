"""Upcasting: old event schema versions are translated on read, never rewritten on disk."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from eventstore.records import JSON

Upcaster = Callable[[JSON], JSON]
#: (event type, schema version it reads) -> function producing the next version's payload.
Upcasters = Mapping[tuple[str, int], Upcaster]


def upcast(upcasters: Upcasters, type_: str, schema_version: int, data: JSON) -> tuple[int, JSON]:
    """Apply v1 -> v2 -> ... until no upcaster is registered for the current version."""
    while (step := upcasters.get((type_, schema_version))) is not None:
        data = step(data)
        schema_version += 1
    return schema_version, data
