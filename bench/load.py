"""Load: 50 chats streaming replies at once, with the bot alone in its own process.

Run ``python -m bench.load [--json] [--seconds 60] [--chats 50] [--groups 25] [--think 1.0]
[--py-spy FILE]`` (``--seconds 300`` for several minutes). ``--topics``: instead, ``--chats``
sessions side by side as topics of ONE private chat (``bench/load_topics.py``).

Three kinds of process, so the bot's own cost can be measured:

* **the bot**: ``python -m bench.load_bot``, i.e. ``pocketcode run`` as in production (real
  aiogram long-polling, the app and actors, ``make_view`` with the default 1.0 s edit interval
  and real flood waits, the SQLite log), with ``claude.max_processes`` 60 so each of the 50
  sessions keeps its process, plus a probe of its event-loop lag;
* **the fake claudes**: one ``tests/fakes/fake_claude.py`` per session, spawned by the bot over
  real pipes;
* **this process**: the Bot API stand-in (``tests/fakes/botapi.py`` on 127.0.0.1, flood control
  on the real monotonic clock: ~1 message/s per chat, burst 3, then 429 with retry_after) and
  the load: the users typing and reading.

Drafts (private chats) are not flood-limited by the stand-in, so ``--groups`` of the chats
(default half) are supergroups, where a reply streams as a message plus edits and 429s really
happen. Each chat: ``/new sN``, then until the time is up: send ``[[slow:30]] [[long:1500]]``
(1,500 characters in 38 deltas, 30 ms apart), wait for the final reply, read it for
``--think`` s (x1.0-1.5), send the next. Chats still streaming at the deadline finish.

The bot's CPU is its own (``/proc/PID/stat`` utime + stime over the load, children excluded);
its loop lag comes from the probe inside it; update pushed -> "Thinking…" shown is timed here,
on the stand-in (both ends in this process); pushed -> logged compares this process's wall
clock with the commit time the bot's log gives ``update.received``. With ``--py-spy FILE``
the bot is sampled by py-spy for the whole load (raw collapsed stacks into FILE) and the
busiest functions are printed (see bench/PROFILE.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import yaml

from actors.chat import state as cs
from actors.chat.inbound import RECEIVED
from actors.claude import codec
from actors.session import events as ev
from bench.common import Report, at_most, exactly, parser, percentile
from bench.profile import summarize
from bench.telegram import (
    FAKE,
    REPLY_METHODS,
    ROOT,
    SHOWING,
    Finals,
    TimedBotAPI,
    filler,
    squash,
    visible,
    wait_text,
)
from eventstore import SqliteEventStore
from service.config import Config, load_settings

REPLY_CHARS = 1500
SLOW_MS = 30
PROMPT = f"[[slow:{SLOW_MS}]] [[long:{REPLY_CHARS}]]"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int | str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _stat(pid: int | str) -> list[str]:
    """Fields of /proc/PID/stat after the command name (field 3 is index 0)."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
        return fh.read().rpartition(")")[2].split()


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process itself (threads included, children not)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(entry)[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


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
class Watch:
    """Sampled while the load runs: this process's loop lag, the bot's and fakes' memory."""

    lag_ms: list[float] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)  # chats waiting for a reply, 1/s
    bot_hwm_kb: int = 0
    fake_peak_kb: int = 0
    fakes_total_peak_kb: int = 0
    fakes_seen: set[int] = field(default_factory=set)
    fakes_cpu_s: dict[int, float] = field(default_factory=dict)  # pid -> CPU s, last sample

    def sample_memory(self, bot: int) -> None:
        self.bot_hwm_kb = max(self.bot_hwm_kb, _status_kb(bot, "VmHWM"))
        fakes = children(bot)
        self.fakes_seen.update(fakes)
        for pid in fakes:
            with contextlib.suppress(OSError, IndexError, ValueError):
                self.fakes_cpu_s[pid] = cpu_seconds(pid)
        self.fake_peak_kb = max([self.fake_peak_kb, *(_status_kb(p, "VmHWM") for p in fakes)])
        total = sum(_status_kb(p, "VmRSS") for p in fakes)
        self.fakes_total_peak_kb = max(self.fakes_total_peak_kb, total)

    async def run(self, bot: int, rec: Recorder) -> None:
        tick, n = 0.05, 0
        while True:
            t = time.perf_counter()
            await asyncio.sleep(tick)
            self.lag_ms.append(1000 * (time.perf_counter() - t - tick))
            n += 1
            if n % 20 == 0:  # once a second
                self.sample_memory(bot)
                self.waiting.append(len(rec.current))


async def chat_loop(
    api: TimedBotAPI,
    rec: Recorder,
    i: int,
    chat: int,
    user: int,
    deadline: float,
    think: float,
    sent: dict[int, int],
) -> None:
    kind = "private" if chat > 0 else "supergroup"
    api.push_message(chat, user, f"/new s{i}", chat_type=kind)
    await wait_text(api, chat, f"Created s{i}", timeout=60)
    await asyncio.sleep(random.uniform(0, think))  # spread the starts
    n = 0
    while time.perf_counter() < deadline:
        t, wall = time.perf_counter(), datetime.now(UTC)
        uid = api.push_message(chat, user, f"{PROMPT} chat {i} message {n}", chat_type=kind)
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


@dataclass
class LogCheck:
    events: int = 0
    text_deltas: int = 0
    commit_gaps_ms: list[float] = field(default_factory=list)  # between commits, under load
    commits: int = 0
    received_ms: list[float] = field(default_factory=list)  # pushed -> update_received at
    to_started_ms: list[float] = field(default_factory=list)  # update_received -> turn_started
    started_at: dict[int, datetime] = field(default_factory=dict)  # update id -> turn_started
    to_stdin_ms: list[float] = field(default_factory=list)  # update_received -> stdin at
    missing_received: int = 0
    missing_started: int = 0
    missing_ended: int = 0
    not_completed: int = 0
    started_without_end: int = 0
    delivered: int = 0


async def check_log(db: Path, rec: Recorder) -> LogCheck:
    """Read the bot's log after it stopped: was every pushed message logged, run, answered?"""
    store = await SqliteEventStore.open(db)
    out = LogCheck(events=await store.last_seq())
    types = {RECEIVED, cs.REPLY_DELIVERED, ev.TURN_STARTED, ev.TURN_ENDED, ev.STDIN}
    received: dict[str, datetime] = {}
    started: dict[str, datetime] = {}  # correlation -> turn_started at
    stdin: dict[str, datetime] = {}  # correlation -> first user line written after its start
    ended: dict[str, str] = {}  # correlation -> outcome
    turn_ids: set[str] = set()
    ended_ids: set[str] = set()
    waiting: dict[str, str] = {}  # session stream -> correlation of the turn just started
    async for e in store.read_all(types=types):
        corr = e.correlation_id or ""
        if e.type == RECEIVED:
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
    first_push = min((wall for _c, _t, wall in rec.pushed.values()), default=None)
    last_at: datetime | None = None
    async for e in store.read_all():  # one `at` per commit: the writer's timeline
        if e.type == ev.STREAM:
            out.text_deltas += codec.text_delta(e.data.get("line") or {}) is not None
        if e.at != last_at:
            if last_at is not None and first_push is not None and last_at >= first_push:
                out.commit_gaps_ms.append(1000 * (e.at - last_at).total_seconds())
            out.commits += 1
            last_at = e.at
    await store.close()
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
        elif steady:
            out.started_at[uid] = started[corr]
            out.to_started_ms.append(1000 * (started[corr] - received[corr]).total_seconds())
        if corr not in ended:
            out.missing_ended += 1
        elif ended[corr] != ev.COMPLETED:
            out.not_completed += 1
        if corr in stdin and steady:
            out.to_stdin_ms.append(1000 * (stdin[corr] - received[corr]).total_seconds())
    return out


def lost_replies(api: TimedBotAPI, chats: Iterable[int], sent: dict[int, int]) -> tuple[int, int]:
    """(replies whose final text is not whole in the chat, finals showing the whole reply)."""
    whole = squash(filler(REPLY_CHARS))
    lost = good = 0
    for chat in chats:
        finals = [m.text or "" for m in api.bot_messages(chat) if "this turn" in (m.text or "")]
        ok = sum(1 for text in finals if whole in squash(visible({"text": text})))
        good += ok
        lost += max(0, sent.get(chat, 0) - ok)
    return lost, good


@dataclass
class BotProcess:
    """The bot in its own process, configured as in production but for the stand-in."""

    proc: asyncio.subprocess.Process
    settings: Config
    lag_file: Path
    log: IO[bytes]

    @classmethod
    async def start(
        cls, tmp: Path, api: TimedBotAPI, users: list[int], groups: list[int]
    ) -> BotProcess:
        config = tmp / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "telegram": {"allowed_chats": groups, "edit_interval_s": 1.0},
                    "claude": {"max_processes": 60},
                    "log": {"format": "json"},
                }
            )
        )
        env = {
            "TELEGRAM_BOT_TOKEN": api.token,
            "POCKETCODE_TELEGRAM_API_BASE": api.base_url,
            "POCKETCODE_ALLOWED_USERS": ",".join(str(u) for u in users),
            "POCKETCODE_DATA_DIR": str(tmp / "data"),
            "POCKETCODE_CLAUDE_BIN": FAKE,
            "POCKETCODE_PERSONAS_DIR": str(tmp / "personas"),
            "FAKE_CLAUDE_STATE_DIR": str(tmp / "fake-state"),
        }
        settings = load_settings(config, env=env)
        lag_file = tmp / "bot-lag.json"
        log = (tmp / "bot.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.load_bot",
            "--config",
            str(config),
            "--lag-file",
            str(lag_file),
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(proc, settings, lag_file, log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def stop(self) -> list[tuple[float, float]]:
        """SIGTERM (a clean shutdown, as systemd stops it); the lag probe's samples."""
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        self.log.close()
        if code != 0:
            raise RuntimeError(f"the bot exited with {code}; see its log")
        samples: list[tuple[float, float]] = json.loads(self.lag_file.read_text())
        return samples


def py_spy_path() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.is_file() else None)


async def py_spy(pid: int, out: Path, seconds: float) -> asyncio.subprocess.Process:
    """Sample the bot for ``seconds`` (non-blocking: the bot is never paused)."""
    exe = py_spy_path()
    assert exe is not None, "checked by main()"
    return await asyncio.create_subprocess_exec(
        exe, "record", "--pid", str(pid), "--rate", "100", "--nonblocking", "--format", "raw",
        "--threads", "--function", "--full-filenames", "--output", str(out),
        "--duration", str(round(seconds)),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def run(args: Any, report: Report) -> None:
    chats_n, groups = args.chats, min(args.groups, args.chats)
    privates = chats_n - groups
    users = [1001 + i for i in range(chats_n)]
    chats = [u if i < privates else -(2001 + i) for i, u in enumerate(users)]
    rec = Recorder()
    watch = Watch()
    sent: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="pocketcode-bench-load-") as tmp_name:
        tmp = Path(tmp_name)
        api = TimedBotAPI(lean=True, observe=rec.observe)
        await api.start()
        bot = await BotProcess.start(tmp, api, users, [c for c in chats if c < 0])
        try:
            await api.wait_for(lambda: any(m == "getUpdates" for m, _p, _s in api.log), 60)
            sampler = asyncio.create_task(watch.run(bot.pid, rec))
            spy = None
            if args.py_spy:
                spy = await py_spy(bot.pid, Path(args.py_spy), args.seconds)
            own0 = resource.getrusage(resource.RUSAGE_SELF)
            cpu0, t0 = cpu_seconds(bot.pid), time.monotonic()
            rec.streaming = True
            deadline = time.perf_counter() + args.seconds
            await asyncio.gather(
                *(
                    chat_loop(api, rec, i, chat, users[i], deadline, args.think, sent)
                    for i, chat in enumerate(chats)
                )
            )
            rec.streaming = False
            cpu1, t1 = cpu_seconds(bot.pid), time.monotonic()
            own1 = resource.getrusage(resource.RUSAGE_SELF)
            watch.sample_memory(bot.pid)
            sampler.cancel()
            await asyncio.sleep(0.5)  # the last events (reply_delivered) commit
            if spy is not None:
                await spy.wait()
        finally:
            bot_lag = await bot.stop()
            await api.stop()
        check = await check_log(bot.settings.db_path, rec)
        lost, good = lost_replies(api, chats, sent)
        api_calls = len(api.log)
        polls = sum(1 for m, _p, _s in api.log if m == "getUpdates")

    wall = t1 - t0
    replies = sum(sent.values())
    shown_all = {
        uid: 1000 * (rec.first_shown[uid] - t)
        for uid, (_c, t, _w) in rec.pushed.items()
        if uid in rec.first_shown
    }
    shown = [ms for uid, ms in shown_all.items() if uid not in rec.first_of_chat]
    first = [ms for uid, ms in shown_all.items() if uid in rec.first_of_chat]
    lag = [ms for t, ms in bot_lag if t0 <= t <= t1]
    cpu = cpu1 - cpu0
    own_cpu = (own1.ru_utime + own1.ru_stime) - (own0.ru_utime + own0.ru_stime)
    unretried = sum(rec.flood_pending.values())
    events_lost = (
        check.missing_received + check.missing_started + check.missing_ended
    ) + check.started_without_end

    report.percentiles(
        "added_latency",
        shown,
        "update pushed into the stand-in -> first 'Thinking…' draft/message handled by it",
        p50=at_most(250),
        p99=at_most(1000),
    )
    report.percentiles(
        "pushed_to_logged",
        check.received_ms,
        "update pushed -> update.received committed in the bot's log",
    )
    report.percentiles(
        "logged_to_turn_started",
        check.to_started_ms,
        "update.received -> session.turn_started committed, log times (chat and session actors, "
        "the session's message_queued and turn_started commits)",
    )
    started_to_shown = [
        1000 * ((wall - check.started_at[uid]).total_seconds() + rec.first_shown[uid] - t)
        for uid, (_c, t, wall) in rec.pushed.items()
        if uid in check.started_at and uid in rec.first_shown
    ]
    report.percentiles(
        "turn_started_to_shown",
        started_to_shown,
        "session.turn_started committed -> 'Thinking…' handled by the stand-in (the bench's "
        "wall clock against the log's; TurnStarted to the chat actor, the view, the Bot API call)",
    )
    report.percentiles(
        "update_to_stdin",
        check.to_stdin_ms,
        "update.received -> user line on claude's stdin (session.stdin), log times",
    )
    report.percentiles("loop_lag", lag, "the bot's event loop: lateness of a 50 ms sleep")
    report.add(
        "bot_cpu_s_per_reply",
        cpu / max(1, replies),
        "CPU s",
        f"the bot process alone: utime+stime over the load / {replies} streamed replies",
    )
    report.add(
        "bot_cpu_ms_per_delta",
        1000 * cpu / max(1, check.text_deltas),
        "CPU ms",
        f"the same / {check.text_deltas:,} text deltas logged",
    )
    report.add(
        "bot_cpu_percent", 100 * cpu / wall, "% of a core", f"the bot process over {wall:.0f} s"
    )
    report.add(
        "standin_cpu_percent",
        100 * own_cpu / wall,
        "% of a core",
        "this process: Bot API stand-in + the simulated users",
    )
    report.add(
        "standin_loop_lag_p99_ms",
        percentile(watch.lag_ms, 0.99),
        "ms",
        f"this process's loop lag ({len(watch.lag_ms)} samples): the stand-in's own delays",
    )
    report.add(
        "fake_claudes_cpu_percent",
        100 * sum(watch.fakes_cpu_s.values()) / wall,
        "% of a core",
        f"the {len(watch.fakes_seen)} fake claude processes together (they share the 2 cores)",
    )
    report.percentiles(
        "commit_interval",
        check.commit_gaps_ms,
        "the bot's log: time between consecutive group commits under load (one `at` each)",
    )
    report.add(
        "events_per_commit",
        check.events / max(1, check.commits),
        "events",
        f"the bot's log: {check.events:,} events in {check.commits:,} commits",
    )
    report.add("replies", replies, "", f"streamed replies of {REPLY_CHARS:,} chars")
    whole = "replies whose final text is not whole in the chat"
    report.add("lost_replies", lost, "", whole, exactly(0))
    report.add(
        "events_lost",
        events_lost,
        "",
        "pushed messages missing update_received, turn_started or turn_ended; turns never ended",
        exactly(0),
    )
    report.add(
        "http_429_unretried",
        unretried,
        "",
        "429s not followed by a success of the same method in the same chat",
        exactly(0),
    )
    report.add("http_429", rec.http_429, "", "429s the stand-in's flood control answered")
    every = f"every request the stand-in got ({polls} getUpdates)"
    report.add("api_calls", api_calls, "calls", every)
    report.add(
        "api_calls_per_reply",
        rec.reply_calls / max(1, replies),
        "calls",
        "reply calls (send, edit, draft, typing, delete, document) while streaming / replies",
    )
    report.add("peak_rss_mb", watch.bot_hwm_kb / 1024, "MB", "the bot process's VmHWM")
    report.add(
        "fake_claude_peak_rss_mb",
        watch.fake_peak_kb / 1024,
        "MB",
        "largest VmHWM of one fake claude",
    )
    report.add(
        "fake_claude_total_rss_mb",
        watch.fakes_total_peak_kb / 1024,
        "MB",
        f"largest sum of VmRSS over the fake claudes ({len(watch.fakes_seen)} seen, 1/s)",
    )
    report.add("events", check.events, "", "events in the bot's log")

    per = ", ".join(f"{m} {k / max(1, replies):.2f}" for m, k in sorted(rec.by_method.items()))
    report.note(
        f"{chats_n} chats ({privates} private: drafts; {groups} supergroups: message + edits) "
        f"for {args.seconds:g} s (+ drain {wall - args.seconds:.1f} s); {replies} replies "
        f"({PROMPT}), think {args.think:g}-{1.5 * args.think:g} s; chats waiting for a reply "
        f"(1/s): median {percentile(watch.waiting, 0.5):.0f}, max {max(watch.waiting, default=0)}"
    )
    report.note(
        "latencies are steady state: each chat's first message (50 claude processes starting "
        "at once) is left out; with it added_latency p50/p99 "
        f"{percentile([*shown, *first], 0.5):.0f}/{percentile([*shown, *first], 0.99):.0f} ms, "
        f"first messages alone p50 {percentile(first, 0.5):.0f} ms"
    )
    report.note(f"calls per reply while streaming: {per}")
    report.note(
        f"429s: {rec.http_429}; other non-200 answers: {rec.other_errors or 'none'}; "
        f"replies timed out (120 s): {len(rec.timeouts)}"
    )
    report.note(
        f"log: {check.events} events; pushed messages without update.received "
        f"{check.missing_received}, without session.turn_started {check.missing_started}, "
        f"without session.turn_ended {check.missing_ended} (ended not 'completed': "
        f"{check.not_completed}); turn_started without turn_ended {check.started_without_end};"
        f" chat.reply_delivered {check.delivered}; final replies whole in their chat {good}"
    )
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    report.note(f"load average at the end (1, 5, 15 min; other work included): {loadavg}")
    if args.py_spy:
        report.note(f"py-spy raw stacks of the bot: {args.py_spy}")
        print(summarize(Path(args.py_spy)))


async def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--seconds", type=float, help="how long to send (default 60; --topics 240)")
    p.add_argument("--chats", type=int, default=50, help="chats (or topics) at once (default 50)")
    p.add_argument("--groups", type=int, default=25, help="of them supergroups (default 25)")
    p.add_argument(
        "--think", type=float, help="reading time per reply, s (default 1.0; --topics 60)"
    )
    p.add_argument("--py-spy", metavar="FILE", help="sample the bot with py-spy into FILE")
    p.add_argument(
        "--topics", action="store_true", help="the sessions as topics of one private chat"
    )
    args = p.parse_args()
    if args.py_spy and py_spy_path() is None:
        p.error("--py-spy needs py-spy: pip install -e '.[profile]'")
    if args.topics:
        from bench.load_topics import run_topics  # it builds on this module

        args.seconds = 240 if args.seconds is None else args.seconds
        args.think = 60.0 if args.think is None else args.think
        report = Report(f"load bench ({args.chats} topics in one chat; the bot alone)")
        await run_topics(args, report)
        return report.finish(as_json=args.json)
    args.seconds = 60 if args.seconds is None else args.seconds
    args.think = 1.0 if args.think is None else args.think
    report = Report(f"load bench ({args.chats} chats; the bot alone in its process)")
    await run(args, report)
    return report.finish(as_json=args.json)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
