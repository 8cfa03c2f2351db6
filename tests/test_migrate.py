"""The log on PostgreSQL from the app's side: ``pocketcode migrate`` and ``data.database_url``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from actors.session import events as ev
from eventstore import Event, EventStoreError, NewEvent, SqliteEventStore
from eventstore.postgres import PostgresEventStore, import_log
from service.cli import main
from service.commands import CommandError
from service.commands.migrate import _unchanged_upto, _upto
from tests.app_kit import AppKit
from tests.pg_server import PgServer

PASSWORD = "correct-horse-battery"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def with_password(url: str) -> str:
    """The test server trusts local connections: the password is carried, never checked."""
    return url.replace("postgresql://pocketcode@", f"postgresql://pocketcode:{PASSWORD}@")


@pytest.fixture
def target(postgres: PgServer) -> str:
    return asyncio.run(postgres.create_database())


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POCKETCODE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("POCKETCODE_LOG_FORMAT", "json")
    for var in ("POCKETCODE_CONFIG", "POCKETCODE_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "data"


async def write_log(db: Path) -> list[Event]:
    """A log with what the copy must keep: many streams and commits, times, odd payloads."""
    tick = {"t": T0}
    store = await SqliteEventStore.open(db, now=lambda: tick["t"])
    for n in range(300):
        tick["t"] = T0 + timedelta(seconds=n, microseconds=n * 7)
        await store.append(f"session:s{n % 7}", [NewEvent("turn", {"n": n, "text": "x" * n})])
    await store.append(
        "chat:42",
        [
            NewEvent("odd", {"text": "héllo \U0001f600 \u202e <b>", "half": "\ud83d"}),
            NewEvent("old.shape", {"title": "v1"}, schema_version=1, correlation_id="upd-9"),
            NewEvent("nested", {"list": [1, None, True, 2.5], "empty": {}}, schema_version=3),
        ],
    )
    events = [e async for e in store.read_all()]
    await store.close()
    return events


async def pg_events(url: str) -> list[Event]:
    store = await PostgresEventStore.open(url)
    try:
        return [e async for e in store.read_all()]
    finally:
        await store.close()


def test_migrate_copies_every_event_and_says_what_it_did(
    data_dir: Path, target: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = asyncio.run(write_log(data_dir / "var" / "pocketcode.db"))
    monkeypatch.setenv("POCKETCODE_DATABASE_URL", with_password(target))

    code = main(["migrate"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert "migrated 303 events of 8 streams (seq 1..303)" in out
    assert "verified event by event" in out
    assert PASSWORD not in out + err
    assert "pocketcode:***@" in out
    copied = asyncio.run(pg_events(target))
    assert copied == source  # seq, stream, version, type, schema version, data, time, id

    async def carry_on() -> Event:
        store = await PostgresEventStore.open(target)
        try:
            [event] = await store.append("session:s0", [NewEvent("turn")], expected_version=43)
            return event
        finally:
            await store.close()

    event = asyncio.run(carry_on())
    assert (event.seq, event.version) == (304, 44)


def test_migrate_refuses_a_target_that_is_not_empty(
    data_dir: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(write_log(data_dir / "var" / "pocketcode.db"))

    async def occupy() -> None:
        store = await PostgresEventStore.open(target)
        await store.append("chat:1", [NewEvent("already.here")])
        await store.close()

    asyncio.run(occupy())

    code = main(["migrate", "--to", target])

    _, err = capsys.readouterr()
    assert code == 1
    assert "is not empty (it holds 1 event)" in err
    assert "point it at a new database" in err
    assert [e.type for e in asyncio.run(pg_events(target))] == ["already.here"]


def test_migrate_needs_a_postgresql_target(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(write_log(data_dir / "var" / "pocketcode.db"))
    assert main(["migrate"]) == 1
    assert "say where to: pocketcode migrate --to postgresql://" in capsys.readouterr().err
    assert main(["migrate", "--to", "mysql://root:pw@db/x"]) == 1
    err = capsys.readouterr().err
    assert "--to must be a postgresql:// URL" in err
    assert "pw" not in err.replace("postgresql", "")


async def _as_stream(events: list[Event]) -> AsyncIterator[Event]:
    for event in events:
        yield event


async def test_a_copy_that_differs_from_the_source_is_rolled_back(pg_url: str) -> None:
    events = [Event(n, "s:a", n, "t", 1, {"n": n}, T0, None) for n in range(1, 6)]
    altered = [*events[:2], replace(events[2], data={"n": "changed"}), *events[3:]]
    with pytest.raises(EventStoreError, match="at source seq 3: the copy's data differs"):
        await import_log(pg_url, _as_stream(events), _as_stream(altered))
    extra = Event(6, "s:a", 6, "t", 1, {}, T0, None)
    with pytest.raises(EventStoreError, match="seq 6 of the source was not copied"):
        await import_log(pg_url, _as_stream(events), _as_stream([*events, extra]))
    assert await pg_events(pg_url) == []
    assert await import_log(pg_url, _as_stream(events), _as_stream(events)) == 5


async def test_a_log_that_grows_during_the_copy_is_not_migrated(
    pg_url: str, tmp_path: Path
) -> None:
    store = await SqliteEventStore.open(tmp_path / "log.db")
    await store.append("s:a", [NewEvent("t")] * 3)

    async def copy_while_the_bot_writes() -> AsyncIterator[Event]:
        async for event in _upto(store, 3, set()):
            yield event
        await store.append("s:a", [NewEvent("late")])

    try:
        with pytest.raises(CommandError, match="grew while it was being copied"):
            await import_log(pg_url, copy_while_the_bot_writes(), _unchanged_upto(store, 3))
    finally:
        await store.close()
    assert await pg_events(pg_url) == []


async def test_the_app_records_to_postgresql_when_a_database_url_is_set(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = AppKit(tmp_path)
    await kit.start(POCKETCODE_DATABASE_URL=pg_url)
    try:
        assert kit.app is not None
        assert isinstance(getattr(kit.app.store, "inner", None), PostgresEventStore)
        await kit.send("/new work")
        reply = await kit.turn("hello there")
        assert reply.text
    finally:
        await kit.stop()
    assert not (tmp_path / "data" / "var" / "pocketcode.db").exists()
    await kit.start(POCKETCODE_DATABASE_URL=pg_url)  # rebuilt from PostgreSQL after a restart
    try:
        assert kit.app is not None
        summary = kit.app.catalog.get("work")
        assert summary is not None
        await kit.turn("and again")
        turns = [e for e in await kit.session_events("work") if e.type == ev.TURN_ENDED]
        assert len(turns) == 2
    finally:
        await kit.stop()
