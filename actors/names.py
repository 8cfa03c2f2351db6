"""Names that end up in paths: session names, uploaded file names, paths under a base.

Session names become directory and archive names and appear in chat commands, so they are
held to a strict ASCII rule instead of being "cleaned": a look-alike name silently mapped to
another session would be worse than a refusal.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

MAX_NAME_LEN = 32
NAME_RULE = (
    "a session name is 1 to 32 characters long, uses only lowercase letters a-z, "
    "digits 0-9, '-' and '_', and starts with a letter or a digit"
)
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}", re.ASCII)

MAX_FILENAME_BYTES = 200  # well under the usual 255-byte limit, leaves room for suffixes
_FALLBACK_FILENAME = "file"


class InvalidName(ValueError):
    """A name broke the naming rule; the message is safe to show in a chat."""


class PathEscape(ValueError):
    """A path would leave the directory it must stay in."""


def shown(value: object, limit: int = 40) -> str:
    """Quote user input for an error message: escaped, and never longer than ``limit``."""
    text = value if isinstance(value, str) else repr(value)
    clipped = text[:limit]
    quoted = repr(clipped)
    return quoted + ("…" if len(text) > limit else "")


def validate_session_name(name: str) -> str:
    """Return ``name`` unchanged if it is a valid session name, else raise InvalidName."""
    if not isinstance(name, str):
        raise InvalidName(f"{shown(name)} is not a valid session name: {NAME_RULE}.")
    if not name:
        raise InvalidName(f"The session name is empty: {NAME_RULE}.")
    if len(name) > MAX_NAME_LEN:
        raise InvalidName(f"{shown(name)} is too long ({len(name)} characters): {NAME_RULE}.")
    if _NAME_RE.fullmatch(name) is None:
        raise InvalidName(f"{shown(name)} is not a valid session name: {NAME_RULE}.")
    return name


def is_valid_session_name(name: str) -> bool:
    """Cheap boolean form of validate_session_name, for filters and completions."""
    return isinstance(name, str) and _NAME_RE.fullmatch(name) is not None


def _drop_unsafe_chars(text: str) -> str:
    # Cc: control chars incl. NUL; Cf: format chars such as right-to-left override,
    # which can make "exe.txt" display as "txt.exe". Cs: a lone surrogate (JSON can carry
    # one) cannot be encoded as a file name; it becomes U+FFFD so the name keeps its place.
    return "".join(
        "\ufffd" if cat == "Cs" else ch
        for ch in text
        if (cat := unicodedata.category(ch)) not in ("Cc", "Cf")
    )


def _clip_utf8(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def safe_filename(name: str, *, max_bytes: int = MAX_FILENAME_BYTES) -> str:
    """Turn an uploaded file's name into one safe path component.

    Unlike session names this cleans rather than refuses: the user did not choose the name
    for us, and losing an upload over a stray character would be unhelpful.
    """
    text = unicodedata.normalize("NFKC", name if isinstance(name, str) else str(name))
    # NFKC first, so a fullwidth solidus becomes '/' and is treated as a separator.
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _drop_unsafe_chars(text).strip().lstrip(".").strip()
    if len(text.encode("utf-8")) > max_bytes:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and 0 < len(ext.encode("utf-8")) <= 16:
            keep = max_bytes - len(ext.encode("utf-8")) - 1
            text = _clip_utf8(stem, keep).rstrip() + "." + ext
        else:
            text = _clip_utf8(text, max_bytes).rstrip()
    if text in ("", ".", ".."):
        return _FALLBACK_FILENAME
    return text


def contained_path(base: Path, *parts: str | Path) -> Path:
    """Resolve ``base / parts`` and refuse it unless it stays inside ``base``.

    Resolution follows symlinks, so a link inside base pointing elsewhere is refused too.
    The result may not exist yet; it is the path callers should use.
    """
    try:
        root = Path(base).resolve()
        target = root.joinpath(*parts).resolve()
    except (ValueError, OSError) as exc:  # NUL bytes, symlink loops
        raise PathEscape(f"That path cannot be used: {exc}.") from exc
    if target != root and not target.is_relative_to(root):
        joined = "/".join(str(p) for p in parts)
        raise PathEscape(f"The path {shown(joined)} leads outside the allowed directory.")
    return target
