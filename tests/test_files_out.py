"""Files out of a session, through the whole app with the fake claude: /get, /ls, their buttons
and the files a turn changed under its reply. Every path stays inside the session's directory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.chat import state as cs
from eventstore import Event
from tests.app_kit import AppKit, Shown

CHAT = 1
PNG = bytes.fromhex("89504e470d0a1a0a") + b"\x00" * 40


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[AppKit]:
    kit = AppKit(tmp_path)
    await kit.start()
    await kit.send("/new work")
    await kit.settle()
    try:
        yield kit
    finally:
        await kit.stop()


def workdir(kit: AppKit, session: str = "work") -> Path:
    assert kit.app is not None
    summary = kit.app.catalog.get(session)
    assert summary is not None
    return Path(summary.cwd)


async def shown_after(kit: AppKit, command: str) -> Shown:
    """The last thing ``command`` made the chat show (a message, a file or a photo)."""
    before = len(kit.view.shown.get(CHAT, []))
    await kit.send(command)
    await kit.settle()
    shown = kit.view.shown[CHAT][before:]
    assert shown, f"{command} showed nothing"
    return shown[-1]


async def press(kit: AppKit, button: tuple[str, str, str]) -> Shown:
    before = len(kit.view.shown.get(CHAT, []))
    await kit.press(button[1], button[2])
    await kit.settle()
    return kit.view.shown[CHAT][before:][-1]


def buttons(shown: Shown) -> list[tuple[str, str, str]]:
    return [(b.label, b.action, b.arg) for row in shown.buttons for b in row]


async def test_get_sends_files_as_documents_and_images_as_photos(kit: AppKit) -> None:
    cwd = workdir(kit)
    (cwd / "src").mkdir()
    (cwd / "src" / "app.py").write_text("print('hi')\n")
    (cwd / "shot.PNG").write_bytes(PNG)
    sent = await shown_after(kit, "/get src/app.py")
    assert (sent.kind, sent.filename, sent.data, sent.text) == (
        "file",
        "app.py",
        b"print('hi')\n",
        "src/app.py · work",
    )
    photo = await shown_after(kit, "/get shot.PNG")
    assert (photo.kind, photo.filename, photo.data) == ("photo", "shot.PNG", PNG)
    spaced = cwd / "my notes.txt"
    spaced.write_text("a")
    assert (await shown_after(kit, "/get my notes.txt")).data == b"a"
    absolute = await shown_after(kit, f"/get {cwd / 'src' / 'app.py'}")
    assert absolute.filename == "app.py", "an absolute path inside the directory is fine"
    listed = await shown_after(kit, "/get src")
    assert listed.text.startswith("work: src/ holds 0 folder(s) and 1 file(s).")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("../../../etc/passwd", "The path '../../../etc/passwd' leads outside the allowed"),
        ("/etc/passwd", "The path '/etc/passwd' leads outside the allowed directory."),
        ("out/secret", "The path 'out/secret' leads outside the allowed directory."),
        ("nothing.txt", "There is no 'nothing.txt' in work."),
        ("a\x00b", "That path cannot be used:"),
    ],
)
async def test_paths_that_lead_out_or_nowhere_are_refused(
    kit: AppKit, tmp_path: Path, path: str, words: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("never sent")
    (workdir(kit) / "out").symlink_to(outside)
    refused = await shown_after(kit, f"/get {path}")
    assert (refused.kind, refused.text[: len(words)]) == ("say", words)
    assert not kit.view.of(CHAT, "file")
    listing = await shown_after(kit, f"/ls {path}")
    assert listing.kind == "say"
    assert not listing.buttons


async def test_a_file_over_the_limit_or_not_a_file_is_not_sent(kit: AppKit) -> None:
    cwd = workdir(kit)
    with (cwd / "big.bin").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)  # sparse: nothing written, nothing read
    said = await shown_after(kit, "/get big.bin")
    assert said.text == (
        "big.bin is 50.0 MB, over the 50.0 MB a bot may send on Telegram, so it stays in "
        "work's directory."
    )
    os.mkfifo(cwd / "pipe")
    assert (await shown_after(kit, "/get pipe")).text == (
        "pipe is not a regular file, so it is not sent."
    )
    assert not kit.view.of(CHAT, "file")


async def test_ls_lists_with_buttons_that_open_folders_and_fetch_files(kit: AppKit) -> None:
    cwd = workdir(kit)
    (cwd / "docs" / "deep").mkdir(parents=True)
    (cwd / "docs" / "guide.md").write_text("# Guide\n")
    (cwd / "b.txt").write_text("bee")
    (cwd / "A.txt").write_text("a" * 2048)
    top = await shown_after(kit, "/ls")
    assert top.text == (
        "work: its directory holds 1 folder(s) and 2 file(s). Tap a file to get it, a folder "
        "to open it."
    )
    labels = [label for label, _, _ in buttons(top)]
    assert labels == ["📁 docs/", "📄 A.txt (2 KB)", "📄 b.txt (3 B)"]
    assert all(len(f"a:open:{arg}".encode()) <= 64 for _, _, arg in buttons(top))
    docs = await press(kit, buttons(top)[0])
    assert docs.text.startswith("work: docs/ holds 1 folder(s) and 1 file(s).")
    assert [label for label, _, _ in buttons(docs)] == ["📁 deep/", "📄 guide.md (8 B)", "⬆ .."]
    guide = await press(kit, buttons(docs)[1])
    assert (guide.kind, guide.data, guide.text) == ("file", b"# Guide\n", "docs/guide.md · work")
    deep = await press(kit, buttons(docs)[0])
    assert deep.text == "work: docs/deep/ is empty."
    back = await press(kit, buttons(docs)[2])
    assert back.text.startswith("work: its directory holds")
    got = await press(kit, buttons(top)[2])
    assert got.data == b"bee"

    # The buttons survive a restart: the listings are in the chat's log.
    await kit.stop()
    await kit.start()
    again = await press(kit, buttons(top)[1])
    assert (again.filename, again.data) == ("A.txt", b"a" * 2048)
    assert (await press(kit, ("x", "open", "999.0"))).text == (
        "That list has expired; /ls shows the files again."
    )
    assert (await shown_after(kit, "/open 1.nope")).text.startswith("That list has expired")


async def test_a_listing_keeps_to_its_session(kit: AppKit) -> None:
    (workdir(kit) / "mine.txt").write_text("work's")
    listing = await shown_after(kit, "/ls")
    await kit.send("/new other")
    await kit.settle()
    (workdir(kit, "other") / "mine.txt").write_text("other's")
    got = await press(kit, buttons(listing)[0])
    assert (got.data, got.text) == (b"work's", "mine.txt · work")
    await kit.send("/archive work")
    await kit.settle()
    gone = await press(kit, buttons(listing)[0])
    assert gone.text == "work is no longer active, so its files are not sent."


async def test_the_files_a_turn_changed_are_named_under_its_reply(
    kit: AppKit, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    await kit.send("/mode acceptEdits")
    reply = await kit.turn(
        "[[tool:Write:report.txt|hello]] [[tool:Edit:report.txt|hello|hi]] "
        f"[[tool:Write:{elsewhere}|x]] write them"
    )
    assert reply.footer is not None
    assert reply.footer.startswith(f"📝 Changed: report.txt, {elsewhere}\n$")
    [button] = buttons(reply)
    assert button[:2] == ("📄 report.txt", "open")
    sent = await press(kit, button)
    assert (sent.filename, sent.data) == ("report.txt", b"hi")
    assert [e.data["paths"] for e in await chat_events(kit) if e.type == cs.FILES_LISTED] == [
        ["report.txt"]
    ]


async def test_a_denied_write_changed_nothing(kit: AppKit) -> None:
    await kit.send("[[tool:Write:denied.txt|no]] try")
    await kit.view.wait_for(lambda: any("🔐" in t for t in kit.view.texts(CHAT)))
    asked = next(s for s in kit.view.of(CHAT, "say") if "🔐" in s.text)
    await kit.press("deny", asked.buttons[0][0].arg, handle=asked.handle)
    [reply] = await kit.view.wait_count(CHAT, "done", 1)
    assert "Changed" not in (reply.footer or "")
    assert reply.buttons == ()
    assert not (workdir(kit) / "denied.txt").exists()


async def chat_events(kit: AppKit) -> list[Event]:
    assert kit.app is not None
    return await kit.app.store.read_stream(cs.stream_of(CHAT))
