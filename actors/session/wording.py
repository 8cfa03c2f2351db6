"""Plain words for what went wrong: never a bare "exit 1" in the chat."""

from __future__ import annotations

import re

from service.claude.codec import ApiRetry, ResultInfo

_STATUS_WORDS = {
    400: "rejected the request",
    401: "refused the credentials (is `claude` logged in on the server?)",
    403: "refused access for this account",
    404: "does not know the requested model",
    408: "timed out",
    413: "found the request too large",
    429: "is rate-limiting this account",
    500: "had an internal error",
    502: "could not be reached (bad gateway)",
    503: "is unavailable",
    504: "timed out (gateway)",
    529: "is overloaded",
}


def api_status_words(status: int | None) -> str:
    if status is None:
        return "failed"
    return f"{_STATUS_WORDS.get(status, 'failed')} (HTTP {status})"


def retry_notice(retry: ApiRetry) -> str:
    delay = f" in {retry.retry_delay_ms / 1000:.0f} s" if retry.retry_delay_ms else ""
    attempt = ""
    if retry.attempt is not None:
        attempt = f" (attempt {retry.attempt}"
        attempt += f" of {retry.max_retries})" if retry.max_retries else ")"
    return f"The Claude API {api_status_words(retry.error_status)}; retrying{delay}{attempt}."


def result_error(result: ResultInfo) -> str:
    """Why a turn failed, from its `result` line."""
    if result.api_error_status is not None or (result.text or "").startswith("API Error"):
        status = result.api_error_status
        if status is None:
            m = re.match(r"API Error: (\d{3})", result.text or "")
            status = int(m.group(1)) if m else None
        return f"The Claude API {api_status_words(status)} and did not recover after retries."
    if result.subtype == "error_max_turns":
        return f"The agent hit its turn limit ({result.num_turns} turns) for this message."
    if result.subtype == "error_max_budget_usd":
        return "The agent hit its budget limit."
    if result.errors:
        return "claude reported: " + "; ".join(result.errors)[:300]
    return (result.text or "The agent stopped with an error.")[:300]


def exit_words(returncode: int, stderr_tail: tuple[str, ...]) -> str:
    if returncode < 0:
        how = f"was killed by signal {-returncode}"
    else:
        how = f"stopped unexpectedly (exit code {returncode})"
    last = next((line.strip() for line in reversed(stderr_tail) if line.strip()), "")
    said = f': "{last[:200]}"' if last else ""
    return f"claude {how}{said}."


def setting_words(setting: str, value: str) -> str:
    """``model sonnet``, ``the default model``, ``permission mode plan``..."""
    what = "model" if setting == "model" else "permission mode"
    return f"the default {what}" if value == "default" else f"{what} {value}"


def setting_changed(session: str, setting: str, value: str, *, now: bool) -> str:
    """A ``/model`` or ``/mode`` change took effect (``now``) or waits for the next start."""
    words = setting_words(setting, value)
    if now:
        return f"{session} now uses {words}."
    return f"{session} will use {words} from your next message (claude is not running now)."


def setting_refused(session: str, setting: str, value: str, error: str) -> str:
    """claude said no to a change: why, in words, and that nothing changed."""
    if value == "bypassPermissions" and "dangerously-skip-permissions" in error:
        why = (
            "claude allows bypassPermissions only in a process started in that mode "
            "(a persona with permission_mode: bypassPermissions)"
        )
    else:
        why = f'claude said: "{" ".join(error.split())[:200]}"'
    return f"{session} did not switch to {setting_words(setting, value)}: {why}. Nothing changed."
