"""Speech to text on this machine: the adapter behind the chat's ``Transcriber`` port.

The engine (faster-whisper) is the optional ``voice`` extra, imported only where it is
installed and a model is configured; anywhere else the port says how to turn voice on.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from actors.chat.transcription import NoTranscriber, Transcriber
from service.config import VoiceSettings

ENGINE = "faster_whisper"


def build_transcriber(settings: VoiceSettings, models_dir: Path) -> Transcriber:
    missing = []
    if importlib.util.find_spec(ENGINE) is None:
        missing.append("install pocketcode[voice]")
    if settings.model is None:
        missing.append("set voice.model in the config (a Whisper model such as base)")
    if missing:
        return NoTranscriber(
            f"Voice messages are not transcribed here; to turn them on, {' and '.join(missing)}."
        )
    from service.voice.whisper import WhisperTranscriber

    return WhisperTranscriber(settings, models_dir)
