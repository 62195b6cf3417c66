"""Spectrogram features and brightness/depth descriptors, checked against known answers."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest
import torch

from dafx_explorer import features, sources
from dafx_explorer.errors import AudioError
from dafx_explorer.settings import SAMPLE_RATE, WINDOW


def _sine(freq: float, seconds: float = 2.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def shipped() -> np.ndarray:
    """The generated built-in clips (identical to the shipped FLACs, see test_sources)."""
    return np.stack([sources.generate(name, seed=sources.BUILTIN_SEED) for name in sources.KINDS])


def test_constants():
    assert (features.N_MELS, features.N_FRAMES, features.N_FFT, features.HOP) == (256, 256, 2048, 512)
    assert (features.F_MIN, features.F_MAX) == (20.0, 12000.0)


def test_mel_filter_bank_equals_librosa():
    import librosa

    expected = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=2048, n_mels=256, fmin=20.0, fmax=12000.0,
                                   dtype=np.float64)
    bank = features.mel_filter_bank()
    np.testing.assert_allclose(bank, expected, rtol=0, atol=1e-9)
    assert (bank > 0).any(axis=1).all()  # no empty band


def test_linear_filter_bank_averages_four_bins_each():
    bank = features.linear_filter_bank()
    assert bank.shape == (256, 1025)
    np.testing.assert_allclose(bank.sum(axis=1), 1.0)
    assert (bank[:, 0] == 0).all() and ((bank > 0).sum(axis=0)[1:] == 1).all()


def test_shapes_and_dtype():
    one = features.mel_features(_sine(440.0))
    many = features.mel_features(np.stack([_sine(220.0), _sine(880.0), _sine(3000.0)]))
    lin = features.linear_features(torch.from_numpy(_sine(440.0)))
    assert one.shape == (1, 256, 256) and many.shape == (3, 256, 256) and lin.shape == (1, 256, 256)
    assert one.dtype == many.dtype == lin.dtype == torch.float32


def test_batch_equals_single_across_chunks():
    rng = np.random.default_rng(0)
    batch = (0.1 * rng.standard_normal((features._CHUNK + 3, 30_000))).astype(np.float32)
    together = features.mel_features(batch)
    for i in (0, features._CHUNK - 1, features._CHUNK, features._CHUNK + 2):
        torch.testing.assert_close(together[i], features.mel_features(batch[i])[0], atol=1e-4, rtol=1e-4)


def test_numpy_and_torch_inputs_agree_and_carry_no_gradient():
    x = _sine(300.0)
    tensor = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    out = features.mel_features(tensor, device="cpu")
    assert not out.requires_grad
    torch.testing.assert_close(out, features.mel_features(x))


def test_short_input_is_zero_padded_and_long_input_cut_to_window():
    rng = np.random.default_rng(1)
    short = (0.2 * rng.standard_normal(5000)).astype(np.float32)
    padded = np.concatenate([short, np.zeros(WINDOW - len(short), np.float32)])
    torch.testing.assert_close(features.mel_features(short), features.mel_features(padded))
    long = (0.2 * rng.standard_normal(WINDOW + 20_000)).astype(np.float32)
    torch.testing.assert_close(features.linear_features(long), features.linear_features(long[:WINDOW]))


def test_sine_lands_in_its_band():
    sine = _sine(1000.0, seconds=6.0)
    mel_band = int(features.mel_features(sine)[0].mean(dim=1).argmax())
    mel_centres = features._mel_to_hz(np.linspace(features._hz_to_mel(20.0), features._hz_to_mel(12000.0), 258))[1:-1]
    assert abs(mel_band - int(np.argmin(np.abs(mel_centres - 1000.0)))) <= 1
    linear_band = int(features.linear_features(sine)[0].mean(dim=1).argmax())
    assert linear_band == int((1000.0 / (SAMPLE_RATE / 2048) - 1) // 4)


def test_louder_is_larger_and_silence_is_finite():
    quiet, loud = features.mel_features(np.stack([_sine(500.0, amplitude=0.05), _sine(500.0, amplitude=0.5)]))
    assert loud.mean() > quiet.mean()
    silence = features.mel_features(np.zeros(WINDOW, np.float32))
    assert torch.isfinite(silence).all()
    torch.testing.assert_close(silence, torch.full_like(silence, -features.MEL_MEAN / features.MEL_STD))


def test_standardization_on_the_shipped_clips(shipped):
    for compute in (features.mel_features, features.linear_features):
        values = compute(shipped)
        assert abs(float(values.mean())) < 0.2 and 0.8 < float(values.std()) < 1.2


def test_standardization_constants_follow_their_recipe():
    """The recipe in the module's comment gives the module's constants."""
    clips = np.stack([sources.generate(kind, seed=s) for kind in sources.KINDS for s in range(8)])
    for linear, mean, std in ((False, features.MEL_MEAN, features.MEL_STD),
                              (True, features.LINEAR_MEAN, features.LINEAR_STD)):
        got = features.feature_stats(clips, linear=linear)
        np.testing.assert_allclose(got, (mean, std), rtol=1e-4)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 3, 100), np.float32), "shape"),
    (np.array([0.0, np.nan], np.float32), "NaN"),
    (np.zeros(0, np.float32), "empty"),
    ([0.0, 0.1], "numpy array or torch tensor"),
])
def test_bad_input(bad, message):
    with pytest.raises(AudioError, match=message):
        features.mel_features(bad)


@pytest.mark.parametrize("freq", [100.0, 440.0, 1000.0, 5000.0])
@pytest.mark.parametrize("amplitude", [0.5, 1e-9])
def test_brightness_of_a_sine_is_its_frequency(freq, amplitude):
    assert features.brightness(_sine(freq, amplitude=amplitude)) == pytest.approx(freq, rel=0.02)


def test_depth_of_sines():
    assert features.depth(_sine(100.0)) == pytest.approx(0.0, abs=0.05)
    assert features.depth(_sine(1000.0)) < -60.0
    mix = _sine(100.0) + _sine(1000.0)  # equal energy either side of 200 Hz
    assert features.depth(mix) == pytest.approx(10 * np.log10(0.5), abs=0.1)


def test_lowpass_is_less_bright_and_bass_boost_is_deeper(shipped):
    for name, clip in zip(sources.KINDS, shipped, strict=True):
        lowpass = pedalboard.Pedalboard([pedalboard.LowpassFilter(cutoff_frequency_hz=500.0),
                                         pedalboard.LowpassFilter(cutoff_frequency_hz=500.0)])
        dark = lowpass(clip, SAMPLE_RATE)
        assert features.brightness(dark) < features.brightness(clip), name
        assert features.brightness_change(dark, clip) < (0.0 if name == "bass" else -0.3), name
        boosted = pedalboard.LowShelfFilter(cutoff_frequency_hz=200.0, gain_db=12.0)(clip, SAMPLE_RATE)
        assert features.depth(boosted) > features.depth(clip), name
        # Clips with a real share of energy on both sides of 200 Hz move by several dB.
        assert features.depth_change(boosted, clip) > (3.0 if name in ("guitar", "voice") else 0.0), name
        assert features.brightness_change(boosted, clip) < 0.0, name


def test_changes_are_zero_for_the_same_signal_and_antisymmetric(shipped):
    guitar, drums = shipped[0], shipped[1]
    assert features.brightness_change(guitar, guitar) == 0.0 and features.depth_change(guitar, guitar) == 0.0
    assert features.brightness_change(drums, guitar) == pytest.approx(-features.brightness_change(guitar, drums))
    assert features.brightness_change(_sine(880.0), _sine(440.0)) == pytest.approx(1.0, abs=0.01)


def test_batched_descriptors_equal_single(shipped):
    np.testing.assert_allclose(features.brightness(shipped), [features.brightness(y) for y in shipped])
    np.testing.assert_allclose(features.depth(shipped), [features.depth(y) for y in shipped])
    d_bright, d_depth = features.descriptor_changes(shipped, shipped[2])
    assert d_bright.shape == d_depth.shape == (5,)
    np.testing.assert_allclose(d_bright, [features.brightness_change(y, shipped[2]) for y in shipped], atol=1e-9)
    np.testing.assert_allclose(d_depth, [features.depth_change(y, shipped[2]) for y in shipped], atol=1e-9)
    with pytest.raises(AudioError, match="reference audio x"):
        features.descriptor_changes(shipped, shipped)


def test_batched_descriptors_of_many_long_signals():
    """More signals than one Welch call takes at once."""
    rng = np.random.default_rng(2)
    rows = features._WELCH_CHUNK // 300_000 + 2
    tilt = np.linspace(0.0, 0.9, rows)[:, None]
    noise = rng.standard_normal((rows, 300_000))
    coloured = noise + tilt * np.roll(noise, 1, axis=1)  # ever more low-passed down the rows
    bright = features.brightness(coloured)
    assert bright.shape == (rows,) and (np.diff(bright) < 0).all()
    np.testing.assert_allclose(bright[[0, -1]], [features.brightness(coloured[0]), features.brightness(coloured[-1])])


def test_descriptors_of_silence_and_short_input_are_finite():
    silence = np.zeros(100, np.float32)
    assert features.brightness(silence) == 0.0
    assert features.depth(silence) == features.DEPTH_FLOOR_DB
    b, d = features.descriptor_changes(silence, _sine(440.0))
    assert np.isfinite(b) and np.isfinite(d)
    assert features.brightness(_sine(1000.0, seconds=0.05)) == pytest.approx(1000.0, rel=0.05)
    with pytest.raises(AudioError, match="NaN"):
        features.depth(np.array([np.inf, 0.0]))


def test_warm_up_runs():
    features.warm_up()


def test_texture_statistics_find_an_echo():
    rng = np.random.default_rng(7)
    clicks = np.zeros(WINDOW, dtype=np.float32)
    clicks[rng.choice(WINDOW - 30_000, 12, replace=False)] = 1.0
    lag_frames = 20
    echoed = clicks + 0.8 * np.roll(clicks, lag_frames * features.HOP)
    mean, std, autocorrelation = features.texture_statistics(features.mel_features(np.stack([clicks, echoed])))
    assert mean.shape == std.shape == (2, features.TEXTURE_BANDS)
    lags = autocorrelation.reshape(2, features.TEXTURE_ENVELOPES, features.TEXTURE_MAX_LAG)
    at_echo = lags[:, :, lag_frames - 1].mean(1)
    assert at_echo[1] > at_echo[0] + 0.2
    assert int(lags[1].mean(0)[5:].argmax()) + 6 == lag_frames  # strongest lag past the clicks' own decay


def test_autocorrelation_equals_the_direct_sum():
    rows = np.random.default_rng(3).normal(size=(2, 300))
    result = features.autocorrelation(rows)
    centred = rows - rows.mean(1, keepdims=True)
    for lag in (0, 1, 17, 299):
        direct = (centred[:, lag:] * centred[:, : 300 - lag]).sum(1) / (centred**2).sum(1)
        np.testing.assert_allclose(result[:, lag], direct, atol=1e-12)


def test_whitened_autocorrelation_finds_a_delayed_copy_of_pitched_sound():
    # a plain autocorrelation of a held chord peaks at its notes' periods; whitened, at the copy's delay
    chord = sources.generate("chords", seed=5, seconds=WINDOW / SAMPLE_RATE)
    delay = 1_337
    mixed = chord + 0.3 * np.concatenate([np.zeros(delay), chord[:-delay]])
    whitened = features.autocorrelation(mixed[None, :], whitened=True)[0, :2_400]
    assert whitened.shape == (2_400,) and whitened[0] == pytest.approx(1.0)
    assert int(np.argmax(whitened[24:])) + 24 == delay
    plain = features.autocorrelation(mixed[None, :])[0, :2_400]
    assert int(np.argmax(plain[24:])) + 24 != delay
    assert np.all(np.isfinite(features.autocorrelation(np.zeros((1, WINDOW)), whitened=True)))  # silence


def test_onset_autocorrelation_peaks_at_the_echo_of_irregular_clicks():
    rng = np.random.default_rng(11)
    clicks = np.zeros(WINDOW, dtype=np.float32)
    clicks[rng.choice(WINDOW - 30_000, 15, replace=False)] = 1.0
    lag_frames = 123  # 246 ms
    echoed = clicks + 0.5 * np.roll(clicks, lag_frames * features.ONSET_HOP)
    result = features.onset_autocorrelation(np.stack([clicks, echoed]))
    assert result.shape == (2, WINDOW // features.ONSET_HOP)
    np.testing.assert_allclose(result[:, 0], 1.0)
    assert int(result[1, 5:].argmax()) + 5 == lag_frames
    assert result[1, lag_frames] > result[0, lag_frames] + 0.2
    assert np.all(np.isfinite(features.onset_autocorrelation(np.zeros(WINDOW))))  # silence
