"""Uploads: owner-only whatever the umask, never over an earlier one, whole or not at all, and
saved under a safe name whatever name Telegram gives."""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from actors.chat import state as cs
from actors.chat.inbound import RECEIVED, FileArrived, FileRefused
from tests.app_kit import AppKit

CHAT = 1


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most careless umask there is: every file and folder created readable by all."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


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


async def upload(kit: AppKit, name: str, data: bytes) -> str:
    """Send a file; what the chat said about it first."""
    assert kit.app is not None
    kit.n += 1
    before = len(kit.view.texts(CHAT))
    await kit.app.deliver(CHAT, FileArrived(7, name, data, "", f"upd-{kit.n}"))
    await kit.settle()
    return kit.view.texts(CHAT)[before]


def uploads(kit: AppKit) -> Path:
    assert kit.app is not None
    summary = kit.app.catalog.get("work")
    assert summary is not None
    return Path(summary.cwd) / "uploads"


@pytest.mark.usefixtures("open_umask")
async def test_uploads_are_owner_only_whatever_the_umask(kit: AppKit) -> None:
    assert await upload(kit, "notes.txt", b"private") == "Saved uploads/notes.txt in work."
    folder = uploads(kit)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "notes.txt").stat().st_mode & 0o777 == 0o600


async def test_a_second_upload_of_the_same_name_keeps_the_first(kit: AppKit) -> None:
    said = [await upload(kit, "report.pdf", f"version {n}".encode()) for n in (1, 2, 3)]
    said.append(await upload(kit, "README", b"no extension"))
    said.append(await upload(kit, "README", b"no extension either"))
    assert said == [
        "Saved uploads/report.pdf in work.",
        "Saved uploads/report-2.pdf in work.",
        "Saved uploads/report-3.pdf in work.",
        "Saved uploads/README in work.",
        "Saved uploads/README-2 in work.",
    ]
    folder = uploads(kit)
    assert sorted(p.name for p in folder.iterdir()) == [
        "README",
        "README-2",
        "report-2.pdf",
        "report-3.pdf",
        "report.pdf",
    ]
    assert (folder / "report.pdf").read_bytes() == b"version 1"
    assert (folder / "report-3.pdf").read_bytes() == b"version 3"


async def test_a_write_that_fails_leaves_nothing_and_says_so(
    kit: AppKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await upload(kit, "first.txt", b"kept") == "Saved uploads/first.txt in work."

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    said = await upload(kit, "big.bin", b"x" * 100_000)
    assert said == "big.bin could not be saved in work: No space left on device."
    assert [p.name for p in uploads(kit).iterdir()] == ["first.txt"]  # no partial file, no temp


async def test_an_odd_name_is_saved_under_a_safe_one(kit: AppKit) -> None:
    said = await upload(kit, "\ud800notes\udc80.txt", b"odd")  # lone surrogates, as JSON allows
    assert said == "Saved uploads/\ufffdnotes\ufffd.txt in work."
    assert (uploads(kit) / "\ufffdnotes\ufffd.txt").read_bytes() == b"odd"


async def test_a_download_that_failed_is_told_in_words(kit: AppKit) -> None:
    assert kit.app is not None
    reason = "Telegram no longer has the file (HTTP 404)"
    await kit.app.deliver(CHAT, FileRefused(7, "notes.pdf", 10, 20 * 2**20, "upd-90", reason))
    await kit.settle()
    assert kit.view.texts(CHAT)[-1] == (
        "notes.pdf was not saved: Telegram no longer has the file (HTTP 404). Please send it again."
    )
    chat = [e async for e in kit.app.store.read_all(stream_prefix="chat:")]
    updates = [e async for e in kit.app.store.read_all(stream_prefix="update:")]
    [record] = [e.data for e in updates if e.type == RECEIVED and e.data["kind"] == "refused"]
    assert record["reason"] == reason
    assert {"ref": "upd-90"} in [e.data for e in chat if e.type == cs.UPDATE_HANDLED]
