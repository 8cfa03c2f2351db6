"""The models and permission modes a user may pick, checked before they reach ``claude``.

Pure and strict: a value that passes is safe as an argv value (``--model=``) and in a
``set_model`` / ``set_permission_mode`` control request; a refusal is one line for a chat.
Why check at all: the CLI accepts any string in a control request (``set_model`` with
"no such model!" answers success, ``set_permission_mode`` with "bogus" too) and only fails at
the next API call, long after the user has looked away.
"""

from __future__ import annotations

import re

from actors.names import shown

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
