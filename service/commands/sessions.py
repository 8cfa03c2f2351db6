"""``pocketcode sessions``: the sessions the log knows, without the bot or anything else on disk."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from actors.session import events as ev
from actors.session.catalog import CATALOG_TYPES, Directory, evolve_directory
from actors.session.state import FOLD_SKIPS, SessionState, evolve
from eventstore import SqliteEventStore, fold
from service.commands import guarded, open_readonly, stamp, table
from service.config import Config


@dataclass(frozen=True, slots=True)
class SessionRow:
    state: SessionState
    #: The log holds a turn that was started and never ended (the bot stopped mid-turn, or
    #: it is running one right now), or the last turn was closed because of a restart.
    cut_off: bool
    open_turn: bool

    def to_json(self) -> dict[str, Any]:
        s = self.state
        return {
            "name": s.name,
            "persona": s.persona,
            "status": s.status,
            "turns": s.turns,
            "cost_usd": round(s.total_cost_usd, 6),
            "last_used_at": s.last_used_at.isoformat() if s.last_used_at else None,
            "created_at": s.created_at.isoformat() if s.created_at else None,
            "chat_id": s.chat_id,
            "cwd": s.cwd,
            "open_turn": self.open_turn,
            "cut_off": self.cut_off,
            "last_outcome": s.last_outcome,
            "queued_messages": len(s.pending),
            "archive_path": s.archive_path,
            "version": s.version,
        }


async def load_rows(store: SqliteEventStore, *, include_archived: bool) -> list[SessionRow]:
    """Directory fold for the list, then each listed session's own fold for the figures."""
    directory: Directory = fold(
        evolve_directory,
        {},
        [e async for e in store.read_all(stream_prefix="session:", types=CATALOG_TYPES)],
    )
    rows = []
    for summary in directory.values():
        if summary.status != "active" and not include_archived:
            continue
        events = await store.read_stream(ev.stream_of(summary.name), exclude_types=FOLD_SKIPS)
        state = fold(evolve, SessionState(), events)
        ended = [e for e in events if e.type == ev.TURN_ENDED]
        restart_cut = bool(ended) and ended[-1].data.get("reason") == "restart"
        open_turn = state.turn is not None
        rows.append(SessionRow(state, cut_off=open_turn or restart_cut, open_turn=open_turn))
    rows.sort(key=lambda r: r.state.last_used_at or r.state.created_at, reverse=True)  # type: ignore[arg-type, return-value]
    return rows


def render(rows: list[SessionRow]) -> str:
    lines: list[tuple[str, ...]] = [
        ("NAME", "PERSONA", "STATUS", "TURNS", "COST", "LAST USED", "CUT OFF")
    ]
    for row in rows:
        s = row.state
        if row.open_turn:
            cut = "yes (turn still open)"
        elif row.cut_off:
            cut = "yes (restart)"
        else:
            cut = "no"
        lines.append(
            (
                s.name,
                s.persona,
                s.status,
                str(s.turns),
                f"${s.total_cost_usd:.4f}",
                stamp(s.last_used_at),
                cut,
            )
        )
    return table(lines)


@guarded
async def cmd_sessions(settings: Config, args: argparse.Namespace) -> int:
    store = await open_readonly(settings.db_path)
    try:
        rows = await load_rows(store, include_archived=args.all)
    finally:
        await store.close()
    if args.json:
        for row in rows:
            print(json.dumps(row.to_json(), ensure_ascii=False))
        return 0
    if not rows:
        hint = "" if args.all else " (--all includes archived ones)"
        print(f"No sessions{hint}.")
        return 0
    print(render(rows))
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sessions", help="list sessions from the event log")
    p.add_argument("--all", action="store_true", help="include archived sessions")
    p.add_argument("--json", action="store_true", help="one JSON object per session")
    p.set_defaults(handler=cmd_sessions)
