"""``pocketcode replay``: the event log as a readable timeline, or one session's state at a seq.

The log is opened read-only, so this is safe while the bot runs. Events stream from SQLite
through a bounded queue into the (synchronous) formatter on a worker thread: a million-event
log prints in constant memory, and ``--follow`` keeps going until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import queue
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from actors.names import validate_session_name
from actors.session import events as ev
from actors.session.state import SessionState, evolve
from eventstore import Event, SqliteEventStore, fold
from service.commands import CommandError, guarded, open_readonly, parse_time
from service.config import Config
from service.replay import EventFilter, format_json, format_timeline

_QUEUE_SIZE = 5_000
_DONE = object()


async def pump(events: AsyncIterator[Event], consume: Callable[[Iterator[Event]], None]) -> None:
    """Feed ``events`` to ``consume`` (run on a thread) through a bounded queue."""
    box: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_SIZE)
    stop = threading.Event()

    def items() -> Iterator[Event]:
        while True:
            try:
                item = box.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            if item is _DONE:
                return
            yield item

    worker = asyncio.ensure_future(asyncio.to_thread(consume, items()))
    try:
        async for event in events:
            while True:
                if worker.done():  # the consumer stopped (broken pipe): stop reading
                    return
                try:
                    box.put_nowait(event)
                    break
                except queue.Full:
                    await asyncio.sleep(0.005)
        while not worker.done():
            try:
                box.put_nowait(_DONE)
                break
            except queue.Full:
                await asyncio.sleep(0.005)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(worker)
        if worker.done() and not worker.cancelled() and worker.exception() is not None:
            raise worker.exception()  # type: ignore[misc]


def _printer(as_json: bool, verbose: bool, flush: bool) -> Callable[[Iterator[Event]], None]:
    def consume(events: Iterator[Event]) -> None:
        lines = (format_json(e) for e in events) if as_json else format_timeline(events, verbose)
        out = sys.stdout
        for line in lines:
            out.write(line + "\n")
            if flush:
                out.flush()
        out.flush()

    return consume


async def _selected(
    store: SqliteEventStore, where: EventFilter, *, follow: bool, prefix: str | None
) -> AsyncIterator[Event]:
    source = store.tail() if follow else store.read_all(stream_prefix=prefix)
    async for event in source:
        if where.matches(event):
            yield event


async def state_at(store: SqliteEventStore, session: str, seq: int) -> dict[str, Any]:
    """The session's state folded from its events with ``seq <= seq``, as JSON."""
    events = [e for e in await store.read_stream(ev.stream_of(session)) if e.seq <= seq]
    if not events:
        raise CommandError(f"session {session} has no events at or before seq {seq}")
    state = fold(evolve, SessionState(), events)
    last = events[-1]
    body = state.to_json()
    body.update(
        {
            "as_of_seq": seq,
            "last_event_seq": last.seq,
            "last_event_type": last.type,
            "last_event_at": last.at.isoformat(),
            "version": state.version,
            "archive_path": state.archive_path,
            "process_pid": state.process_pid,
            "last_result": state.last_result,
            "pending": [q.text for q in state.pending],
            "turn": None
            if state.turn is None
            else {
                "turn_id": state.turn.turn_id,
                "text": state.turn.text,
                "started_at": state.turn.started_at.isoformat(),
                "correlation_id": state.turn.correlation_id,
                "saw_result": state.turn.saw_result,
            },
        }
    )
    return body


def _filter(args: argparse.Namespace) -> EventFilter:
    if args.session is not None:
        try:
            validate_session_name(args.session)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    since = parse_time(args.since, "--since") if args.since else None
    until = parse_time(args.until, "--until") if args.until else None
    if since and until and since >= until:
        raise CommandError("--since must be before --until")
    return EventFilter(
        chat_id=args.chat, session=args.session, type_glob=args.type, since=since, until=until
    )


@guarded
async def cmd_replay(settings: Config, args: argparse.Namespace) -> int:
    if args.state_at is not None and args.session is None:
        raise CommandError("--state-at needs --session NAME (whose state to rebuild)")
    if args.state_at is not None and args.follow:
        raise CommandError("--state-at and --follow do not go together")
    where = _filter(args)
    store = await open_readonly(settings.db_path)
    try:
        if args.state_at is not None:
            print(json.dumps(await state_at(store, args.session, args.state_at), indent=2))
            return 0
        # The chat filter learns its sessions from session.created, so it reads everything;
        # a session filter alone can narrow the read (the filter still checks the exact name).
        prefix = ev.stream_of(args.session) if args.session and args.chat is None else None
        events = _selected(store, where, follow=args.follow, prefix=prefix)
        await pump(events, _printer(args.json, args.verbose, flush=args.follow))
    finally:
        await store.close()
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="show the event log as a timeline (safe while the bot runs)",
        description="Show the event log as a timeline. Filters combine (all must hold).",
    )
    p.add_argument("--chat", help="a chat id: its own events and its sessions' events")
    p.add_argument("--session", help="only this session's stream")
    p.add_argument("--type", help="event type glob(s), comma-separated, e.g. 'session.turn_*'")
    p.add_argument("--since", help="from this ISO time (inclusive; naive = UTC)")
    p.add_argument("--until", help="until this ISO time (exclusive; naive = UTC)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    p.add_argument("--json", action="store_true", help="one JSON object per event")
    p.add_argument("--verbose", "-v", action="store_true", help="one line per streaming delta too")
    p.add_argument(
        "--state-at",
        type=int,
        metavar="SEQ",
        help="print --session's state as it was at this sequence number (JSON)",
    )
    p.set_defaults(handler=cmd_replay)
