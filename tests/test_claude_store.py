"""Reading claude's own conversation store (``actors.claude.store``): a file the real CLI wrote,
and stores built from its lines with every oddity a store can have."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actors.claude import store

FIXTURE = Path(__file__).parent / "fixtures" / "claude_store" / "conversation-2.1.197.jsonl"
CWD = "/home/me/my proj"
T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def raw(lines: list[Any]) -> list[bytes]:
    return [json.dumps(x).encode() if not isinstance(x, bytes) else x for x in lines]


def user(text: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": text}, "cwd": CWD, **extra}


def assistant(*texts: str) -> dict[str, Any]:
    content = [{"type": "text", "text": t} for t in texts]
    return {"type": "assistant", "message": {"role": "assistant", "content": content}, "cwd": CWD}


def test_a_conversation_the_real_cli_wrote_is_read() -> None:
    lines = FIXTURE.read_bytes().splitlines()
    head = store.head_of(lines)
    assert head == store.Head(CWD, "remember the word pineapple")
    exchange = store.exchange_of(lines)
    assert exchange.prompt == "[[mock:recall]] what did I say?"
    assert exchange.reply == "Recall: remember the word pineapple | write notes | what did I say?"


def test_only_what_the_user_typed_is_a_prompt() -> None:
    assert store.prompt_text(user("fix the bug")) == "fix the bug"
    assert store.prompt_text(user([{"type": "text", "text": "from blocks"}])) == "from blocks"
    tool_result = [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]
    assert store.prompt_text(user(tool_result)) is None
    assert store.prompt_text(user("note", isMeta=True)) is None
    assert store.prompt_text(user("a subagent's", isSidechain=True)) is None
    assert store.prompt_text(user("summary", isCompactSummary=True)) is None
    assert store.prompt_text(user("<command-name>/clear</command-name>")) is None
    assert store.prompt_text(user("<local-command-stdout></local-command-stdout>")) is None
    assert store.prompt_text(user("[Request interrupted by user]")) is None
    assert store.prompt_text(user("   ")) is None
    assert store.prompt_text(user(None)) is None
    assert store.prompt_text({"type": "user", "message": "not an object"}) is None
    assert store.prompt_text(assistant("hi")) is None


def test_odd_lines_are_skipped_never_fatal() -> None:
    lines = raw(
        [
            b"not json at all",
            b"[1, 2, 3]",
            b'{"type": "user", "message": {"role": "user", "content": "cut in ha',
            b"",
            {"type": "summary", "summary": "A title", "leafUuid": "x"},
            {"type": "user"},
            {"type": "assistant", "message": {"content": "a string, not blocks"}},
            {"type": "assistant", "message": {"content": [{"type": "text", "text": 5}, "x"]}},
            {"type": "user", "message": {"content": "no cwd on this line"}},
            {"type": "user", "message": {"content": "later"}, "cwd": "relative/not/a/dir"},
            user("the one with a directory"),
            assistant("first", "second"),
        ]
    )
    assert store.head_of(lines) == store.Head(CWD, "no cwd on this line")
    assert store.exchange_of(lines) == store.Exchange("the one with a directory", "first\n\nsecond")
    assert store.exchange_of([]) == store.Exchange(None, None)


def test_the_project_folder_is_named_as_the_cli_names_it() -> None:
    assert store.project_dir_pattern(CWD) == "-home-me-my-proj"
    assert store.project_dir_pattern("/srv/café_1.2") == "-srv-caf--1-2"
    assert store.project_dir_pattern("/srv/" + "x" * 300) == "-srv-" + "x" * 195 + "-*"


def test_the_config_directory_is_claudes_own() -> None:
    assert store.config_dir({"CLAUDE_CONFIG_DIR": "/etc/cc", "HOME": "/h"}) == Path("/etc/cc")
    assert store.config_dir({"HOME": "/home/me"}) == Path("/home/me/.claude")
    assert store.config_dir({}) is None


class Store:
    """A store under ``root`` whose files have the given ages (seconds before T0)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(
        self, session_id: str, cwd: str, prompt: str | None, *, age_s: float, reply: str = "ok"
    ) -> Path:
        folder = self.root / "projects" / store.project_dir_pattern(cwd).replace("*", "1kxmq8")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{session_id}.jsonl"
        lines: list[Any] = [{"type": "queue-operation", "operation": "enqueue"}]
        if prompt is not None:
            lines += [dict(user(prompt), cwd=cwd), dict(assistant(reply), cwd=cwd)]
        path.write_bytes(b"\n".join(raw(lines)) + b"\n")
        os.utime(path, (T0 - age_s, T0 - age_s))
        return path


def sid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-000000000000"


def test_a_listing_is_newest_first_without_pocketcodes_own(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.add(sid(1), "/src/app", "oldest", age_s=300)
    s.add(sid(2), "/src/app", "driven by pocketcode", age_s=10)
    s.add(sid(3), "/src/web", "newest", age_s=5)
    s.add(sid(4), "/src/web", None, age_s=1)  # nothing typed yet: nothing to resume
    s.add(sid(5), "/src/app", "middle", age_s=100)
    (tmp_path / "projects" / "-src-app" / "agent-1234.jsonl").write_text("{}")  # not one
    found = store.listing(tmp_path, skip={sid(2)})
    assert [c.first_prompt for c in found.conversations] == ["newest", "middle", "oldest"]
    assert (found.left_out, found.more) == (1, False)
    newest = found.conversations[0]
    assert (newest.session_id, newest.cwd) == (sid(3), "/src/web")
    assert newest.modified == datetime.fromtimestamp(T0 - 5, UTC)
    limited = store.listing(tmp_path, skip={sid(2)}, limit=2)
    assert [c.first_prompt for c in limited.conversations] == ["newest", "middle"]
    assert (limited.left_out, limited.more) == (1, True)
    app = store.listing(tmp_path, cwd="/src/app")
    assert [c.session_id for c in app.conversations] == [sid(2), sid(5), sid(1)]
    assert store.listing(tmp_path, cwd="/src/nothing-here").conversations == ()
    assert store.listing(tmp_path / "no-store-at-all").conversations == ()


def test_a_listing_of_one_directory_checks_the_directory_each_file_names(tmp_path: Path) -> None:
    """``/a-b`` and ``/a/b`` share a folder name: the file's own ``cwd`` decides."""
    s = Store(tmp_path)
    s.add(sid(1), "/a-b", "dash", age_s=2)
    s.add(sid(2), "/a/b", "slash", age_s=1)
    assert [c.first_prompt for c in store.listing(tmp_path, cwd="/a/b").conversations] == ["slash"]
    long = "/srv/" + "d" * 250
    s.add(sid(3), long, "deep", age_s=1)
    assert [c.first_prompt for c in store.listing(tmp_path, cwd=long).conversations] == ["deep"]


def test_an_unreadable_file_is_left_out(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.add(sid(1), "/src/app", "fine", age_s=2)
    broken = s.add(sid(2), "/src/app", "unreadable", age_s=1)
    broken.chmod(0)
    if os.access(broken, os.R_OK):
        broken.unlink()  # root reads anything: a file gone between listing and reading
        broken.symlink_to(tmp_path / "missing")
    assert [c.first_prompt for c in store.listing(tmp_path).conversations] == ["fine"]


def test_a_conversation_is_found_by_its_id_or_the_start_of_it(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.add(sid(0xABC1), "/src/app", "one", age_s=2)
    s.add(sid(0xABC2), "/src/web", "two", age_s=1)
    assert [c.first_prompt for c in store.find(tmp_path, sid(0xABC1))] == ["one"]
    assert [c.first_prompt for c in store.find(tmp_path, "0000abc2")] == ["two"]
    assert [c.first_prompt for c in store.find(tmp_path, "0000ABC")] == ["two", "one"]
    for key in ("abc", "*", "0000abc?", "../x", "", sid(9)):
        assert store.find(tmp_path, key) == [], key


def test_the_last_exchange_is_read_from_the_end_of_a_long_file(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    filler = [user(f"prompt {i}") for i in range(3000)] + [assistant("x" * 1000)] * 300
    lines = [*filler, user("the last one"), assistant("answer, part one"), assistant("two")]
    path.write_bytes(b"\n".join(raw(lines)) + b"\n")
    assert path.stat().st_size > store.TAIL_BYTES
    assert store.last_exchange(path) == store.Exchange("the last one", "answer, part one\n\ntwo")
    assert store.last_exchange(tmp_path / "gone.jsonl") == store.Exchange(None, None)


def test_the_real_file_is_listed_and_found(tmp_path: Path) -> None:
    folder = tmp_path / "projects" / store.project_dir_pattern(CWD)
    folder.mkdir(parents=True)
    conversation_id = json.loads(FIXTURE.read_bytes().splitlines()[0])["sessionId"]
    shutil.copy(FIXTURE, folder / f"{conversation_id}.jsonl")
    [found] = store.listing(tmp_path).conversations
    assert (found.session_id, found.cwd, found.first_prompt) == (
        conversation_id,
        CWD,
        "remember the word pineapple",
    )
    assert store.find(tmp_path, conversation_id[:8]) == [found]


def test_reading_the_head_stops_at_its_limit(tmp_path: Path) -> None:
    """A first line longer than what is read of a head is skipped, not read whole."""
    s = Store(tmp_path)
    path = s.add(sid(1), "/src/app", "typed", age_s=1)
    huge = json.dumps(user("y" * (store.HEAD_BYTES + 10))).encode()
    path.write_bytes(huge + b"\n" + path.read_bytes())
    assert store.listing(tmp_path).conversations == ()
