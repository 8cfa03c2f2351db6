"""Personas: named bundles of `claude` settings, loaded from YAML files.

Shipped personas live in the ``personas`` package; a user directory loaded after it
overrides them by name. A broken file never stops the others from loading: it becomes a
``PersonaProblem`` in plain words, because the person reading it is editing YAML on a phone.

Old files that nest settings under a ``settings:`` key (the seed project's shape) are
accepted: the keys are lifted to the top level and a warning says how to rewrite the file.
A key given both at the top level and under ``settings:`` is a problem, not a guess.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from actors.claude.argv import AgentSettings
from actors.claude.choices import InvalidChoice, mode_choice, model_choice
from actors.names import is_valid_session_name, shown

log = structlog.get_logger(__name__)

_TOOL_RE = re.compile(r"[A-Za-z0-9_][^,\s]*(\([^)]*\))?")


class Persona(BaseModel):
    """What a session is started with. Flat, frozen, and strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    model: str | None = None
    system_prompt: str | None = None
    append_system_prompt: str | None = None
    permission_mode: str = "default"
    allowed_tools: list[str] = Field(default_factory=list)
    disallowed_tools: list[str] = Field(default_factory=list)
    max_turns: Annotated[int, Field(gt=0, strict=True)] | None = None
    cwd: Path | None = None
    archive_workdir: Annotated[bool, Field(strict=True)] = False

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not is_valid_session_name(value):
            raise ValueError(
                "must be 1-32 lowercase letters, digits, '-' or '_', starting with a letter "
                "or digit"
            )
        return value

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return model_choice(value.strip())
        except InvalidChoice as e:
            raise ValueError(str(e).rstrip(".")) from None

    @field_validator("permission_mode", mode="before")
    @classmethod
    def _check_mode(cls, value: Any) -> str:
        try:
            return mode_choice(value if isinstance(value, str) else repr(value))
        except InvalidChoice as e:
            raise ValueError(str(e).rstrip(".")) from None

    @field_validator("allowed_tools", "disallowed_tools")
    @classmethod
    def _check_tools(cls, value: list[str]) -> list[str]:
        for tool in value:
            if not _TOOL_RE.fullmatch(tool):
                raise ValueError(
                    f"{shown(tool)} is not a tool rule; write one tool per list item, "
                    "like Read or Bash(git status:*)"
                )
        return value

    @field_validator("cwd")
    @classmethod
    def _expand_cwd(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        expanded = value.expanduser()
        if not expanded.is_absolute():
            raise ValueError(f"{shown(str(value))} must be an absolute path or start with ~")
        return expanded

    @model_validator(mode="after")
    def _one_prompt(self) -> Persona:
        if self.system_prompt is not None and self.append_system_prompt is not None:
            raise ValueError(
                "set either system_prompt (replaces Claude Code's own prompt) or "
                "append_system_prompt (adds to it), not both"
            )
        return self

    def agent_settings(self) -> AgentSettings:
        """What the session's ``claude`` process is started with."""
        return AgentSettings(
            model=self.model,
            system_prompt=self.system_prompt,
            append_system_prompt=self.append_system_prompt,
            permission_mode=None if self.permission_mode == "default" else self.permission_mode,
            allowed_tools=tuple(self.allowed_tools),
            disallowed_tools=tuple(self.disallowed_tools),
            max_turns=self.max_turns,
        )


FIELDS: tuple[str, ...] = tuple(Persona.model_fields)


@dataclass(frozen=True, slots=True)
class PersonaProblem:
    """One thing wrong with one persona file, in words fit for a chat message."""

    file: Path
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f" (field '{self.field}')" if self.field else ""
        return f"{self.file.name}{where}: {self.message}"


class UnknownPersona(LookupError):
    """No persona by that name; the message lists the ones that exist."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown persona"


@dataclass
class PersonaCatalog:
    """The loaded personas plus everything that went wrong loading them."""

    personas: dict[str, Persona] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    problems: list[PersonaProblem] = field(default_factory=list)
    warnings: list[PersonaProblem] = field(default_factory=list)

    def names(self) -> list[str]:
        return sorted(self.personas)

    def get(self, name: str) -> Persona:
        try:
            return self.personas[name]
        except KeyError:
            broken = next((p for p in self.problems if p.file.stem == name), None)
            if broken is not None:
                raise UnknownPersona(f"The persona {name} could not be loaded: {broken}") from None
            available = ", ".join(self.names()) or "(none loaded)"
            raise UnknownPersona(
                f"There is no persona named {shown(name)}. Available: {available}."
            ) from None

    def archives_workdir(self, name: str) -> bool:
        """Whether persona ``name`` asks for the working directory in its sessions' archives
        (an unknown or broken persona does not: the archive is still made, without it)."""
        persona = self.personas.get(name)
        return persona is not None and persona.archive_workdir

    def __contains__(self, name: object) -> bool:
        return name in self.personas

    def __len__(self) -> int:
        return len(self.personas)


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> PersonaProblem:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    what = getattr(exc, "problem", None) or "could not be parsed"
    return PersonaProblem(path, None, f"this is not valid YAML{where}: {what}.")


def _describe_type(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (the file is empty)"
    return f"a {type(value).__name__}"


_Lifted = tuple[dict[str, Any], list[PersonaProblem], list[PersonaProblem]]


def _lift_settings(path: Path, raw: dict[str, Any]) -> _Lifted:
    """Flatten the old nested ``settings:`` shape: (mapping, problems, warnings)."""
    if "settings" not in raw:
        return raw, [], []
    nested = raw["settings"]
    if not isinstance(nested, dict):
        return (
            raw,
            [
                PersonaProblem(
                    path,
                    "settings",
                    "'settings' is not a persona field; "
                    "put each setting at the top level of the file.",
                )
            ],
            [],
        )
    flat = {k: v for k, v in raw.items() if k != "settings"}
    clash = sorted(set(flat) & set(nested))
    if clash:
        return (
            raw,
            [
                PersonaProblem(
                    path,
                    "settings",
                    f"{', '.join(clash)} is given both at "
                    "the top level and under 'settings:'; keep only one.",
                )
            ],
            [],
        )
    flat.update(nested)
    warning = PersonaProblem(
        path,
        "settings",
        "settings nested under 'settings:' is the old "
        "format; move those keys to the top level and delete the "
        "'settings:' line. Loaded anyway.",
    )
    return flat, [], [warning]


def _validation_problems(path: Path, exc: ValidationError) -> list[PersonaProblem]:
    problems: list[PersonaProblem] = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        name = loc[0] if loc else None
        kind = err["type"]
        if kind == "extra_forbidden" and name is not None:
            close = difflib.get_close_matches(name, FIELDS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            msg = f"'{name}' is not a persona field.{hint} Known fields: {', '.join(FIELDS)}."
        elif kind == "missing":
            msg = "this field is required."
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if not msg.endswith("."):
                msg += "."
            if kind.endswith("_type") or kind.startswith(("int_", "bool_", "list_")):
                got = _describe_type(err.get("input"))
                msg = f"{msg} (got {got})"
        problems.append(PersonaProblem(path, ".".join(loc) or None, msg))
    return problems


def cwd_problem(cwd: Path, own_dirs: Mapping[str, Path]) -> str | None:
    """Why ``cwd`` may not be an agent's working directory: it is, holds or lies inside one of
    pocketcode's own directories, whose code, config and log the agent would work over."""
    here = Path(os.path.realpath(cwd))
    for what, directory in own_dirs.items():
        own = Path(os.path.realpath(directory.expanduser()))
        if here == own:
            relation = "is"
        elif here.is_relative_to(own):
            relation = "lies inside"
        elif own.is_relative_to(here):
            relation = "holds"
        else:
            continue
        return (
            f"the working directory {cwd} {relation} pocketcode's {what} ({own}); give the "
            "persona a directory of its own, or leave cwd out for a folder per session."
        )
    return None


def load_persona_file(
    path: Path, own_dirs: Mapping[str, Path] | None = None
) -> tuple[Persona | None, list[PersonaProblem], list[PersonaProblem]]:
    """Parse one file into (persona or None, problems, warnings)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [PersonaProblem(path, None, f"the file could not be read: {exc}.")], []
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(path, exc)], []
    if not isinstance(raw, dict):
        msg = (
            f"expected a mapping of settings (lines like 'model: sonnet') at the top level, "
            f"but found {_describe_type(raw)}."
        )
        return None, [PersonaProblem(path, None, msg)], []
    bad_keys = [k for k in raw if not isinstance(k, str)]
    if bad_keys:
        return None, [PersonaProblem(path, str(bad_keys[0]), "field names must be text.")], []
    raw, problems, warnings = _lift_settings(path, raw)
    if problems:
        return None, problems, warnings
    raw.setdefault("name", path.stem)
    if is_valid_session_name(raw["name"]) and raw["name"] != path.stem:
        msg = (
            f"the name {shown(raw['name'])} does not match the file name; rename the file "
            f"to {raw['name']}.yaml or change the name to {path.stem}."
        )
        return None, [PersonaProblem(path, "name", msg)], warnings
    try:
        persona = Persona.model_validate(raw)
    except ValidationError as exc:
        return None, _validation_problems(path, exc), warnings
    if persona.cwd is not None and (problem := cwd_problem(persona.cwd, own_dirs or {})):
        return None, [PersonaProblem(path, "cwd", problem)], warnings
    return persona, [], warnings


def load_personas(dirs: list[Path], own_dirs: Mapping[str, Path] | None = None) -> PersonaCatalog:
    """Load every ``*.yaml``/``*.yml`` in ``dirs``; a later dir overrides an earlier one by name.

    Missing directories are skipped (a fresh install has no user dir). If an overriding file
    is broken the earlier persona stays in force and the problem is reported. A persona whose
    ``cwd`` is, holds or lies inside one of ``own_dirs`` (pocketcode's own) is a problem too.
    """
    catalog = PersonaCatalog()
    for directory in dirs:
        directory = Path(directory).expanduser()
        if not directory.is_dir():
            continue
        files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        seen_here: dict[str, Path] = {}
        for path in files:
            if path.stem in seen_here:
                catalog.problems.append(
                    PersonaProblem(
                        path,
                        None,
                        f"{seen_here[path.stem].name} in the same folder already "
                        "defines this persona; remove one of the two files.",
                    )
                )
                continue
            seen_here[path.stem] = path
            persona, problems, warnings = load_persona_file(path, own_dirs)
            catalog.problems.extend(problems)
            catalog.warnings.extend(warnings)
            if persona is not None:
                catalog.personas[persona.name] = persona
                catalog.sources[persona.name] = path
    for problem in catalog.problems:
        log.warning(
            "persona_problem", file=str(problem.file), field=problem.field, message=problem.message
        )
    for warning in catalog.warnings:
        log.info(
            "persona_warning", file=str(warning.file), field=warning.field, message=warning.message
        )
    return catalog
