"""The data directory: what pocketcode creates is owner-only whatever the umask, what exists
keeps the mode its owner gave it, and a database others can read is refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.app import open_app
from service.errors import ConfigError
from tests.app_kit import app_settings


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
async def test_an_existing_data_directory_keeps_its_mode(tmp_path: Path) -> None:
    settings = app_settings(tmp_path)
    settings.data_dir.mkdir()
    settings.data_dir.chmod(0o750)  # the owner's choice, say for a backup group
    app = await open_app(settings)
    await app.shutdown()
    assert settings.data_dir.stat().st_mode & 0o777 == 0o750
    for created in (settings.db_path.parent, settings.sessions_dir, settings.archive_dir):
        assert created.stat().st_mode & 0o777 == 0o700, created
    assert settings.db_path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("name", ["pocketcode.db", "pocketcode.db-wal"])
async def test_a_database_open_to_others_is_refused_in_words(tmp_path: Path, name: str) -> None:
    settings = app_settings(tmp_path)
    app = await open_app(settings)
    await app.shutdown()
    exposed = settings.db_path.with_name(name)
    exposed.touch()
    exposed.chmod(0o640)
    with pytest.raises(ConfigError, match=f"{exposed} is open to others .*chmod 600 {exposed}"):
        await (await open_app(settings)).shutdown()
    assert exposed.stat().st_mode & 0o777 == 0o640, "refused, not silently changed"
