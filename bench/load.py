"""Load: 50 chats streaming replies at once through the whole bot, under Telegram flood control.

Run ``python -m bench.load [--json] [--seconds 60] [--chats 50] [--groups 25] [--think 1.0]``
(``--seconds 300`` for several minutes).

The bot is wired as in production (see ``bench/telegram.py``: real aiogram long-polling the
Bot API stand-in on 127.0.0.1, ``make_view`` with the default 1.0 s edit interval and real
``asyncio.sleep`` for flood waits, the fake claude over real pipes, SQLite log), with
``claude.max_processes`` raised to 60 so each of the 50 sessions keeps its process. The
stand-in's flood control is on, on the real monotonic clock: ~1 message/s per chat, burst 3,
then 429 with retry_after. Drafts (private chats) are not flood-limited by the stand-in, so
``--groups`` of the chats (default half) are supergroups, where a reply streams as a message
plus edits and 429s really happen.

Each chat: ``/new sN``, then in a loop until the time is up: send
``[[slow:30]] [[long:1500]]`` (1,500 chars in 38 deltas, 30 ms apart), wait for the final
reply, "read" it for ``--think`` s (x1.0-1.5, so the next message is not throttled by the
previous reply's last call), send the next. Chats still streaming at the deadline finish.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from actors.chat import state as cs
from actors.session import events as ev
from bench.common import Report, parser
from bench.common import percentile as pct
from bench.telegram import (
    REPLY_METHODS,
    SHOWING,
    BenchBot,
    Finals,
    filler,
    running_bot,
    squash,
    visible,
    wait_text,
)

REPLY_CHARS = 1500
SLOW_MS = 30
PROMPT = f"[[slow:{SLOW_MS}]] [[long:{REPLY_CHARS}]]"


def _status_kb(path: str, key: str) -> int:
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Recorder:
    """Everything timed while the load runs, fed by the stand-in's request observer."""

    finals: Finals = field(default_factory=Finals)
    pushed: dict[int, tuple[int, float, datetime]] = field(default_factory=dict)  # uid ->
    current: dict[int, int] = field(default_factory=dict)  # chat -> update id awaiting a reply
    first_shown: dict[int, float] = field(default_factory=dict)  # uid -> perf_counter
    streaming: bool = False
    reply_calls: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    http_429: int = 0
    flood_pending: dict[tuple[int, str], int] = field(default_factory=dict)
    other_errors: dict[str, int] = field(default_factory=dict)
    timeouts: list[int] = field(default_factory=list)
    first_of_chat: set[int] = field(default_factory=set)  # update ids that spawned claude

    def observe(self, method: str, params: dict[str, Any], status: int, t: float) -> None:
        self.finals.observe(method, params, status, t)
        chat = params.get("chat_id")
        if status == 429:
            self.http_429 += 1
            assert chat is not None  # the stand-in floods only a request that named its chat
            key = (int(chat), method)
            self.flood_pending[key] = self.flood_pending.get(key, 0) + 1
        elif status == 200 and chat is not None:
            self.flood_pending.pop((int(chat), method), None)
        elif status != 200:
            desc = f"{method} {status}"
            self.other_errors[desc] = self.other_errors.get(desc, 0) + 1
        if not self.streaming or chat is None or method not in REPLY_METHODS:
            return
        self.reply_calls += 1
        self.by_method[method] = self.by_method.get(method, 0) + 1
        uid = self.current.get(int(chat))
        if uid is not None and status == 200 and method in SHOWING:
            self.first_shown.setdefault(uid, t)


@dataclass
class Memory:
    """RSS of this process (bot + stand-in + bench) and of the fake claude processes."""

    self_peak_kb: int = 0
    fakes_total_peak_kb: int = 0
    fake_peak_kb: int = 0
    fakes_seen: int = 0

    def sample(self, b: BenchBot) -> None:
        self.self_peak_kb = max(self.self_peak_kb, _status_kb("/proc/self/status", "VmRSS"))
        total = 0
        for proc in b.spawner.procs:
            status = f"/proc/{proc.pid}/status"
            total += _status_kb(status, "VmRSS")
            self.fake_peak_kb = max(self.fake_peak_kb, _status_kb(status, "VmHWM"))
        self.fakes_seen = len(b.spawner.procs)
        self.fakes_total_peak_kb = max(self.fakes_total_peak_kb, total)


async def chat_loop(
    b: BenchBot,
    rec: Recorder,
    i: int,
    chat: int,
    user: int,
    deadline: float,
    think: float,
    sent: dict[int, int],
) -> None:
    kind = "private" if chat > 0 else "supergroup"
    b.api.push_message(chat, user, f"/new s{i}", chat_type=kind)
    await wait_text(b.api, chat, f"Created s{i}", timeout=60)
    await asyncio.sleep(random.uniform(0, think))  # spread the starts
    n = 0
    while time.perf_counter() < deadline:
        t, wall = time.perf_counter(), datetime.now(UTC)
        uid = b.api.push_message(chat, user, f"{PROMPT} chat {i} message {n}", chat_type=kind)
        rec.current[chat] = uid
        rec.pushed[uid] = (chat, t, wall)
        if n == 0:
            rec.first_of_chat.add(uid)
        n += 1
        sent[chat] = n
        try:
            await rec.finals.wait(chat, n, 120)
        except TimeoutError:
            rec.timeouts.append(uid)
            return
        rec.current.pop(chat, None)
        await asyncio.sleep(think * random.uniform(1.0, 1.5))


async def sampler(b: BenchBot, mem: Memory, lag: list[float], active: list[int]) -> None:
    tick = 0.05
    n = 0
    while True:
        t = time.perf_counter()
        await asyncio.sleep(tick)
        lag.append(1000 * (time.perf_counter() - t - tick))
        n += 1
        if n % 20 == 0:  # once a second
            mem.sample(b)
            active.append(sum(1 for r in b.app.catalog.listed() if r.in_flight))


@dataclass
class LogCheck:
    events: int = 0
    received_ms: list[float] = field(default_factory=list)  # pushed -> update_received at
    to_stdin_ms: list[float] = field(default_factory=list)  # update_received -> stdin at
    missing_received: int = 0
    missing_started: int = 0
    missing_ended: int = 0
    not_completed: int = 0
    started_without_end: int = 0
    delivered: int = 0


async def check_log(b: BenchBot, rec: Recorder) -> LogCheck:
    out = LogCheck(events=await b.app.store.last_seq())
    types = {cs.UPDATE_RECEIVED, cs.REPLY_DELIVERED, ev.TURN_STARTED, ev.TURN_ENDED, ev.STDIN}
    received: dict[str, datetime] = {}
    started: dict[str, datetime] = {}  # correlation -> turn_started at
    stdin: dict[str, datetime] = {}  # correlation -> first user line written after its start
    ended: dict[str, str] = {}  # correlation -> outcome
    turn_ids: set[str] = set()
    ended_ids: set[str] = set()
    waiting: dict[str, str] = {}  # session stream -> correlation of the turn just started
    async for e in b.app.store.read_all(types=types):
        corr = e.correlation_id or ""
        if e.type == cs.UPDATE_RECEIVED:
            received[corr] = e.at
        elif e.type == cs.REPLY_DELIVERED:
            out.delivered += 1
        elif e.type == ev.TURN_STARTED:
            started[corr] = e.at
            turn_ids.add(e.data["turn_id"])
            waiting[e.stream] = corr
        elif e.type == ev.STDIN:
            line = e.data.get("line") or {}
            if line.get("type") == "user" and e.stream in waiting:
                stdin.setdefault(waiting.pop(e.stream), e.at)
        elif e.type == ev.TURN_ENDED:
            ended[corr] = e.data.get("outcome", "")
            ended_ids.add(e.data["turn_id"])
    out.started_without_end = len(turn_ids - ended_ids)
    for uid, (_chat, _t, wall) in rec.pushed.items():
        corr = f"upd-{uid}"
        if corr not in received:
            out.missing_received += 1
            continue
        steady = uid not in rec.first_of_chat  # a chat's first message also starts claude
        if steady:
            out.received_ms.append(1000 * (received[corr] - wall).total_seconds())
        if corr not in started:
            out.missing_started += 1
        if corr not in ended:
            out.missing_ended += 1
        elif ended[corr] != ev.COMPLETED:
            out.not_completed += 1
        if corr in stdin and steady:
            out.to_stdin_ms.append(1000 * (stdin[corr] - received[corr]).total_seconds())
    return out


def lost_replies(b: BenchBot, chats: Iterable[int], sent: dict[int, int]) -> tuple[int, int]:
    """(replies whose final text is not whole in the chat, finals showing the whole reply)."""
    whole = squash(filler(REPLY_CHARS))
    lost = good = 0
    for chat in chats:
        finals = [m.text or "" for m in b.api.bot_messages(chat) if "this turn" in (m.text or "")]
        ok = sum(1 for text in finals if whole in squash(visible({"text": text})))
        good += ok
        lost += max(0, sent.get(chat, 0) - ok)
    return lost, good


async def run(args: Any, report: Report) -> None:
    chats_n, groups = args.chats, min(args.groups, args.chats)
    privates = chats_n - groups
    users = [1001 + i for i in range(chats_n)]
    chats = [u if i < privates else -(2001 + i) for i, u in enumerate(users)]
    rec = Recorder()
    mem = Memory()
    lag: list[float] = []  # loop lag samples, ms
    active: list[int] = []  # sessions streaming, per sample
    sent: dict[int, int] = {}
    base_kb = _status_kb("/proc/self/status", "VmRSS")
    with tempfile.TemporaryDirectory() as tmp:
        async with running_bot(
            Path(tmp),
            users,
            allow_groups=groups > 0,
            max_processes=60,
            lean=True,
            record_deltas=False,
            observe=rec.observe,
        ) as b:
            watch = asyncio.create_task(sampler(b, mem, lag, active))
            cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            rec.streaming = True
            deadline = time.perf_counter() + args.seconds
            await asyncio.gather(
                *(
                    chat_loop(b, rec, i, chat, users[i], deadline, args.think, sent)
                    for i, chat in enumerate(chats)
                )
            )
            rec.streaming = False
            wall = time.perf_counter() - wall0
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            await asyncio.sleep(0.5)  # the last events (reply_delivered) commit
            mem.sample(b)
            watch.cancel()
            check = await check_log(b, rec)
            lost, good = lost_replies(b, chats, sent)
            api_calls = len(b.api.log)
            polls = sum(1 for m, _p, _s in b.api.log if m == "getUpdates")
    replies = sum(sent.values())
    hwm_kb = _status_kb("/proc/self/status", "VmHWM")
    shown_all = {
        uid: 1000 * (rec.first_shown[uid] - t)
        for uid, (_c, t, _w) in rec.pushed.items()
        if uid in rec.first_shown
    }
    shown = [ms for uid, ms in shown_all.items() if uid not in rec.first_of_chat]
    first = [ms for uid, ms in shown_all.items() if uid in rec.first_of_chat]
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    unretried = sum(rec.flood_pending.values())

    report.add("added_latency_p50_ms", pct(shown, 0.5), "ms")
    report.add("added_latency_p99_ms", pct(shown, 0.99), "ms")
    report.add("update_to_stdin_p50_ms", pct(check.to_stdin_ms, 0.5), "ms")
    report.add("update_to_stdin_p99_ms", pct(check.to_stdin_ms, 0.99), "ms")
    report.add("pushed_to_logged_p50_ms", pct(check.received_ms, 0.5), "ms")
    report.add("pushed_to_logged_p99_ms", pct(check.received_ms, 0.99), "ms")
    report.add("peak_rss_mb", hwm_kb / 1024, "MB")
    report.add("fake_claude_peak_rss_mb", mem.fake_peak_kb / 1024, "MB")
    report.add("fake_claude_total_rss_mb", mem.fakes_total_peak_kb / 1024, "MB")
    report.add("api_calls", api_calls, "calls")
    report.add("api_calls_per_reply", rec.reply_calls / max(1, replies), "calls")
    report.add("http_429", rec.http_429, "")
    report.add("http_429_unretried", unretried, "", "0")
    report.add("replies", replies, "")
    report.add("lost_replies", lost, "", "0")
    report.add("events", check.events, "")
    report.add("events_lost", check.missing_received + check.missing_started
               + check.missing_ended + check.started_without_end, "", "0")  # fmt: skip
    report.add("loop_lag_p99_ms", pct(lag, 0.99), "ms")
    report.add("cpu_percent", 100 * cpu / wall, "%")

    per = ", ".join(f"{m} {k / max(1, replies):.2f}" for m, k in sorted(rec.by_method.items()))
    report.note(
        f"{chats_n} chats ({privates} private: drafts; {groups} supergroups: message + edits) "
        f"for {args.seconds:g} s (+ drain {wall - args.seconds:.1f} s); {replies} replies of "
        f"{REPLY_CHARS} chars ({PROMPT}), think {args.think:g}-{1.5 * args.think:g} s; "
        f"sessions streaming at once (1/s samples): median {pct(active, 0.5):.0f}, "
        f"max {max(active, default=0)}"
    )
    report.note(
        "added_latency = update pushed into the stand-in -> first draft/message of its reply "
        "handled by the stand-in (the 'Thinking…' placeholder: no claude in it; includes the "
        "long poll, the log commit, both actors and the HTTP call); update_to_stdin = "
        "chat.update_received at -> session.stdin (user line) at, commit times in the log; "
        "pushed_to_logged = pushed (wall clock) -> chat.update_received at. Steady state: "
        "each chat's first message (50 claude processes starting at once) is left out of "
        f"the three latencies; with it added_latency p50/p99 {pct([*shown, *first], 0.5):.0f}/"
        f"{pct([*shown, *first], 0.99):.0f} ms, first messages alone p50 {pct(first, 0.5):.0f} ms"
    )
    report.note(
        f"peak_rss_mb = VmHWM of this process: bot + the stand-in + bench bookkeeping "
        f"({base_kb / 1024:.0f} MB after imports, before the bot started); fake claude: "
        f"largest VmHWM of one process / largest sum of VmRSS over all {mem.fakes_seen} "
        "(sampled 1/s)"
    )
    report.note(
        f"api_calls = every request the stand-in got ({polls} getUpdates); per reply = "
        f"{'/'.join(sorted(REPLY_METHODS))} while streaming / replies: {per}"
    )
    report.note(
        f"429s: {rec.http_429}, {unretried} not followed by a success of the same method in "
        f"the same chat; other non-200 answers: {rec.other_errors or 'none'}; "
        f"replies timed out (120 s): {len(rec.timeouts)}"
    )
    report.note(
        f"log: {check.events} events; pushed messages without chat.update_received "
        f"{check.missing_received}, without session.turn_started {check.missing_started}, "
        f"without session.turn_ended {check.missing_ended} (ended not 'completed': "
        f"{check.not_completed}); turn_started without turn_ended {check.started_without_end};"
        f" chat.reply_delivered {check.delivered}; final replies whole in their chat {good}"
    )


async def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--seconds", type=float, default=60, help="how long to send (default 60)")
    p.add_argument("--chats", type=int, default=50, help="chats streaming at once (default 50)")
    p.add_argument("--groups", type=int, default=25, help="of them supergroups (default 25)")
    p.add_argument("--think", type=float, default=1.0, help="reading time per reply, s")
    args = p.parse_args()
    report = Report(f"load bench ({args.chats} chats through the whole bot, flood control on)")
    await run(args, report)
    return report.finish(as_json=args.json)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
