"""The environment `claude`, and every tool it runs, starts with: named, never inherited whole.

Why: the agent shows what it can see. pocketcode's own environment holds the bot token and the
webhook secret, and one `printenv` in a session would put them into the chat, the event log,
archives and the model's context. So claude gets what a login shell and the CLI itself need,
plus what the operator lists under ``claude.env``; never pocketcode's secrets.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Passed from pocketcode's environment when set: the process basics (paths, user, locale,
#: terminal), proxies and CA bundles in both spellings, and the CLI's documented tuning knobs.
PASSED_NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM",
        "COLORTERM", "TMPDIR",
        "http_proxy", "https_proxy", "no_proxy", "all_proxy",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "CURL_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "API_TIMEOUT_MS", "MAX_THINKING_TOKENS", "BASH_DEFAULT_TIMEOUT_MS", "BASH_MAX_TIMEOUT_MS",
        "BASH_MAX_OUTPUT_LENGTH", "MCP_TIMEOUT", "MCP_TOOL_TIMEOUT", "MAX_MCP_OUTPUT_TOKENS",
        "USE_BUILTIN_RIPGREP", "CLOUD_ML_REGION", "AWS_REGION", "AWS_PROFILE",
    }
)  # fmt: skip
#: Passed by prefix: locale categories, XDG directories, the CLI's own login and settings
#: (ANTHROPIC_API_KEY, CLAUDE_CONFIG_DIR, CLAUDE_CODE_USE_BEDROCK...), its DISABLE_* switches.
PASSED_PREFIXES = ("LC_", "XDG_", "ANTHROPIC_", "CLAUDE_", "DISABLE_", "VERTEX_REGION_")

#: pocketcode's own secrets and settings: never in claude's environment, even if asked for.
FORBIDDEN_NAMES = frozenset({"TELEGRAM_BOT_TOKEN"})
FORBIDDEN_PREFIXES = ("POCKETCODE_",)
#: Set when pocketcode itself runs inside Claude Code; a nested CLI refuses to start with it.
STRIPPED = frozenset({"CLAUDECODE"})


def is_forbidden(name: str) -> bool:
    """A name that may never reach the agent: pocketcode's token and its own settings."""
    return name in FORBIDDEN_NAMES or name.startswith(FORBIDDEN_PREFIXES)


def is_passed(name: str) -> bool:
    return name in PASSED_NAMES or name.startswith(PASSED_PREFIXES)


def claude_environment(
    inherited: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """(environment for claude, names of ``extra`` refused because they are pocketcode's)."""
    env = {
        name: value
        for name, value in inherited.items()
        if is_passed(name) and not is_forbidden(name) and name not in STRIPPED
    }
    refused = []
    for name, value in (extra or {}).items():
        if is_forbidden(name) or name in STRIPPED:
            refused.append(name)
        else:
            env[name] = value
    return env, refused
