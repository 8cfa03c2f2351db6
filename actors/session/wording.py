"""Plain words for what went wrong: never a bare "exit 1" in the chat."""

from __future__ import annotations

import math
import re

from actors.claude.codec import ApiRetry, ResultInfo
from actors.session.budget import COST_CAP_MAX_USD, CostCap, dollars, left_usd

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


def exit_words(
    returncode: int | None, stderr_tail: tuple[str, ...], failure: str | None = None
) -> str:
    """Why claude's turn ended without a result, in words."""
    if failure is not None:
        return f"pocketcode could not read claude's output ({failure}), so it was stopped."
    if returncode is None:
        how = "stopped unexpectedly"
    elif returncode < 0:
        how = f"was killed by signal {-returncode}"
    else:
        how = f"stopped unexpectedly (exit code {returncode})"
    last = next((line.strip() for line in reversed(stderr_tail) if line.strip()), "")
    said = f': "{last[:200]}"' if last else ""
    return f"claude {how}{said}."


CUT_OFF_BY_RESTART = (
    "pocketcode restarted while this turn was running; it was cut off. Send it again to continue."
)


def resume_lost(session: str) -> str:
    """``--resume`` found no conversation to go on with: the turn goes to a fresh one."""
    return (
        f"The earlier claude conversation of {session} could not be resumed; "
        "continuing in a fresh conversation."
    )


def crash_backoff_words(session: str, crashes: int, delay_s: float) -> str:
    return (
        f"claude has crashed {crashes} times in a row in {session}; "
        f"waiting {delay_s:g} s before starting it again."
    )


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


def _raise_it(cap: CostCap) -> str:
    """How to get going again: a bigger cap (with an example) or none."""
    example = min(COST_CAP_MAX_USD, max(1, math.ceil((cap.cap_usd or 0) * 2)))
    if cap.cap_usd is not None and example > cap.cap_usd:
        return f"Raise it with /cap N (for example /cap {example}) or remove it with /cap off."
    return "Remove it with /cap off."


def cap_refused(cap: CostCap) -> str:
    """A message refused before it reached claude: the cap is spent."""
    return (
        f"{cap.session} has spent {dollars(cap.spent_usd)} of its {dollars(cap.cap_usd or 0)} "
        f"cost cap, so this message was not sent. {_raise_it(cap)}"
    )


def cap_waiting(cap: CostCap, queued: int) -> str:
    """Queued messages held back: the turn before them reached the cap."""
    what = "your queued message waits" if queued == 1 else f"your {queued} queued messages wait"
    return (
        f"{cap.session} has reached its {dollars(cap.cap_usd or 0)} cost cap "
        f"({dollars(cap.spent_usd)} spent), so {what}: they are sent once you raise the cap "
        "(/cap N) or remove it (/cap off)."
    )


def cap_reached(cap: CostCap) -> str:
    """claude stopped a turn at its budget (``error_max_budget_usd``): why, what was spent,
    what to do. If the cap was raised or removed while that process ran, it stopped at the
    budget it was started with, and the next message gets the new one."""
    spent = dollars(cap.spent_usd)
    if cap.cap_usd is not None and cap.reached:
        return (
            f"{cap.session} reached its {dollars(cap.cap_usd)} cost cap: claude stopped this "
            f"turn after {spent} spent in all. {_raise_it(cap)}"
        )
    now = "no cap" if cap.cap_usd is None else f"the new cap of {dollars(cap.cap_usd)}"
    return (
        f"claude stopped this turn at the cost cap it was started with ({spent} spent in "
        f"{cap.session}); {now} applies from your next message."
    )


def cap_set(cap: CostCap, *, turn_keeps_old: bool) -> str:
    """``/cap`` took: the cap now, the spend, and when it applies."""
    spent = dollars(cap.spent_usd)
    if cap.cap_usd is None:
        text = f"{cap.session} has no cost cap now ({spent} spent so far)."
    elif cap.reached:
        text = (
            f"{cap.session}'s cost cap is now {dollars(cap.cap_usd)}, and it has already spent "
            f"{spent}: messages are refused until you raise it."
        )
    else:
        left = dollars(float(left_usd(cap.cap_usd, cap.spent_usd)))
        text = (
            f"{cap.session}'s cost cap is now {dollars(cap.cap_usd)} "
            f"({spent} spent so far, {left} left)."
        )
    if turn_keeps_old:
        text += " The running turn keeps the cap it started with; the new one applies after it."
    return text
