"""Files a user might upload that must be refused, each with the words its error must contain.

Shared by the upload, CLI and Style Match page tests. The limits are the real ones from
``settings.get_settings()``, so the over-long and over-large files are built to exceed them.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from dafx_explorer.settings import get_settings


@dataclass(frozen=True)
class BadFile:
    """An unusable upload: its name, a function building its bytes, and text its error must contain."""

    name: str
    build: Callable[[], bytes]
    expected: str

    def data(self) -> bytes:
        return self.build()


def wav_bytes(samples: np.ndarray, sr: int = 24_000, subtype: str = "FLOAT") -> bytes:
    """A WAV file of ``samples`` (mono or channels-last) at ``sr`` Hz."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, sr, format="WAV", subtype=subtype)
    return buffer.getvalue()


def tone(seconds: float = 1.0, sr: int = 24_000, channels: int = 1) -> np.ndarray:
    """A 220 Hz sine at half scale, shape (n,) or (n, channels)."""
    t = np.arange(int(seconds * sr)) / sr
    mono = (0.5 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    return mono if channels == 1 else np.repeat(mono[:, None], channels, axis=1)


def _with(value: float) -> bytes:
    samples = tone(0.5)
    samples[1000] = value
    return wav_bytes(samples)


def _too_long() -> bytes:
    seconds = get_settings().max_audio_seconds + 1.0
    return wav_bytes(np.full(int(seconds * 8_000), 0.1, dtype=np.float32), sr=8_000, subtype="PCM_16")


def _too_large() -> bytes:
    return b"RIFF" + bytes(get_settings().max_file_bytes - 3)


BAD_FILES = {
    "not audio": BadFile("notes.wav", lambda: b"My notes, not a recording.\n" * 20, "not a readable audio file"),
    "empty": BadFile("empty.wav", lambda: b"", "the file is empty (0 bytes)"),
    "zero samples": BadFile("nothing.wav", lambda: wav_bytes(np.zeros(0, dtype=np.float32)), "contains no samples"),
    "NaN": BadFile("nan.wav", lambda: _with(np.nan), "NaN or infinite samples"),
    "infinity": BadFile("inf.wav", lambda: _with(np.inf), "NaN or infinite samples"),
    "digital silence": BadFile("zeros.wav", lambda: wav_bytes(np.zeros(24_000, dtype=np.float32)), "digitally silent"),
    "silent": BadFile("quiet.wav", lambda: wav_bytes(tone(1.0) * 1e-7), "below -100 dBFS"),
    "too long": BadFile("long.wav", _too_long, "longer than the 600 s limit"),
    "too large": BadFile("huge.wav", _too_large, "larger than the 100.0 MiB limit"),
}
