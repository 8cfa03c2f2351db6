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
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from eventstore.records import Event
from service.names import validate_session_name
from service.transcript import render_transcript

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


def _read_member(tar: tarfile.TarFile, name: str) -> bytes:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise ArchiveError(f"the archive has no {name}")
    with handle:
        return handle.read()


def read_archive(path: Path) -> tuple[list[Event], dict[str, Any]]:
    """Events and state from an archive, for unarchive. Nothing is extracted to disk."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            raw_events = _read_member(tar, EVENTS)
            raw_state = _read_member(tar, STATE)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{path.name} is not a readable session archive: {exc}") from exc
    events = [
        Event.from_json(json.loads(line))
        for line in raw_events.decode("utf-8").splitlines()
        if line.strip()
    ]
    state = json.loads(raw_state.decode("utf-8"))
    if not isinstance(state, dict):
        raise ArchiveError(f"{path.name}: session.json does not hold an object")
    return events, state


def extract_workdir(path: Path, dest: Path) -> bool:
    """Restore the archived ``workdir/`` into ``dest``; False if the archive has none.

    The "data" filter refuses absolute paths, ``..``, links leaving ``dest`` and device files.
    """
    with tarfile.open(path, mode="r:gz") as tar:
        members = [
            m for m in tar.getmembers() if m.name == WORKDIR or m.name.startswith(WORKDIR + "/")
        ]
        if not members:
            return False
        dest.mkdir(parents=True, exist_ok=True)
        for member in members:
            member.name = member.name.removeprefix(WORKDIR).lstrip("/") or "."
            if member.islnk():  # hard links name another member, which moved too
                member.linkname = member.linkname.removeprefix(WORKDIR).lstrip("/")
        tar.extractall(dest, members=members, filter="data")
    return True
