"""The voice adapter with its real parts: OGG/Opus decoded by PyAV, speech transcribed by
faster-whisper on the Whisper model a package ships, and the words voice-off users get."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from actors.chat.transcription import NoTranscriber, TranscriptionFailed, VoiceUnavailable
from service.config import VoiceSettings, load_settings
from service.voice import build_transcriber
from service.voice.audio import SAMPLE_RATE, decode
from service.voice.whisper import WhisperTranscriber
from tests.voice_kit import SPOKEN, bundled_model, spoken_ogg, tone_ogg


def test_a_voice_note_is_ogg_opus_and_decodes_to_the_sound_it_holds() -> None:
    note = tone_ogg(440, 2.0)
    with av.open(io.BytesIO(note)) as container:
        assert (container.format.name, container.streams.audio[0].codec_context.name) == (
            "ogg",
            "opus",
        )
    samples = decode(note, "voice.ogg", max_seconds=60)
    assert samples.dtype == np.float32
    assert abs(len(samples) / SAMPLE_RATE - 2.0) < 0.05
    spectrum = np.abs(np.fft.rfft(samples))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(samples)
    assert abs(peak_hz - 440) < 2
    assert 0.2 < float(np.max(np.abs(samples))) < 0.6  # 12,000 of 32,768, give or take the codec


def test_speech_keeps_its_length_through_opus() -> None:
    with av.open(str(SPOKEN)) as wav:
        stream = wav.streams.audio[0]
        assert stream.duration is not None
        assert stream.time_base is not None
        seconds = float(stream.duration * stream.time_base)
    samples = decode(spoken_ogg(), "voice.ogg", max_seconds=60)
    assert abs(len(samples) / SAMPLE_RATE - seconds) < 0.05


def test_what_is_not_audio_or_too_long_is_refused_in_words() -> None:
    with pytest.raises(TranscriptionFailed, match=r"^notes\.ogg could not be read as audio"):
        decode(b"this is not a recording", "notes.ogg", max_seconds=60)
    with pytest.raises(TranscriptionFailed, match=r"^long\.ogg is longer than 1 s, the longest"):
        decode(tone_ogg(440, 2.0), "long.ogg", max_seconds=1)


async def test_speech_is_transcribed_by_the_shipped_model(tmp_path: Path) -> None:
    settings = VoiceSettings(model=bundled_model())
    transcriber = build_transcriber(settings, tmp_path / "models")
    assert isinstance(transcriber, WhisperTranscriber)
    transcript = await transcriber.transcribe(spoken_ogg(), "voice.ogg")
    words = transcript.text.lower().strip(".").split()
    assert words == ["run", "the", "tests", "and", "tell", "me", "what", "failed"]
    assert transcript.language == "en"
    assert 2.5 < transcript.duration_s < 3.5
    assert not (tmp_path / "models").exists()  # a model directory is used where it is


async def test_a_transcription_past_its_time_is_given_up_in_words(tmp_path: Path) -> None:
    settings = VoiceSettings(model=bundled_model(), timeout_s=0.001)
    transcriber = WhisperTranscriber(settings, tmp_path)
    with pytest.raises(TranscriptionFailed, match=r"^Transcribing voice\.ogg took longer than"):
        await transcriber.transcribe(spoken_ogg(), "voice.ogg")


async def test_a_missing_or_broken_model_says_what_to_fix(tmp_path: Path) -> None:
    missing = WhisperTranscriber(VoiceSettings(model=str(tmp_path / "nowhere")), tmp_path)
    with pytest.raises(VoiceUnavailable, match=r"directory .*nowhere does not exist; set voice"):
        await missing.transcribe(spoken_ogg(), "voice.ogg")
    (tmp_path / "empty").mkdir()
    broken = WhisperTranscriber(VoiceSettings(model=str(tmp_path / "empty")), tmp_path)
    with pytest.raises(VoiceUnavailable, match=r"could not be loaded \(.+\); check voice.model"):
        await broken.transcribe(spoken_ogg(), "voice.ogg")


async def test_without_a_model_or_the_extra_voice_says_how_to_enable_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_model = build_transcriber(VoiceSettings(), tmp_path)
    assert no_model == NoTranscriber(
        "Voice messages are not transcribed here; to turn them on, set voice.model in the "
        "config (a Whisper model such as base)."
    )
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as where the extra is missing
    no_extra = build_transcriber(VoiceSettings(model="base"), tmp_path)
    with pytest.raises(VoiceUnavailable) as refused:
        await no_extra.transcribe(b"", "voice.ogg")
    assert str(refused.value) == (
        "Voice messages are not transcribed here; to turn them on, install pocketcode[voice]."
    )


def test_the_voice_section_of_the_config() -> None:
    settings = load_settings(None, env={"POCKETCODE_VOICE_MODEL": "/models/whisper-base"})
    assert settings.voice == VoiceSettings(model="/models/whisper-base")
    assert (settings.voice.language, settings.voice.device, settings.voice.compute_type) == (
        "auto",
        "cpu",
        "int8",
    )
    assert settings.models_dir == settings.data_dir / "models"
