"""/get and /ls: files out of a session's working directory, and the buttons that fetch them.

Every path is resolved inside the session's directory (``names.contained_path``, symlinks
followed), so none leads out of it. Images go as pictures, anything else as a file; one over
the front's limit is refused in words before it is read. Buttons (``/ls`` entries, the files a
turn changed, under its reply) name an entry of a listing the chat logged
(``chat.files_listed``), never a path: Telegram keeps only 64 bytes of a button.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from actors.chat import state as cs
from actors.chat.context import ChatContext
from actors.chat.view import Button, Keyboard
from actors.names import PathEscape, contained_path, shown
from actors.session.errors import SessionError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
#: Entries of a folder offered as buttons, and files named under a reply.
SHOWN_ENTRIES = 40
SHOWN_CHANGED = 10
BUTTONS_PER_ROW = 2


async def get(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/get PATH``: a file of the active session's directory (a folder is listed)."""
    where = _active_dir(chat)
    if where is None:
        await chat.offer_sessions("No active session to get a file from. Pick one:")
        return
    await send(chat, *where, " ".join(args))


async def ls(chat: ChatContext, args: tuple[str, ...], ref: str) -> None:
    """``/ls [DIR]``: a folder of the active session's directory, with buttons."""
    where = _active_dir(chat)
    if where is None:
        await chat.offer_sessions("No active session to list. Pick one:")
        return
    await show_dir(chat, *where, " ".join(args) or ".")


async def open_entry(chat: ChatContext, args: tuple[str, ...]) -> None:
    """A button of a listing (``/open N.I``, typed): fetch its file or list its folder."""
    number, _, index = args[0].partition(".")
    listing = chat.state.listing(int(number)) if number.isdigit() else None
    if listing is None or not index.isdigit() or int(index) >= len(listing.paths):
        raise SessionError("That list has expired; /ls shows the files again.")
    summary = chat.catalog.get(listing.session)
    if summary is None or summary.status != "active":
        raise SessionError(f"{listing.session} is no longer active, so its files are not sent.")
    path = listing.paths[int(index)]
    if path.endswith("/"):
        await show_dir(chat, listing.session, summary.cwd, path)
    else:
        await send(chat, listing.session, summary.cwd, path)


def _active_dir(chat: ChatContext) -> tuple[str, str] | None:
    active = chat.active()
    summary = chat.catalog.get(active) if active else None
    return None if summary is None else (summary.name, summary.cwd)


# ------------------------------------------------------------------------------ sending


async def send(chat: ChatContext, session: str, cwd: str, path: str) -> None:
    if not path.strip():
        raise SessionError("Which file? /get PATH, a path in the session's directory.")
    root, target = _inside(cwd, path)
    try:
        info = await asyncio.to_thread(os.stat, target)
    except FileNotFoundError:
        raise SessionError(f"There is no {shown(path, 80)} in {session}.") from None
    except OSError as exc:
        raise SessionError(f"{shown(path, 80)} cannot be read: {exc.strerror or exc}.") from None
    relative = _relative(root, target)
    if stat.S_ISDIR(info.st_mode):
        await show_dir(chat, session, cwd, relative + "/")
        return
    if not stat.S_ISREG(info.st_mode):
        raise SessionError(f"{relative} is not a regular file, so it is not sent.")
    limit = chat.send_limit_bytes
    if info.st_size > limit:
        await chat.say(
            f"{relative} is {_size(info.st_size)}, over the {_size(limit)} a bot may send on "
            f"Telegram, so it stays in {session}'s directory."
        )
        return
    try:
        data = await asyncio.to_thread(target.read_bytes)
    except OSError as exc:
        raise SessionError(f"{relative} cannot be read: {exc.strerror or exc}.") from None
    caption = f"{relative} · {session}"
    send = chat.view.send_photo if target.suffix.lower() in IMAGE_SUFFIXES else chat.view.send_file
    thread = chat.where.thread_id  # where it was asked for (a button: under the reply)
    sent = await send(chat.chat_id, target.name, data, caption, thread_id=thread)
    if sent is None:
        await chat.say(f"{relative} could not be sent: Telegram refused it.")


# ------------------------------------------------------------------------------ listing


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    folder: bool
    size: int


def _entries(folder: Path) -> list[Entry]:
    """The folder's entries, folders first, then by name (symlinks as what they point to)."""
    found = []
    with os.scandir(folder) as it:
        for e in it:
            try:
                is_dir = e.is_dir()
                size = 0 if is_dir else e.stat().st_size
            except OSError:  # a dangling link: listed, fetching it says why not
                is_dir, size = False, 0
            found.append(Entry(e.name, is_dir, size))
    return sorted(found, key=lambda e: (not e.folder, e.name.lower(), e.name))


async def show_dir(chat: ChatContext, session: str, cwd: str, path: str) -> None:
    root, target = _inside(cwd, path)
    relative = _relative(root, target)
    try:
        entries = await asyncio.to_thread(_entries, target)
    except NotADirectoryError:
        await send(chat, session, cwd, relative)
        return
    except FileNotFoundError:
        raise SessionError(f"There is no {shown(path, 80)} in {session}.") from None
    except OSError as exc:
        raise SessionError(f"{relative} cannot be listed: {exc.strerror or exc}.") from None
    prefix = "" if relative == "." else relative + "/"
    offered = [(f"{prefix}{e.name}/" if e.folder else f"{prefix}{e.name}", e) for e in entries]
    offered = offered[:SHOWN_ENTRIES]
    paths = [p for p, _ in offered]
    labels = [
        f"📁 {_cut(e.name)}/" if e.folder else f"📄 {_cut(e.name)} ({_size(e.size)})"
        for _, e in offered
    ]
    if relative != ".":
        parent = str(Path(relative).parent)
        paths.append("./" if parent == "." else parent + "/")
        labels.append("⬆ ..")
    text = dir_text(session, relative, entries, len(offered))
    await chat.say(text, buttons=await _listed(chat, session, paths, labels))


def dir_text(session: str, relative: str, entries: list[Entry], offered: int) -> str:
    folders = sum(e.folder for e in entries)
    where = f"{session}: {'its directory' if relative == '.' else relative + '/'}"
    if not entries:
        return f"{where} is empty."
    text = f"{where} holds {folders} folder(s) and {len(entries) - folders} file(s)."
    if offered < len(entries):
        text += f" The first {offered} are shown; /ls DIR opens a folder."
    return text + " Tap a file to get it, a folder to open it."


async def _listed(chat: ChatContext, session: str, paths: list[str], labels: list[str]) -> Keyboard:
    """Log the listing, then its buttons (each names the listing and an index)."""
    if not paths:
        return ()
    await chat.append(cs.FILES_LISTED, session=session, paths=paths)
    number = chat.state.version
    buttons = [Button(label, "open", f"{number}.{i}") for i, label in enumerate(labels)]
    return tuple(
        tuple(buttons[i : i + BUTTONS_PER_ROW]) for i in range(0, len(buttons), BUTTONS_PER_ROW)
    )


async def changed(chat: ChatContext, session: str, files: tuple[str, ...]) -> tuple[str, Keyboard]:
    """Under a reply: the files the turn changed, each a button that sends it (a file outside
    the session's directory is named, without one)."""
    summary = chat.catalog.get(session)
    if summary is None:
        return "", ()
    inside, names = await asyncio.to_thread(_changed_paths, summary.cwd, files[:SHOWN_CHANGED])
    more = f" and {len(files) - SHOWN_CHANGED} more" if len(files) > SHOWN_CHANGED else ""
    note = f"📝 Changed: {', '.join(names)}{more}"
    return note, await _listed(chat, session, inside, [f"📄 {_cut(p)}" for p in inside])


def _changed_paths(cwd: str, files: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(paths inside ``cwd``, relative; every file's name as shown)."""
    root = Path(cwd).resolve()
    inside, names = [], []
    for file in files:
        try:
            relative = _relative(root, contained_path(root, file))
        except PathEscape:
            names.append(file)
            continue
        inside.append(relative)
        names.append(relative)
    return inside, names


# ------------------------------------------------------------------------------ helpers


def _inside(cwd: str, path: str) -> tuple[Path, Path]:
    """The session's directory and ``path`` resolved in it; ``PathEscape`` if it leads out."""
    root = Path(cwd).resolve()
    return root, contained_path(root, path)


def _relative(root: Path, target: Path) -> str:
    return target.relative_to(root).as_posix()


def _cut(name: str, limit: int = 40) -> str:
    """A name short enough for a button (its start and its end, which holds the extension)."""
    return name if len(name) <= limit else f"{name[: limit - 12]}…{name[-11:]}"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1_048_576:.1f} MB"
