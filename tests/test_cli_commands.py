"""The offline subcommands (sessions, replay, latency, archive) through ``service.cli.main``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from actors.runtime.testkit import run_until_idle
from actors.session import events as ev
from eventstore import NewEvent, SqliteEventStore
from service.cli import main
from tests.app_kit import AppKit
from tests.session_kit import FAKE_CLAUDE

CHAT = 1
T0 = datetime(2026, 2, 1, 10, 0, 0, tzinfo=UTC)


def use_data_dir(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> Path:
    """Point the CLI at ``tmp/data`` (the directory AppKit uses) and return the db path."""
    monkeypatch.setenv("POCKETCODE_DATA_DIR", str(tmp / "data"))
    monkeypatch.setenv("POCKETCODE_PERSONAS_DIR", str(tmp / "personas"))
    monkeypatch.setenv("POCKETCODE_CLAUDE_BIN", FAKE_CLAUDE)
    monkeypatch.setenv("POCKETCODE_LOG_FORMAT", "json")
    monkeypatch.delenv("POCKETCODE_CONFIG", raising=False)
    return tmp / "data" / "var" / "pocketcode.db"


async def _drive_app(tmp: Path) -> None:
    kit = AppKit(tmp)
    await kit.start()
    assert kit.app is not None
    await kit.send("/new work")
    await kit.send("hello there")
    await kit.view.wait_count(CHAT, "done", 1)
    await kit.send("/new other homelab")
    await kit.send("second message")
    await kit.view.wait_count(CHAT, "done", 2)
    await kit.send("/new gone")
    await run_until_idle(kit.app.system)
    await kit.send("/archive gone")
    await run_until_idle(kit.app.system)
    await kit.stop()


@pytest.fixture
def app_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A log written by the whole app with the fake claude: sessions work, other, gone."""
    asyncio.run(_drive_app(tmp_path))
    return use_data_dir(monkeypatch, tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- a hand-written log with known times -------------------------------------------------------


def _delta(text: str) -> dict[str, Any]:
    event = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": text}}
    return {"line": {"type": "stream_event", "event": event}}


async def _write_timed_log(db: Path) -> None:
    """Two turns of session ``s`` in chat 5 at known times; each append is one commit."""
    clock = {"t": T0}
    store = await SqliteEventStore.open(db, now=lambda: clock["t"])

    async def at(ms: int, stream: str, *events: NewEvent) -> None:
        clock["t"] = T0 + timedelta(milliseconds=ms)
        await store.append(stream, list(events))

    s = ev.stream_of("s")
    created = ev.event(ev.CREATED, "upd-1", name="s", persona="default", cwd="/tmp/s", chat_id=5)
    await at(0, s, created)
    for n, base in ((2, 1000), (3, 60_000)):
        cid = f"upd-{n}"
        turn = f"turn-{n}"
        await at(base, "chat:5", NewEvent("update.received", {"update_id": n}, correlation_id=cid))
        await at(base + 5, s, ev.event(ev.MESSAGE_QUEUED, cid, text=f"m{n}"))
        await at(base + 10, s, ev.event(ev.TURN_STARTED, cid, turn_id=turn, text=f"m{n}"))
        await at(base + 40, s, ev.event(ev.STDIN, None, line={"type": "user", "message": {}}))
        await at(base + 700, s, NewEvent(ev.STDOUT, _delta("hel")))
        await at(base + 710, s, NewEvent(ev.STDOUT, _delta("lo")))
        result = {"type": "result", "result": "hello", "total_cost_usd": 0.01 * n}
        await at(base + 2000, s, NewEvent(ev.STDOUT, {"line": result}))
        await at(base + 2001, s, ev.event(ev.TURN_ENDED, cid, turn_id=turn, outcome="completed"))
    # A third turn cut off by a stop of the bot: started, never ended.
    await at(
        120_000,
        "chat:5",
        NewEvent("update.received", {"update_id": 4}, correlation_id="upd-4"),
    )
    await at(120_010, s, ev.event(ev.TURN_STARTED, "upd-4", turn_id="turn-4", text="m4"))
    await store.close()


@pytest.fixture
def timed_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = use_data_dir(monkeypatch, tmp_path)
    asyncio.run(_write_timed_log(db))
    return db


# -- sessions ---------------------------------------------------------------------------------


def test_sessions_lists_what_the_app_created(
    app_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "sessions")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "PERSONA", "STATUS"]
    names = [line.split()[0] for line in lines[1:]]
    assert sorted(names) == ["other", "work"], "archived sessions are hidden by default"
    other = next(line for line in lines if line.startswith("other"))
    assert "homelab" in other
    assert "active" in other

    code, out, _ = run(capsys, "sessions", "--all", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json_lines(out)}
    assert set(rows) == {"work", "other", "gone"}
    assert rows["gone"]["status"] == "archived"
    assert rows["work"]["turns"] == 1
    assert rows["work"]["persona"] == "default"
    assert rows["work"]["cost_usd"] > 0
    assert rows["work"]["cut_off"] is False
    assert rows["other"]["last_used_at"] is not None


def test_sessions_shows_a_turn_that_was_cut_off(
    timed_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "sessions", "--json")
    assert code == 0
    [row] = json_lines(out)
    assert row["name"] == "s"
    assert row["turns"] == 3
    assert row["open_turn"] is True
    assert row["cut_off"] is True
    assert row["cost_usd"] == pytest.approx(0.03)
    code, out, _ = run(capsys, "sessions")
    assert "yes (turn still open)" in out


def test_sessions_does_not_change_the_log(
    timed_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sqlite3.connect(timed_log).execute("SELECT COUNT(*) FROM events").fetchone()
    assert run(capsys, "sessions", "--all")[0] == 0
    assert run(capsys, "replay")[0] == 0
    assert run(capsys, "latency")[0] == 0
    after = sqlite3.connect(timed_log).execute("SELECT COUNT(*) FROM events").fetchone()
    assert before == after


# -- replay -----------------------------------------------------------------------------------


def test_replay_timeline_folds_deltas_and_filters_by_session(
    app_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "replay", "--session", "work")
    assert code == 0, err
    lines = out.splitlines()
    assert lines
    assert all(" session:work " in line for line in lines)
    assert any("session.turn_started" in line for line in lines)
    assert any("deltas" in line for line in lines), "streaming deltas fold into one line"

    code, verbose, _ = run(capsys, "replay", "--session", "work", "--verbose")
    assert code == 0
    assert len(verbose.splitlines()) > len(lines)


def test_replay_json_lines_parse_and_filter_by_type_and_chat(
    app_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "replay", "--json", "--type", "session.turn_*,session.created")
    assert code == 0
    events = json_lines(out)
    assert {e["type"] for e in events} == {
        "session.created",
        "session.turn_started",
        "session.turn_ended",
    }
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)

    code, out, _ = run(capsys, "replay", "--json", "--chat", str(CHAT))
    assert code == 0
    streams = {e["stream"] for e in json_lines(out)}
    assert f"chat:{CHAT}" in streams
    assert "session:work" in streams

    code, out, _ = run(capsys, "replay", "--json", "--chat", "999")
    assert code == 0
    assert out == ""


def test_replay_filters_by_time(timed_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    since = (T0 + timedelta(seconds=60)).isoformat()
    until = (T0 + timedelta(seconds=62)).isoformat()
    code, out, _ = run(capsys, "replay", "--json", "--since", since, "--until", until)
    assert code == 0
    events = json_lines(out)
    assert events
    assert {e["correlation_id"] for e in events if e["correlation_id"]} == {"upd-3"}
    assert events[0]["type"] == "update.received"
    assert events[-1]["type"] == "session.stdout"  # the result, 2.000 s in; ended is at 2.001

    code, out, _ = run(capsys, "replay", "--until", "2026-02-01T10:00:00.5Z")
    assert code == 0
    [line] = out.splitlines()
    assert "session.created" in line


def test_replay_state_at_a_sequence_number(
    timed_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "replay", "--json", "--session", "s", "--type", "session.turn_*")
    turns = json_lines(out)
    first_started = next(e for e in turns if e["type"] == "session.turn_started")
    first_ended = next(e for e in turns if e["type"] == "session.turn_ended")

    code, out, err = run(
        capsys, "replay", "--session", "s", "--state-at", str(first_started["seq"])
    )
    assert code == 0, err
    state = json.loads(out)
    assert state["turns"] == 1
    assert state["turn_in_flight"] == "turn-2"
    assert state["turn"]["text"] == "m2"
    assert state["last_event_seq"] == first_started["seq"]

    code, out, _ = run(capsys, "replay", "--session", "s", "--state-at", str(first_ended["seq"]))
    state = json.loads(out)
    assert state["turn_in_flight"] is None
    assert state["last_outcome"] == "completed"
    assert state["cost_usd"] == pytest.approx(0.02)


def test_replay_errors_are_plain(timed_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "replay", "--state-at", "3")
    assert code != 0
    assert "--state-at needs --session" in err
    code, _, err = run(capsys, "replay", "--since", "yesterday")
    assert code != 0
    assert "is not an ISO date/time" in err
    code, _, err = run(capsys, "replay", "--session", "s", "--state-at", "0")
    assert code != 0
    assert "no events at or before seq 0" in err
    code, _, err = run(capsys, "replay", "--session", "../x")
    assert code != 0
    assert "not a valid session name" in err
    assert "Traceback" not in err


def test_replay_follow_prints_then_stops_on_ctrl_c(
    timed_log: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--follow tails the log; Ctrl-C (simulated: cancel after the first lines) ends it."""
    import service.commands.replay as replay_cmd

    printed: list[str] = []
    real = replay_cmd._printer

    def printer(as_json: bool, verbose: bool, flush: bool) -> Any:
        consume = real(as_json, verbose, flush)

        def wrapped(events: Any) -> None:
            def counted() -> Any:
                for event in events:
                    printed.append(event.type)
                    yield event

            consume(counted())

        return wrapped

    monkeypatch.setattr(replay_cmd, "_printer", printer)

    async def follow_then_interrupt() -> None:
        from service.config import load_settings

        settings = load_settings(None)
        args = replay_cmd_args("--follow", "--json", "--session", "s")
        task = asyncio.ensure_future(replay_cmd.cmd_replay(settings, args))

        async def until(count: int) -> None:
            for _ in range(500):
                if len(printed) >= count:
                    return
                await asyncio.sleep(0.01)

        await until(16)
        # The bot appends while we follow: the new event shows up (polled, other process).
        store = await SqliteEventStore.open(timed_log)
        await store.append(
            ev.stream_of("s"), [ev.event(ev.TURN_ENDED, "upd-4", turn_id="turn-4", outcome="x")]
        )
        await store.close()
        await until(17)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(follow_then_interrupt())
    out = capsys.readouterr().out
    events = json_lines(out)
    assert len(events) == 17  # every session:s event so far, then the live one
    assert events[-1]["type"] == "session.turn_ended"


def replay_cmd_args(*argv: str) -> Any:
    from service.cli import build_parser

    return build_parser().parse_args(["replay", *argv])


# -- latency ----------------------------------------------------------------------------------


def test_latency_stages_for_known_times(
    timed_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "latency", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["turns"] == 3
    since = summary["since_received_ms"]
    assert since["written"] == {"n": 2, "p50": 40.0, "p90": 40.0, "p99": 40.0}
    assert since["first_delta"]["p50"] == 700.0
    assert since["result"]["p99"] == 2000.0
    assert since["first_shown"]["n"] == 0
    assert summary["step_ms"]["first_delta"]["p50"] == 660.0

    code, out, _ = run(capsys, "latency")
    assert code == 0
    assert "written to process" in out
    assert "n/a" in out
    assert "turn-2" in out

    log = tmp_path / "bot.log"
    marks = [
        ("reply.first_shown", "turn-2", 1900),
        ("reply.final_shown", "turn-2", 3500),
        ("reply.first_shown", "turn-3", 60_800),
    ]
    log.write_text(
        "plain console line\n"
        + "".join(
            json.dumps(
                {
                    "event": name,
                    "turn": turn,
                    "timestamp": (T0 + timedelta(milliseconds=ms)).isoformat(),
                }
            )
            + "\n"
            for name, turn, ms in marks
        )
    )
    code, out, _ = run(capsys, "latency", "--json", "--log", str(log), "--last", "2")
    assert code == 0
    summary = json.loads(out)
    assert summary["turns"] == 2
    assert summary["since_received_ms"]["first_shown"]["n"] == 1
    assert summary["since_received_ms"]["first_shown"]["p50"] == 800.0
    assert summary["since_received_ms"]["final_shown"]["n"] == 0
    assert summary["slowest"][0]["turn_id"] == "turn-3"


def test_latency_on_an_app_log(app_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "latency", "--json", "--last", "1")
    assert code == 0
    summary = json.loads(out)
    assert summary["turns"] == 1
    assert summary["since_received_ms"]["written"]["n"] == 1
    assert summary["since_received_ms"]["result"]["n"] == 1


def test_latency_errors_are_plain(
    timed_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "latency", "--log", str(tmp_path / "missing.log"))
    assert code != 0
    assert "cannot read the log file" in err
    code, _, err = run(capsys, "latency", "--last", "0")
    assert code != 0
    assert "--last must be at least 1" in err


# -- archive ----------------------------------------------------------------------------------


def test_archive_builds_a_tarball_and_marks_the_session(
    app_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "archive", "work")
    assert code == 0, err
    path = Path(out.strip())
    assert path.exists()
    assert path.parent == tmp_path / "data" / "sessions_archive"
    with tarfile.open(path, "r:gz") as tar:
        names = tar.getnames()
    assert {"transcript.md", "events.jsonl", "session.json"} <= set(names)

    code, out, _ = run(capsys, "sessions", "--all", "--json")
    rows = {row["name"]: row for row in json_lines(out)}
    assert rows["work"]["status"] == "archived"
    assert rows["work"]["archive_path"] == str(path)

    code, _, err = run(capsys, "archive", "work")
    assert code != 0
    assert "already archived" in err


def test_archive_refuses_an_open_turn_and_unknown_sessions(
    timed_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "archive", "s")
    assert code != 0
    assert "has a turn open" in err
    code, _, err = run(capsys, "archive", "nosuch")
    assert code != 0
    assert "There is no session named nosuch" in err
    code, _, err = run(capsys, "archive", "Bad/Name")
    assert code != 0
    assert "not a valid session name" in err
    assert "Traceback" not in err


def test_archive_conflict_with_a_concurrent_writer_is_clear(
    app_log: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bot appending between the fold and the append: conflict, no archive left behind."""
    import actors.session.archiving as archiving  # the archive flow the bot and the CLI share
    from actors.archive.tarball import build_archive as real_build

    def build_then_someone_writes(*args: Any, **kwargs: Any) -> Path:
        path = real_build(*args, **kwargs)

        async def write() -> None:
            store = await SqliteEventStore.open(app_log)
            await store.append(
                ev.stream_of("other"), [ev.event(ev.MESSAGE_QUEUED, "upd-77", text="racing")]
            )
            await store.close()

        asyncio.run(write())  # runs on the archive's worker thread: its own loop
        return path

    monkeypatch.setattr(archiving, "build_archive", build_then_someone_writes)
    code, _, err = run(capsys, "archive", "other")
    assert code != 0
    assert "changed while it was being archived" in err
    assert list((app_log.parent.parent / "sessions_archive").glob("other-*")) == []
    code, out, _ = run(capsys, "sessions", "--json")
    assert {row["name"]: row["status"] for row in json_lines(out)}["other"] == "active"


# -- no log -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["sessions"], ["replay"], ["latency"], ["archive", "work"], ["replay", "--follow"]],
)
def test_no_log_yet_is_a_plain_error(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = use_data_dir(monkeypatch, tmp_path)
    code, _, err = run(capsys, *argv)
    assert code != 0
    assert f"no event log at {db} yet — start the bot first" in err
    assert "Traceback" not in err
    assert not db.exists(), "nothing is created"


def test_a_file_that_is_not_a_log_is_a_plain_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = use_data_dir(monkeypatch, tmp_path)
    db.parent.mkdir(parents=True)
    db.write_text("hello")
    code, _, err = run(capsys, "sessions")
    assert code != 0
    assert "is not a SQLite database" in err
