"""A session's timers by name (a turn's timeout, a question's, idle, backoff, kill): setting a
name again replaces its timer, so a later deadline never leaves an earlier one armed."""

from __future__ import annotations

from collections.abc import Callable

from actors.runtime import Timer

#: Tells the actor ``message`` after ``delay`` seconds (``ActorContext.schedule``).
Schedule = Callable[[float, object], Timer]


class Timers:
    """Named one-shot timers of one actor."""

    def __init__(self, schedule: Schedule) -> None:
        self._schedule = schedule
        self._armed: dict[str, Timer] = {}

    def set(self, key: str, delay: float, message: object) -> None:
        self.cancel(key)
        self._armed[key] = self._schedule(delay, message)

    def cancel(self, key: str) -> None:
        timer = self._armed.pop(key, None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> None:
        for timer in self._armed.values():
            timer.cancel()
