"""``pocketcode doctor``: check a deployment and say what is wrong in plain words."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError

from eventstore.schema import SCHEMA_VERSION, SQLITE_MAGIC
from service.config import Config, database_exposed, persona_catalog
from service.logs import redact_text

#: Less free space than this where the data directory is gets a warning: the log only grows,
#: and a full disk stops every session at once.
LOW_DISK_BYTES = 1 << 30


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    what: str
    detail: str
    #: Works, but deserves a look (not counted as a problem).
    warn: bool = False

    def line(self) -> str:
        mark = "✗" if not self.ok else "!" if self.warn else "✓"
        return f"{mark} {self.what}: {self.detail}"


async def check_token(settings: Config) -> Check:
    if settings.telegram.token is None:
        return Check(False, "bot token", "TELEGRAM_BOT_TOKEN is not set (or telegram.token_file)")
    from service.telegram.bot import make_bot

    bot = make_bot(settings)
    try:
        me = await asyncio.wait_for(bot.get_me(), 15)
    except TelegramUnauthorizedError:
        return Check(False, "bot token", "Telegram refused it (401): check it with @BotFather")
    except (TelegramNetworkError, TimeoutError) as exc:
        detail = redact_text(str(exc) or type(exc).__name__)
        return Check(False, "bot token", f"cannot reach {settings.telegram.api_base}: {detail}")
    except TelegramAPIError as exc:
        return Check(False, "bot token", redact_text(str(exc)))
    finally:
        await bot.session.close()
    return Check(True, "bot token", f"valid, the bot is @{me.username}")


async def check_claude(settings: Config) -> Check:
    path = shutil.which(settings.claude.bin)
    if path is None:
        return Check(
            False,
            "claude CLI",
            f"{settings.claude.bin!r} not found; install it with "
            "`npm install -g @anthropic-ai/claude-code` or set POCKETCODE_CLAUDE_BIN",
        )
    try:
        proc = await asyncio.create_subprocess_exec(
            path, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    except (OSError, TimeoutError) as exc:
        return Check(False, "claude CLI", f"{path} does not run: {exc}")
    version = out.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
    if proc.returncode != 0:
        return Check(False, "claude CLI", f"{path} --version failed: {version[0]}")
    return Check(True, "claude CLI", f"{path}, version {version[0]}")


def check_data_dir(settings: Config) -> Check:
    data = settings.data_dir
    try:
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=data):
            pass
    except OSError as exc:
        return Check(False, "data directory", f"{data} is not writable: {exc.strerror}")
    mode = data.stat().st_mode & 0o777
    if mode & 0o077:  # pocketcode never creates it so: someone chose it, it is not changed
        detail = f"{data} is open to others (mode {mode:o}); chmod 700 {data} unless you meant it"
        return Check(True, "data directory", detail, warn=True)
    return Check(True, "data directory", f"{data} is writable and private")


def check_disk_space(settings: Config, *, low_bytes: int = LOW_DISK_BYTES) -> Check:
    where = next(p for p in (settings.data_dir, *settings.data_dir.parents) if p.exists())
    free = shutil.disk_usage(where).free
    detail = f"{free / 2**30:.1f} GB free for {settings.data_dir}"
    if free < low_bytes:
        detail = f"only {detail}, less than {low_bytes / 2**30:g} GB: free some space"
        return Check(True, "disk space", detail, warn=True)
    return Check(True, "disk space", detail)


def check_database(settings: Config) -> Check:
    db = settings.db_path
    if not db.exists():
        return Check(True, "event log", f"{db} does not exist yet; it is created on first start")
    with db.open("rb") as fh:
        if fh.read(16) != SQLITE_MAGIC:
            return Check(False, "event log", f"{db} is not a SQLite database")
    if (problem := database_exposed(db)) is not None:
        return Check(False, "event log", problem)
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            version = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
            events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return Check(False, "event log", f"{db} cannot be read as an event log: {exc}")
    if (damage := quick_check(db)) is not None:
        return Check(False, "event log", f"{db} failed SQLite's quick_check: {damage}")
    if version > SCHEMA_VERSION:
        return Check(
            False,
            "event log",
            f"schema v{version} is newer than this pocketcode "
            f"(v{SCHEMA_VERSION}); upgrade pocketcode",
        )
    return Check(True, "event log", f"{db}: schema v{version}, {events:,} events")


def quick_check(db: Path) -> str | None:
    """SQLite's own check of every page of the file (without the slower index comparison of
    integrity_check); None when it says ok."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if rows == ["ok"] else "; ".join(rows)


def check_personas(settings: Config) -> Check:
    catalog = persona_catalog(settings)
    if catalog.problems:
        return Check(False, "personas", "; ".join(str(p) for p in catalog.problems))
    return Check(True, "personas", f"{len(catalog)} valid: {', '.join(catalog.names())}")


def check_allow_list(settings: Config) -> Check:
    users = settings.telegram.allowed_users
    if not users:
        return Check(False, "allow-list", "empty: set POCKETCODE_ALLOWED_USERS to your user id")
    return Check(True, "allow-list", f"{len(users)} user(s): {', '.join(map(str, sorted(users)))}")


async def cmd_doctor(settings: Config, args: argparse.Namespace) -> int:
    checks = [
        await check_token(settings),
        await check_claude(settings),
        check_data_dir(settings),
        check_disk_space(settings),
        check_database(settings),
        check_personas(settings),
        check_allow_list(settings),
    ]
    for check in checks:
        print(check.line())
    failed = sum(not c.ok for c in checks)
    warned = sum(c.ok and c.warn for c in checks)
    if failed:
        print(f"{failed} problem(s) to fix.")
    else:
        print(f"All good, {warned} warning(s)." if warned else "All good.")
    return 1 if failed else 0


def add_parser(sub: Any) -> None:
    sub.add_parser("doctor", help="check this deployment").set_defaults(handler=cmd_doctor)
