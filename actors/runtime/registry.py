"""Actors by key, spawned on first use (one per chat, one per session), stopped when idle."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

from actors.runtime.actor import Actor, ActorRef
from actors.runtime.supervision import RestartPolicy
from actors.runtime.system import ActorSystem

K = TypeVar("K", bound=Hashable)


class Registry(Generic[K]):
    def __init__(
        self,
        system: ActorSystem,
        factory: Callable[[K], Actor[Any]],
        *,
        prefix: str,
        idle_after_s: float | None = None,
        policy: RestartPolicy | None = None,
    ) -> None:
        self.system = system
        self.factory = factory
        self.prefix = prefix
        self.idle_after_s = idle_after_s
        self.policy = policy
        self._refs: dict[K, ActorRef[Any]] = {}

    def name(self, key: K) -> str:
        return f"{self.prefix}:{key}"

    def get(self, key: K) -> ActorRef[Any]:
        ref = self._refs.get(key)
        if ref is None or not ref.alive:
            ref = self.system.spawn(lambda: self.factory(key), self.name(key), policy=self.policy)
            self._refs[key] = ref
        return ref

    def peek(self, key: K) -> ActorRef[Any] | None:
        ref = self._refs.get(key)
        return ref if ref is not None and ref.alive else None

    def __iter__(self) -> Iterator[K]:
        return iter([k for k, ref in self._refs.items() if ref.alive])

    async def stop(self, key: K) -> None:
        ref = self._refs.pop(key, None)
        if ref is not None:
            await ref.stop()

    async def reap_idle(self) -> list[K]:
        """Stop actors with an empty mailbox and no message for ``idle_after_s``."""
        if self.idle_after_s is None:
            return []
        now = self.system.clock.monotonic()
        reaped = []
        for key, ref in list(self._refs.items()):
            cell = self.system.cells.get(ref.name)
            if cell is None or (cell.idle and now - cell.last_activity >= self.idle_after_s):
                reaped.append(key)
                await self.stop(key)
        return reaped
