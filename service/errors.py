"""Errors the service reports to a person: each message says what is wrong and what to do."""

from __future__ import annotations


class PocketcodeError(Exception):
    """Root of the service's errors; ``str(exc)`` is fit to print or show in chat."""


class ConfigError(PocketcodeError):
    """The configuration is missing something or holds a bad value."""
