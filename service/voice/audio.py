"""Recordings in any container and codec FFmpeg reads (Telegram's voice notes are OGG/Opus),
decoded with PyAV into what Whisper takes: 16 kHz mono float32 samples. Decoding stops once
past the longest recording allowed, so a small file holding hours of audio costs no more than
the limit."""

from __future__ import annotations

import io
from itertools import chain

import av
import numpy as np
import numpy.typing as npt

from actors.chat.transcription import TranscriptionFailed

SAMPLE_RATE = 16_000

Samples = npt.NDArray[np.float32]


def decode(audio: bytes, filename: str, *, max_seconds: float) -> Samples:
    limit = int(max_seconds * SAMPLE_RATE)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[npt.NDArray[np.int16]] = []
    count = 0
    try:
        with av.open(io.BytesIO(audio), "r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise TranscriptionFailed(f"{filename} holds no sound to transcribe.")
            frames = chain(container.decode(audio=0), [None])  # None flushes the resampler
            for frame in frames:
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().astype(np.int16, copy=False).reshape(-1)
                    count += len(chunk)
                    if count > limit:
                        raise TranscriptionFailed(
                            f"{filename} is longer than {max_seconds:g} s, the longest "
                            "recording transcribed (voice.max_duration_s)."
                        )
                    chunks.append(chunk)
    except av.FFmpegError as exc:
        raise TranscriptionFailed(f"{filename} could not be read as audio ({exc}).") from None
    if not chunks:
        raise TranscriptionFailed(f"{filename} holds no sound to transcribe.")
    samples = np.concatenate(chunks).astype(np.float32)
    samples /= 32768.0
    return samples
