"""The topics run of ``bench.load`` (``--topics``): sessions side by side in ONE chat, a topic each.

Run ``python -m bench.load --topics [--json] [--chats 50] [--seconds 240] [--think 60]``.

The bot runs alone in its process exactly as in ``bench.load`` (``pocketcode run``, real aiogram
long-polling, real flood waits), against the stand-in with the bot's topic mode on in private
chats (Bot API 9.3+). One user, one private chat, ``--chats`` topics: ``/new tN`` in General for
each (flood control off while they are made, then on: Telegram's ~1 message/s per chat, burst
3, for the whole chat), then in each topic until the time is up: send ``[[slow:30]]
[[long:1500]]``, wait for the final reply in that topic, read it for ``--think`` s (x1.0-1.5),
send the next. Drafts are not flood-limited by the stand-in; every final reply is a message, so
all topics share one chat's budget: the figure is how long a finished reply waits for its
turn, from the last delta of the turn (the ``at`` of its last text ``session.stream`` event in
the bot's log) to the final message accepted by the stand-in (wall clock in this process, UTC
like the log's), and that every reply arrives whole in its own topic (its footer names the
session). The default think time is a person's: at 50 topics, 60-90 s per reply is about 0.6
replies a second against Telegram's one message a second; with 1 s every reply would queue.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actors.claude import codec
from actors.session import events as ev
from bench.common import Report, at_most, exactly, percentile
from bench.load import PROMPT, REPLY_CHARS, BotProcess, Recorder, check_log, cpu_seconds
from bench.telegram import TimedBotAPI, filler, squash, visible
from eventstore import SqliteEventStore

CHAT = 1001  # the one user's private chat with the bot


@dataclass
class Final:
    thread: int | None
    at: datetime
    text: str


@dataclass
class TopicFinals:
    """Final replies as the stand-in accepts them (their footer says "this turn"), per topic."""

    finals: list[Final] = field(default_factory=list)
    count: dict[int | None, int] = field(default_factory=dict)
    changed: dict[int | None, asyncio.Event] = field(default_factory=dict)
    http_429: int = 0
    flood_pending: dict[str, int] = field(default_factory=dict)

    def observe(self, method: str, params: dict[str, Any], status: int, _t: float) -> None:
        if status == 429:
            self.http_429 += 1
            self.flood_pending[method] = self.flood_pending.get(method, 0) + 1
            return
        if status == 200:
            self.flood_pending.pop(method, None)
        if status != 200 or method != "sendMessage" or "this turn" not in str(params["text"]):
            return
        thread = params.get("message_thread_id")
        self.finals.append(Final(thread, datetime.now(UTC), visible(params)))
        self.count[thread] = self.count.get(thread, 0) + 1
        self.event(thread).set()

    def event(self, thread: int | None) -> asyncio.Event:
        return self.changed.setdefault(thread, asyncio.Event())

    async def wait(self, thread: int, n: int, timeout: float) -> None:
        async def reached() -> None:
            while self.count.get(thread, 0) < n:
                self.event(thread).clear()
                await self.event(thread).wait()

        await asyncio.wait_for(reached(), timeout)


async def topic_loop(
    api: TimedBotAPI,
    finals: TopicFinals,
    rec: Recorder,
    thread: int,
    deadline: float,
    think: float,
    sent: dict[int, int],
    timeouts: list[int],
) -> None:
    await asyncio.sleep(random.uniform(0, think))  # spread the starts
    n = 0
    while time.perf_counter() < deadline:
        uid = api.push_message(CHAT, CHAT, f"{PROMPT} topic {thread} message {n}", thread_id=thread)
        rec.pushed[uid] = (CHAT, time.perf_counter(), datetime.now(UTC))
        if n == 0:
            rec.first_of_chat.add(uid)
        n += 1
        sent[thread] = n
        try:
            await finals.wait(thread, n, 300)
        except TimeoutError:
            timeouts.append(uid)
            return
        left = deadline - time.perf_counter()  # no reading past the end: nothing follows
        await asyncio.sleep(max(0.0, min(left, think * random.uniform(1.0, 1.5))))


async def last_deltas(db: Path) -> dict[str, list[datetime | None]]:
    """Per session, its turns in order: when the last text delta of each was logged."""
    store = await SqliteEventStore.open(db)
    turns: dict[str, list[datetime | None]] = {}
    try:
        async for e in store.read_all(types={ev.TURN_STARTED, ev.STREAM}):
            session = e.stream.removeprefix("session:")
            if e.type == ev.TURN_STARTED:
                turns.setdefault(session, []).append(None)
            elif codec.text_delta(e.data.get("line") or {}) is not None and turns.get(session):
                turns[session][-1] = e.at
    finally:
        await store.close()
    return turns


def judge(
    finals: Iterable[Final], threads: dict[str, int], turns: dict[str, list[datetime | None]]
) -> tuple[list[float], int, int]:
    """(last delta -> final ms per reply, replies whole in their own topic, finals elsewhere)."""
    whole = squash(filler(REPLY_CHARS))
    by_thread: dict[int | None, list[Final]] = {}
    for final in finals:
        by_thread.setdefault(final.thread, []).append(final)
    waits: list[float] = []
    good = misplaced = 0
    for name, thread in threads.items():
        here = by_thread.pop(thread, [])
        mine = [f for f in here if f.text.rstrip().endswith(f" in {name}")]  # the footer's
        misplaced += len(here) - len(mine)
        good += sum(whole in squash(f.text) for f in mine)
        for final, last in zip(mine, turns.get(name, []), strict=False):
            if last is not None:
                waits.append(1000 * (final.at - last).total_seconds())
    misplaced += sum(len(rest) for rest in by_thread.values())  # General, or no topic of ours
    return waits, good, misplaced


async def make_topics(api: TimedBotAPI, n: int) -> dict[str, int]:
    """``/new tN`` for each in General; flood control off meanwhile (setup, not the load)."""
    api.flood.configure(enabled=False)
    for i in range(n):
        api.push_message(CHAT, CHAT, f"/new t{i}")
    made = [f"Created t{i} in a topic of its own." for i in range(n)]

    def done() -> bool:
        shown = {m.text for m in api.thread_messages(CHAT, None)}
        return all(text in shown for text in made)

    await api.wait_for(done, 60 + 2 * n)
    api.flood.configure(enabled=True)  # the buckets start full
    return {t.name: t.thread_id for t in api.topics[CHAT].values()}


async def run_topics(args: Any, report: Report) -> None:
    rec = Recorder()
    finals = TopicFinals()
    sent: dict[int, int] = {}
    timeouts: list[int] = []
    with tempfile.TemporaryDirectory(prefix="pocketcode-bench-topics-") as tmp_name:
        tmp = Path(tmp_name)
        api = TimedBotAPI(lean=True, observe=finals.observe, private_topics=True)
        await api.start()
        bot = await BotProcess.start(tmp, api, [CHAT], groups=[])
        try:
            await api.wait_for(lambda: any(m == "getUpdates" for m, _p, _s in api.log), 60)
            threads = await make_topics(api, args.chats)
            cpu0, t0 = cpu_seconds(bot.pid), time.monotonic()
            deadline = time.perf_counter() + args.seconds
            await asyncio.gather(
                *(
                    topic_loop(api, finals, rec, thread, deadline, args.think, sent, timeouts)
                    for thread in threads.values()
                )
            )
            cpu1, t1 = cpu_seconds(bot.pid), time.monotonic()
            await asyncio.sleep(0.5)  # the last events (reply_delivered) commit
        finally:
            await bot.stop()
            await api.stop()
        check = await check_log(bot.settings.db_path, rec)
        turns = await last_deltas(bot.settings.db_path)

    waits, good, misplaced = judge(finals.finals, threads, turns)
    replies = sum(sent.values())
    report.percentiles(
        "last_delta_to_final",
        waits,
        "a turn's last text delta logged -> its final reply accepted in its topic",
        p99=at_most(5000),
    )
    report.add("replies", replies, "", f"streamed replies of {REPLY_CHARS:,} chars, all topics")
    report.add(
        "lost_replies",
        replies - good,
        "",
        "replies not arriving whole in their own topic",
        exactly(0),
    )
    report.add(
        "misplaced_finals", misplaced, "", "final replies in another topic or General", exactly(0)
    )
    events_lost = check.missing_received + check.missing_started + check.missing_ended
    report.add(
        "events_lost",
        events_lost + check.started_without_end,
        "",
        "pushed messages missing update_received, turn_started or turn_ended; turns never ended",
        exactly(0),
    )
    unretried = sum(finals.flood_pending.values())
    report.add(
        "http_429_unretried",
        unretried,
        "",
        "429s not followed by a success of the same method",
        exactly(0),
    )
    report.add("http_429", finals.http_429, "", "429s the stand-in's flood control answered")
    wall = t1 - t0
    report.add(
        "bot_cpu_percent", 100 * (cpu1 - cpu0) / wall, "% of a core", f"the bot over {wall:.0f} s"
    )
    report.note(
        f"{len(threads)} topics in one private chat for {args.seconds:g} s (+ drain "
        f"{wall - args.seconds:.1f} s); {replies} replies ({PROMPT}), think {args.think:g}-"
        f"{1.5 * args.think:g} s: {replies / wall:.2f} final replies/s against the chat's ~1 "
        f"message/s; last delta -> final p50 {percentile(waits, 0.5):.0f} ms, max "
        f"{max(waits, default=float('nan')):.0f} ms; replies timed out (300 s): {len(timeouts)}"
    )
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    report.note(f"load average at the end (1, 5, 15 min; other work included): {loadavg}")
