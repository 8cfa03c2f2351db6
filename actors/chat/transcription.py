"""The port for speech to text. The chat actor sends what it hears to the active session as
text; the engine (a local model) is an adapter injected at the composition root, so a build
without it still runs and says how to enable it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    #: The language spoken, as the engine detected or was told it ("en").
    language: str | None
    duration_s: float


class VoiceUnavailable(Exception):
    """No engine or no model: the message is one sentence on how to enable voice."""


class TranscriptionFailed(Exception):
    """This recording could not be transcribed (unreadable, too long, took too long): the
    message says why, in words for the user."""


class Transcriber(Protocol):
    async def transcribe(self, audio: bytes, filename: str) -> Transcript:
        """The words spoken in ``audio`` (any container and codec the engine decodes: Telegram
        sends OGG/Opus). Raises ``VoiceUnavailable`` or ``TranscriptionFailed``."""
        ...


@dataclass(frozen=True, slots=True)
class NoTranscriber:
    """Stands in where voice is off; ``reason`` says how to turn it on."""

    reason: str = "Voice messages are not transcribed here."

    async def transcribe(self, audio: bytes, filename: str) -> Transcript:
        raise VoiceUnavailable(self.reason)
