"""Actor runtime benchmark: tell throughput (one actor, several actors) and ask round trips.

Run ``python -m bench.actors [--json]`` (or ``python bench/actors.py``). Also checks that tell
throughput does not fall as idle actors pile up (idleness is a counter, not a scan).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from actors.runtime import Actor, ActorRef, ActorSystem
from bench.common import Report, parser


class Counter(Actor[Any]):
    """Counts ``tell``s; answers an ``ask`` with the count (also a barrier: mailboxes are FIFO)."""

    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        if message == "count?":
            return self.count
        self.count += 1
        return message


async def drained(refs: list[ActorRef[Any]]) -> int:
    return sum(await asyncio.gather(*(ref.ask("count?", timeout=None) for ref in refs)))


async def tell_rate(system: ActorSystem, *, actors: int, messages: int, tag: str) -> float:
    """Tell ``messages`` in total round-robin, in bursts of 1000 per actor; time until handled."""
    refs = [system.spawn(Counter, f"{tag}-{i}") for i in range(actors)]
    await drained(refs)  # started
    burst = 1000
    start = time.perf_counter()
    sent = 0
    while sent < messages:
        for ref in refs:
            for _ in range(burst):
                ref.tell(1)
            sent += burst
        await asyncio.sleep(0)  # let the actors run, as a real sender would
    handled = await drained(refs)
    elapsed = time.perf_counter() - start
    assert handled == sent, (handled, sent)
    for ref in refs:
        await ref.stop()
    return sent / elapsed


async def ask_rate(
    system: ActorSystem, *, seconds: float, callers: int, timeout: float | None, tag: str
) -> float:
    ref = system.spawn(Counter, tag)
    await ref.ask("count?")
    count = 0
    deadline = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await ref.ask(1, timeout=timeout)
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - start
    await ref.stop()
    return count / elapsed


async def run(args: Any) -> Report:
    report = Report(f"actors bench (asyncio, {os.cpu_count()} CPUs)")
    system = ActorSystem()
    n = args.messages
    told = "tell -> handled: bursts of 1000 tells then a yield, until an ask barrier answers"
    report.add(
        "tell_per_s",
        await tell_rate(system, actors=1, messages=n, tag="one"),
        "msg/s",
        f"{told}; one actor",
    )
    report.add(
        "tell_per_s_10_actors",
        await tell_rate(system, actors=10, messages=n, tag="ten"),
        "msg/s",
        f"{told}; ten actors",
    )
    s = args.seconds
    report.add(
        "ask_per_s",
        await ask_rate(system, seconds=s, callers=1, timeout=10.0, tag="ask"),
        "round trips/s",
        "ask -> answer, one caller in sequence, 10 s timeout",
    )
    report.add(
        "ask_per_s_no_timeout",
        await ask_rate(system, seconds=s, callers=1, timeout=None, tag="ask-nt"),
        "round trips/s",
        "ask -> answer, one caller in sequence, no timeout",
    )
    report.add(
        "ask_per_s_100_callers",
        await ask_rate(system, seconds=s, callers=100, timeout=10.0, tag="ask-100"),
        "round trips/s",
        "ask -> answer, 100 callers at once to one actor, 10 s timeout",
    )

    # Idle actors must not cost every message: the busy count is kept incrementally.
    idle: list[ActorRef[Any]] = []
    for population in args.idle:
        while len(idle) < population:
            idle.append(system.spawn(Counter, f"idle-{len(idle)}"))
        await drained(idle)  # all started, so all idle
        await asyncio.sleep(0.01)
        rate = await tell_rate(
            system, actors=1, messages=max(n // 10, 5_000), tag=f"with-{population}"
        )
        report.add(
            f"tell_per_s_with_{population}_idle_actors",
            rate,
            "msg/s",
            f"tell -> handled, one busy actor beside {population} idle ones (should stay flat)",
        )
    report.note("no targets were set for the actor runtime; these figures are for comparison")
    await system.stop_all()
    return report


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=200_000, help="tells per tell figure")
    p.add_argument("--seconds", type=float, default=1.5, help="time budget per ask figure")
    p.add_argument(
        "--idle",
        type=int,
        nargs="*",
        default=[0, 10, 100, 1000],
        help="idle-actor populations for the scaling figures",
    )
    args = p.parse_args(argv)
    report = asyncio.run(run(args))
    raise SystemExit(report.finish(as_json=args.json))


if __name__ == "__main__":
    main()
