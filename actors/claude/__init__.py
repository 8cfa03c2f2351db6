"""Talking to the Claude Code CLI: argv, stream-json codec, and the child process."""

from actors.claude.argv import AgentSettings, build_argv
from actors.claude.errors import ClaudeError, ProcessGoneError, SpawnError
from actors.claude.process import ClaudeProcess, Spawner, spawn_claude

__all__ = [
    "AgentSettings",
    "ClaudeError",
    "ClaudeProcess",
    "ProcessGoneError",
    "SpawnError",
    "Spawner",
    "build_argv",
    "spawn_claude",
]
