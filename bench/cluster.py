"""Several machines: an intake and workers sharing one PostgreSQL log, and one worker killed.

Run ``python -m bench.cluster [--json] [--workers 3] [--chats 60] [--seconds 40] [--kill-at 12]
[--lease-ttl 10]``.

Processes: a PostgreSQL server of its own (``tests/pg_server.py``, ``fsync=on``, unix socket);
``pocketcode run --role intake`` and ``--role worker`` x N as real processes sharing one data
directory (``tests/cluster_kit.py``); the fake claudes the workers spawn over real pipes. In this
process: the Bot API stand-in (flood control off: this measures the cluster, not Telegram's
limits) and the users. Every chat: ``/new``, then until the time is up: send a message whose
reply streams for ~0.2 s, wait until it is answered (or reported cut off), read for 0.5-1.0 s,
send the next. At ``--kill-at`` s the worker holding the most chats is SIGKILLed.

Figures: ``replies`` answers shown; ``replies_lost`` messages neither answered nor reported cut
off (each waited for up to ``lease ttl + 60`` s); ``takeover_s``, per chat of the killed worker,
from the kill until the chat answers again (its cut-off notice, or the answer to a message sent
after the kill: only the new worker can send those); ``added_latency``, per update a worker
hands to a chat it runs, from its commit by the intake to the hand-over in the worker (the
worker logs it as ``lag_ms``: commit, NOTIFY, the worker's read of the log). In one process the
hand-over follows the append directly; this is the price of the log between two processes.

Target ``takeover_s_max <= lease ttl x 4/3 + 3 s``: the lease may have been renewed just before
the kill, so it lapses a whole lease time later; the other workers look every third of it;
then taking the chats, rebuilding them from the log and the fake's first reply take well under
3 s (rebuilding 20 chats: ~0.02 s).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import Report, at_most, exactly, parser, percentile
from bench.telegram import TimedBotAPI
from tests import pg_server
from tests.cluster_kit import CUT_OFF, Cluster

FIRST_USER = 5001
MARK = re.compile(r"q-(\d+)-(\d+)-end")
#: A reply of a few deltas 40 ms apart.
PROMPT = "[[slow:40]] a short question, answered in a few pieces"
#: Margin over the lease time (4/3 of it) for taking over, rebuilding and answering (see above).
TAKEOVER_MARGIN_S = 3.0
ADDED_P99_TARGET_MS = 250.0


@dataclass
class Message:
    chat: int
    k: int
    sent: float
    answers: list[float] = field(default_factory=list)
    cut: float | None = None

    @property
    def settled(self) -> bool:
        return bool(self.answers) or self.cut is not None


@dataclass
class Users:
    """The chats' users, and what the stand-in showed them (its observer)."""

    messages: dict[tuple[int, int], Message] = field(default_factory=dict)
    waiting: dict[int, Message] = field(default_factory=dict)
    #: Per chat, when it showed a cut-off notice.
    cut_offs: dict[int, list[float]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def observe(self, method: str, params: dict[str, Any], status: int, now: float) -> None:
        if method != "sendMessage" or status != 200:
            return
        text, chat = str(params.get("text") or ""), int(params.get("chat_id") or 0)
        if CUT_OFF in text:
            self.cut_offs.setdefault(chat, []).append(now)
            if (msg := self.waiting.get(chat)) is not None and msg.cut is None:
                msg.cut = now
        elif (found := MARK.search(text)) is not None:
            msg = self.messages.get((int(found[1]), int(found[2])))
            if msg is not None:
                msg.answers.append(now)
        else:
            return
        self.changed.set()

    async def until_settled(self, msg: Message, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while not msg.settled:
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
            except TimeoutError:
                continue
        return True


async def chat_loop(
    api: TimedBotAPI, users: Users, chat: int, end: float, wait_s: float, lost: list[Message]
) -> None:
    k = 0
    while time.perf_counter() < end:
        k += 1
        msg = Message(chat, k, time.perf_counter())
        users.messages[(chat, k)] = msg
        users.waiting[chat] = msg
        api.push_message(chat, chat, f"{PROMPT} q-{chat}-{k}-end")
        if not await users.until_settled(msg, wait_s):
            lost.append(msg)
        await asyncio.sleep(random.uniform(0.5, 1.0))


async def run(args: Any) -> Report:
    chats = list(range(FIRST_USER, FIRST_USER + args.chats))
    report = Report(
        f"cluster bench ({args.workers} workers, {args.chats} chats, lease {args.lease_ttl:g} s, "
        f"{os.cpu_count()} CPUs)"
    )
    users = Users()
    api = TimedBotAPI(lean=True, observe=users.observe)
    api.flood.configure(enabled=False)
    await api.start()
    server = await asyncio.to_thread(pg_server.start, durable=True)
    try:
        with tempfile.TemporaryDirectory(prefix="pocketcode-bench-cluster-") as tmp:
            url = await server.create_database()
            cluster = Cluster(
                api, Path(tmp), url, chats, workers=args.workers, lease_ttl_s=args.lease_ttl
            )
            try:
                await cluster.start()
                await measure(args, report, api, users, cluster, chats)
            finally:
                await cluster.close()
    finally:
        await asyncio.to_thread(server.stop)
        await api.stop()
    return report


async def measure(
    args: Any, report: Report, api: TimedBotAPI, users: Users, cluster: Cluster, chats: list[int]
) -> None:
    for chat in chats:
        api.push_message(chat, chat, f"/new c{chat}")
    created = set(chats)

    def all_created() -> bool:
        return all(any("Created" in (m.text or "") for m in api.bot_messages(c)) for c in created)

    await api.wait_for(all_created, timeout=180)
    start = time.perf_counter()
    end = start + args.seconds
    wait_s = args.lease_ttl + 60
    lost: list[Message] = []
    loops = [asyncio.create_task(chat_loop(api, users, c, end, wait_s, lost)) for c in chats]
    await asyncio.sleep(args.kill_at)
    owners = await cluster.holders()
    victim = Counter(owners.values()).most_common(1)[0][0]
    doomed = {c for c, w in owners.items() if w == victim}
    killed_at = time.perf_counter()
    cluster.nodes[victim].kill()
    await asyncio.gather(*loops)

    again: list[float] = []
    for chat in doomed:
        after = [t for t in users.cut_offs.get(chat, []) if t > killed_at]
        after += [
            m.answers[0]
            for m in users.messages.values()
            if m.chat == chat and m.sent > killed_at and m.answers
        ]
        if after:
            again.append(min(after) - killed_at)
    answered = sum(len(m.answers) for m in users.messages.values())
    twice = sum(len(m.answers) > 1 for m in users.messages.values())
    cut = sum(m.cut is not None and not m.answers for m in users.messages.values())
    lag = [
        float(line["lag_ms"])
        for name in cluster.worker_names
        for line in cluster.nodes[name].lines()
        if line.get("event") == "worker.update_taken"
    ]
    takeover_target = args.lease_ttl * 4 / 3 + TAKEOVER_MARGIN_S
    report.add("workers", args.workers, "", "intake + this many workers, one killed")
    report.add("chats", args.chats, "", f"{len(doomed)} of them on the killed worker")
    report.add("messages", len(users.messages), "", f"sent in {args.seconds:g} s")
    report.add("replies", answered, "", "answers shown")
    report.add("replies_cut_off", cut, "", "reported cut off instead (the kill)")
    report.add(
        "replies_lost",
        len(lost),
        "",
        f"neither answered nor reported cut off within {wait_s:g} s",
        exactly(0),
    )
    report.add("replies_twice", twice, "", "answered twice (see the note)")
    n = len(again)
    report.add(
        "takeover_s_p50",
        percentile(again, 0.5) if again else None,
        "s",
        f"worker killed -> its chat answers again ({n} of {len(doomed)} chats)",
    )
    report.add(
        "takeover_s_max",
        max(again) if again and n == len(doomed) else None,
        "s",
        f"the slowest; target: lease x 4/3 + {TAKEOVER_MARGIN_S:g} s",
        at_most(takeover_target),
    )
    report.percentiles(
        "added_latency",
        lag,
        "update committed by the intake -> handed to its chat in a worker",
        p99=at_most(ADDED_P99_TARGET_MS),
    )
    report.note(
        f"killed {victim} at {args.kill_at:g} s, holding {len(doomed)} chats; "
        f"owners before: {dict(sorted(Counter(owners.values()).items()))}"
    )
    report.note(
        "a reply is shown, then recorded as delivered: a worker killed in between has it sent "
        "again by the next (Telegram has no idempotent send), counted in replies_twice"
    )


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--chats", type=int, default=60)
    p.add_argument("--seconds", type=float, default=40.0, help="how long the users type")
    p.add_argument("--kill-at", type=float, default=12.0, help="when the worker is killed (s)")
    p.add_argument("--lease-ttl", type=float, default=10.0, help="cluster.lease_ttl_s")
    args = p.parse_args(argv)
    if not 0 < args.kill_at < args.seconds:
        p.error("--kill-at must fall within --seconds")
    report = asyncio.run(run(args))
    raise SystemExit(report.finish(as_json=args.json))


if __name__ == "__main__":
    main()
