"""Session-name rules, uploaded-file-name cleaning and path containment."""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.names import (
    NAME_RULE,
    InvalidName,
    PathEscape,
    contained_path,
    safe_filename,
    validate_session_name,
)


@pytest.mark.parametrize("name", ["a", "0", "work", "my-proj_2", "x" * 32, "9lives"])
def test_valid_names_pass_unchanged(name: str) -> None:
    assert validate_session_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "/etc",
        "a/b",
        "a\\b",
        "a\x00b",
        "p\u0430ss",  # Cyrillic small a (U+0430)
        "ｗｏｒｋ",  # fullwidth
        "x" * 33,
        "Work",
        "-lead",
        "_lead",
        "has space",
        "tab\t",
        "trail\n",
        "é",
        "a.b",
    ],
)
def test_bad_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidName) as info:
        validate_session_name(name)
    assert NAME_RULE in str(info.value)


def test_error_message_does_not_echo_huge_input() -> None:
    with pytest.raises(InvalidName) as info:
        validate_session_name("A" * 10_000)
    assert len(str(info.value)) < 400
    assert "10000" in str(info.value)


def test_error_message_escapes_control_characters() -> None:
    with pytest.raises(InvalidName) as info:
        validate_session_name("a\x00\n\u202eb")
    message = str(info.value)
    assert "\x00" not in message
    assert "\n" not in message
    assert "\u202e" not in message


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidName):
        validate_session_name(None)  # type: ignore[arg-type]


@given(st.text(alphabet=string.printable + "\x00а／．ｗé\u202e", max_size=40))
def test_any_accepted_name_is_one_safe_path_component(name: str) -> None:
    try:
        accepted = validate_session_name(name)
    except InvalidName:
        return
    assert accepted == name
    assert accepted not in (".", "..")
    assert os.sep not in accepted
    assert "/" not in accepted
    assert "\x00" not in accepted
    assert Path(accepted).name == accepted
    assert len(Path(accepted).parts) == 1
    assert accepted.isascii()
    assert accepted == accepted.lower()
    base = Path("/srv/sessions")
    assert (base / accepted).parent == base


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\evil.exe", "evil.exe"),
        (".bashrc", "bashrc"),
        ("...", "file"),
        ("..", "file"),
        (".", "file"),
        ("", "file"),
        ("dir/", "file"),
        ("a\x00b.txt", "ab.txt"),
        ("ｒｅｐｏｒｔ．ｐｄｆ", "report.pdf"),
        ("ｅｔｃ／passwd", "passwd"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("  spaced name.txt  ", "spaced name.txt"),
    ],
)
def test_safe_filename(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_safe_filename_limits_length_and_keeps_extension() -> None:
    cleaned = safe_filename("ж" * 500 + ".tar.gz")
    assert len(cleaned.encode("utf-8")) <= 200
    assert cleaned.endswith(".gz")
    assert safe_filename("x" * 1000).startswith("x")
    assert len(safe_filename("x" * 1000)) == 200


@given(st.text(max_size=300))
def test_safe_filename_is_always_one_component(raw: str) -> None:
    cleaned = safe_filename(raw)
    assert cleaned
    assert cleaned not in (".", "..")
    assert "/" not in cleaned
    assert "\x00" not in cleaned
    assert "\\" not in cleaned
    assert not cleaned.startswith(".")
    assert len(cleaned.encode("utf-8")) <= 200


def test_contained_path_allows_inside(tmp_path: Path) -> None:
    assert contained_path(tmp_path, "a", "b.txt") == tmp_path.resolve() / "a" / "b.txt"
    assert contained_path(tmp_path) == tmp_path.resolve()


@pytest.mark.parametrize("parts", [("..",), ("a", "..", ".."), ("/etc/passwd",), ("a\x00",)])
def test_contained_path_refuses_escapes(tmp_path: Path, parts: tuple[str, ...]) -> None:
    base = tmp_path / "base"
    base.mkdir()
    with pytest.raises(PathEscape):
        contained_path(base, *parts)


def test_contained_path_refuses_symlink_out(tmp_path: Path) -> None:
    base = tmp_path / "base"
    outside = tmp_path / "outside"
    base.mkdir()
    outside.mkdir()
    (base / "link").symlink_to(outside)
    with pytest.raises(PathEscape):
        contained_path(base, "link", "secret")
    (base / "inner").mkdir()
    (base / "ok").symlink_to(base / "inner")
    assert contained_path(base, "ok", "f") == (base / "inner" / "f").resolve()
