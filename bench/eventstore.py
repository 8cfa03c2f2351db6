"""Event store benchmark: durable group-commit appends, per-event commits, and replay.

Run ``python -m bench.eventstore [--backend sqlite|postgresql|all] [--json]`` (or
``python bench/eventstore.py``). Everything happens in a temporary directory on the local disk.
SQLite runs with the store's real settings (WAL, ``synchronous=FULL``); PostgreSQL is a server
of its own, started in the system's temporary directory the way the tests start theirs
(``tests/pg_server.py``), reached over a unix socket, with ``fsync=on`` and
``synchronous_commit=on``. Either way every append counted
here was flushed to disk before ``append`` returned. ``all`` prints the two side by side
(PostgreSQL's figures are the ``pg_`` ones) and also times ``pocketcode migrate`` copying the
replayed SQLite log into PostgreSQL (``--replay 1000000`` for a 1M-event log). The exit status
is 1 if a figure misses its target.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import Figure, Report, parser
from eventstore import Event, NewEvent, SqliteEventStore, fold
from eventstore.postgres import PostgresEventStore
from eventstore.store import GroupCommitter
from service.cli import main as cli_main
from tests import pg_server

APPENDERS = 100
Store = SqliteEventStore | PostgresEventStore
#: Opens the log of that name (again, for replay); ``per_event``: the one-commit-each variant.
OpenLog = Callable[[str, bool], Awaitable[Store]]


class PerEventCommit(GroupCommitter):
    """The same store and write path, but the writer commits each queued append on its own.

    Only the commit strategy differs: same appenders, same queue, same ``_commit`` (one durable
    transaction), one transaction per append instead of one per batch of whatever queued up
    during the previous commit.
    """

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                first, *rest = self._queue
                self._queue = rest
                await self._commit([first])
            if self._closed:
                return


class SqlitePerEvent(PerEventCommit, SqliteEventStore):
    pass


class PostgresPerEvent(PerEventCommit, PostgresEventStore):
    pass


def event(n: int) -> NewEvent:
    return NewEvent("message.received", {"n": n, "chat": 4242, "text": "hello, world"})


async def concurrent_appends(
    store: Store, *, appenders: int, total: int, seconds: float
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


async def sequential_appends(store: Store, *, seconds: float) -> tuple[int, float]:
    """One appender awaiting each append: every commit carries exactly one event."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        await store.append("solo", [event(count)])
        count += 1
    return count, time.perf_counter() - start


async def fill(store: Store, *, until: int) -> None:
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


async def replay(store: Store) -> tuple[int, float, dict[str, Any]]:
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


async def measure(report: Report, open_log: OpenLog, args: Any) -> None:
    """The figures of one backend, added to ``report``."""
    store = await open_log("grouped", False)
    await concurrent_appends(store, appenders=APPENDERS, total=5_000, seconds=1)  # warm-up
    commits0, seq0 = store.commits, await store.last_seq()
    n, dt = await concurrent_appends(
        store, appenders=APPENDERS, total=args.appends, seconds=args.seconds
    )
    grouped = report.add("grouped_appends_per_s", n / dt, "appends/s")
    commits = store.commits - commits0
    report.add("grouped_events_per_commit", n / max(commits, 1), "events")
    report.note(
        f"grouped: {n:,} appends in {dt:.2f}s, {commits:,} commits, "
        f"seq {seq0:,} -> {await store.last_seq():,}"
    )

    single_store = await open_log("single", True)
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

    store = await open_log("grouped", False)
    gc.collect()
    count, dt3, state = await replay(store)
    report.add("replay_events_per_s", count / dt3, "events/s")
    report.add("replay_events", count, "events", ">= 500,000")
    total = sum(s["count"] for s in state.values())
    assert total == count == await store.last_seq(), (total, count)
    report.note(
        f"replay: read_all() folded into per-stream counters, {len(state):,} streams, "
        f"{dt3:.2f}s (log topped up with 100-event appends in {fill_dt:.1f}s)"
    )
    await store.close()


#: Targets by backend and figure; a figure without one is only reported.
TARGETS = {
    "sqlite": {"grouped_appends_per_s": 50_000, "replay_events_per_s": 200_000},
    "postgresql": {"grouped_appends_per_s": 20_000, "replay_events_per_s": 150_000},
}


def sqlite_logs(root: Path) -> OpenLog:
    """A file per log name, where the app keeps it: ``root/<name>/var/pocketcode.db``."""

    async def open_log(name: str, per_event: bool) -> Store:
        kind = SqlitePerEvent if per_event else SqliteEventStore
        return await kind.open(root / name / "var" / "pocketcode.db")

    return open_log


def postgres_logs(server: pg_server.PgServer) -> OpenLog:
    """A database per log name."""
    urls: dict[str, str] = {}

    async def open_log(name: str, per_event: bool) -> Store:
        if name not in urls:
            urls[name] = await server.create_database()
        kind = PostgresPerEvent if per_event else PostgresEventStore
        return await kind.open(urls[name])

    return open_log


async def measure_migrate(report: Report, data_dir: Path, url: str) -> None:
    """``pocketcode migrate`` itself (copy and verification) on the SQLite log just replayed."""
    source = await SqliteEventStore.open(data_dir / "var" / "pocketcode.db")
    count = await source.last_seq()
    await source.close()
    os.environ["POCKETCODE_DATA_DIR"] = str(data_dir)
    output = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            code = await asyncio.to_thread(cli_main, ["migrate", "--to", url])
    finally:
        del os.environ["POCKETCODE_DATA_DIR"]
    elapsed = time.perf_counter() - start
    assert code == 0, f"pocketcode migrate failed with exit status {code}"
    report.add("migrate_events_per_s", count / elapsed, "events/s")
    report.add("migrate_s", elapsed, "s")
    said = output.getvalue().splitlines()
    report.note(f"migrate: pocketcode migrate said: {said[1] if len(said) > 1 else said}")


#: Targets by backend and figure; a figure without one is only reported.
TARGETS = {
    "sqlite": {"grouped_appends_per_s": 50_000, "replay_events_per_s": 200_000},
    "postgresql": {
        "grouped_appends_per_s": 20_000,
        "replay_events_per_s": 150_000,
        "migrate_events_per_s": 20_000,
    },
}
DESCRIPTIONS = {
    "sqlite": "SQLite WAL, synchronous=FULL",
    "postgresql": "PostgreSQL fsync=on, synchronous_commit=on, unix socket",
}
BACKENDS = tuple(DESCRIPTIONS)


async def run(args: Any) -> Report:
    names = list(BACKENDS) if args.backend == "all" else [args.backend]
    parts: dict[str, Report] = {}
    with tempfile.TemporaryDirectory(prefix="pocketcode-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        if "sqlite" in names:
            parts["sqlite"] = Report("sqlite")
            await measure(parts["sqlite"], sqlite_logs(root), args)
        if "postgresql" in names:
            parts["postgresql"] = part = Report("postgresql")
            server = await asyncio.to_thread(pg_server.start, durable=True)
            try:
                await measure(part, postgres_logs(server), args)
                if "sqlite" in names:
                    await measure_migrate(part, root / "grouped", await server.create_database())
            finally:
                await asyncio.to_thread(server.stop)
    report = Report(
        f"eventstore bench ({os.cpu_count()} CPUs, {APPENDERS} appenders; "
        + "; ".join(DESCRIPTIONS[name] for name in names)
        + ")"
    )
    side_by_side: dict[str, list[Figure]] = {}
    for name, part in parts.items():
        prefix = "pg_" if name == "postgresql" else ""
        for f in part.figures:
            target = TARGETS[name].get(f.name)
            shown = f">= {target:,}" if target is not None else f.target
            side_by_side.setdefault(f.name, []).append(
                Figure(prefix + f.name, f.value, f.unit, shown)
            )
        report.notes += [f"{name} {text}" for text in part.notes]
    report.figures = [f for figures in side_by_side.values() for f in figures]
    return report


def missed(report: Report) -> list[str]:
    """Figures below their ``>= N`` target."""
    return [
        f"{f.name} {f.value:,.0f} < {f.target.removeprefix('>= ')}"
        for f in report.figures
        if f.target.startswith(">= ") and f.value < float(f.target[3:].replace(",", ""))
    ]


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--appends", type=int, default=200_000, help="grouped appends budget")
    p.add_argument("--seconds", type=float, default=5.0, help="grouped time budget")
    p.add_argument("--single-seconds", type=float, default=3.0, help="per-event commit budget")
    p.add_argument("--replay", type=int, default=500_000, help="events to replay (minimum)")
    p.add_argument("--dir", default=None, help="parent directory for the temporary database")
    p.add_argument(
        "--backend",
        choices=[*BACKENDS, "all"],
        default="sqlite",
        help="which recorder to measure; all: side by side in one run",
    )
    args = p.parse_args(argv)
    report = asyncio.run(run(args))
    report.print(as_json=args.json)
    if misses := missed(report):
        print("missed: " + "; ".join(misses), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
