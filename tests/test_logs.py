"""Log lines carry ids from contextvars and never the bot token."""

from __future__ import annotations

import io
import json
import logging

import structlog

from service.logs import bind, configure_logging, redact_text

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


def test_json_lines_carry_bound_ids_and_redact_the_token() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", secrets=[TOKEN], stream=out)
    structlog.contextvars.clear_contextvars()
    bind(chat_id=5, session="work", correlation_id="upd-9")
    structlog.get_logger("t").info("telegram.call", url=f"https://api.telegram.org/bot{TOKEN}/x")
    logging.getLogger("aiogram").error("request to /bot%s/getMe failed", TOKEN)
    structlog.contextvars.clear_contextvars()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["chat_id"] == 5
    assert lines[0]["session"] == "work"
    assert lines[0]["correlation_id"] == "upd-9"
    assert lines[0]["event"] == "telegram.call"
    assert TOKEN not in out.getvalue()
    assert "<redacted>" in lines[0]["url"]
    assert "<redacted>" in lines[1]["event"]


def test_token_shapes_are_redacted_even_when_not_configured() -> None:
    assert TOKEN not in redact_text(f"failed: bot{TOKEN}/sendMessage")


def test_exceptions_are_rendered_without_the_token() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", secrets=[TOKEN], stream=out)
    try:
        raise RuntimeError(f"connect to /bot{TOKEN}/getUpdates failed")
    except RuntimeError:
        structlog.get_logger("t").exception("telegram.failed")
    assert TOKEN not in out.getvalue()
    assert "getUpdates failed" in out.getvalue()
