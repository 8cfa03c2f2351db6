"""Config: YAML then environment; the token only from env or an owner-only file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from service.cli import main
from service.config import load_settings, startup_problems
from service.errors import ConfigError

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data_dir: /srv/a\ntelegram:\n  allowed_users: [1, 2]\n")
    settings = load_settings(
        cfg, env={"POCKETCODE_DATA_DIR": "/srv/b", "POCKETCODE_ALLOWED_USERS": "7, 8"}
    )
    assert settings.data_dir == Path("/srv/b")
    assert settings.telegram.allowed_users == {7, 8}
    assert settings.db_path == Path("/srv/b/var/pocketcode.db")


def test_token_never_shows_in_repr(tmp_path: Path) -> None:
    settings = load_settings(None, env={"TELEGRAM_BOT_TOKEN": TOKEN})
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.model_dump())


def test_token_in_yaml_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"telegram:\n  token: '{TOKEN}'\n")
    with pytest.raises(ConfigError, match="keep the token out of config files") as err:
        load_settings(cfg, env={})
    assert TOKEN not in str(err.value)


def test_token_file_must_be_owner_only(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"telegram:\n  token_file: {token_file}\n")
    with pytest.raises(ConfigError, match="chmod 600"):
        load_settings(cfg, env={})
    token_file.chmod(0o600)
    settings = load_settings(cfg, env={})
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == TOKEN


def test_bad_values_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"telegram\.allowed_users"):
        load_settings(None, env={"POCKETCODE_ALLOWED_USERS": "me"})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("telegram: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(cfg, env={})


def test_startup_problems_name_what_is_missing() -> None:
    settings = load_settings(None, env={"POCKETCODE_CLAUDE_BIN": "/nonexistent/claude"})
    problems = "\n".join(startup_problems(settings))
    assert "TELEGRAM_BOT_TOKEN is not set" in problems
    assert "no allowed users" in problems
    assert "claude CLI ('/nonexistent/claude') was not found" in problems


def test_run_without_token_exits_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("POCKETCODE_CLAUDE_BIN", sys.executable)
    monkeypatch.setenv("POCKETCODE_ALLOWED_USERS", "1")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN is not set" in err
    assert "claude" not in err.split("TELEGRAM_BOT_TOKEN")[0]


def test_example_config_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "ops" / "config.example.yaml"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    text = example.read_text().replace("/etc/pocketcode/token", str(token_file))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    settings = load_settings(cfg, env={})
    assert settings.telegram.allowed_users == {123456789}
    assert settings.claude.max_processes == 4


DB_URL = "postgresql://pocketcode:s3cret-pw@db.example:5432/pocketcode"


def test_database_url_selects_postgresql_and_stays_secret() -> None:
    settings = load_settings(None, env={"POCKETCODE_DATABASE_URL": DB_URL})
    assert settings.data.database_url is not None
    assert settings.data.database_url.get_secret_value() == DB_URL
    assert "s3cret-pw" not in repr(settings)
    assert load_settings(None, env={}).data.database_url is None  # SQLite, the default


def test_database_url_in_yaml_may_not_hold_the_password(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  database_url: '{DB_URL}'\n")
    with pytest.raises(ConfigError, match=r"holds a password in data\.database_url") as err:
        load_settings(cfg, env={})
    assert "s3cret-pw" not in str(err.value)
    cfg.write_text("data:\n  database_url: postgresql://pocketcode@db.example/pocketcode\n")
    settings = load_settings(cfg, env={})
    assert settings.data.database_url is not None


def test_a_database_url_that_is_not_postgresql_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="must be a postgresql:// URL") as err:
        load_settings(None, env={"POCKETCODE_DATABASE_URL": "mysql://root:hunter22@db/x"})
    assert "hunter22" not in str(err.value)
