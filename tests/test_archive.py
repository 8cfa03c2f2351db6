"""Transcript rendering and session archives (tar.gz with and without pigz)."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import actors.archive.tarball as archive_mod
from actors.archive.tarball import (
    ArchiveError,
    build_archive,
    extract_workdir,
    iter_events,
    read_archive,
)
from actors.archive.transcript import render_transcript
from eventstore.records import Event

T0 = datetime(2026, 11, 24, 12, 49, 0, tzinfo=UTC)


class Log:
    """Builds one session's events by hand, the way the session actor would record them."""

    def __init__(self, name: str = "demo", start: int = 1) -> None:
        self.stream = f"session:{name}"
        self.events: list[Event] = []
        self.seq = start

    def add(self, type_: str, data: dict[str, Any]) -> Event:
        event = Event(
            seq=self.seq,
            stream=self.stream,
            version=len(self.events) + 1,
            type=type_,
            schema_version=1,
            data=data,
            at=T0 + timedelta(seconds=self.seq),
        )
        self.seq += 1
        self.events.append(event)
        return event

    def out(self, line: dict[str, Any]) -> None:
        self.add("session.stdout", {"line": line})

    def delta(self, text: str) -> None:
        self.out(
            {
                "type": "stream_event",
                "event": {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": text},
                },
            }
        )

    def text(self, text: str) -> None:
        self.out({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}})

    def result(self, text: str | None, cost: float, **extra: Any) -> None:
        line = {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "num_turns": 1,
            "total_cost_usd": cost,
            **extra,
        }
        if text is not None:
            line["result"] = text
        self.out(line)


def sample_session(name: str = "demo") -> list[Event]:
    log = Log(name)
    log.add(
        "session.created",
        {"name": name, "persona": "homelab", "cwd": "/home/me/demo", "chat_id": 42},
    )
    log.add("session.process_started", {"pid": 100, "argv": ["claude"], "resume_id": None})
    # Turn 1: a tool call that was allowed, then a final answer.
    log.add("session.turn_started", {"turn_id": "t1", "text": "list the files", "merged": 1})
    log.add(
        "session.stdin",
        {"line": {"type": "user", "message": {"role": "user", "content": "list the files"}}},
    )
    log.out({"type": "system", "subtype": "init", "model": "claude-opus-4-8"})
    log.out(
        {
            "type": "assistant",
            "message": {
                "content": [
                    {
                        "type": "tool_use",
                        "id": "tu1",
                        "name": "Bash",
                        "input": {"command": "ls -la"},
                    }
                ]
            },
        }
    )
    log.out(
        {
            "type": "control_request",
            "request_id": "r1",
            "request": {
                "subtype": "can_use_tool",
                "tool_name": "Bash",
                "input": {"command": "ls -la"},
                "tool_use_id": "tu1",
            },
        }
    )
    log.add(
        "session.stdin",
        {
            "line": {
                "type": "control_response",
                "response": {
                    "subtype": "success",
                    "request_id": "r1",
                    "response": {"behavior": "allow"},
                },
            }
        },
    )
    log.out(
        {
            "type": "user",
            "message": {
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "tu1",
                        "content": "a.txt\nb.txt",
                        "is_error": False,
                    }
                ]
            },
        }
    )
    log.delta("There are ")
    log.delta("two files.")
    log.text("There are two files.")
    log.result("There are two files.", 0.22)
    log.add("session.turn_ended", {"turn_id": "t1", "outcome": "completed"})
    # Turn 2: a denied tool, then interrupted while streaming.
    log.add("session.turn_started", {"turn_id": "t2", "text": "delete them\nall", "merged": 2})
    log.out(
        {
            "type": "assistant",
            "message": {
                "content": [
                    {
                        "type": "tool_use",
                        "id": "tu2",
                        "name": "Bash",
                        "input": {"command": "rm a.txt"},
                    }
                ]
            },
        }
    )
    log.out(
        {
            "type": "control_request",
            "request_id": "r2",
            "request": {"subtype": "can_use_tool", "tool_name": "Bash", "tool_use_id": "tu2"},
        }
    )
    log.add(
        "session.stdin",
        {
            "line": {
                "type": "control_response",
                "response": {
                    "subtype": "success",
                    "request_id": "r2",
                    "response": {"behavior": "deny", "message": "not now"},
                },
            }
        },
    )
    log.out(
        {
            "type": "user",
            "message": {
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "tu2",
                        "content": "not now",
                        "is_error": True,
                    }
                ]
            },
        }
    )
    log.delta("Okay, I will not delete")
    log.delta(" anything and instead")
    log.result(None, 0.22, subtype="error_during_execution", is_error=True)
    log.add("session.turn_ended", {"turn_id": "t2", "outcome": "interrupted"})
    # Turn 3: the process crashed / the turn failed mid-stream.
    log.add("session.turn_started", {"turn_id": "t3", "text": "check disk", "merged": 1})
    log.delta("Disk usage is")
    log.add("session.process_exited", {"returncode": -9, "expected": False})
    log.add(
        "session.turn_ended",
        {"turn_id": "t3", "outcome": "failed", "error": "claude exited with code -9"},
    )
    # Turn 4: a new process (its cost counter restarts) and an API error.
    log.add("session.process_started", {"pid": 101, "argv": ["claude"], "resume_id": "abc"})
    log.add("session.turn_started", {"turn_id": "t4", "text": "again", "merged": 1})
    log.result("API Error: 529 overloaded", 0.0, is_error=True, api_error_status=529)
    log.add("session.turn_ended", {"turn_id": "t4", "outcome": "completed"})
    log.add("session.turn_started", {"turn_id": "t5", "text": "hi", "merged": 1})
    log.text("Hello!")
    log.result("Hello!", 0.05)
    log.add("session.turn_ended", {"turn_id": "t5", "outcome": "completed"})
    return log.events


def turn_section(md: str, n: int) -> str:
    start = md.index(f"## Turn {n} ")
    end = md.find("## Turn ", start + 1)
    return md[start:] if end == -1 else md[start:end]


# ---------------------------------------------------------------- transcript


def test_transcript_header_and_cost() -> None:
    md = render_transcript(sample_session())
    assert md.startswith("# Session demo\n")
    assert "- Persona: homelab" in md
    assert "- Created: 2026-11-24 12:49:01 UTC" in md
    assert "5 turn(s), total cost $0.2700." in md  # 0.22 from process 1 + 0.05 from process 2


def test_transcript_turn_with_tool_call() -> None:
    turn = turn_section(render_transcript(sample_session()), 1)
    assert turn.startswith("## Turn 1 — 2026-11-24 12:49:03 UTC")
    assert "> list the files" in turn
    assert "- Bash: ls -la → ok: a.txt b.txt" in turn
    assert "There are two files." in turn
    assert "_" not in turn.split("**Claude:**")[1]  # no status note on a clean turn


def test_transcript_denied_and_interrupted_turn() -> None:
    turn = turn_section(render_transcript(sample_session()), 2)
    assert "(2 messages sent together)" in turn
    assert "> delete them\n> all" in turn
    assert "- Bash: rm a.txt → denied: not now" in turn
    assert "Okay, I will not delete anything and instead" in turn
    assert "Interrupted" in turn
    assert "cut off" in turn


def test_transcript_failed_turn() -> None:
    md = render_transcript(sample_session())
    turn3 = turn_section(md, 3)
    assert "Disk usage is" in turn3
    assert "The turn failed: claude exited with code -9" in turn3
    turn4 = turn_section(md, 4)
    assert "The turn failed: API Error: 529 overloaded" in turn4


def test_transcript_unfinished_turn() -> None:
    log = Log()
    log.add("session.turn_started", {"turn_id": "t1", "text": "hello", "merged": 1})
    log.delta("Hi th")
    md = render_transcript(log.events)
    assert "Hi th" in md
    assert "has not finished" in md
    assert "# Session unnamed session" in md


# ---------------------------------------------------------------- archive

STATE = {"name": "demo", "persona": "homelab", "turns": 5, "cost": 0.27, "tags": ["a", "b"]}


def members(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with tarfile.open(path, "r:gz") as tar:
        for m in tar.getmembers():
            if m.isfile():
                f = tar.extractfile(m)
                assert f is not None  # a regular file always has a reader
                out[m.name] = f.read()
    return out


@pytest.fixture(params=["python-gzip", "pigz"])
def compressor(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> str:
    param: str = request.param
    if param == "python-gzip":
        monkeypatch.setattr(archive_mod, "find_pigz", lambda: None)
        return param
    real = shutil.which("pigz")
    if real is None:
        pytest.skip("pigz is not installed (apt-get install pigz; CI installs it)")
    monkeypatch.setattr(archive_mod, "find_pigz", lambda: real)
    return param


def test_archive_contents(tmp_path: Path, compressor: str) -> None:
    events = sample_session()
    dest = tmp_path / "archives"
    path = build_archive(events, STATE, dest, workdir=None, now=T0)
    assert path == dest / "demo-20261124T124900Z.tar.gz"
    files = members(path)
    assert set(files) == {"transcript.md", "events.jsonl", "session.json"}
    lines = files["events.jsonl"].decode().splitlines()
    assert [json.loads(line) for line in lines] == [e.to_json() for e in events]
    assert [Event.from_json(json.loads(line)) for line in lines] == events
    assert json.loads(files["session.json"]) == STATE
    assert files["transcript.md"].decode() == render_transcript(events)
    assert sorted(p.name for p in dest.iterdir()) == [path.name]  # no temp files left


def test_archive_with_workdir_round_trips(tmp_path: Path, compressor: str) -> None:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "notes.txt").write_text("hello")
    (work / "link").symlink_to("/etc/passwd")
    path = build_archive(sample_session(), STATE, tmp_path / "a", workdir=work, now=T0)
    files = members(path)
    assert files["workdir/sub/notes.txt"] == b"hello"
    events, state = read_archive(path)
    assert events == sample_session()
    assert state == STATE
    restored = tmp_path / "restored"
    done = extract_workdir(path, restored)
    assert done is not None
    assert done.complete
    assert (restored / "link").is_symlink(), "a link leaving the workdir is kept as a link"
    assert os.readlink(restored / "link") == "/etc/passwd"
    assert (restored / "sub" / "notes.txt").read_text() == "hello"


def test_a_python_venv_is_restored_whole(tmp_path: Path) -> None:
    """A venv holds absolute symlinks (bin/python -> /usr/bin/python3): all of it comes back."""
    work = tmp_path / "work"
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (work / ".venv" / "lib64").symlink_to("lib")
    (work / ".venv" / "lib" / "site.py").parent.mkdir(parents=True)
    (work / ".venv" / "lib" / "site.py").write_text("x = 1\n")
    (work / "main.py").write_text("print(1)\n")
    path = build_archive(sample_session(), STATE, tmp_path / "a", workdir=work, now=T0)
    restored = tmp_path / "restored"
    done = extract_workdir(path, restored)
    assert done is not None
    assert done.complete, done
    assert os.readlink(restored / ".venv" / "bin" / "python") == sys.executable
    assert (restored / ".venv" / "lib64" / "site.py").read_text() == "x = 1\n"
    assert (restored / "main.py").read_text() == "print(1)\n"


def test_nothing_is_written_through_a_link_that_leaves(tmp_path: Path) -> None:
    """An archive with ``out -> /tmp/elsewhere`` and then ``out/evil``: the link comes back, the
    file is refused and named, and nothing lands outside."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    path = tmp_path / "hostile.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        link = tarfile.TarInfo("workdir/out")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        tar.addfile(link)
        evil = tarfile.TarInfo("workdir/out/evil")
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
    done = extract_workdir(path, tmp_path / "restored")
    assert done is not None
    assert not done.complete
    assert [name for name, _ in done.skipped] == ["out/evil"]
    assert list(outside.iterdir()) == []


def test_an_archive_over_the_limits_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for i in range(5):
        (work / f"f{i}").write_text("x")
    path = build_archive(sample_session(), STATE, tmp_path / "a", workdir=work, now=T0)
    monkeypatch.setattr(archive_mod, "MAX_MEMBERS", 4)
    with pytest.raises(ArchiveError, match="refused"):
        extract_workdir(path, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()


def test_a_damaged_archive_is_an_error_in_words(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "big").write_bytes(os.urandom(200_000))
    path = build_archive(sample_session(), STATE, tmp_path / "a", workdir=work, now=T0)
    path.write_bytes(path.read_bytes()[:-50_000])  # cut short
    with pytest.raises(ArchiveError, match="damaged"):
        extract_workdir(path, tmp_path / "restored")
    with pytest.raises(ArchiveError):
        list(iter_events(path))


def test_extract_workdir(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "notes.txt").write_text("hello")
    (work / "inner-link").symlink_to("sub/notes.txt")
    path = build_archive(sample_session(), STATE, tmp_path / "a", workdir=work, now=T0)
    restored = tmp_path / "restored"
    assert extract_workdir(path, restored)
    assert (restored / "sub" / "notes.txt").read_text() == "hello"
    assert (restored / "inner-link").read_text() == "hello"
    plain = build_archive(sample_session(), STATE, tmp_path / "a", workdir=None, now=T0)
    assert extract_workdir(plain, tmp_path / "nothing") is None


def test_same_second_does_not_overwrite(tmp_path: Path) -> None:
    first = build_archive(sample_session(), STATE, tmp_path, workdir=None, now=T0)
    second = build_archive(sample_session(), STATE, tmp_path, workdir=None, now=T0)
    assert first != second
    assert first.exists()
    assert second.exists()
    assert second.name == "demo-20261124T124900Z-2.tar.gz"


def test_failure_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(archive_mod, "find_pigz", lambda: None)
    monkeypatch.setattr(archive_mod, "_write_tar", boom)
    with pytest.raises(OSError, match="disk full"):
        build_archive(sample_session(), STATE, tmp_path, workdir=None, now=T0)
    assert list(tmp_path.iterdir()) == []


def test_pigz_failure_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "pigz"
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho broken >&2\nexit 3\n")
    fake.chmod(0o755)
    dest = tmp_path / "out"
    monkeypatch.setattr(archive_mod, "find_pigz", lambda: str(fake))
    with pytest.raises(ArchiveError, match="exit code 3"):
        build_archive(sample_session(), STATE, dest, workdir=None, now=T0)
    assert list(dest.iterdir()) == []


def test_archive_name_is_validated(tmp_path: Path) -> None:
    bad = [
        Event(
            seq=1,
            stream="session:../etc",
            version=1,
            type="session.created",
            schema_version=1,
            data={},
            at=T0,
        )
    ]
    with pytest.raises(ValueError, match="session name"):
        build_archive(bad, {}, tmp_path, workdir=None, now=T0)
    with pytest.raises(ValueError, match="timezone"):
        build_archive(sample_session(), STATE, tmp_path, workdir=None, now=T0.replace(tzinfo=None))


def test_events_from_other_streams_are_refused(tmp_path: Path) -> None:
    events = sample_session() + sample_session("other")
    with pytest.raises(ArchiveError, match="other streams"):
        build_archive(events, STATE, tmp_path, workdir=None, now=T0)


def test_read_archive_rejects_garbage(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(ArchiveError, match="not a readable session archive"):
        read_archive(junk)
