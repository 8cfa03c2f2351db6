"""The session package's errors: what a session refuses, in words for the user."""

from __future__ import annotations


class SessionError(Exception):
    """A request the session refuses; the message is for the user."""
