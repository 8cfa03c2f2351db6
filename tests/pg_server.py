"""A throwaway PostgreSQL server for the tests and the benchmarks.

Debian's ``postgresql`` package (binaries under ``/usr/lib/postgresql/*/bin``) is initialised in a
temporary directory and listens on a unix socket there only, never on a network port. PostgreSQL
refuses to run as root, so under root the directory is handed to an unprivileged user
(``postgres``, else ``nobody``) and the server runs as that user. The server is told to die with
the process that started it, so a killed test run leaves nothing behind.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

SUPERUSER = "pocketcode"
_PR_SET_PDEATHSIG = 1


class PgUnavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def find_bindir() -> Path | None:
    """The newest Debian PostgreSQL, else ``initdb`` on PATH."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: ourselves, unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PgUnavailable("running as root and there is no 'postgres' or 'nobody' user to run as")


def _die_with_parent() -> None:
    """In the server's process: SIGQUIT (immediate shutdown) when our parent goes away."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


@dataclass
class PgServer:
    root: Path
    process: subprocess.Popen[bytes]
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        """Over the unix socket in ``root``; the server trusts local connections."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.root}"

    async def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start(*, durable: bool = False, timeout_s: float = 60.0) -> PgServer:
    """Initialise and start a server; ``durable`` keeps fsync on (benchmarks), else it is off."""
    bindir = find_bindir()
    if bindir is None:
        raise PgUnavailable(
            "PostgreSQL is not installed (apt-get install postgresql); no initdb found"
        )
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="pocketcode-pg-"))
    try:
        return _start(bindir, user, root, durable=durable, timeout_s=timeout_s)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _start(
    bindir: Path, user: pwd.struct_passwd | None, root: Path, *, durable: bool, timeout_s: float
) -> PgServer:
    data = root / "data"
    uid = gid = None
    if user is not None:
        uid, gid = user.pw_uid, user.pw_gid
        os.chown(root, uid, gid)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
    init = subprocess.run(
        [
            str(bindir / "initdb"),
            *("-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8"),
            *("--no-locale", "--no-sync"),
        ],
        capture_output=True,
        cwd=root,
        env=env,
        check=False,
        user=uid,
        group=gid,
        extra_groups=None if uid is None else [],
    )
    if init.returncode != 0:
        raise PgUnavailable(f"initdb failed: {init.stderr.decode(errors='replace').strip()}")
    settings = {
        "listen_addresses": "",
        "unix_socket_directories": str(root),
        "max_connections": "200",
        "fsync": "on" if durable else "off",
        "full_page_writes": "on" if durable else "off",
        "synchronous_commit": "on",
    }
    args = [str(bindir / "postgres"), "-D", str(data)]
    for key, value in settings.items():
        args += ["-c", f"{key}={value}"]
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        env=env,
        preexec_fn=_die_with_parent,
        user=uid,
        group=gid,
        extra_groups=None if uid is None else [],
    )
    log.close()
    server = PgServer(root, process)
    deadline = time.monotonic() + timeout_s
    while not _ready(data):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = (root / "server.log").read_text(errors="replace")[-2000:]
            server.stop()
            raise PgUnavailable(f"the PostgreSQL server did not start: {tail.strip()}")
        time.sleep(0.05)
    return server


def _ready(data: Path) -> bool:
    """The postmaster writes "ready" on the 8th line of its pid file once it accepts clients."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"
