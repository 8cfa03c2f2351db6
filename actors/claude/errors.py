"""Errors raised by the claude process layer, so callers can tell "process died" from bugs."""


class ClaudeError(Exception):
    """Base class for failures talking to a `claude` process."""


class SpawnError(ClaudeError):
    """The binary could not be started (missing, not executable, bad cwd)."""


class ProcessGoneError(ClaudeError):
    """stdin is closed or broken: the process exited or is exiting; restart/resume it."""
