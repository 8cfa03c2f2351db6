"""Event store benchmark: durable group-commit appends, per-event commits, and replay.

Run ``python -m bench.eventstore [--json]`` (or ``python bench/eventstore.py``). Everything
happens in a temporary directory on the local disk, with the store's real settings (WAL,
``synchronous=FULL``): every append counted here was fsynced before ``append`` returned.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import Report, parser
from eventstore import Event, NewEvent, SqliteEventStore, fold

APPENDERS = 100


class PerEventCommitStore(SqliteEventStore):
    """The same store and write path, but the writer commits each queued append on its own.

    Only the commit strategy differs from :class:`SqliteEventStore`: same appenders, same
    queue, same ``_commit`` (insert + ``COMMIT`` with ``synchronous=FULL``), one transaction
    per append instead of one per batch of whatever queued up during the previous commit.
    """

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                first, *rest = self._queue
                self._queue = rest
                await self._commit([first])


def event(n: int) -> NewEvent:
    return NewEvent("message.received", {"n": n, "chat": 4242, "text": "hello, world"})


async def concurrent_appends(
    store: SqliteEventStore, *, appenders: int, total: int, seconds: float
) -> tuple[int, float]:
    """``appenders`` tasks, each appending one event per call until a budget runs out."""
    count = 0
    deadline = time.perf_counter() + seconds

    async def appender(i: int) -> None:
        nonlocal count
        stream = f"chat-{i}"
        n = 0
        while count < total and time.perf_counter() < deadline:
            await store.append(stream, [event(n)])
            n += 1
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(appender(i) for i in range(appenders)))
    return count, time.perf_counter() - start


async def sequential_appends(store: SqliteEventStore, *, seconds: float) -> tuple[int, float]:
    """One appender awaiting each append: every commit carries exactly one event."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        await store.append("solo", [event(count)])
        count += 1
    return count, time.perf_counter() - start


async def fill(store: SqliteEventStore, *, until: int) -> None:
    """Top the log up to ``until`` events quickly (100 events per append, 10 writers)."""
    missing = until - await store.last_seq()
    if missing <= 0:
        return
    per_call, writers = 100, 10
    calls = -(-missing // per_call)

    async def writer(w: int) -> None:
        for c in range(w, calls, writers):
            await store.append(f"bulk-{c % 1000}", [event(c * per_call + k) for k in range(100)])

    await asyncio.gather(*(writer(w) for w in range(writers)))


def evolve(state: dict[str, Any], ev: Event) -> dict[str, Any]:
    """A small projection: per-stream count, last version and last payload number."""
    s = state.get(ev.stream)
    if s is None:
        state[ev.stream] = s = {"count": 0, "version": 0, "last_n": None}
    s["count"] += 1
    s["version"] = ev.version
    s["last_n"] = ev.data.get("n")
    return state


async def replay(store: SqliteEventStore) -> tuple[int, float, dict[str, Any]]:
    state: dict[str, Any] = {}
    chunk: list[Event] = []
    count = 0
    start = time.perf_counter()
    async for ev in store.read_all():
        chunk.append(ev)
        if len(chunk) == 4096:
            state = fold(evolve, state, chunk)
            count += len(chunk)
            chunk = []
    state = fold(evolve, state, chunk)
    count += len(chunk)
    return count, time.perf_counter() - start, state


async def run(args: Any) -> Report:
    report = Report(
        f"eventstore bench (SQLite WAL, synchronous=FULL, {os.cpu_count()} CPUs, "
        f"{APPENDERS} appenders)"
    )
    with tempfile.TemporaryDirectory(prefix="pocketcode-bench-", dir=args.dir) as tmp:
        root = Path(tmp)

        store = await SqliteEventStore.open(root / "grouped.db")
        await concurrent_appends(store, appenders=APPENDERS, total=5_000, seconds=1)  # warm-up
        commits0, seq0 = store.commits, await store.last_seq()
        n, dt = await concurrent_appends(
            store, appenders=APPENDERS, total=args.appends, seconds=args.seconds
        )
        grouped = report.add("grouped_appends_per_s", n / dt, "appends/s", ">= 50,000")
        commits = store.commits - commits0
        report.add("grouped_events_per_commit", n / max(commits, 1), "events")
        report.note(
            f"grouped: {n:,} appends in {dt:.2f}s, {commits:,} commits, "
            f"seq {seq0:,} -> {await store.last_seq():,}"
        )

        single_store = await PerEventCommitStore.open(root / "single.db")
        await concurrent_appends(single_store, appenders=APPENDERS, total=200, seconds=1)
        n1, dt1 = await concurrent_appends(
            single_store, appenders=APPENDERS, total=10**9, seconds=args.single_seconds
        )
        assert single_store.commits >= n1, "per-event store must commit once per append"
        single = report.add("single_commit_appends_per_s", n1 / dt1, "appends/s")
        report.add("group_commit_speedup", grouped / single, "x")
        n2, dt2 = await sequential_appends(single_store, seconds=min(args.single_seconds, 1.5))
        report.add("sequential_appends_per_s", n2 / dt2, "appends/s")
        report.note(
            f"single-commit: same {APPENDERS} appenders and store code, but the writer commits "
            f"each append in its own transaction ({n1:,} appends/commits in {dt1:.2f}s)"
        )
        report.note(
            f"sequential: one appender awaiting each append ({n2:,} in {dt2:.2f}s, "
            f"{dt2 / max(n2, 1) * 1e6:.0f} us per durable append)"
        )
        await single_store.close()

        fill_start = time.perf_counter()
        await fill(store, until=args.replay)
        fill_dt = time.perf_counter() - fill_start
        await store.close()

        store = await SqliteEventStore.open(root / "grouped.db")
        gc.collect()
        count, dt3, state = await replay(store)
        report.add("replay_events_per_s", count / dt3, "events/s", ">= 200,000")
        report.add("replay_events", count, "events", ">= 500,000")
        total = sum(s["count"] for s in state.values())
        assert total == count == await store.last_seq(), (total, count)
        report.note(
            f"replay: read_all() folded into per-stream counters, {len(state):,} streams, "
            f"{dt3:.2f}s (log topped up with 100-event appends in {fill_dt:.1f}s)"
        )
        await store.close()
    return report


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--appends", type=int, default=200_000, help="grouped appends budget")
    p.add_argument("--seconds", type=float, default=5.0, help="grouped time budget")
    p.add_argument("--single-seconds", type=float, default=3.0, help="per-event commit budget")
    p.add_argument("--replay", type=int, default=500_000, help="events to replay (minimum)")
    p.add_argument("--dir", default=None, help="parent directory for the temporary database")
    args = p.parse_args(argv)
    report = asyncio.run(run(args))
    report.print(as_json=args.json)


if __name__ == "__main__":
    main()
