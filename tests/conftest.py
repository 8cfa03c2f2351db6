"""Shared pytest configuration."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import structlog

from tests import log_truth, pg_server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_cli: runs the real claude CLI")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under ``CI=true`` a skipped test is a failed one: CI installs everything the tests need
    (the real claude CLI, PostgreSQL, pigz), so a skip there means a check that did not run."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI") == "true" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[pg_server.PgServer]:
    """A real PostgreSQL server for the whole run; skipped where none can start, except in CI."""
    try:
        server = pg_server.start()
    except pg_server.PgUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL tests must run in CI, but no server could start: {exc}")
        pytest.skip(f"no PostgreSQL server could start here: {exc}")
    yield server
    server.stop()


@pytest.fixture
async def pg_url(postgres: pg_server.PgServer) -> str:
    """The URL of a new, empty database of that server."""
    return await postgres.create_database()
