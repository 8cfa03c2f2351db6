"""An intake and several workers: real ``pocketcode run --role`` processes sharing one PostgreSQL
log, against the in-process Bot API stand-in, with the fake claude as their CLI.

Every process gets the same environment and data directory (the shared directory of a real
cluster: on one machine it is shared anyway); each worker its own ``POCKETCODE_WORKER_ID``.
`Node.kill()` is a SIGKILL (a crash: no shutdown code runs). `Cluster.db` reads the log and the
lease table while they run. Used by tests/test_cluster.py and bench/cluster.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from tests.fakes.botapi import FakeBotAPI
from tests.session_kit import FAKE_CLAUDE

REPO = Path(__file__).resolve().parent.parent
#: What a turn cut off by a worker's death is reported as (the session's restart notice).
CUT_OFF = "pocketcode restarted while this turn was running"


@dataclass
class Node:
    """One ``pocketcode run --role ROLE`` process; its output (JSON log lines) in a file."""

    name: str
    role: str
    env: dict[str, str]
    output: Path
    proc: subprocess.Popen[bytes] | None = None
    #: Killed or stopped by the test (not exited by itself).
    ended: bool = False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        with self.output.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service", "run", "--role", self.role],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: the crash. Nothing of the process runs after this."""
        assert self.proc is not None
        self.ended = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait for a clean exit (the loop keeps serving the stand-in meanwhile)."""
        assert self.proc is not None
        self.ended = True
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.proc.wait, timeout)

    def lines(self) -> list[dict[str, Any]]:
        """Its JSON log lines (other output skipped)."""
        found = []
        if self.output.exists():
            for raw in self.output.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    if isinstance(line := json.loads(raw), dict):
                        found.append(line)
        return found

    def tail(self, lines: int = 30) -> str:
        if not self.output.exists():
            return ""
        return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    api: FakeBotAPI
    tmp: Path
    url: str
    users: Sequence[int]
    workers: int = 3
    lease_ttl_s: float = 4.0
    #: Extra YAML for the shared config file.
    config: str = ""
    #: One directory of claude's own files (its conversations) for every worker, as a shared
    #: directory would give them; False: each worker has its own, as on separate machines.
    shared_claude_dir: bool = True
    nodes: dict[str, Node] = field(default_factory=dict)
    db: asyncpg.Connection | None = None

    def __post_init__(self) -> None:
        self.data = self.tmp / "data"
        self.tmp.mkdir(parents=True, exist_ok=True)
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("POCKETCODE_", "TELEGRAM_", "FAKE_CLAUDE_"))
        }
        base.update(
            TELEGRAM_BOT_TOKEN=self.api.token,
            POCKETCODE_TELEGRAM_API_BASE=self.api.base_url,
            POCKETCODE_ALLOWED_USERS=",".join(map(str, self.users)),
            POCKETCODE_DATA_DIR=str(self.data),
            POCKETCODE_DATABASE_URL=self.url,
            POCKETCODE_CLAUDE_BIN=FAKE_CLAUDE,
            POCKETCODE_PERSONAS_DIR=str(self.tmp / "personas"),
            POCKETCODE_CONFIG=str(self._config("")),
            POCKETCODE_LOG_FORMAT="json",
            PYTHONUNBUFFERED="1",
        )
        self.nodes["intake"] = Node("intake", "intake", base, self.tmp / "intake.out")
        for i in range(1, self.workers + 1):
            name = f"w{i}"
            config = self._config("" if self.shared_claude_dir else f"-{name}")
            env = {**base, "POCKETCODE_WORKER_ID": name, "POCKETCODE_CONFIG": str(config)}
            self.nodes[name] = Node(name, "worker", env, self.tmp / f"{name}.out")

    def _config(self, suffix: str) -> Path:
        """The config file, whose ``claude.env`` names claude's own directory (``fake-state``
        and ``suffix``)."""
        settings = {
            "telegram": {"edit_interval_s": 0.5},
            "cluster": {"lease_ttl_s": self.lease_ttl_s},
            "claude": {
                "env": {"FAKE_CLAUDE_STATE_DIR": str(self.tmp / f"fake-state{suffix}")},
                # every session of a worker keeps its process: no stop-and-resume churn
                "max_processes": len(self.users),
            },
        }
        path = self.tmp / f"pocketcode{suffix}.yaml"
        path.write_text(yaml.safe_dump(settings) + self.config, encoding="utf-8")
        return path

    def release(self, hold: str) -> None:
        """Let the fake claudes' turns held by ``[[hold:HOLD]]`` go on."""
        state = self.tmp / "fake-state"
        state.mkdir(parents=True, exist_ok=True)
        (state / hold).touch()

    @property
    def worker_names(self) -> list[str]:
        return [name for name in self.nodes if name != "intake"]

    async def start(self, timeout: float = 60) -> None:
        """The workers (each joined: its lease is in the table), then the intake (polling)."""
        self.db = await asyncpg.connect(self.url)
        for name in self.worker_names:
            self.nodes[name].spawn()
        await self.until(
            lambda live: set(self.worker_names) <= live, self.live_workers, timeout, "workers"
        )
        polls = self.api._poll_generation
        self.nodes["intake"].spawn()
        try:
            await self.api.wait_for(
                lambda: self.api._poll_generation > polls or not self.nodes["intake"].running,
                timeout,
            )
        except TimeoutError:
            raise AssertionError(f"the intake did not poll:\n{self.tails()}") from None
        assert self.nodes["intake"].running, f"the intake exited:\n{self.tails()}"

    async def until(
        self, predicate: Callable[[Any], bool], read: Callable[[], Any], timeout: float, what: str
    ) -> Any:
        """Poll ``read()`` (an async read of the database) until ``predicate`` holds of it."""
        deadline = time.monotonic() + timeout
        while True:
            value = await read()
            if predicate(value):
                return value
            for node in self.nodes.values():
                if node.proc is not None and not node.running and not node.ended:
                    raise AssertionError(f"{node.name} exited:\n{node.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.05)

    # -- the database -----------------------------------------------------------------------

    async def live_workers(self) -> set[str]:
        rows = await self._fetch(
            "SELECT holder FROM pocketcode.leases "
            "WHERE starts_with(key, 'worker:') AND expires_at > clock_timestamp()"
        )
        return {r["holder"] for r in rows}

    async def holders(self) -> dict[int, str]:
        """Chat id -> the worker holding its lease now."""
        rows = await self._fetch(
            "SELECT key, holder FROM pocketcode.leases "
            "WHERE starts_with(key, 'chat:') AND expires_at > clock_timestamp()"
        )
        return {int(r["key"].removeprefix("chat:")): r["holder"] for r in rows}

    async def events(self, *types: str) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT seq, stream, type, data::text AS data, correlation_id, at "
            "FROM pocketcode.events WHERE type = ANY($1::text[]) ORDER BY seq",
            list(types),
        )
        return [
            {
                "seq": r["seq"],
                "stream": r["stream"],
                "type": r["type"],
                "data": json.loads(r["data"]),
                "cid": r["correlation_id"],
                "at": r["at"],
            }
            for r in rows
        ]

    async def _fetch(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        assert self.db is not None
        try:
            return await self.db.fetch(sql, *params)
        except asyncpg.UndefinedTableError:  # not migrated yet
            return []

    # -- the end ------------------------------------------------------------------------------

    def tails(self) -> str:
        return "\n".join(f"--- {n.name}\n{n.tail()}" for n in self.nodes.values())

    async def close(self) -> None:
        """Kill what still runs, and the fake claudes the workers left behind."""
        pids = [e["data"].get("pid") for e in await self.events("session.process_started")]
        for node in self.nodes.values():
            if node.running:
                node.kill()
        for pid in pids:
            if pid and self._is_our_claude(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.db is not None:
            await self.db.close()

    def _is_our_claude(self, pid: int) -> bool:
        """A fake claude started by our workers: its cwd is in our data dir (not a reused pid)."""
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return cwd.startswith(str(self.data)) and b"fake_claude" in cmdline
