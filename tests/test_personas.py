"""Persona loading: every kind of broken file is reported by file and field, the rest load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actors.claude.argv import BASE_FLAGS, build_argv
from actors.claude.choices import PERMISSION_MODES
from personas import SHIPPED_DIR
from personas.catalog import (
    Persona,
    PersonaCatalog,
    UnknownPersona,
    cwd_problem,
    load_personas,
)
from tests.app_kit import AppKit


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def only_problem(catalog: PersonaCatalog, file: Path) -> str:
    problems = [p for p in catalog.problems if p.file == file]
    assert len(problems) == 1, catalog.problems
    return str(problems[0])


def test_shipped_personas_load_cleanly() -> None:
    catalog = load_personas([SHIPPED_DIR])
    assert catalog.problems == []
    assert catalog.warnings == []
    assert set(catalog.names()) == {"default", "homelab", "brainstorm", "planner", "research"}
    assert catalog.get("planner").permission_mode == "plan"
    research = catalog.get("research")
    assert "Bash" in research.disallowed_tools
    assert "Write" in research.disallowed_tools
    assert set(research.allowed_tools) <= {"Read", "Grep", "Glob", "WebSearch", "WebFetch"}
    for name in catalog.names():
        persona = catalog.get(name)
        assert persona.description
        assert (persona.append_system_prompt or persona.system_prompt or "").strip()


def test_no_shipped_persona_works_over_pocketcode_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped systemd unit's layout: ~ is pocketcode's home, holding its code and data."""
    home = tmp_path / "var-lib-pocketcode"
    monkeypatch.setenv("HOME", str(home))
    own = {"data directory": home / "data", "install directory": home / "app"}
    catalog = load_personas([SHIPPED_DIR], own)
    assert catalog.problems == []
    assert len(catalog) == 5
    for name in catalog.names():
        cwd = catalog.get(name).cwd
        assert cwd is None or cwd_problem(cwd, own) is None, name


def test_a_cwd_over_pocketcode_own_files_is_refused_in_words(tmp_path: Path) -> None:
    data, app = tmp_path / "data", tmp_path / "app"
    (data / "sessions").mkdir(parents=True)
    (tmp_path / "link").symlink_to(data / "sessions")
    own = {"data directory": data, "install directory": app}
    for cwd, relation in [
        (data, "is"),
        (tmp_path, "holds"),
        (data / "sessions" / "x", "lies inside"),
        (tmp_path / "link", "lies inside"),  # a symlink does not hide where it leads
        (app / ".venv", "lies inside"),
    ]:
        write(tmp_path / "p", "mine.yaml", f"cwd: {cwd}\n")
        catalog = load_personas([tmp_path / "p"], own)
        assert "mine" not in catalog
        msg = only_problem(catalog, tmp_path / "p" / "mine.yaml")
        assert f"(field 'cwd'): the working directory {cwd} {relation} pocketcode's" in msg
        with pytest.raises(UnknownPersona, match="The persona mine could not be loaded"):
            catalog.get("mine")
    write(tmp_path / "p", "mine.yaml", f"cwd: {tmp_path / 'work'}\n")
    assert load_personas([tmp_path / "p"], own).get("mine").cwd == tmp_path / "work"


def test_a_file_is_parsed_again_only_once_edited_and_its_cwd_checked_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog is read at every session start; an unchanged file is not parsed again."""
    parsed: list[str] = []
    parse = yaml.safe_load

    def counted(text: str) -> object:
        parsed.append(text)
        return parse(text)

    monkeypatch.setattr(yaml, "safe_load", counted)
    data, work = tmp_path / "data", tmp_path / "work"
    data.mkdir()
    work.mkdir()
    own = {"data directory": data}
    write(tmp_path / "p", "mine.yaml", f"description: one\ncwd: {work}\n")
    assert load_personas([tmp_path / "p"], own).get("mine").description == "one"
    assert load_personas([tmp_path / "p"], own).get("mine").description == "one"
    assert len(parsed) == 1
    write(tmp_path / "p", "mine.yaml", f"description: two\ncwd: {work}\n")
    assert load_personas([tmp_path / "p"], own).get("mine").description == "two"
    assert len(parsed) == 2
    work.rmdir()
    work.symlink_to(data)  # the file is the same, where its cwd leads is not
    catalog = load_personas([tmp_path / "p"], own)
    assert "mine" not in catalog
    problem = only_problem(catalog, tmp_path / "p" / "mine.yaml")
    assert f"the working directory {work} is pocketcode's data directory" in problem
    assert len(parsed) == 2


def test_user_dir_overrides_shipped(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "default.yaml", "description: mine\nmodel: haiku\n")
    write(user, "extra.yml", "description: new one\n")
    catalog = load_personas([SHIPPED_DIR, user])
    assert catalog.problems == []
    assert catalog.get("default").model == "haiku"
    assert catalog.get("default").description == "mine"
    assert catalog.sources["default"] == user / "default.yaml"
    assert "extra" in catalog
    assert "homelab" in catalog


def test_broken_override_keeps_the_shipped_one(tmp_path: Path) -> None:
    user = tmp_path / "user"
    bad = write(user, "default.yaml", "max_turns: many\n")
    catalog = load_personas([SHIPPED_DIR, user])
    assert catalog.get("default").model == "sonnet"
    assert "default.yaml" in only_problem(catalog, bad)


def test_not_yaml(tmp_path: Path) -> None:
    bad = write(tmp_path, "broken.yaml", "model: [sonnet\ndescription: x\n")
    write(tmp_path, "fine.yaml", "model: sonnet\n")
    catalog = load_personas([tmp_path])
    msg = only_problem(catalog, bad)
    assert "broken.yaml" in msg
    assert "not valid YAML" in msg
    assert "line" in msg
    assert catalog.names() == ["fine"]


def test_list_instead_of_mapping(tmp_path: Path) -> None:
    bad = write(tmp_path, "listy.yaml", "- model: sonnet\n- max_turns: 3\n")
    msg = only_problem(load_personas([tmp_path]), bad)
    assert "listy.yaml" in msg
    assert "mapping" in msg
    assert "a list" in msg


def test_empty_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "empty.yaml", "")
    msg = only_problem(load_personas([tmp_path]), bad)
    assert "empty" in msg


def test_unknown_field_suggests_the_right_one(tmp_path: Path) -> None:
    bad = write(tmp_path, "typo.yaml", "permision_mode: plan\n")
    catalog = load_personas([tmp_path])
    problem = catalog.problems[0]
    assert problem.file == bad
    assert problem.field == "permision_mode"
    assert "not a persona field" in problem.message
    assert "Did you mean 'permission_mode'" in problem.message


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ("max_turns: lots\n", "max_turns", "integer"),
        ("max_turns: 0\n", "max_turns", "greater than 0"),
        ("allowed_tools: Read\n", "allowed_tools", "list"),
        ("archive_workdir: sometimes\n", "archive_workdir", "boolean"),
        ("permission_mode: yolo\n", "permission_mode", "acceptEdits"),
        ("model: 'opus 4'\n", "model", "is not a model"),
        ("cwd: relative/dir\n", "cwd", "absolute"),
        ("name: Bad Name\n", "name", "lowercase"),
    ],
)
def test_wrong_type_or_value(tmp_path: Path, body: str, field: str, words: str) -> None:
    bad = write(tmp_path, "wrong.yaml", body)
    catalog = load_personas([tmp_path])
    assert len(catalog.problems) >= 1
    problem = catalog.problems[0]
    assert problem.file == bad
    assert problem.field == field
    assert words in problem.message
    assert "wrong.yaml" in str(problem)
    assert field in str(problem)
    assert "wrong" not in catalog


def test_both_prompts(tmp_path: Path) -> None:
    bad = write(tmp_path, "both.yaml", "system_prompt: a\nappend_system_prompt: b\n")
    msg = only_problem(load_personas([tmp_path]), bad)
    assert "both.yaml" in msg
    assert "system_prompt" in msg
    assert "not both" in msg


def test_nested_settings_shape_is_flattened_with_a_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "old.yaml",
        "description: seed shape\nsettings:\n  model: sonnet\n  max_turns: 5\n"
        "  permission_mode: acceptEdits\n",
    )
    catalog = load_personas([tmp_path])
    assert catalog.problems == []
    persona = catalog.get("old")
    assert (persona.model, persona.max_turns, persona.permission_mode) == (
        "sonnet",
        5,
        "acceptEdits",
    )
    [warning] = catalog.warnings
    assert warning.file == path
    assert warning.field == "settings"
    assert "top level" in warning.message


def test_nested_settings_conflict_is_a_problem(tmp_path: Path) -> None:
    bad = write(tmp_path, "clash.yaml", "model: opus\nsettings:\n  model: sonnet\n")
    msg = only_problem(load_personas([tmp_path]), bad)
    assert "clash.yaml" in msg
    assert "settings" in msg
    assert "model" in msg


def test_name_must_match_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "alpha.yaml", "name: beta\n")
    msg = only_problem(load_personas([tmp_path]), bad)
    assert "name" in msg
    assert "alpha" in msg


def test_permission_mode_is_normalised() -> None:
    assert Persona(name="x", permission_mode="accept-edits").permission_mode == "acceptEdits"
    assert Persona(name="x", permission_mode="BYPASSPERMISSIONS").permission_mode == (
        "bypassPermissions"
    )
    assert set(PERMISSION_MODES) >= {"default", "plan", "acceptEdits", "bypassPermissions"}


def test_cwd_tilde_is_expanded() -> None:
    assert Persona(name="x", cwd=Path("~/code")).cwd == Path("~/code").expanduser()


def test_persona_is_frozen() -> None:
    persona = Persona(name="x")
    with pytest.raises(ValueError, match="frozen"):
        persona.model = "opus"  # type: ignore[misc]


def test_get_unknown_lists_available() -> None:
    catalog = load_personas([SHIPPED_DIR])
    with pytest.raises(UnknownPersona) as info:
        catalog.get("nope")
    assert "nope" in str(info.value)
    assert "homelab" in str(info.value)


def test_missing_dirs_are_skipped(tmp_path: Path) -> None:
    catalog = load_personas([SHIPPED_DIR, tmp_path / "does-not-exist"])
    assert catalog.problems == []
    assert len(catalog) == 5


def test_persona_becomes_claude_flags_in_equals_form() -> None:
    persona = Persona(
        name="x",
        model="sonnet",
        append_system_prompt="-be brief",
        permission_mode="plan",
        allowed_tools=["Read", "Bash(git status:*)"],
        max_turns=3,
    )
    argv = build_argv("claude", persona.agent_settings(), resume_id=None)
    assert argv[len(BASE_FLAGS) + 1 :] == [
        "--model=sonnet",
        "--append-system-prompt=-be brief",
        "--permission-mode=plan",
        "--allowedTools=Read,Bash(git status:*)",
        "--max-turns=3",
        "--permission-prompt-tool=stdio",
    ]


async def test_a_session_is_not_created_over_pocketcode_data(tmp_path: Path) -> None:
    kit = AppKit(tmp_path)
    await kit.start()
    try:
        write(tmp_path / "personas", "mine.yaml", f"cwd: {tmp_path / 'data'}\n")
        answer = await kit.answer("/new work mine")
    finally:
        await kit.stop()
    assert answer.startswith("The persona mine could not be loaded: mine.yaml (field 'cwd'): ")
    assert f"{tmp_path / 'data'} is pocketcode's data directory" in answer
    assert not (tmp_path / "data" / "sessions" / "work").exists()
