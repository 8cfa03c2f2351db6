"""One long-lived `claude` child process over pipes: write JSON lines, read JSON lines.

Why this layer: stdout lines can be megabytes (asyncio's default 64 KiB line limit would
break), stderr must be drained or the child blocks on a full pipe, and stopping must
escalate (close stdin -> SIGTERM -> SIGKILL) without ever signalling pocketcode itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import structlog

from actors.claude.codec import encode
from actors.claude.environment import claude_environment
from actors.claude.errors import ProcessGoneError, SpawnError

log = structlog.get_logger(__name__)

READ_CHUNK = 1 << 20  # StreamReader buffer; lines longer than this are read piecewise
STDERR_TAIL_LINES = 200
STDERR_LINE_MAX = 4096


class ClaudeProcess:
    """A started `claude` (or fake) process. Create with `spawn_claude`."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        argv: list[str],
        cwd: Path,
    ) -> None:
        self._proc = proc
        self.argv = list(argv)
        self.cwd = cwd
        self._stderr: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._write_lock = asyncio.Lock()
        self._stderr_task = asyncio.create_task(self._drain_stderr(), name=f"stderr-{proc.pid}")

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit code once reaped (negative = killed by that signal), else None."""
        return self._proc.returncode

    # ---- stdin ----------------------------------------------------------------------------
    async def write(self, obj: Mapping[str, Any]) -> bytes:
        """Send one JSON line; returns the exact bytes written.

        Raises ProcessGoneError when stdin is closed or the pipe is broken.
        """
        data = encode(obj)
        stdin = self._proc.stdin
        async with self._write_lock:
            if stdin is None or stdin.is_closing() or self._proc.returncode is not None:
                raise ProcessGoneError(f"claude pid {self.pid}: stdin is closed")
            try:
                stdin.write(data)
                await stdin.drain()
            except (BrokenPipeError, ConnectionResetError, RuntimeError) as exc:
                raise ProcessGoneError(f"claude pid {self.pid}: stdin broken: {exc}") from exc
        return data

    def close_stdin(self) -> None:
        """EOF on stdin: the CLI finishes queued work and exits."""
        stdin = self._proc.stdin
        if stdin is not None and not stdin.is_closing():
            with contextlib.suppress(OSError, RuntimeError):
                stdin.close()

    # ---- stdout ---------------------------------------------------------------------------
    async def read_line(self) -> bytes | None:
        """Next stdout line without its "\\n" (any length), or None at EOF."""
        stdout = self._proc.stdout
        if stdout is None:
            return None
        parts: list[bytes] = []
        while True:
            try:
                parts.append(await stdout.readuntil(b"\n"))
                break
            except asyncio.LimitOverrunError as exc:
                # No newline within the buffer limit: take what is buffered and go on.
                parts.append(await stdout.readexactly(exc.consumed))
            except asyncio.IncompleteReadError as exc:
                parts.append(exc.partial)
                break
        line = b"".join(parts)
        if not line:
            return None
        return line[:-1] if line.endswith(b"\n") else line

    # ---- stderr ---------------------------------------------------------------------------
    async def _drain_stderr(self) -> None:
        stderr = self._proc.stderr
        if stderr is None:
            return
        pending = b""
        while True:
            chunk = await stderr.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                self._stderr_line(raw)
            if len(pending) > STDERR_LINE_MAX:
                self._stderr_line(pending)
                pending = b""
        if pending:
            self._stderr_line(pending)

    def _stderr_line(self, raw: bytes) -> None:
        text = raw[:STDERR_LINE_MAX].decode("utf-8", "replace").rstrip("\r")
        self._stderr.append(text)

    def stderr_tail(self) -> list[str]:
        """The last ~200 stderr lines (for crash reports)."""
        return list(self._stderr)

    # ---- lifetime -------------------------------------------------------------------------
    async def wait(self) -> int:
        """Wait for exit; also lets stderr finish draining so stderr_tail() is complete."""
        code = await self._proc.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        return code

    def _signal(self, sig: int) -> None:
        if self._proc.returncode is not None:
            return
        try:
            os.killpg(self._proc.pid, sig)  # own session: reaches the CLI's children too
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the process group at once (no result, no cleanup)."""
        self._signal(signal.SIGKILL)

    async def stop(self, grace_s: float = 5.0, term_grace_s: float | None = None) -> int:
        """Close stdin, wait `grace_s`; then SIGTERM, wait; then SIGKILL. Returns exit code."""
        self.close_stdin()
        for sig, timeout in (
            (None, grace_s),
            (signal.SIGTERM, grace_s if term_grace_s is None else term_grace_s),
            (signal.SIGKILL, None),
        ):
            if sig is not None:
                log.info("claude_stop_escalate", pid=self.pid, signal=sig.name)
                self._signal(sig)
            try:
                return await asyncio.wait_for(self.wait(), timeout)
            except TimeoutError:
                continue
        raise AssertionError("unreachable")  # pragma: no cover

    def __repr__(self) -> str:
        return f"<ClaudeProcess pid={self.pid} rc={self.returncode} cwd={self.cwd}>"


class Spawner(Protocol):
    """Starts a claude process; tests swap in one that runs the fake."""

    async def __call__(
        self, argv: list[str], cwd: Path, env: dict[str, str] | None
    ) -> ClaudeProcess: ...


async def spawn_claude(
    argv: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
) -> ClaudeProcess:
    """Start `argv` in `cwd` with pipes, in its own session.

    The environment is named, not inherited (``environment.claude_environment``): the basics
    from pocketcode's own, then `env` on top; pocketcode's secrets never.
    """
    full_env, refused = claude_environment(os.environ, env)
    if refused:
        log.warning("claude_env_refused", names=refused)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=str(cwd),
            env=full_env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=READ_CHUNK,
            start_new_session=True,
        )
    except OSError as exc:
        raise SpawnError(f"cannot start {argv[0]!r} in {cwd}: {exc}") from exc
    log.debug("claude_spawned", pid=proc.pid, cwd=str(cwd))
    return ClaudeProcess(proc, argv, cwd)
