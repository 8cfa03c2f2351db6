"""Per-turn overhead: one long-lived claude per session against a fresh process per turn.

Run ``python -m bench.turns [--json]``. The fake claude is given a realistic cold start
(``--startup-ms``, 500 ms as recorded for the real CLI) and answers instantly, so what is
measured is pocketcode's and the process's overhead, not the model's.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from actors.chat import notices as n
from actors.runtime import ActorSystem
from actors.session import events as ev
from actors.session import messages as m
from actors.session.actor import SessionActor
from actors.session.deps import SessionConfig, SessionDeps
from actors.session.pool import ProcessPool
from bench.common import Report, parser
from eventstore import NewEvent, SqliteEventStore
from service.claude.argv import AgentSettings
from service.claude.process import spawn_claude

FAKE = str(Path(__file__).resolve().parent.parent / "tests" / "fakes" / "fake_claude.py")


class Timing:
    """Marks per turn: message told, line written to claude, first reply seen."""

    def __init__(self) -> None:
        self.told: list[float] = []
        self.written: list[float] = []
        self.first: list[float] = []
        self.done = asyncio.Event()

    def notify(self, _chat: int, notice: object) -> None:
        if isinstance(notice, n.ReplyProgress | n.TurnFinished) and len(self.first) < len(
            self.told
        ):
            self.first.append(time.perf_counter())
        if isinstance(notice, n.TurnFinished):
            self.done.set()

    async def spawner(self, argv: list[str], cwd: Path, env: dict[str, str] | None) -> Any:
        proc = await spawn_claude(argv, cwd, env)
        write = proc.write

        async def timed_write(obj: Mapping[str, Any]) -> bytes:
            if obj.get("type") == "user":
                self.written.append(time.perf_counter())
            return await write(obj)

        proc.write = timed_write  # type: ignore[method-assign]
        return proc


async def run_turns(tmp: Path, turns: int, *, fresh: bool, startup_ms: int) -> Timing:
    store = await SqliteEventStore.open(tmp / f"{'fresh' if fresh else 'live'}.db")
    timing = Timing()
    system = ActorSystem()
    env = (
        ("FAKE_CLAUDE_STATE_DIR", str(tmp / "state")),
        ("FAKE_CLAUDE_STARTUP_MS", str(startup_ms)),
    )
    deps = SessionDeps(
        store=store,
        spawner=timing.spawner,
        notify=timing.notify,
        settings_for=lambda _p: AgentSettings(),
        pool=ProcessPool(4),
        config=SessionConfig(claude_bin=FAKE, env=env),
    )
    cwd = tmp / ("fresh" if fresh else "live")
    cwd.mkdir(exist_ok=True)
    await store.append(
        ev.stream_of("bench"),
        [
            NewEvent(
                ev.CREATED, {"name": "bench", "persona": "default", "cwd": str(cwd), "chat_id": 1}
            )
        ],
    )
    ref = system.spawn(lambda: SessionActor("bench", deps), "session:bench")
    for i in range(turns + 1):  # turn 0 warms up (first spawn) and is not counted
        timing.done.clear()
        timing.told.append(time.perf_counter())
        ref.tell(m.UserTurn(f"turn {i}"))
        await asyncio.wait_for(timing.done.wait(), 30)
        if fresh:
            await ref.ask(m.StopProcess("bench: the seed's fresh process per message"))
    await system.stop_all()
    await store.close()
    for series in (timing.told, timing.written, timing.first):
        del series[0]
    return timing


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> Report:
    args = parser(__doc__ or "").parse_args()
    report = Report("turns bench (fake claude over real pipes, SQLite log)")
    startup_ms, turns = 500, 30
    with tempfile.TemporaryDirectory() as tmp:
        live = await run_turns(Path(tmp), turns, fresh=False, startup_ms=startup_ms)
        fresh = await run_turns(Path(tmp), 10, fresh=True, startup_ms=startup_ms)
    live_ms = [1000 * (f - t) for t, f in zip(live.told, live.first, strict=True)]
    fresh_ms = [1000 * (f - t) for t, f in zip(fresh.told, fresh.first, strict=True)]
    added = [1000 * (w - t) for t, w in zip(live.told, live.written, strict=True)]
    persistent = report.add("persistent_turn_overhead_ms", statistics.median(live_ms), "ms")
    per_turn = report.add("fresh_process_turn_overhead_ms", statistics.median(fresh_ms), "ms")
    report.add("fresh_over_persistent_ratio", per_turn / persistent, "x")
    report.add("added_latency_p50_ms", pct(added, 0.5), "ms")
    report.add("added_latency_p99_ms", pct(added, 0.99), "ms")
    report.note(
        f"overhead = message told to the session actor -> first reply text back, median of "
        f"{turns} persistent / 10 fresh turns; fake claude cold start {startup_ms} ms"
    )
    report.note(
        "added latency = message told -> user line written to claude's stdin (logged first)"
    )
    report.print(as_json=args.json)
    return report


if __name__ == "__main__":
    asyncio.run(main())
