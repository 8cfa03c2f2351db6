"""Talking to the Claude Code CLI: argv, stream-json codec, and the child process."""

from service.claude.argv import AgentSettings, build_argv
from service.claude.errors import ClaudeError, ProcessGoneError, SpawnError
from service.claude.process import ClaudeProcess, Spawner, spawn_claude

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
