"""``pocketcode latency``: where the time goes between a message and its reply, per stage."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eventstore import Event, SqliteEventStore
from service.commands import CommandError, guarded, open_readonly, table
from service.config import Config
from service.latency import (
    EVENT_TYPES,
    PERCENTILES,
    STAGES,
    TURN_STARTED,
    UPDATE_RECEIVED,
    TurnTiming,
    summarize,
    turn_timings,
)

LABELS = {
    "written": "written to process",
    "first_delta": "first text delta",
    "first_shown": "first shown in Telegram",
    "result": "result",
    "final_shown": "final shown in Telegram",
}
NEEDS_LOG = {"first_shown", "final_shown"}


async def last_turn_events(store: SqliteEventStore, last: int) -> list[Event]:
    """The events needed to time the last ``last`` turns, in log order.

    First a light pass over update/turn-start events finds where those turns begin; then
    only the session events from there on are read (not the whole stdout history).
    """
    updates: list[Event] = []
    starts: list[int] = []
    async for event in store.read_all(types={UPDATE_RECEIVED, TURN_STARTED}):
        if event.type == UPDATE_RECEIVED:
            updates.append(event)
        elif event.stream.startswith("session:"):
            starts.append(event.seq)
    if not starts:
        return []
    first = starts[-last] if len(starts) >= last else starts[0]
    session_types = EVENT_TYPES - {UPDATE_RECEIVED}
    rest = [
        e
        async for e in store.read_all(
            after_seq=first - 1, stream_prefix="session:", types=session_types
        )
    ]
    needed = {e.correlation_id for e in rest if e.type == TURN_STARTED}
    return sorted([u for u in updates if u.correlation_id in needed] + rest, key=lambda e: e.seq)


def _read_log(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise CommandError(f"cannot read the log file {path}: {exc.strerror or exc}") from None


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def render(summary: dict[str, Any], timings: list[TurnTiming], have_log: bool) -> str:
    rows: list[tuple[str, ...]] = [
        ("STAGE (ms since update received)", "N", *(f"P{p}" for p in PERCENTILES), "STEP P50")
    ]
    for stage in STAGES:
        since = summary["since_received_ms"][stage]
        step = summary["step_ms"][stage]
        rows.append(
            (
                LABELS[stage],
                str(since["n"]) if since["n"] else "n/a",
                *(_cell(since[f"p{p}"]) for p in PERCENTILES),
                _cell(step["p50"]),
            )
        )
    out = [f"Latency over the last {len(timings)} turn(s):", "", table(rows)]
    if not have_log:
        out.append("(first/final shown: n/a — pass --log FILE with the bot's JSON log lines)")
    if summary["slowest"]:
        out += ["", "Slowest turns (update received → last point known):"]
        slow: list[tuple[str, ...]] = [("TOTAL MS", "SESSION", "TURN", "OUTCOME", "STARTED")]
        for turn in summary["slowest"]:
            slow.append(
                (
                    _cell(turn["total_ms"]),
                    turn["session"],
                    turn["turn_id"],
                    turn["outcome"] or "open",
                    turn["points"]["received"] or "-",
                )
            )
        out.append(table(slow))
    return "\n".join(out)


@guarded
async def cmd_latency(settings: Config, args: argparse.Namespace) -> int:
    if args.last < 1:
        raise CommandError("--last must be at least 1")
    log_lines = _read_log(args.log) if args.log else []
    store = await open_readonly(settings.db_path)
    try:
        events = await last_turn_events(store, args.last)
    finally:
        await store.close()
    timings = turn_timings(events, log_lines)[-args.last :]
    summary = summarize(timings)
    if args.json:
        print(json.dumps({**summary, "log_given": bool(args.log)}, ensure_ascii=False))
        return 0
    if not timings:
        print("No turns in the log yet.")
        return 0
    print(render(summary, timings, bool(args.log)))
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("latency", help="per-stage latency of recent turns (p50/p90/p99)")
    p.add_argument("--last", type=int, default=100, metavar="N", help="turns to profile (100)")
    p.add_argument(
        "--log", type=Path, metavar="FILE", help="the bot's JSON-lines log (shown-in-Telegram)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_latency)
