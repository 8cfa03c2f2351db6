"""How many of a stranger's updates are recorded: a few per hour, the rest only counted.

Why: every denied update is appended to the event log, which is never trimmed, so a stranger
sending thousands of messages would grow it without bound. The count of the dropped ones goes
with the next one recorded, so nothing is hidden, only summed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Sender:
    since: float
    recorded: int = 0
    dropped: int = 0


@dataclass
class DenialLimiter:
    """At most ``per_window`` denials per sender in ``window_s`` are recorded; the rest are
    counted. At most ``max_senders`` are remembered (the longest quiet is forgotten first)."""

    per_window: int = 5
    window_s: float = 3600.0
    max_senders: int = 10_000
    now: Callable[[], float] = time.monotonic
    _senders: OrderedDict[int, _Sender] = field(default_factory=OrderedDict)

    def admit(self, sender: int) -> int | None:
        """None: drop this one (it is counted). Else record it, with this many dropped before."""
        at = self.now()
        entry = self._senders.pop(sender, None)
        if entry is None or at - entry.since >= self.window_s:
            entry = _Sender(at, dropped=entry.dropped if entry else 0)
        self._senders[sender] = entry  # the most recent last
        while len(self._senders) > self.max_senders:
            self._senders.popitem(last=False)
        if entry.recorded >= self.per_window:
            entry.dropped += 1
            return None
        entry.recorded += 1
        dropped, entry.dropped = entry.dropped, 0
        return dropped
