"""Restart policy: bounded exponential backoff, escalate when failures pile up."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    max_restarts: int = 3
    within_s: float = 60.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0


@dataclass(slots=True)
class RestartWindow:
    """Failure times inside the policy's window; decides restart-after-backoff or escalate."""

    policy: RestartPolicy
    failures: deque[float] = field(default_factory=deque)

    def record(self, now: float) -> float | None:
        """Register a failure; the backoff before restarting, or None to escalate."""
        self.failures.append(now)
        while self.failures and now - self.failures[0] > self.policy.within_s:
            self.failures.popleft()
        count = len(self.failures)
        if count > self.policy.max_restarts:
            return None
        backoff: float = self.policy.backoff_initial_s * 2.0 ** (count - 1)
        return min(backoff, self.policy.backoff_max_s)
