"""At most N live claude processes (an idle one holds ~245 MB): least recently used goes first."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from actors.runtime import ActorRef
from actors.session.messages import StopProcess


class ProcessPool:
    def __init__(self, max_processes: int) -> None:
        self.max_processes = max_processes
        self._live: OrderedDict[str, tuple[ActorRef[Any], bool]] = OrderedDict()

    def __contains__(self, name: str) -> bool:
        return name in self._live

    def __len__(self) -> int:
        return len(self._live)

    def started(self, name: str, ref: ActorRef[Any]) -> None:
        """Register a new process and ask the least recently used idle ones to stop."""
        self._live[name] = (ref, False)
        self._live.move_to_end(name)
        excess = len(self._live) - self.max_processes
        for other, (other_ref, busy) in list(self._live.items()):
            if excess <= 0:
                break
            if other != name and not busy:
                other_ref.tell(StopProcess("too many claude processes; least recently used"))
                excess -= 1

    def touch(self, name: str, *, busy: bool) -> None:
        if name in self._live:
            ref, _ = self._live[name]
            self._live[name] = (ref, busy)
            self._live.move_to_end(name)

    def stopped(self, name: str) -> None:
        self._live.pop(name, None)
