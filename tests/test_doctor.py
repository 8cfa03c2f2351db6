"""``pocketcode doctor`` names each problem of a deployment in plain words."""

from __future__ import annotations

import argparse
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventstore import NewEvent, SqliteEventStore
from service.commands.doctor import check_disk_space, cmd_doctor
from service.config import Config, load_settings
from tests.fakes.botapi import FakeBotAPI
from tests.session_kit import FAKE_CLAUDE


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


def settings_for(tmp: Path, api: FakeBotAPI, **env: str) -> Config:
    base = {
        "TELEGRAM_BOT_TOKEN": api.token,
        "POCKETCODE_TELEGRAM_API_BASE": api.base_url,
        "POCKETCODE_DATA_DIR": str(tmp / "data"),
        "POCKETCODE_CLAUDE_BIN": FAKE_CLAUDE,
        "POCKETCODE_ALLOWED_USERS": "7",
        "POCKETCODE_PERSONAS_DIR": str(tmp / "personas"),
    }
    return load_settings(None, env={**base, **env})


async def test_a_healthy_deployment_passes(
    tmp_path: Path, api: FakeBotAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cmd_doctor(settings_for(tmp_path, api), argparse.Namespace()) == 0
    out = capsys.readouterr().out
    assert "✓ bot token: valid, the bot is @" in out
    assert "version 2.1.197 (Claude Code)" in out
    assert "✓ personas: 5 valid" in out
    assert out.rstrip().endswith("All good.")


async def test_each_problem_is_named(
    tmp_path: Path, api: FakeBotAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    personas = tmp_path / "personas"
    personas.mkdir()
    (personas / "broken.yaml").write_text("model: [unclosed\n")
    db = tmp_path / "data" / "var" / "pocketcode.db"
    db.parent.mkdir(parents=True)
    db.write_text("not a database")
    settings = settings_for(
        tmp_path,
        api,
        TELEGRAM_BOT_TOKEN="123456:wrong-token-wrong-token-wrong-token",
        POCKETCODE_CLAUDE_BIN="/nonexistent/claude",
    )
    settings = settings.model_copy(
        update={"telegram": settings.telegram.model_copy(update={"allowed_users": frozenset()})}
    )
    assert await cmd_doctor(settings, argparse.Namespace()) == 1
    out = capsys.readouterr().out
    assert "✗ bot token: Telegram refused it (401)" in out
    assert "✗ claude CLI: '/nonexistent/claude' not found" in out
    assert "✗ event log:" in out
    assert "is not a SQLite database" in out
    assert "✗ personas: broken.yaml" in out
    assert "✗ allow-list: empty" in out
    assert "wrong-token" not in out


async def make_log(db: Path, events: int = 500) -> None:
    store = await SqliteEventStore.open(db)
    for i in range(events // 10):
        await store.append(f"s:{i % 5}", [NewEvent("t.x", {"i": i, "pad": "x" * 300})] * 10)
    await store.close()


async def test_a_damaged_log_fails_quick_check(
    tmp_path: Path, api: FakeBotAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, api)
    await make_log(settings.db_path)
    assert await cmd_doctor(settings, argparse.Namespace()) == 0
    assert "✓ event log:" in capsys.readouterr().out
    with sqlite3.connect(settings.db_path) as conn:  # a leaf page of the events table
        [(page,)] = conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' LIMIT 1"
        ).fetchall()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with settings.db_path.open("r+b") as fh:  # its cell count: counting rows still works
        fh.seek((page - 1) * page_size + 3)
        fh.write(b"\xff\xff")
    assert await cmd_doctor(settings, argparse.Namespace()) == 1
    out = capsys.readouterr().out
    assert f"✗ event log: {settings.db_path} failed SQLite's quick_check: " in out


async def test_a_log_open_to_others_is_a_problem(
    tmp_path: Path, api: FakeBotAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, api)
    await make_log(settings.db_path, 10)
    settings.db_path.chmod(0o644)
    assert await cmd_doctor(settings, argparse.Namespace()) == 1
    out = capsys.readouterr().out
    assert f"✗ event log: {settings.db_path} is open to others (mode 644)" in out
    assert f"chmod 600 {settings.db_path}" in out


async def test_free_disk_space_is_reported_and_warned_about_when_low(
    tmp_path: Path, api: FakeBotAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, api)
    assert await cmd_doctor(settings, argparse.Namespace()) == 0
    assert re.search(r"✓ disk space: [\d.]+ GB free for ", capsys.readouterr().out)
    low = check_disk_space(settings, low_bytes=1 << 62)  # more than any disk has free
    assert (low.ok, low.warn) == (True, True)
    assert re.fullmatch(
        r"! disk space: only [\d.]+ GB free for .*, less than .* GB: free some space", low.line()
    )


async def test_an_open_data_directory_is_a_warning_not_a_problem(
    tmp_path: Path, api: FakeBotAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, api)
    settings.data_dir.mkdir(mode=0o750)
    settings.data_dir.chmod(0o750)
    assert await cmd_doctor(settings, argparse.Namespace()) == 0
    out = capsys.readouterr().out
    assert f"! data directory: {settings.data_dir} is open to others (mode 750)" in out
    assert out.rstrip().endswith("All good, 1 warning(s).")
    assert settings.data_dir.stat().st_mode & 0o777 == 0o750, "the doctor changes nothing"
