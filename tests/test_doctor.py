"""``pocketcode doctor`` names each problem of a deployment in plain words."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.commands.doctor import cmd_doctor
from service.config import Settings, load_settings
from tests.fakes.botapi import FakeBotAPI
from tests.session_kit import FAKE_CLAUDE


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


def settings_for(tmp: Path, api: FakeBotAPI, **env: str) -> Settings:
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
