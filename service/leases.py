"""A worker's leases: which chats it runs, and the lease every one of its appends is made under.

**Who runs what.** Each chat is run by exactly one worker at a time: the holder of the lease
``chat:<id>`` (``eventstore.pgleases``). A session belongs to the chat that created it (the
``chat_id`` of its ``session.created``, its *home*) and runs in the worker holding that chat's
lease, so a session actor and its ``claude`` run in one worker only and move with their chat.
With several workers a session is therefore used from its home chat only; another chat asking
for it is told so in words (:meth:`WorkerPlacement.refusal`). Every worker also holds
``worker:<id>``, renewed with the others, so the workers know who is alive.

**Fencing.** :class:`FencedStore` is the log a worker's actors write to. Every append to
``chat:<id>`` carries that chat's lease and token, every append to ``session:<name>`` its home
chat's; the database refuses it (``FencedError``) unless the lease still holds that token
(``eventstore.fencing``). Appends for a chat this worker does not hold are refused before they
reach the database. The intake's ``update:*`` streams and ``system:actors`` (appended without
an expected version by anyone) carry no lease.

**Routines** are kept by no worker. Their one stream (``routines:schedule``) is written by the
one scheduler actor, which asks the routines' sessions to run directly; in a cluster those
sessions live in whichever workers hold their chats, and /every and /routines come from any of
them, so no single worker could be the scheduler without messages between workers. A worker
therefore starts no scheduler, tells /every and /routines so in words
(:meth:`WorkerPlacement.routines_refusal`), and its appends to ``routines:*`` are refused: the
stream keeps its one writer, the single process (``--role all``) that runs on the log.

**Keeping them.** ``renew`` extends every lease of the worker in one statement (the caller does
it every third of the lease time) and says which ones were lost; when the database cannot be
reached for a whole lease time, every lease counts as lost here too (``expired_here``), before
the database lets anyone else take them. Which worker takes a chat that has no holder is decided
by rendezvous hashing over the live workers (:func:`preferred`), so the workers agree without
talking and a dead worker's chats spread over the others.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from actors.session import events as ev
from actors.session.catalog import SessionCatalog
from eventstore import Event, NewEvent, WrappedStore
from eventstore.errors import FencedError
from eventstore.fencing import Fence
from eventstore.pgleases import Leases
from eventstore.postgres import PostgresEventStore
from service.errors import PocketcodeError

CHAT = "chat:"
WORKER = "worker:"
#: What /every and /routines answer in a worker (``WorkerPlacement.routines_refusal``).
ROUTINES_ELSEWHERE = (
    "Routines run only in a single pocketcode (pocketcode run without --role): with several "
    "workers none keeps their schedule. The routines made before are kept in the log, and run "
    "again once a single pocketcode runs on it."
)


def chat_key(chat_id: int) -> str:
    return f"{CHAT}{chat_id}"


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def preferred(chat_id: int, workers: Collection[str]) -> str | None:
    """The worker that should take ``chat_id`` among ``workers`` (rendezvous hashing: every
    worker computes the same answer, and a worker leaving moves only its own chats)."""

    def score(worker: str) -> bytes:
        return hashlib.blake2b(f"{worker}\0{chat_id}".encode(), digest_size=8).digest()

    return max(workers, key=score, default=None)


@dataclass(frozen=True, slots=True)
class Survey:
    workers: list[str]
    held: set[int]
    lapsed: set[int]


class WorkerIdTaken(PocketcodeError):
    """Another live worker holds this worker's id."""


class ChatLeases:
    """This worker's leases on chats (and on its own name), as the database last confirmed."""

    def __init__(
        self,
        leases: Leases,
        worker_id: str,
        ttl_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.leases = leases
        self.worker_id = worker_id
        self.ttl_s = ttl_s
        self._monotonic = monotonic
        #: Chat id -> the token it is held with.
        self.owned: dict[int, int] = {}
        #: Until when (local monotonic clock) the last renewal keeps the leases: the time it was
        #: sent plus the lease time, never later than the database's own expiry.
        self._good_until = 0.0

    async def join(self) -> None:
        """Take this worker's own lease; refused if a live worker already has this id."""
        sent = self._monotonic()
        if await self.leases.acquire(WORKER + self.worker_id, self.worker_id, self.ttl_s) is None:
            raise WorkerIdTaken(
                f"another live worker is called {self.worker_id!r}: give each worker its own "
                "cluster.worker_id"
            )
        self._good_until = sent + self.ttl_s

    async def claim(self, chat_id: int) -> bool:
        """Take the chat if nobody holds it; True if it is ours now (with a new token)."""
        token = await self.leases.acquire(chat_key(chat_id), self.worker_id, self.ttl_s)
        if token is None:
            return False
        self.owned[chat_id] = token
        return True

    async def renew(self) -> set[int]:
        """Extend every lease we hold; returns the chats lost (lapsed, maybe taken over)."""
        sent = self._monotonic()
        keys = [WORKER + self.worker_id, *map(chat_key, self.owned)]
        kept = await self.leases.renew(self.worker_id, self.ttl_s, keys)
        lost = {c for c, token in self.owned.items() if kept.get(chat_key(c)) != token}
        for chat_id in lost:
            del self.owned[chat_id]
        if WORKER + self.worker_id not in kept:  # paused past our own lease: take it again
            await self.join()
        self._good_until = sent + self.ttl_s
        return lost

    def expired_here(self) -> bool:
        """No renewal has been confirmed for a whole lease time: count every lease as lost."""
        return self._monotonic() >= self._good_until

    def drop_all(self) -> set[int]:
        lost, self.owned = set(self.owned), {}
        return lost

    async def survey(self) -> Survey:
        """Who is alive, which chats are held (by anyone), which lapsed."""
        holders = await self.leases.holders("")
        lapsed = await self.leases.lapsed(CHAT)
        return Survey(
            workers=sorted(h for k, h in holders.items() if k.startswith(WORKER)),
            held={int(k.removeprefix(CHAT)) for k in holders if k.startswith(CHAT)},
            lapsed={int(k.removeprefix(CHAT)) for k in lapsed},
        )

    async def release(self, chats: Collection[int] | None = None) -> None:
        """Let the leases of ``chats`` (default: all, this worker's own too) go now: the others
        take them over at once."""
        if chats is None:
            self.owned = {}
            await self.leases.release(self.worker_id)
            return
        for chat_id in chats:
            self.owned.pop(chat_id, None)
        await self.leases.release(self.worker_id, [chat_key(c) for c in chats])


class WorkerPlacement:
    """What a worker runs (``service.app.Placement``): its leased chats, each with the sessions
    it created, and no routines. ``catalog`` is the app's session directory, set once the app
    is open."""

    def __init__(self, leases: ChatLeases) -> None:
        self.leases = leases
        self.catalog: SessionCatalog | None = None

    def runs(self, chat_id: int) -> bool:
        return chat_id in self.leases.owned

    def home(self, session: str) -> int | None:
        """The chat that created ``session`` (None: unknown here)."""
        summary = self.catalog.get(session) if self.catalog is not None else None
        return summary.chat_id if summary is not None else None

    def refusal(self, chat_id: int, session: str) -> str | None:
        home = self.home(session)
        if home is None or home == chat_id:
            return None  # its own session, or none yet (/new creates it here)
        return (
            f"{session} belongs to another chat. With several workers a session answers only "
            f"in the chat that created it: use it there, or start one here with /new."
        )

    def routines_refusal(self) -> str | None:
        return ROUTINES_ELSEWHERE

    def fence(self, stream: str, events: Sequence[NewEvent]) -> Fence | None:
        """The lease an append to ``stream`` must be made under (None: it needs none).

        Raises ``FencedError`` for a chat this worker does not hold, a session whose home chat
        it does not hold (or does not know: a session created elsewhere a moment ago), and the
        routines (a worker keeps none).
        """
        kind, _, name = stream.partition(":")
        chat_id: int | None
        if kind == "chat":
            chat_id = int(name)
        elif kind == "session":
            chat_id = self.home(name)
            if chat_id is None and events and events[0].type == ev.CREATED:
                chat_id = events[0].data.get("chat_id")  # the session's first event names it
        elif kind == "routines":
            raise FencedError(f"append to {stream!r} refused: a worker keeps no routines")
        else:
            return None
        token = self.leases.owned.get(chat_id) if chat_id is not None else None
        if chat_id is None or token is None:
            raise FencedError(
                f"append to {stream!r} refused: this worker does not hold the lease of "
                f"{'its chat' if chat_id is None else chat_key(chat_id)}"
            )
        return Fence(chat_key(chat_id), token)


class FencedStore(WrappedStore):
    """A worker's event log: every append of a chat's actors and of their sessions is made
    under that chat's lease (``WorkerPlacement.fence``); reads go straight through."""

    def __init__(self, inner: PostgresEventStore, placement: WorkerPlacement) -> None:
        super().__init__(inner)
        self.pg = inner
        self.placement = placement

    async def append(
        self, stream: str, events: Sequence[NewEvent], *, expected_version: int | None = None
    ) -> list[Event]:
        fence = self.placement.fence(stream, events)
        return await self.pg.append(stream, events, expected_version=expected_version, fence=fence)
