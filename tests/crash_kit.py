"""The real ``pocketcode run`` process against the in-process Bot API stand-in, for crash tests.

`Pocket` starts ``python -m service run`` with the stand-in as its Telegram, the fake claude as
its CLI and a temporary data dir; `kill()` is a SIGKILL (a crash: no shutdown code runs),
`stop()` a SIGTERM (a clean stop). `GatedBotAPI` can hold a ``sendMessage`` at the stand-in so a
test can kill the bot at an exact point of the final reply. `Log` reads the SQLite event log
read-only while the bot runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.fakes.botapi import ApiError, FakeBotAPI
from tests.session_kit import FAKE_CLAUDE, fake_claude_config

REPO = Path(__file__).resolve().parent.parent
OWNER = 7


# --------------------------------------------------------------------------- the stand-in


@dataclass
class Gate:
    """Holds the first ``sendMessage`` whose text contains ``needle`` at the stand-in.

    mode "drop": the message is never applied (the bot dies before Telegram has it);
    mode "apply": it is applied (the chat shows it) but the answer is held until released.
    """

    needle: str
    mode: Literal["drop", "apply"]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    armed: bool = True


class GatedBotAPI(FakeBotAPI):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate: Gate | None = None

    async def _m_sendmessage(self, p: dict[str, Any]) -> Any:
        gate = self.gate
        if gate is None or not gate.armed or gate.needle not in str(p.get("text") or ""):
            return await super()._m_sendmessage(p)
        gate.armed = False
        result = await super()._m_sendmessage(p) if gate.mode == "apply" else None
        gate.arrived.set()
        await gate.release.wait()
        if result is None:
            raise ApiError(502, "Bad Gateway")  # nobody is listening any more anyway
        return result


# --------------------------------------------------------------------------- the event log


class Log:
    """The bot's SQLite event log, opened read-only per query (safe while the bot writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def events(self, *types: str) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            sql = "SELECT seq, stream, type, data, correlation_id FROM events"
            params: list[str] = []
            if types:
                sql += f" WHERE type IN ({','.join('?' * len(types))})"
                params = list(types)
            rows = conn.execute(sql + " ORDER BY seq", params).fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return []
        finally:
            conn.close()
        return [
            {"seq": s, "stream": st, "type": t, "data": json.loads(d), "cid": c}
            for s, st, t, d, c in rows
        ]

    def has(
        self,
        type_: str,
        *,
        cid: str | None = None,
        ref: str | None = None,
        line_type: str | None = None,
        after_seq: int = 0,
    ) -> bool:
        """Whether an event of ``type_`` (for correlation id ``cid`` / handled ``ref`` / with a
        stdout line of ``line_type``) after ``after_seq`` is in.

        Meant for tight polling: one long-lived read-only connection, one indexed query.
        """
        if self._conn is None:
            if not self.path.exists():
                return False
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            self._conn.execute("PRAGMA busy_timeout=5000")
        sql = "SELECT 1 FROM events WHERE type = ? AND seq > ?"
        params: list[Any] = [type_, after_seq]
        if line_type is not None:  # session.stdout: the type of claude's line
            sql += " AND json_extract(data, '$.line.type') = ?"
            params.append(line_type)
        if cid is not None:
            sql += " AND correlation_id = ?"
            params.append(cid)
        if ref is not None:
            sql += " AND json_extract(data, '$.ref') = ?"
            params.append(ref)
        try:
            return self._conn.execute(sql + " LIMIT 1", params).fetchone() is not None
        except sqlite3.OperationalError:  # not migrated yet
            return False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def unhandled_updates(self) -> list[dict[str, Any]]:
        """update.received events with no chat.update_handled after them."""
        events = self.events("update.received", "chat.update_handled")
        handled = {e["data"].get("ref") for e in events if e["type"] == "chat.update_handled"}
        return [e for e in events if e["type"] == "update.received" and e["cid"] not in handled]

    def last_seq(self) -> int:
        events = self.events()
        return events[-1]["seq"] if events else 0


async def until(
    predicate: Callable[[], bool], timeout: float, what: str, every_s: float = 0.003
) -> None:
    """Poll ``predicate`` (e.g. on the event log) every few ms until it holds or time is up."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(every_s)


# --------------------------------------------------------------------------- the process


class Pocket:
    """``pocketcode run`` as a child process; one data dir across restarts."""

    def __init__(self, api: FakeBotAPI, tmp: Path, **extra_env: str) -> None:
        self.api = api
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.data = tmp / "data"
        self.output = tmp / "pocketcode.out"
        self.log = Log(self.data / "var" / "pocketcode.db")
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        fake_env = {k: v for k, v in extra_env.items() if k.startswith("FAKE_CLAUDE_")}
        config = fake_claude_config(tmp, "telegram:\n  edit_interval_s: 0.1\n", **fake_env)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("POCKETCODE_", "TELEGRAM_", "FAKE_CLAUDE_"))
        }
        env.update(
            TELEGRAM_BOT_TOKEN=api.token,
            POCKETCODE_TELEGRAM_API_BASE=api.base_url,
            POCKETCODE_ALLOWED_USERS=str(OWNER),
            POCKETCODE_DATA_DIR=str(self.data),
            POCKETCODE_CLAUDE_BIN=FAKE_CLAUDE,
            POCKETCODE_PERSONAS_DIR=str(tmp / "personas"),
            POCKETCODE_CONFIG=str(config),
            POCKETCODE_LOG_FORMAT="json",
            PYTHONUNBUFFERED="1",
            **{k: v for k, v in extra_env.items() if k not in fake_env},
        )
        self.env = env

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def start(self, timeout: float = 20) -> None:
        """Start and wait until it is polling: its first getUpdates reached the stand-in."""
        assert not self.running
        commands_before = len(self.api.calls_of("setMyCommands"))
        polls_before = self.api._poll_generation
        self._spawn()

        def up() -> bool:
            return (
                len(self.api.calls_of("setMyCommands")) > commands_before
                and self.api._poll_generation > polls_before
            ) or not self.running

        try:
            await self.api.wait_for(up, timeout)
        except TimeoutError:
            raise AssertionError(f"pocketcode did not start polling:\n{self.tail()}") from None
        assert self.running, f"pocketcode exited at start:\n{self.tail()}"

    def _spawn(self) -> None:
        self.starts += 1
        with self.output.open("ab") as out:
            out.write(f"--- start {self.starts}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service", "run"],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: the crash. Nothing in the bot runs after this."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    async def stop(self, timeout: float = 20) -> int:
        """SIGTERM and wait for a clean exit (the loop keeps serving the stand-in meanwhile)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.proc.wait, timeout)

    def cleanup(self) -> None:
        """Kill the bot if still running, and the fake claude processes it left behind."""
        if self.running:
            self.kill()
        self.log.close()
        for event in self.log.events("session.process_started"):
            pid = event["data"].get("pid")
            if pid and self._is_our_claude(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _is_our_claude(self, pid: int) -> bool:
        """A fake claude started by this bot: its cwd is in our data dir (not a reused pid)."""
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return cwd.startswith(str(self.data)) and b"fake_claude" in cmdline

    def tail(self, lines: int = 40) -> str:
        if not self.output.exists():
            return ""
        return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])

    def sessions_json(self) -> list[dict[str, Any]]:
        """``pocketcode sessions --json`` against the same data dir (the bot stopped)."""
        done = subprocess.run(
            [sys.executable, "-m", "service", "sessions", "--json"],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
