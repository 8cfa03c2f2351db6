"""Shared pytest configuration."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from tests import log_truth


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_cli: runs the real claude CLI")


@pytest.fixture(autouse=True)
def log_truth_checked() -> Iterator[None]:
    """Every actor system a kit made in this test had its live state compared with the state
    rebuilt from the log before it stopped (``tests.log_truth``)."""
    log_truth.created.clear()
    yield
    unchecked = [system for system, checked in log_truth.created.items() if not checked]
    log_truth.created.clear()
    assert not unchecked, "a kit stopped its actors without comparing them with the log"


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Tests that configure logging (the CLI does) must not leak it into later tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:], root.level = handlers, level
