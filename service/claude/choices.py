"""The models, permission modes and cost caps a user may pick, checked before they reach
``claude``.

Pure and strict: a value that passes is safe as an argv value (``--model=``) and in a
``set_model`` / ``set_permission_mode`` control request; a refusal is one line for a chat.
Why check at all: the CLI accepts any string in a control request (``set_model`` with
"no such model!" answers success, ``set_permission_mode`` with "bogus" too) and only fails at
the next API call, long after the user has looked away.
"""

from __future__ import annotations

import re
from decimal import Decimal

from service.names import shown

#: Aliases the CLI resolves to the newest model of each family.
MODEL_ALIASES = ("opus", "sonnet", "haiku")
#: What ``/model`` offers as buttons; "default" is the CLI's own choice (no ``--model`` flag).
MODEL_CHOICES = (*MODEL_ALIASES, "default")
#: More aliases the CLI knows: opus while planning, sonnet otherwise; the 1M-token context.
_EXTRA_ALIASES = ("opusplan", *(f"{a}[1m]" for a in MODEL_ALIASES))
MODEL_MAX = 100
#: A full model name: ``claude-sonnet-4-5``, ``claude-opus-4-1-20250805``, ``us.anthropic.…``.
_FULL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-\[\]]*[-.][A-Za-z0-9._\-\[\]]*")

#: The values ``claude --permission-mode`` and ``set_permission_mode`` accept (2.1.x).
PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions", "dontAsk")
_MODE_KEYS = {re.sub(r"[-_\s]", "", m).lower(): m for m in PERMISSION_MODES}


class InvalidChoice(ValueError):
    """Not a model or not a permission mode; the message is one line for the user."""


def model_choice(text: str) -> str:
    """``text`` as a model for ``--model=`` / ``set_model``: an alias (lower-cased) or a full
    name (kept as typed). A bare word that is not an alias ("sonet") is refused, not guessed."""
    if len(text) > MODEL_MAX:
        raise InvalidChoice(
            f"{shown(text)} is too long for a model name ({len(text)} characters; "
            f"at most {MODEL_MAX})."
        )
    if text.lower() in (*MODEL_CHOICES, *_EXTRA_ALIASES):
        return text.lower()
    if _FULL_NAME.fullmatch(text):
        return text
    raise InvalidChoice(
        f"{shown(text)} is not a model: use {', '.join(MODEL_CHOICES)} or a full name "
        "such as claude-sonnet-4-5."
    )


def mode_choice(text: str) -> str:
    """``text`` as a permission mode; case, ``-`` and ``_`` do not matter (``accept-edits``)."""
    key = re.sub(r"[-_\s]", "", text).lower()
    if len(text) > MODEL_MAX or key not in _MODE_KEYS:
        raise InvalidChoice(
            f"{shown(text)} is not a permission mode: use one of {', '.join(PERMISSION_MODES)}."
        )
    return _MODE_KEYS[key]


#: The highest cost cap ``/cap`` takes, in dollars: a typo (an extra zero or two) is refused
#: rather than taken as "no limit".
COST_CAP_MAX_USD = 10_000
_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]*)?|\.[0-9]{1,12}")
_CAP_OFF = ("off", "none")


def cost_cap_choice(text: str) -> float | None:
    """``text`` as a session's cost cap in dollars (``5``, ``2.5``, ``$2.50``), or None for
    ``off``. More than $0, at most ``COST_CAP_MAX_USD``, whole cents: anything else is refused
    in one line, never rounded (2.555 is refused, not silently made 2.56 or 2.55)."""
    if text.lower() in _CAP_OFF:
        return None
    amount = text.removeprefix("$")
    negative = amount.startswith("-")
    if not _AMOUNT.fullmatch(amount.removeprefix("-")):
        raise InvalidChoice(
            f"{shown(text)} is not an amount in dollars: use /cap 5, /cap 2.50 or /cap off."
        )
    value = Decimal(amount)
    if negative or value == 0:
        raise InvalidChoice("A cost cap must be more than $0; /cap off removes the cap.")
    if value > COST_CAP_MAX_USD:
        raise InvalidChoice(f"A cost cap can be at most ${COST_CAP_MAX_USD:,}; /cap off for none.")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidChoice(f"{shown(text)} has more than 2 decimals: give dollars and cents.")
    return float(value)
