"""Small readers of claude's lines for tests, on top of ``codec`` (the one parser)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.claude import codec


def answers(msg: Mapping[str, Any], request_id: str) -> bool:
    """The ``control_response`` answering ``request_id``."""
    answer = codec.control_answer(msg)
    return answer is not None and answer.request_id == request_id


def assistant_text(msg: Mapping[str, Any]) -> str:
    return "".join(codec.assistant_texts(msg))
