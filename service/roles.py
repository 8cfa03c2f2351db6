"""``pocketcode run --role intake|worker``: several processes, on several machines, sharing one
PostgreSQL log (``--role all``, the default, is the single process of ``service.runner``).

**intake** polls Telegram (or receives webhooks) and appends every update as the one event of
its own stream, before it is acknowledged, exactly as the single process does
(``service.intake``); it hands nothing to actors. Several webhook intakes may run behind a load
balancer: a second copy of an update is refused by the log itself (``expected_version`` 0).

**worker** runs the chat and session actors, and their ``claude`` processes, of the chats it
holds the lease of (``service.leases``: who runs what, and how every append is fenced). It
follows the log (``tail``, woken by NOTIFY) for two kinds of events: ``update.received``, handed
to the chat's actor when the chat is its own (``replayable`` rebuilds the message; the chat actor
dedupes by its handled refs), and the sessions' lifecycle events, which keep its session
directory current with the other workers' sessions. A chat nobody holds (a new chat, one whose
worker died and whose lease lapsed, one with business left from before) is taken by the worker
that rendezvous hashing prefers among the live ones, or by any worker once it has waited one
renewal period. Taking a chat over rebuilds it from the log as a restart does (``App.recover``
for those chats: updates not handled, turns cut off, replies owed); updates arriving meanwhile
wait and follow in order. A chat whose lease is lost is stopped here at once, with its sessions.

Files and voice messages: the log records their names and sizes only, so the intake stores
their bytes beside it (``eventstore.pgpayloads``) before it logs the update, and the worker
that hands the update over takes them from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg
import structlog

from actors.chat.inbound import (
    RECEIVED,
    Deliver,
    FileArrived,
    Inbound,
    VoiceArrived,
    replayable,
)
from actors.session.catalog import CATALOG_TYPES
from eventstore import Event
from eventstore.errors import StoreUnavailableError
from eventstore.pgleases import Leases
from eventstore.pgpayloads import Payloads
from eventstore.postgres import PostgresEventStore
from service.app import App, open_app, record_denied
from service.config import Config, secret_values
from service.errors import ConfigError
from service.eventlog import open_store
from service.intake import Intake
from service.leases import ChatLeases, FencedStore, WorkerPlacement, default_worker_id, preferred
from service.polling import poll
from service.redaction import RedactingStore, Secrets
from service.runner import connect_bot, freeze_startup_heap, on_sigterm, serve_webhook

log = structlog.get_logger("roles")
#: What a worker follows in the log: updates, and what its session directory is made of.
FOLLOWED = frozenset({RECEIVED, *CATALOG_TYPES})


def database_url(settings: Config, role: str) -> str:
    url = settings.data.database_url
    if url is None:
        raise ConfigError(
            f"--role {role} needs the event log on PostgreSQL, shared by every intake and "
            "worker: set POCKETCODE_DATABASE_URL (or data.database_url)"
        )
    return url.get_secret_value()


# --------------------------------------------------------------------------- intake


def _to_workers(chat_id: int, message: Inbound) -> None:
    """The intake hands nothing over: the workers read the update from the log."""


def carrying(deliver: Deliver, payloads: Payloads) -> Deliver:
    """``deliver``, storing the bytes of a file or voice message first (the log has no room
    for them; the worker handing the update over takes them from ``payloads``)."""

    async def deliver_carrying(chat_id: int, message: Inbound) -> None:
        if isinstance(message, FileArrived | VoiceArrived):
            await payloads.put(message.correlation_id, message.data)
        await deliver(chat_id, message)

    return deliver_carrying


async def run_intake(settings: Config) -> int:
    from service.telegram.bot import COMMANDS, build_dispatcher

    url = database_url(settings, "intake")
    bot, me = await connect_bot(settings)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(bot.session.close)
        store = RedactingStore(await open_store(settings), Secrets(secret_values(settings)))
        stack.push_async_callback(store.close)
        payloads = await Payloads.open(url)
        stack.push_async_callback(payloads.close)
        intake = Intake(store, _to_workers)
        dp = build_dispatcher(
            deliver=carrying(intake.deliver, payloads),
            on_denied=partial(record_denied, store),
            settings=settings,
        )
        stop = asyncio.Event()
        on_sigterm(stop)
        await bot.set_my_commands(COMMANDS)
        freeze_startup_heap()
        log.info("pocketcode.started", role="intake", bot=me.username)
        if settings.telegram.webhook_url:
            await serve_webhook(settings, dp, bot, stop)
        else:
            await poll(dp, bot, intake, stop)
    log.info("pocketcode.stopped", role="intake")
    return 0


# --------------------------------------------------------------------------- worker


async def run_worker(settings: Config) -> int:
    from service.telegram.bot import make_view

    url = database_url(settings, "worker")
    bot, me = await connect_bot(settings)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(bot.session.close)
        pg = await PostgresEventStore.open(url)
        stack.push_async_callback(pg.close)  # closing twice is harmless: the app closes it
        start = await pg.last_seq()
        leases = ChatLeases(
            await Leases.open(url),
            settings.cluster.worker_id or default_worker_id(),
            settings.cluster.lease_ttl_s,
        )
        stack.push_async_callback(leases.leases.close)
        payloads = await Payloads.open(url)
        stack.push_async_callback(payloads.close)
        await leases.join()
        stack.push_async_callback(leases.release)  # after the app's shutdown: others take over
        placement = WorkerPlacement(leases)
        app = await open_app(settings, log_store=FencedStore(pg, placement))
        app.placement = placement
        placement.catalog = app.catalog
        view = make_view(bot, settings, clock=app.system.clock)
        stack.push_async_callback(view.close)
        app.view = view
        stack.push_async_callback(app.shutdown)
        worker = Worker(app, pg, leases, placement, payloads)
        stop = asyncio.Event()
        on_sigterm(stop)
        app.start_reaper()
        freeze_startup_heap()
        log.info("pocketcode.started", role="worker", worker=leases.worker_id, bot=me.username)
        await worker.run(start, stop)
    log.info("pocketcode.stopped", role="worker")
    return 0


class Worker:
    """Follows the log and keeps the leases; takes chats over and lets lost ones go."""

    def __init__(
        self,
        app: App,
        log_store: PostgresEventStore,
        leases: ChatLeases,
        placement: WorkerPlacement,
        payloads: Payloads,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.log = log_store
        self.leases = leases
        self.placement = placement
        self.payloads = payloads
        self._monotonic = monotonic
        self.renew_every = leases.ttl_s / 3
        #: Chats held and rebuilt: their updates go to their actors as they come.
        self.ready: set[int] = set()
        #: Chats held and being rebuilt: their updates wait here, in order.
        self.waiting: dict[int, list[Any]] = {}
        #: Chats seen without a holder, since when (local clock).
        self.wanted: dict[int, float] = {}
        self._workers = [leases.worker_id]
        self._held: set[int] = set()
        self._kick = asyncio.Event()
        self._stopping: set[asyncio.Task[None]] = set()

    async def run(self, after_seq: int, stop: asyncio.Event) -> None:
        """Until ``stop``: follow the log from ``after_seq``, and keep the leases."""
        self._want(await self.app.unfinished_chats())
        tasks = [
            asyncio.create_task(self.follow(after_seq), name="worker-follow"),
            asyncio.create_task(self.keep(), name="worker-leases"),
        ]
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([*tasks, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*tasks, stopped]:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task  # a task that failed raises here: the worker stops with it
            if self._stopping:
                await asyncio.wait(self._stopping)

    # -- following the log ----------------------------------------------------------------------

    async def follow(self, after_seq: int) -> None:
        """Updates to their chats, session lifecycle events to the directory; the log being
        unreachable only pauses it (it goes on from the last event seen)."""
        seen = after_seq
        while True:
            try:
                async for event in self.log.tail(after_seq=seen, types=FOLLOWED):
                    seen = event.seq
                    if event.type == RECEIVED:
                        await self._route(event)
                    else:
                        self.app.catalog.observe(event)
                return  # the log was closed: the worker is stopping
            except StoreUnavailableError as exc:
                log.warning("worker.log_unavailable", error=str(exc), retry_in_s=1)
                await asyncio.sleep(1)

    async def _route(self, event: Event) -> None:
        chat_id: int = event.data["chat_id"]
        if chat_id in self.ready:
            lag_ms = (datetime.now(UTC) - event.at).total_seconds() * 1000
            log.info("worker.update_taken", chat_id=chat_id, seq=event.seq, lag_ms=round(lag_ms, 1))
            self.app.hand_over(chat_id, await self._message(event))
        elif chat_id in self.waiting:
            self.waiting[chat_id].append(await self._message(event))
        elif chat_id not in self.leases.owned and chat_id not in self._held:
            self._want([chat_id])  # a chat nobody held at the last look: a new one?

    async def _message(self, event: Event) -> Any:
        """The message the update was, its file's bytes taken from where the intake put them
        (gone: told it is lost, as after a restart)."""
        data, ref = event.data, event.correlation_id or ""
        kind = data.get("kind")
        payload = None
        if kind in ("file", "voice"):
            try:
                payload = await self.payloads.get(ref)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("worker.payload_unavailable", correlation_id=ref, error=str(exc))
        if payload is not None:
            user, name = data.get("user_id") or 0, str(data.get("filename") or "a file")
            if kind == "voice":
                return VoiceArrived(user, name, payload, ref)
            return FileArrived(user, name, payload, str(data.get("caption") or ""), ref)
        return replayable(data, ref)

    def _want(self, chats: Iterable[int]) -> None:
        now = self._monotonic()
        for chat_id in chats:
            self.wanted.setdefault(chat_id, now)
        self._kick.set()

    # -- keeping the leases ---------------------------------------------------------------------

    async def keep(self) -> None:
        """Renew every third of the lease time; take over the chats due to this worker as soon
        as they are seen."""
        next_renewal = 0.0
        while True:
            self._kick.clear()
            if self._monotonic() >= next_renewal:
                next_renewal = self._monotonic() + self.renew_every
                await self._renew()
            elif self.wanted:
                await self._look()  # who is alive and holds what, now: then decide
            if due := self._due():
                await self.take_over(due)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._kick.wait(), max(0.0, next_renewal - self._monotonic())
                )

    async def _renew(self) -> None:
        try:
            lost = await self.leases.renew()
        except Exception as exc:  # the database is unreachable, or refused: try again later
            log.warning("worker.renew_failed", error=f"{type(exc).__name__}: {exc}")
            if self.leases.expired_here() and self.leases.owned:
                self._drop(self.leases.drop_all())
            return
        if lost:
            self._drop(lost)
        await self._look()

    async def _look(self) -> None:
        """Survey the lease table: the live workers, the chats held, the lapsed ones (wanted)."""
        try:
            survey = await self.leases.survey()
        except Exception as exc:
            log.warning("worker.survey_failed", error=f"{type(exc).__name__}: {exc}")
            return
        self._workers, self._held = survey.workers or self._workers, survey.held
        for chat_id in survey.lapsed:
            self.wanted.setdefault(chat_id, self._monotonic())

    def _due(self) -> list[int]:
        """Wanted chats this worker should take now: nobody holds them, and rendezvous hashing
        prefers this worker, or the preferred one has had a renewal period to take them."""
        now, me = self._monotonic(), self.leases.worker_id
        due = []
        for chat_id, since in list(self.wanted.items()):
            if chat_id in self.leases.owned or chat_id in self._held:
                del self.wanted[chat_id]  # ours already, or someone else's (lapsing: back later)
            elif preferred(chat_id, self._workers) == me or now - since >= self.renew_every:
                due.append(chat_id)
        return due

    async def take_over(self, chats: list[int]) -> None:
        """Take the chats' leases, rebuild them from the log, then let their updates through."""
        gained = []
        for chat_id in chats:
            self.wanted.pop(chat_id, None)
            try:
                if await self.leases.claim(chat_id):
                    self.waiting[chat_id] = []
                    gained.append(chat_id)
            except Exception as exc:
                log.warning("worker.claim_failed", chat_id=chat_id, error=str(exc))
                self.wanted[chat_id] = self._monotonic()
        if not gained:
            return
        started = self._monotonic()
        try:
            await self.app.catalog.load()  # the homes and turns of the chats' sessions, now
            await self.app.recover(gained)
        except Exception:  # the log unreachable, say: let them go, another try takes them
            log.exception("worker.take_over_failed", chats=gained)
            with contextlib.suppress(Exception):
                await self.leases.release(gained)
            self._drop(set(gained))
            self._want(gained)
            return
        for chat_id in gained:
            for message in self.waiting.pop(chat_id, []):
                self.app.hand_over(chat_id, message)
            self.ready.add(chat_id)
        took = round(self._monotonic() - started, 3)
        log.info("worker.took_over", chats=sorted(gained), rebuild_s=took)

    def _drop(self, chats: set[int]) -> None:
        """Chats whose lease is lost: stop their actors and sessions here, in the background
        (a ``claude`` takes a moment to stop; renewals must not wait for it)."""
        log.warning("worker.leases_lost", chats=sorted(chats))
        for chat_id in chats:
            self.ready.discard(chat_id)
            self.waiting.pop(chat_id, None)
        sessions = [name for name in self.app.sessions if self.placement.home(name) in chats]
        task = asyncio.create_task(self._stop(chats, sessions), name="worker-drop")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _stop(self, chats: set[int], sessions: list[str]) -> None:
        refs = [self.app.chats.peek(c) for c in chats]
        refs += [self.app.sessions.peek(name) for name in sessions]
        stops = [ref.stop(drain=False) for ref in refs if ref is not None]
        await asyncio.gather(*stops, return_exceptions=True)
