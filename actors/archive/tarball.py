"""Session archives: one ``.tar.gz`` with the transcript, the raw events and the state.

The events file is the record (an archive can be re-imported); the transcript is for
people. Blocking I/O throughout: callers run these with ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from actors.archive.transcript import render_transcript
from actors.names import validate_session_name
from eventstore.records import Event

TRANSCRIPT = "transcript.md"
EVENTS = "events.jsonl"
STATE = "session.json"
WORKDIR = "workdir"
SUFFIX = ".tar.gz"


class ArchiveError(RuntimeError):
    """The archive could not be written or is not one of ours."""


def find_pigz() -> str | None:
    """Path of ``pigz`` if installed: parallel gzip, much faster on big workdirs."""
    return shutil.which("pigz")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def events_jsonl(events: list[Event]) -> bytes:
    """One ``event.to_json()`` per line, in the given order."""
    lines = (json.dumps(e.to_json(), ensure_ascii=False, separators=(",", ":")) for e in events)
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _session_name(events: list[Event], state: dict[str, Any]) -> str:
    for event in events:
        if event.stream.startswith("session:"):
            return validate_session_name(event.stream.removeprefix("session:"))
    if isinstance(state.get("name"), str):
        return validate_session_name(state["name"])
    raise ArchiveError("cannot tell which session this is: no events and no name in the state")


def archive_name(session: str, now: datetime) -> str:
    """``<session>-<YYYYmmddTHHMMSSZ>.tar.gz``; ``now`` must be timezone-aware."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (use datetime.now(UTC))")
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{validate_session_name(session)}-{stamp}{SUFFIX}"


def _add_bytes(tar: tarfile.TarFile, name: str, payload: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(payload))


def _write_tar(
    stream: IO[bytes], members: list[tuple[str, bytes]], workdir: Path | None, mtime: float
) -> None:
    # "w|" writes a pure stream, so it can go straight into pigz's stdin.
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, payload in members:
            _add_bytes(tar, name, payload, mtime)
        if workdir is not None:
            # Symlinks are stored as links, never followed out of the workdir.
            tar.add(str(workdir), arcname=WORKDIR, recursive=True)


@contextlib.contextmanager
def _atomic_file(final: Path) -> Iterator[IO[bytes]]:
    """A temp file next to ``final``: fsynced and renamed on success, removed on failure."""
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # transcripts can hold secrets the agent saw
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # not every filesystem lets you fsync a directory
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _compress_with_pigz(
    pigz: str, out: IO[bytes], members: list[tuple[str, bytes]], workdir: Path | None, mtime: float
) -> None:
    # stderr goes to a file, not a pipe: an unread pipe could fill up and stall pigz.
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([pigz, "-c"], stdin=subprocess.PIPE, stdout=out, stderr=err)
        assert proc.stdin is not None
        try:
            _write_tar(proc.stdin, members, workdir, mtime)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # pigz died early; its exit code and stderr say why
        except BaseException:
            proc.kill()
            raise
        finally:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            returncode = proc.wait()
        if returncode != 0:
            err.seek(0)
            msg = err.read(2000).decode("utf-8", "replace").strip()
            raise ArchiveError(f"pigz failed with exit code {returncode}: {msg}")


def build_archive(
    session_events: list[Event],
    state: dict[str, Any],
    dest_dir: Path,
    *,
    workdir: Path | None,
    now: datetime,
) -> Path:
    """Write ``<session>-<stamp>.tar.gz`` into ``dest_dir`` atomically and return its path."""
    session = _session_name(session_events, state)
    strays = {e.stream for e in session_events} - {f"session:{session}"}
    if strays:
        raise ArchiveError(f"events from other streams were passed in: {sorted(strays)[:3]}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    base = archive_name(session, now).removesuffix(SUFFIX)
    final, counter = dest_dir / f"{base}{SUFFIX}", 1
    while final.exists():  # two archives in one second must not overwrite each other
        counter += 1
        final = dest_dir / f"{base}-{counter}{SUFFIX}"
    if workdir is not None and not workdir.is_dir():
        raise ArchiveError(f"the working directory {workdir} does not exist")
    members = [
        (TRANSCRIPT, render_transcript(session_events).encode("utf-8")),
        (EVENTS, events_jsonl(session_events)),
        (
            STATE,
            json.dumps(
                state, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default
            ).encode("utf-8")
            + b"\n",
        ),
    ]
    mtime = now.timestamp()
    pigz = find_pigz()
    with _atomic_file(final) as out:
        if pigz:
            _compress_with_pigz(pigz, out, members, workdir, mtime)
        else:
            with gzip.GzipFile(fileobj=out, mode="wb", mtime=int(mtime)) as gz:
                _write_tar(gz, members, workdir, mtime)  # type: ignore[arg-type]
    return final


#: What one archive may unpack to: more is refused before anything is written (a damaged or
#: hostile archive must not fill the disk).
MAX_MEMBERS = 200_000
MAX_UNPACKED_BYTES = 20 * 1024**3


@dataclass(frozen=True, slots=True)
class Restored:
    """What restoring a working directory did: entries written, and those that were not (each
    with why), so nobody is told "back" over missing files."""

    written: int = 0
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def complete(self) -> bool:
        return not self.skipped


def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{path.name} is not a readable session archive: {exc}") from exc


def iter_events(path: Path) -> Iterator[Event]:
    """The archive's ``events.jsonl``, one event at a time (never the whole file in memory)."""
    with _open(path) as tar:
        try:
            handle = tar.extractfile(EVENTS)
        except (KeyError, tarfile.TarError, OSError, EOFError) as exc:
            raise ArchiveError(f"{path.name} has no readable {EVENTS}: {exc}") from exc
        if handle is None:
            raise ArchiveError(f"{path.name} has no {EVENTS}")
        with handle:
            number = 0
            try:
                for line in io.TextIOWrapper(handle, "utf-8"):
                    number += 1
                    if line.strip():
                        yield Event.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError, OSError, EOFError, tarfile.TarError) as exc:
                raise ArchiveError(f"{path.name}: {EVENTS} is damaged at line {number}") from exc


def read_state(path: Path) -> dict[str, Any]:
    """The archive's ``session.json``."""
    with _open(path) as tar:
        try:
            handle = tar.extractfile(STATE)
            if handle is None:
                raise ArchiveError(f"{path.name} has no {STATE}")
            with handle:
                state = json.loads(handle.read(1 << 20).decode("utf-8"))
        except (KeyError, ValueError, OSError, EOFError, tarfile.TarError) as exc:
            raise ArchiveError(f"{path.name} has no readable {STATE}: {exc}") from exc
    if not isinstance(state, dict):
        raise ArchiveError(f"{path.name}: {STATE} does not hold an object")
    return state


def read_archive(path: Path) -> tuple[list[Event], dict[str, Any]]:
    """Events and state from an archive (tests and tools; the bot streams ``iter_events``)."""
    return list(iter_events(path)), read_state(path)


def _workdir_members(tar: tarfile.TarFile, path: Path) -> list[tarfile.TarInfo]:
    """The ``workdir/`` entries, renamed to be relative to it; refused over the limits."""
    members: list[tarfile.TarInfo] = []
    total = 0
    for count, member in enumerate(tar, 1):
        total += max(0, member.size)
        if count > MAX_MEMBERS or total > MAX_UNPACKED_BYTES:
            raise ArchiveError(
                f"{path.name} would unpack to more than {MAX_MEMBERS:,} entries or "
                f"{MAX_UNPACKED_BYTES / 1024**3:g} GiB; refused (is it damaged?)"
            )
        if member.name != WORKDIR and not member.name.startswith(WORKDIR + "/"):
            continue
        member.name = member.name.removeprefix(WORKDIR).lstrip("/") or "."
        if member.islnk():  # hard links name another member, which moved too
            member.linkname = member.linkname.removeprefix(WORKDIR).lstrip("/")
        members.append(member)
    return members


def _keep_symlink(member: tarfile.TarInfo, dest: Path) -> None:
    """Restore a symlink whose target leaves the directory (a venv's ``python ->
    /usr/bin/python3``) as the link it was. The link itself must lie inside ``dest``; later
    members are still checked through it, so nothing is ever written through it."""
    link = Path(os.path.realpath(dest / Path(member.name).parent)) / Path(member.name).name
    if not link.is_relative_to(os.path.realpath(dest)):
        raise tarfile.OutsideDestinationError(member, str(link))
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(member.linkname, link)


def extract_workdir(path: Path, dest: Path) -> Restored | None:
    """Restore the archived ``workdir/`` into ``dest``; None if the archive has none.

    Every entry goes through tarfile's "data" filter (no absolute paths, no ``..``, nothing
    written through a link leaving ``dest``, no device files); symlinks pointing outside are
    kept as links. What cannot be restored is listed, not silently dropped.
    """
    with _open(path) as tar:
        try:
            members = _workdir_members(tar, path)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ArchiveError(f"{path.name} is damaged: {exc}") from exc
        if not members:
            return None
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        written, skipped = 0, []
        for member in members:
            try:
                try:
                    tar.extract(member, dest, filter="data")
                except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError):
                    if not member.issym():
                        raise
                    _keep_symlink(member, dest)
                written += 1
            except (tarfile.FilterError, tarfile.TarError, OSError) as exc:
                skipped.append((member.name, str(exc) or type(exc).__name__))
    return Restored(written, tuple(skipped))
