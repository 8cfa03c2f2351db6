"""The ``Transcriber`` on faster-whisper (Whisper on CTranslate2).

All the work runs in one thread of its own, never on the event loop: the model is loaded there
on first use, and recordings are transcribed one at a time (a model uses every core it gets).
A transcription past ``voice.timeout_s`` is given up on; the thread stops at its next segment.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog
from faster_whisper import WhisperModel

from actors.chat.transcription import Transcript, TranscriptionFailed, VoiceUnavailable
from service.config import VoiceSettings
from service.voice.audio import SAMPLE_RATE, decode

log = structlog.get_logger(__name__)


class WhisperTranscriber:
    def __init__(self, settings: VoiceSettings, models_dir: Path) -> None:
        self.settings = settings
        self.models_dir = models_dir
        self._model: WhisperModel | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice")

    async def transcribe(self, audio: bytes, filename: str) -> Transcript:
        stop = threading.Event()
        job = asyncio.get_running_loop().run_in_executor(
            self._worker, self._transcribe, audio, filename, stop
        )
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                return await job
        except TimeoutError:
            stop.set()
            raise TranscriptionFailed(
                f"Transcribing {filename} took longer than {self.settings.timeout_s:g} s "
                "(voice.timeout_s)."
            ) from None

    def _transcribe(self, audio: bytes, filename: str, stop: threading.Event) -> Transcript:
        started = time.monotonic()
        samples = decode(audio, filename, max_seconds=self.settings.max_duration_s)
        model = self._loaded()
        language = None if self.settings.language == "auto" else self.settings.language
        # The voice activity filter skips silence, where Whisper would otherwise make up words.
        segments, info = model.transcribe(samples, language=language, vad_filter=True)
        parts = []
        for segment in segments:  # each one is decoded as it is read
            if stop.is_set():
                break
            parts.append(segment.text.strip())
        duration_s = len(samples) / SAMPLE_RATE
        log.info(
            "voice.transcribed",
            duration_s=round(duration_s, 1),
            took_s=round(time.monotonic() - started, 2),
            language=info.language,
        )
        return Transcript(" ".join(p for p in parts if p), info.language, duration_s)

    def _loaded(self) -> WhisperModel:
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> WhisperModel:
        """A directory is loaded as it is; a name is fetched once into ``models_dir``."""
        name = self.settings.model or ""
        path = Path(name).expanduser()
        is_path = path.is_absolute() or name.startswith((".", "~")) or "/" in name
        if is_path and not path.is_dir():
            raise VoiceUnavailable(
                f"The voice model directory {path} does not exist; set voice.model to a "
                "Whisper model directory or a name such as base."
            )
        try:
            return WhisperModel(
                str(path) if is_path else name,
                device=self.settings.device,
                compute_type=self.settings.compute_type,
                download_root=str(self.models_dir),
            )
        except Exception as exc:  # the engine's: not a model, a failed download, a bad device
            log.warning("voice.model_failed", model=name, error=str(exc))
            raise VoiceUnavailable(
                f"The voice model {name} could not be loaded ({str(exc)[:200]}); check voice.model "
                "in the config."
            ) from None
