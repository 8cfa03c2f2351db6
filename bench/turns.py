"""Per-turn overhead: one long-lived claude per session against a fresh process per message.

Run ``python -m bench.turns [--json] [--simulated] [--turns N] [--fresh-turns N]``.

Both sides go through the real session actor, SQLite log and process code, with the same
prompts in the same run; they differ only in the process: one kept for every turn, or a fresh
``claude -p`` per message (what the seed project did: the actor stops the process after each
turn, so the next message starts one that resumes the conversation).

When the real ``claude`` CLI is installed (``.claude-cli/node_modules/.bin/claude`` from
``ops/install-claude-cli``, or ``POCKETCODE_REAL_CLAUDE``) it is the one driven, against the
Messages API stand-in the conformance tests use (``tests/fakes/anthropic_api.py`` on
127.0.0.1: the model answers at once, so what is measured is process and pocketcode overhead).
Without it, or with ``--simulated``, the fake claude stands in with a simulated 500 ms cold
start (what was recorded for the real CLI).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from actors.claude.argv import AgentSettings
from actors.claude.process import spawn_claude
from actors.runtime import ActorSystem
from actors.session import events as ev
from actors.session import messages as m
from actors.session import notices as n
from actors.session.actor import SessionActor
from actors.session.deps import SessionConfig, SessionDeps
from actors.session.pool import ProcessPool
from bench.common import Report, parser
from eventstore import NewEvent, SqliteEventStore
from tests.fakes.anthropic_api import FakeAnthropicAPI

ROOT = Path(__file__).resolve().parent.parent
FAKE = str(ROOT / "tests" / "fakes" / "fake_claude.py")
SIMULATED_STARTUP_MS = 500
#: The developer's own variables that would point the real CLI somewhere else.
LEAKY_ENV = ("ANTHROPIC_", "CLAUDE", "AWS_BEARER_TOKEN_BEDROCK", "VERTEX", "DISABLE_")


def real_claude() -> str | None:
    explicit = os.environ.get("POCKETCODE_REAL_CLAUDE")
    path = Path(explicit) if explicit else ROOT / ".claude-cli" / "node_modules" / ".bin" / "claude"
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


@dataclass(frozen=True, slots=True)
class Cli:
    kind: str  # "real" or "simulated"
    config: SessionConfig
    label: str


@asynccontextmanager
async def cli_under_test(tmp: Path, *, simulated: bool) -> AsyncIterator[Cli]:
    binary = None if simulated else real_claude()
    env: tuple[tuple[str, str], ...]
    if binary is None:
        env = (
            ("FAKE_CLAUDE_STATE_DIR", str(tmp / "state")),
            ("FAKE_CLAUDE_STARTUP_MS", str(SIMULATED_STARTUP_MS)),
        )
        label = f"fake claude, simulated {SIMULATED_STARTUP_MS} ms cold start"
        yield Cli("simulated", SessionConfig(claude_bin=FAKE, env=env), label)
        return
    for key in [k for k in os.environ if k.startswith(LEAKY_ENV)]:
        del os.environ[key]
    home = tmp / "home"
    (home / ".claude").mkdir(parents=True)
    async with FakeAnthropicAPI() as api:
        env = (
            ("ANTHROPIC_BASE_URL", api.base_url),
            ("ANTHROPIC_API_KEY", "test"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("CLAUDE_CONFIG_DIR", str(home / ".claude")),
            ("HOME", str(home)),
        )
        label = "real claude CLI against the Messages API stand-in on 127.0.0.1"
        yield Cli("real", SessionConfig(claude_bin=binary, env=env), label)


class Timing:
    """Marks per turn: message told, user line written to claude, first reply text seen."""

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


async def run_turns(tmp: Path, cli: Cli, prompts: list[str], *, fresh: bool) -> Timing:
    """One session; ``prompts[0]`` warms up (first spawn) and is not counted."""
    name = "fresh" if fresh else "live"
    store = await SqliteEventStore.open(tmp / f"{name}.db")
    timing = Timing()
    system = ActorSystem()
    deps = SessionDeps(
        store=store,
        spawner=timing.spawner,
        notify=timing.notify,
        settings_for=lambda _p: AgentSettings(),
        pool=ProcessPool(4),
        config=cli.config,
    )
    cwd = tmp / name
    cwd.mkdir(exist_ok=True)
    created = {"name": name, "persona": "default", "cwd": str(cwd), "chat_id": 1}
    await store.append(ev.stream_of(name), [NewEvent(ev.CREATED, created)])
    ref = system.spawn(lambda: SessionActor(name, deps), f"session:{name}")
    for text in prompts:
        timing.done.clear()
        timing.told.append(time.perf_counter())
        ref.tell(m.UserTurn(text))
        await asyncio.wait_for(timing.done.wait(), 120)
        if fresh:
            await ref.ask(m.StopProcess("bench: the seed's fresh process per message"), timeout=60)
    await system.stop_all()
    await store.close()
    for series in (timing.told, timing.written, timing.first):
        del series[0]
    return timing


async def run(args: Any) -> Report:
    prompts = [f"turn {i}: what is {i} + {i}?" for i in range(args.turns + 1)]
    with tempfile.TemporaryDirectory(prefix="pocketcode-bench-turns-") as tmp:
        async with cli_under_test(Path(tmp), simulated=args.simulated) as cli:
            live = await run_turns(Path(tmp), cli, prompts, fresh=False)
            fresh = await run_turns(Path(tmp), cli, prompts[: args.fresh_turns + 1], fresh=True)
    report = Report(f"turns bench ({cli.label}; session actor, SQLite log, real pipes)")
    live_ms = [1000 * (f - t) for t, f in zip(live.told, live.first, strict=True)]
    fresh_ms = [1000 * (f - t) for t, f in zip(fresh.told, fresh.first, strict=True)]
    added = [1000 * (w - t) for t, w in zip(live.told, live.written, strict=True)]
    report.add("cli", cli.kind, "", cli.label)
    persistent = report.add(
        "persistent_turn_overhead_ms",
        statistics.median(live_ms),
        "ms",
        f"session actor told -> first reply text back, one process kept, median of {len(live_ms)}",
    )
    per_turn = report.add(
        "fresh_process_turn_overhead_ms",
        statistics.median(fresh_ms),
        "ms",
        f"session actor told -> first reply text back, a fresh claude -p per message "
        f"(resuming), median of {len(fresh_ms)}",
    )
    report.add("fresh_over_persistent_ratio", per_turn / persistent, "x", "fresh / persistent")
    report.percentiles(
        "added_latency", added, "session actor told -> user line on claude's stdin, persistent"
    )
    report.add("samples", len(added), "turns", "persistent turns timed (warm-up left out)")
    report.note(
        f"the same {args.turns} prompts go to both sides (the fresh side takes the first "
        f"{args.fresh_turns}); the first turn of each side starts the process and is not counted"
    )
    return report


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--turns", type=int, default=120, help="persistent turns timed (>= 100)")
    p.add_argument("--fresh-turns", type=int, default=10, help="fresh-process turns timed")
    p.add_argument("--simulated", action="store_true", help="the fake claude even if real exists")
    args = p.parse_args(argv)
    report = asyncio.run(run(args))
    raise SystemExit(report.finish(as_json=args.json))


if __name__ == "__main__":
    main()
