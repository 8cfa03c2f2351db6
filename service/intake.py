"""The intake: every update is logged before anything acts on it, and acknowledged after.

A front hands updates to ``deliver``. Each is appended as the one event of its own stream
(``update:<correlation id>``) with ``expected_version`` 0, so the log itself refuses a second
copy, however it comes (Telegram redelivering, webhook retries over parallel connections, out of
order): deduplication by the ids actually logged. A batch (one ``getUpdates`` answer) goes into
the log as one group commit; only then are the updates handed to their chats, in order, and only
then may the front acknowledge them. If the log cannot be written (disk full, locked), ``take``
raises ``LogUnavailable`` and hands nothing over: the front must not acknowledge, and tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar

import structlog

from actors.chat.inbound import RECEIVED, Inbound, record, update_stream
from eventstore import NO_STREAM, EventStore, NewEvent
from eventstore.errors import ConcurrencyError
from service.errors import PocketcodeError

log = structlog.get_logger("intake")

#: Hands a logged update to its chat (the chat actor's mailbox).
HandOver = Callable[[int, Inbound], None]
Item = tuple[int, Inbound]

_batch: ContextVar[list[Item] | None] = ContextVar("intake_batch", default=None)


class LogUnavailable(PocketcodeError):
    """The event log refused the updates; nothing was handed over: do not acknowledge them."""


class Intake:
    """The only writer of the ``update:*`` streams."""

    def __init__(self, store: EventStore, hand_over: HandOver) -> None:
        self.store = store
        self.hand_over = hand_over
        #: Logged by an earlier attempt whose batch then failed: not handed over yet.
        self._unsent: set[str] = set()

    async def deliver(self, chat_id: int, message: Inbound) -> None:
        """What the fronts call per update. Inside ``collecting`` it only collects (the batch
        is taken after); otherwise it takes the one update at once (webhooks, the terminal)."""
        batch = _batch.get()
        if batch is not None:
            batch.append((chat_id, message))
            return
        await self.take([(chat_id, message)])

    @contextlib.contextmanager
    def collecting(self, batch: list[Item]) -> Iterator[list[Item]]:
        """Within this block (this task only), ``deliver`` adds to ``batch``."""
        token = _batch.set(batch)
        try:
            yield batch
        finally:
            _batch.reset(token)

    async def take(self, items: Sequence[Item]) -> int:
        """Log ``items`` (one group commit), then hand the new ones to their chats in order.

        Returns how many were new. Raises ``LogUnavailable`` when any could not be logged;
        then none is handed over (a later one must not overtake an earlier one of its chat),
        and taking the same items again hands each over once.
        """
        outcomes = await asyncio.gather(
            *(self._log(chat_id, message) for chat_id, message in items), return_exceptions=True
        )
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        if failed:
            for (_, message), outcome in zip(items, outcomes, strict=True):
                if outcome is True:
                    self._unsent.add(message.correlation_id)
            log.error("intake.log_unavailable", updates=len(items), error=str(failed[0]))
            raise LogUnavailable(f"the event log cannot be written: {failed[0]}") from failed[0]
        new = 0
        for (chat_id, message), fresh in zip(items, outcomes, strict=True):
            if fresh:
                self.hand_over(chat_id, message)
                new += 1
            else:
                log.info("intake.duplicate", correlation_id=message.correlation_id)
        return new

    async def _log(self, chat_id: int, message: Inbound) -> bool:
        """True if this update is now logged for the first time (or logged by an earlier
        attempt and never handed over); False if it is a copy of one logged before."""
        ref = message.correlation_id
        event = NewEvent(RECEIVED, record(chat_id, message), correlation_id=ref)
        try:
            await self.store.append(update_stream(ref), [event], expected_version=NO_STREAM)
        except ConcurrencyError:
            if ref in self._unsent:
                self._unsent.discard(ref)
                return True
            return False
        return True
