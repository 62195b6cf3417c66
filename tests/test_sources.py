"""Generated source clips: reproducibility, loudness, musical plausibility, shipped files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dafx_explorer import sources
from dafx_explorer.errors import DataError
from dafx_explorer.settings import REPO_ROOT, SAMPLE_RATE, WINDOW

SEEDS = (0, 1, sources.EVAL_SEED_START)


@pytest.fixture(scope="module")
def clips() -> dict[tuple[str, int], np.ndarray]:
    return {(kind, seed): sources.generate(kind, seed=seed) for kind in sources.KINDS for seed in SEEDS}


def _band_share(y: np.ndarray, lo: float, hi: float) -> float:
    """Share of the energy between lo and hi Hz."""
    power = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1.0 / SAMPLE_RATE)
    return float(power[(freqs >= lo) & (freqs < hi)].sum() / power.sum())


def _rms_db(y: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2))))


def test_kinds_and_seed_split():
    assert set(sources.KINDS) >= {"guitar", "drums", "bass", "chords", "voice"}
    assert sources.builtin_clips()[:len(sources.KINDS)] == list(sources.KINDS)
    assert max(sources.TRAIN_SEEDS) < sources.EVAL_SEED_START
    assert sources.BUILTIN_SEED in sources.TRAIN_SEEDS


def test_shape_dtype_finite_and_default_length(clips):
    for (kind, seed), y in clips.items():
        assert y.dtype == np.float32 and y.ndim == 1, (kind, seed)
        assert len(y) == round(sources.BUILTIN_SECONDS * SAMPLE_RATE) >= WINDOW
        assert np.isfinite(y).all(), (kind, seed)


@pytest.mark.parametrize("seconds", [0.25, 1.0, 3.3])
def test_length_follows_seconds(seconds):
    for kind in sources.KINDS:
        for seed in range(4):
            y = sources.generate(kind, seed=seed, seconds=seconds)
            assert len(y) == round(seconds * SAMPLE_RATE)
            assert np.isfinite(y).all() and np.abs(y).max() > 0.05, (kind, seed)


def test_too_short_to_reach_a_note_is_silent_not_nan():
    y = sources.generate("voice", seconds=0.001)
    assert len(y) == 24 and np.isfinite(y).all() and not y.any()


def test_deterministic():
    for kind in sources.KINDS:
        assert np.array_equal(sources.generate(kind, seed=7, seconds=2.0), sources.generate(kind, seed=7, seconds=2.0))


def test_different_seeds_give_different_phrases(clips):
    for kind in sources.KINDS:
        a, b = clips[(kind, 0)], clips[(kind, 1)]
        correlation = float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))
        assert abs(correlation) < 0.3, kind
        # Not just different noise: the long-term spectra (notes, key) differ too.
        spectra = [np.log(np.abs(np.fft.rfft(y.astype(np.float64)))[:20000:40] + 1e-6) for y in (a, b)]
        assert np.mean(np.abs(spectra[0] - spectra[1])) > 0.3, kind


def test_loudness(clips):
    target = sources.TARGET_RMS_DB
    for (kind, seed), y in clips.items():
        rms, peak = _rms_db(y), float(np.abs(y).max())
        assert peak <= sources.PEAK_LIMIT + 1e-6, (kind, seed)
        assert target - 5.0 <= rms <= target + 0.01, (kind, seed, rms)
        # Either the RMS is on target or the peak limit is what held the level down.
        assert abs(rms - target) < 0.01 or peak > sources.PEAK_LIMIT - 1e-3, (kind, seed)


def test_not_silent(clips):
    for (kind, seed), y in clips.items():
        frames = y[: len(y) // 1200 * 1200].reshape(-1, 1200).astype(np.float64)
        active = np.sqrt(np.mean(frames**2, axis=1)) > 10 ** (-50 / 20)
        assert active.mean() > 0.5, (kind, seed)


def test_spectra_are_plausible(clips):
    for seed in SEEDS:
        drums, bass = clips[("drums", seed)], clips[("bass", seed)]
        assert _band_share(drums, 0, 200) > 0.1 and _band_share(drums, 4000, 12000) > 0.05, seed
        assert _band_share(bass, 0, 300) > 0.8, seed
        assert _band_share(clips[("guitar", seed)], 60, 6000) > 0.9, seed
        assert _band_share(clips[("chords", seed)], 120, 4000) > 0.9, seed
        voice = clips[("voice", seed)]
        assert _band_share(voice, 80, 5000) > 0.9 and _band_share(voice, 3000, 12000) < 0.1, seed


@pytest.mark.parametrize("kind", ["guitar", "bass", "chords", "voice"])
def test_pitched_kinds_are_periodic(kind, clips):
    """The loudest 80 ms of a pitched clip repeats with a period of a musical pitch (40-1000 Hz)."""
    y = clips[(kind, 0)].astype(np.float64)
    frame = 1920
    loudest = int(np.argmax([np.sum(y[i: i + frame] ** 2) for i in range(0, len(y) - frame, frame)])) * frame
    seg = y[loudest: loudest + frame]
    seg = seg - seg.mean()
    ac = np.correlate(seg, seg, "full")[frame - 1:]
    lags = slice(SAMPLE_RATE // 1000, SAMPLE_RATE // 40)
    assert ac[lags].max() / ac[0] > 0.5


def test_bad_arguments():
    with pytest.raises(DataError, match="unknown source kind 'piano'"):
        sources.generate("piano")
    with pytest.raises(DataError, match="non-negative integer"):
        sources.generate("bass", seed=-1)
    with pytest.raises(DataError, match="non-negative integer"):
        sources.generate("bass", seed=1.5)
    with pytest.raises(DataError, match="length"):
        sources.generate("bass", seconds=0)
    with pytest.raises(DataError, match="length"):
        sources.generate("bass", seconds=sources.MAX_SECONDS + 1)


def test_write_and_load_round_trip(tmp_path, monkeypatch):
    paths = sources.write_builtin_clips(tmp_path / "sources")
    assert [p.name for p in paths] == [f"{name}.flac" for name in sources.KINDS]
    assert sum(p.stat().st_size for p in paths) < 1.5e6
    assert all(sf.info(p).subtype == "PCM_24" for p in paths)
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    assert sources.builtin_clips() == list(sources.KINDS)  # no real clips in this data folder
    loaded = sources.load_clip("drums")
    assert loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, sources.generate("drums"), atol=1e-6, rtol=0)


def test_shipped_clips_match_the_generator(monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(REPO_ROOT / "precomputed"))
    assert sources.builtin_clips() == [*sources.KINDS, "voice_en", "voice_it", "guitar_em9", "tabla"]
    for name in sources.KINDS:
        expected = sources.generate(name, seed=sources.BUILTIN_SEED, seconds=sources.BUILTIN_SECONDS)
        np.testing.assert_allclose(sources.load_clip(name), expected, atol=1e-6, rtol=0, err_msg=name)


def test_load_clip_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    with pytest.raises(DataError, match=r"sources/guitar\.flac is missing.*python -m dafx_explorer sources"):
        sources.load_clip("guitar")
    with pytest.raises(DataError, match="plain file name"):
        sources.load_clip("../guitar")
    (tmp_path / "sources").mkdir()
    sf.write(tmp_path / "sources" / "stereo.flac", np.zeros((100, 2), np.float32), SAMPLE_RATE)
    with pytest.raises(DataError, match="must be mono at 24000 Hz"):
        sources.load_clip("stereo")
    (tmp_path / "sources" / "broken.flac").write_bytes(b"not a flac file")
    with pytest.raises(DataError, match="unreadable"):
        sources.load_clip("broken")
