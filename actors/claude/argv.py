"""Command line for a long-lived stream-json `claude` process.

Values are always passed as `--flag=value` so a value starting with `-` (a system prompt,
say) can never be parsed as a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

BASE_FLAGS: tuple[str, ...] = (
    "-p",
    "--output-format=stream-json",
    "--input-format=stream-json",
    "--verbose",
    "--include-partial-messages",
)


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """What a session's persona asks of the CLI; None/empty means "CLI default"."""

    model: str | None = None
    system_prompt: str | None = None
    append_system_prompt: str | None = None
    permission_mode: str | None = None
    allowed_tools: tuple[str, ...] = ()
    disallowed_tools: tuple[str, ...] = ()
    max_turns: int | None = None
    permission_prompt_tool: str | None = "stdio"


def with_overrides(
    settings: AgentSettings, *, model: str | None, permission_mode: str | None
) -> AgentSettings:
    """The persona's settings with what the user chose in the chat (``/model``, ``/mode``).

    None keeps the persona's value; "default" drops the flag, so the CLI's own default applies
    even when the persona names another.
    """
    if model is not None:
        settings = replace(settings, model=None if model == "default" else model)
    if permission_mode is not None:
        mode = None if permission_mode == "default" else permission_mode
        settings = replace(settings, permission_mode=mode)
    return settings


def _opt(flag: str, value: str) -> str:
    if "\x00" in value:
        raise ValueError(f"{flag} value contains a NUL byte")
    return f"{flag}={value}"


def build_argv(
    binary: str,
    settings: AgentSettings,
    *,
    resume_id: str | None,
    max_budget_usd: str | None = None,
) -> list[str]:
    """argv for `claude`; `resume_id` continues a conversation.

    `max_budget_usd` (a decimal string, see ``actors.session.budget``) is the most this
    process may spend: claude stops a turn after the API call that reaches it.
    """
    argv = [binary, *BASE_FLAGS]
    s = settings
    if s.model:
        argv.append(_opt("--model", s.model))
    if s.system_prompt is not None:
        argv.append(_opt("--system-prompt", s.system_prompt))
    if s.append_system_prompt:
        argv.append(_opt("--append-system-prompt", s.append_system_prompt))
    if s.permission_mode:
        argv.append(_opt("--permission-mode", s.permission_mode))
    if s.allowed_tools:
        argv.append(_opt("--allowedTools", ",".join(s.allowed_tools)))
    if s.disallowed_tools:
        argv.append(_opt("--disallowedTools", ",".join(s.disallowed_tools)))
    if s.max_turns is not None:
        if s.max_turns < 1:
            raise ValueError("max_turns must be >= 1")
        argv.append(_opt("--max-turns", str(s.max_turns)))
    if s.permission_prompt_tool:
        argv.append(_opt("--permission-prompt-tool", s.permission_prompt_tool))
    if max_budget_usd is not None:
        if not float(max_budget_usd) > 0:  # the CLI exits at once on anything else
            raise ValueError("max_budget_usd must be > 0")
        argv.append(_opt("--max-budget-usd", max_budget_usd))
    if resume_id:
        argv.append(_opt("--resume", resume_id))
    return argv
