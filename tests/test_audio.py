"""Tests of dafx_explorer.audio: loading any format into 24 kHz mono, validation, saving."""

from __future__ import annotations

import dataclasses
import io
import struct
import time

import numpy as np
import pytest
import soundfile as sf

from dafx_explorer import audio, settings
from dafx_explorer.errors import AudioError
from dafx_explorer.settings import SAMPLE_RATE, WINDOW

TONE_HZ = 1000.0


def sine(sr: int, seconds: float = 1.0, amplitude: float = 0.5, hz: float = TONE_HZ) -> np.ndarray:
    t = np.arange(round(sr * seconds)) / sr
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write(path, data, sr, fmt=None, subtype=None):
    sf.write(path, data, sr, format=fmt, subtype=subtype)
    return path


def dominant_hz(y: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)])


def rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))


def chunk_offset(data: bytes, tag: bytes) -> int:
    """Offset of the size field of the RIFF chunk ``tag``."""
    return data.index(tag) + 4


# --- loading every format, rate and channel count ----------------------------------------------

FORMATS = [
    ("WAV", "PCM_16", ".wav", 48_000),
    ("WAV", "PCM_24", ".wav", 96_000),
    ("WAV", "FLOAT", ".wav", 44_100),
    ("WAV", "PCM_16", ".wav", 8_000),
    ("WAV", "PCM_16", ".wav", 24_000),
    ("FLAC", "PCM_16", ".flac", 44_100),
    ("FLAC", "PCM_24", ".flac", 96_000),
    ("OGG", "VORBIS", ".ogg", 44_100),
    ("OGG", "VORBIS", ".ogg", 48_000),
    ("MP3", "MPEG_LAYER_III", ".mp3", 44_100),
    ("MP3", "MPEG_LAYER_III", ".mp3", 48_000),
]


@pytest.mark.parametrize(("fmt", "subtype", "suffix", "sr"), FORMATS, ids=lambda v: str(v))
def test_load_converts_to_24k_mono_float32(tmp_path, fmt, subtype, suffix, sr):
    path = write(tmp_path / f"tone{suffix}", sine(sr), sr, fmt, subtype)
    y = audio.load(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - SAMPLE_RATE) <= 1
    assert dominant_hz(y) == pytest.approx(TONE_HZ, abs=2.0)
    lossy = fmt in ("OGG", "MP3")
    if lossy:
        assert rms(y) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    else:
        reference = sine(SAMPLE_RATE)
        inner = slice(500, -500)
        assert np.max(np.abs(y[inner] - reference[inner])) < 2e-3


def test_load_stereo_averages_channels(tmp_path):
    stereo = np.stack([sine(44_100, amplitude=0.6), sine(44_100, amplitude=0.2)], axis=1)
    y = audio.load(write(tmp_path / "stereo.wav", stereo, 44_100, subtype="PCM_24"))
    inner = slice(500, -500)
    assert len(y) == SAMPLE_RATE
    assert np.max(np.abs(y[inner] - sine(SAMPLE_RATE, amplitude=0.4)[inner])) < 2e-3


def test_load_six_channels_averages_channels(tmp_path):
    channels = np.zeros((48_000, 6), dtype=np.float32)
    channels[:, 2] = sine(48_000, amplitude=0.6)
    y = audio.load(write(tmp_path / "surround.flac", channels, 48_000, subtype="PCM_24"))
    assert len(y) == SAMPLE_RATE
    assert dominant_hz(y) == pytest.approx(TONE_HZ, abs=2.0)
    assert np.max(np.abs(y)) == pytest.approx(0.1, abs=2e-3)


def test_clipped_audio_loads(tmp_path):
    square = np.sign(sine(44_100, amplitude=1.0)).astype(np.float32)
    y = audio.load(write(tmp_path / "clipped.wav", square, 44_100, subtype="PCM_16"))
    assert len(y) == SAMPLE_RATE
    assert np.mean(np.abs(y) > 0.9) > 0.5
    assert dominant_hz(y) == pytest.approx(TONE_HZ, abs=2.0)


def test_peak_above_full_scale_is_kept(tmp_path):
    loud = sine(SAMPLE_RATE, amplitude=1.5)
    y = audio.load(write(tmp_path / "loud.wav", loud, SAMPLE_RATE, subtype="FLOAT"))
    np.testing.assert_array_equal(y, loud)


# --- files that must be refused ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "suffix"),
    [(b"hello, this is a text file and not audio\n" * 20, ".txt"), (b"\x89PNG\r\n\x1a\n" + bytes(200), ".wav")],
    ids=["text", "png"],
)
def test_not_audio_is_refused(tmp_path, content, suffix):
    path = tmp_path / f"notes{suffix}"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=r"^notes\.\w+: not a readable audio file \(Format not recognised\)$"):
        audio.load(path)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty \(0 bytes\)"):
        audio.load(path)


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(AudioError, match="missing.wav: file not found"):
        audio.load(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="not a regular file"):
        audio.load(tmp_path)


def test_header_with_zero_frames_is_refused(tmp_path):
    path = write(tmp_path / "none.wav", np.zeros(0, dtype=np.float32), 48_000, subtype="PCM_16")
    with pytest.raises(AudioError, match="contains no samples"):
        audio.load(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused(tmp_path, bad):
    y = sine(48_000)
    y[1234] = bad
    path = write(tmp_path / "bad.wav", y, 48_000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite"):
        audio.load(path)


def test_digital_silence_is_refused(tmp_path):
    path = write(tmp_path / "zeros.wav", np.zeros(48_000, dtype=np.float32), 48_000, subtype="PCM_16")
    with pytest.raises(AudioError, match=r"zeros\.wav: the audio is digitally silent"):
        audio.load(path)
    quiet = write(tmp_path / "quiet.wav", sine(SAMPLE_RATE, amplitude=1e-6), SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"peak is -120 dBFS, below -100 dBFS"):
        audio.load(quiet)


def test_too_long_is_refused(tmp_path):
    path = write(tmp_path / "long.flac", sine(44_100, seconds=2.0), 44_100)
    with pytest.raises(AudioError, match=r"long\.flac: the audio is 2\.00 s long, longer than the 1\.5 s limit"):
        audio.load(path, max_seconds=1.5)
    assert len(audio.load(path, max_seconds=2.0)) == 2 * SAMPLE_RATE


def test_too_large_is_refused_before_reading(tmp_path):
    path = write(tmp_path / "tone.wav", sine(48_000), 48_000, subtype="PCM_16")
    with pytest.raises(AudioError, match=r"the file is 93\.8 KiB, larger than the 10\.0 KiB limit"):
        audio.load(path, max_bytes=10 * 1024)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"x" * 900)  # not audio either: the size is checked first
    with pytest.raises(AudioError, match=r"900 bytes, larger than the 800 bytes limit"):
        audio.load(garbage, max_bytes=800)


def test_default_limits_come_from_settings(tmp_path, monkeypatch):
    strict = dataclasses.replace(settings.get_settings(), max_audio_seconds=0.5, max_file_bytes=50_000)
    monkeypatch.setattr(audio, "get_settings", lambda: strict)
    short = write(tmp_path / "short.wav", sine(24_000, seconds=0.75), 24_000, subtype="PCM_16")
    with pytest.raises(AudioError, match="longer than the 0.5 s limit"):
        audio.load(short)
    big = write(tmp_path / "big.wav", sine(48_000), 48_000, subtype="PCM_16")
    with pytest.raises(AudioError, match="larger than the 48.8 KiB limit"):
        audio.load(big)


@pytest.mark.parametrize("rate", [4_000, 400_000])
def test_implausible_sample_rate_is_refused(tmp_path, rate):
    data = bytearray((write(tmp_path / "tone.wav", sine(48_000), 48_000, subtype="PCM_16")).read_bytes())
    rate_at = chunk_offset(data, b"fmt ") + 8  # size, format tag, channels, then the sample rate
    data[rate_at : rate_at + 4] = struct.pack("<I", rate)
    path = tmp_path / "patched.wav"
    path.write_bytes(data)
    with pytest.raises(AudioError, match=rf"sample rate {rate} Hz is outside 8000–192000 Hz"):
        audio.load(path)


def test_more_than_eight_channels_is_refused(tmp_path):
    path = write(tmp_path / "many.wav", np.tile(sine(48_000)[:, None], (1, 10)), 48_000, subtype="PCM_16")
    with pytest.raises(AudioError, match="has 10 channels; at most 8"):
        audio.load(path)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_truncated_file_loads_part_or_is_refused_quickly(tmp_path, suffix):
    whole = write(tmp_path / f"whole{suffix}", sine(44_100, seconds=2.0), 44_100)
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    start = time.monotonic()
    try:
        y = audio.load(cut, timeout=20.0)
    except AudioError as error:
        assert str(error).startswith("cut")
    else:
        assert 0 < len(y) <= 1.1 * SAMPLE_RATE
        assert dominant_hz(y) == pytest.approx(TONE_HZ, abs=5.0)
    assert time.monotonic() - start < 10.0


def test_truncated_wav_keeps_what_is_there(tmp_path):
    data = write(tmp_path / "whole.wav", sine(48_000, seconds=2.0), 48_000, subtype="PCM_16").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    assert abs(len(audio.load(cut)) - SAMPLE_RATE) < 50


def test_wav_claiming_hours_loads_only_its_data(tmp_path):
    data = bytearray(write(tmp_path / "tone.wav", sine(48_000), 48_000, subtype="PCM_16").read_bytes())
    data[4:8] = struct.pack("<I", 0xFFFF_FFF0)
    size_at = chunk_offset(data, b"data")
    data[size_at : size_at + 4] = struct.pack("<I", 0xFFFF_FFF0)  # 12 h of 48 kHz 16-bit mono
    path = tmp_path / "hours.wav"
    path.write_bytes(data)
    start = time.monotonic()
    y = audio.load(path)
    assert time.monotonic() - start < 10.0
    assert len(y) == SAMPLE_RATE


def test_flac_header_claiming_hours_is_refused_before_decoding(tmp_path):
    data = bytearray(write(tmp_path / "tone.flac", sine(44_100), 44_100, subtype="PCM_16").read_bytes())
    assert data[:4] == b"fLaC"
    # STREAMINFO: 20-bit rate, 3-bit channels, 5-bit depth, 36-bit total samples from byte 18.
    (fields,) = struct.unpack(">Q", data[18:26])
    claimed = 44_100 * 3600 * 5
    data[18:26] = struct.pack(">Q", (fields & ~((1 << 36) - 1)) | claimed)
    path = tmp_path / "hours.flac"
    path.write_bytes(data)
    with pytest.raises(AudioError, match=r"the audio is 5\.0 h long, longer than the 600 s limit"):
        audio.load(path, max_seconds=600)


def test_slow_decoding_is_killed_at_the_timeout(tmp_path):
    path = write(tmp_path / "tone.flac", sine(44_100), 44_100)
    start = time.monotonic()
    with pytest.raises(AudioError, match=r"tone\.flac: decoding took longer than 0\.001 s"):
        audio.load(path, timeout=0.001)
    assert time.monotonic() - start < 5.0


def test_decoder_failures_become_one_line_reasons():
    assert audio._decoder_failure(2, "the file has 10 channels\n", "") == "the file has 10 channels"
    assert "SIGSEGV" in audio._decoder_failure(-11, "", "")
    reason = audio._decoder_failure(1, "", "Traceback (most recent call last):\n  ...\nValueError: bad\n")
    assert reason == "the decoder failed with exit status 1: ValueError: bad"
    assert "\n" not in audio._decoder_failure(-9, "", "")


# --- load_bytes ----------------------------------------------------------------------------------


def encode(data: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, data, sr, format=fmt, subtype=subtype)
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "name"), [("WAV", "upload.wav"), ("FLAC", "take.flac"), ("MP3", "song.mp3")])
def test_load_bytes(fmt, name):
    y = audio.load_bytes(encode(sine(48_000), 48_000, fmt), name=name)
    assert y.dtype == np.float32 and abs(len(y) - SAMPLE_RATE) <= 1
    assert dominant_hz(y) == pytest.approx(TONE_HZ, abs=2.0)


def test_load_bytes_refusals():
    with pytest.raises(AudioError, match=r"^notes\.txt: not a readable audio file"):
        audio.load_bytes(b"just some text, not audio" * 10, name="notes.txt")
    with pytest.raises(AudioError, match=r"^upload: the file is empty"):
        audio.load_bytes(b"")
    with pytest.raises(AudioError, match="larger than the 1.0 KiB limit"):
        audio.load_bytes(encode(sine(48_000), 48_000, "WAV"), max_bytes=1024)
    with pytest.raises(AudioError, match="longer than the 0.5 s limit"):
        audio.load_bytes(encode(sine(48_000), 48_000, "FLAC"), name="a.flac", max_seconds=0.5)
    with pytest.raises(AudioError, match="digitally silent"):
        audio.load_bytes(encode(np.zeros(4800), 48_000, "WAV"), name="zeros.wav")


# --- save ----------------------------------------------------------------------------------------


def test_save_load_round_trip_wav_is_exact(tmp_path):
    y = sine(SAMPLE_RATE, amplitude=1.25)
    audio.save(tmp_path / "out.wav", y)
    np.testing.assert_array_equal(audio.load(tmp_path / "out.wav"), y)


def test_save_load_round_trip_flac(tmp_path):
    y = sine(SAMPLE_RATE, amplitude=0.8)
    audio.save(tmp_path / "out.flac", y)
    np.testing.assert_allclose(audio.load(tmp_path / "out.flac"), y, atol=2**-22)
    audio.save(tmp_path / "hot.flac", 1.5 * y)
    assert np.max(np.abs(audio.load(tmp_path / "hot.flac"))) == pytest.approx(1.0, abs=1e-6)


def test_flac_is_written_at_the_highest_compression(tmp_path):
    """Same 24-bit samples as libsndfile's default level, in fewer bytes (the data folder's size budget)."""
    x = (0.3 * np.sin(np.arange(SAMPLE_RATE) * 0.05)
         + 0.01 * np.random.default_rng(0).standard_normal(SAMPLE_RATE)).astype(np.float32)
    audio.save(tmp_path / "x.flac", x)
    sf.write(tmp_path / "default.flac", x, SAMPLE_RATE, subtype="PCM_24")
    ours, default = (sf.read(tmp_path / name, dtype="int32")[0] for name in ("x.flac", "default.flac"))
    assert np.array_equal(ours, default)
    assert (tmp_path / "x.flac").stat().st_size < (tmp_path / "default.flac").stat().st_size


def test_save_other_rate_and_channels_then_load(tmp_path):
    stereo = np.stack([sine(44_100), sine(44_100)], axis=1)
    audio.save(tmp_path / "stereo.flac", stereo, 44_100)
    assert sf.info(tmp_path / "stereo.flac").channels == 2
    y = audio.load(tmp_path / "stereo.flac")
    assert len(y) == SAMPLE_RATE and dominant_hz(y) == pytest.approx(TONE_HZ, abs=2.0)


def test_save_refusals(tmp_path):
    with pytest.raises(AudioError, match=r"cannot save out\.mp3: the name must end in \.wav or \.flac"):
        audio.save(tmp_path / "out.mp3", sine(SAMPLE_RATE))
    bad = sine(SAMPLE_RATE)
    bad[10] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        audio.save(tmp_path / "out.wav", bad)
    with pytest.raises(AudioError, match="cannot write"):
        audio.save(tmp_path / "no" / "such" / "folder.wav", sine(SAMPLE_RATE))
    assert not (tmp_path / "out.wav").exists()


# --- validate, to_mono_24k, analysis_window ------------------------------------------------------


def test_validate_accepts_normal_audio():
    assert audio.validate(sine(SAMPLE_RATE)) is None
    assert audio.validate(np.stack([sine(48_000)] * 2, axis=1), 48_000) is None


@pytest.mark.parametrize(
    ("samples", "sr", "message"),
    [
        (np.zeros(0, np.float32), SAMPLE_RATE, "contains no samples"),
        (np.zeros(100, np.float32), SAMPLE_RATE, "digitally silent"),
        (np.array([0.1, np.nan], np.float32), SAMPLE_RATE, "NaN or infinite"),
        (np.array([0.1, -np.inf]), SAMPLE_RATE, "NaN or infinite"),
        (np.array([1000, -1000], np.int16), SAMPLE_RATE, "expected floating-point samples, got dtype int16"),
        (np.ones((2, 2, 2), np.float32), SAMPLE_RATE, r"shape \(2, 2, 2\)"),
        (np.ones((2, 48_000), np.float32), 48_000, "channels-last"),
        (np.ones(100, np.float32), 4_000, "sample rate 4000 Hz"),
        (np.ones(100, np.float32), 200_000, "sample rate 200000 Hz"),
    ],
)
def test_validate_refusals(samples, sr, message):
    with pytest.raises(AudioError, match=message):
        audio.validate(samples, sr)


def test_validate_duration_limit():
    y = sine(SAMPLE_RATE, seconds=3.0)
    with pytest.raises(AudioError, match=r"3\.00 s long, longer than the 2 s limit"):
        audio.validate(y, max_seconds=2)
    assert audio.validate(y, max_seconds=3) is None


def test_to_mono_24k_resamples_and_averages():
    y = audio.to_mono_24k(sine(44_100, seconds=2.0), 44_100)
    assert y.dtype == np.float32 and len(y) == 2 * SAMPLE_RATE
    inner = slice(500, -500)
    assert np.max(np.abs(y[inner] - sine(SAMPLE_RATE, seconds=2.0)[inner])) < 1e-3
    stereo = np.stack([sine(96_000, amplitude=0.3), -sine(96_000, amplitude=0.1)], axis=1)
    mono = audio.to_mono_24k(stereo, 96_000)
    assert np.max(np.abs(mono[inner] - sine(SAMPLE_RATE, amplitude=0.1)[inner])) < 1e-3


def test_to_mono_24k_keeps_24k_mono_as_is():
    y = sine(SAMPLE_RATE)
    np.testing.assert_array_equal(audio.to_mono_24k(y.astype(np.float64), SAMPLE_RATE), y)


def test_to_mono_24k_refuses_channels_first():
    with pytest.raises(AudioError, match=r"channels-last.*got shape \(2, 44100\)"):
        audio.to_mono_24k(np.zeros((2, 44_100), np.float32), 44_100)


def test_analysis_window_pads_and_crops():
    short = sine(SAMPLE_RATE)
    window = audio.analysis_window(short)
    assert window.shape == (WINDOW,) and window.dtype == np.float32
    np.testing.assert_array_equal(window[: len(short)], short)
    assert not window[len(short) :].any()
    long = np.random.default_rng(0).standard_normal(WINDOW + 5000).astype(np.float32)
    np.testing.assert_array_equal(audio.analysis_window(long), long[:WINDOW])
    with pytest.raises(AudioError, match="expected mono"):
        audio.analysis_window(np.zeros((100, 2), np.float32))


def test_analysis_window_skips_a_quiet_opening():
    noise = np.random.default_rng(1).standard_normal(4 * WINDOW).astype(np.float32) * 0.1
    np.testing.assert_array_equal(audio.analysis_window(noise), noise[:WINDOW])
    quiet_intro = np.concatenate([noise[: 2 * WINDOW] * 1e-3, noise[: 2 * WINDOW]])  # -60 dB, then loud
    np.testing.assert_array_equal(audio.analysis_window(quiet_intro), noise[:WINDOW])
    silent_intro = np.concatenate([np.zeros(WINDOW + 7, np.float32), noise[: WINDOW + 100]])
    np.testing.assert_array_equal(audio.analysis_window(silent_intro), silent_intro[WINDOW : 2 * WINDOW])
    softer = np.concatenate([noise[:WINDOW] * 0.1, noise[WINDOW : 2 * WINDOW]])  # -20 dB: still analysed
    np.testing.assert_array_equal(audio.analysis_window(softer), softer[:WINDOW])
