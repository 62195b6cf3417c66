"""Tests of dafx_explorer.effects: parameter mapping, rendering contract, snippets, audible changes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from dafx_explorer import effects
from dafx_explorer.errors import AudioError, EffectError
from dafx_explorer.settings import SAMPLE_RATE

SR = SAMPLE_RATE
NAMES = ["overdrive", "delay", "ambience", "flanger", "multiband", "dynamics", "ringmod", "combo"]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def music(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Plucked harmonic notes with noise-burst drum hits, scaled to -12 dBFS RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = np.zeros(n)
    step = SR // 4
    for k, start in enumerate(range(0, n - step, step)):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        t = np.arange(n - start) / SR
        x[start:] += sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 8)) * np.exp(-4 * t)
        if k % 2 == 0:
            x[start : start + 2000] += rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    return (x / rms(x) * 10 ** (-12 / 20)).astype(np.float32)


def sine(freq: float, seconds: float = 1.0, amplitude: float = 0.25) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def impulse(seconds: float = 1.5) -> np.ndarray:
    x = np.zeros(int(seconds * SR), dtype=np.float32)
    x[0] = 0.5
    return x


def noise(seconds: float = 2.0, seed: int = 1) -> np.ndarray:
    return (0.25 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def settings_for(effect: effects.Effect, **real_values: float) -> np.ndarray:
    """Normalized settings: defaults, with some parameters given in real units."""
    p = effect.defaults()
    for name, value in real_values.items():
        i = effect.param_names.index(name)
        p[i] = effect.params[i].to_normalized(value)
    return p


def band_energy(x: np.ndarray, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    return float(spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum())


def centroid(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    return float((freqs * spectrum).sum() / spectrum.sum())


# -- Param mapping -----------------------------------------------------------------------------------

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)


@st.composite
def params(draw) -> effects.Param:
    scale = draw(st.sampled_from(["linear", "log"]))
    if scale == "log":
        minimum = draw(st.floats(min_value=1e-3, max_value=1e3))
        maximum = minimum * draw(st.floats(min_value=1.01, max_value=1e4))
    else:
        minimum = draw(finite)
        maximum = minimum + draw(st.floats(min_value=1e-2, max_value=1e4))
    default = minimum + draw(st.floats(min_value=0, max_value=1)) * (maximum - minimum)
    return effects.Param("p", minimum, maximum, "", scale, min(max(default, minimum), maximum))


@settings(max_examples=200, deadline=None)
@given(params(), st.floats(min_value=0, max_value=1))
def test_round_trip_normalized_real_normalized(param, x):
    assert param.to_normalized(param.to_real(x)) == pytest.approx(x, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(params(), st.floats(min_value=0, max_value=1))
def test_round_trip_real_normalized_real(param, x):
    value = param.minimum ** (1 - x) * param.maximum**x if param.scale == "log" else param.minimum + x * (
        param.maximum - param.minimum
    )
    value = min(max(value, param.minimum), param.maximum)
    assert param.to_real(param.to_normalized(value)) == pytest.approx(value, rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(params(), st.lists(st.floats(min_value=0, max_value=1), min_size=2, max_size=20))
def test_to_real_is_monotonic_and_vectorized(param, xs):
    xs = np.sort(np.array(xs))
    real = param.to_real(xs)
    assert isinstance(real, np.ndarray) and real.shape == xs.shape
    assert np.all(np.diff(real) >= -1e-12 * (abs(param.maximum) + 1))
    assert np.all(np.diff(param.to_normalized(real)) >= -1e-12)
    np.testing.assert_allclose(real, [param.to_real(x) for x in xs], rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(params(), st.floats(min_value=1e-6, max_value=1e6))
def test_clipping_and_endpoints(param, beyond):
    assert param.to_real(0.0) == param.minimum
    assert param.to_real(1.0) == param.maximum
    assert param.to_real(-beyond) == param.minimum
    assert param.to_real(1.0 + beyond) == param.maximum
    assert param.to_normalized(param.minimum) == 0.0
    assert param.to_normalized(param.maximum) == 1.0
    assert param.to_normalized(param.minimum - beyond) == 0.0
    assert param.to_normalized(param.maximum + beyond * (1 + abs(param.maximum))) == 1.0


def test_log_scale_is_even_in_ratio():
    param = effects.Param("carrier_hz", 20.0, 2000.0, "Hz", "log", 200.0)
    assert param.to_real(0.5) == pytest.approx(200.0)
    assert param.to_normalized(200.0) == pytest.approx(0.5)
    assert isinstance(param.to_real(0.5), float)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x", 1.0, 1.0, "", "linear", 1.0), "minimum < maximum"),
        (("x", 0.0, 1.0, "", "log", 0.5), "minimum > 0"),
        (("x", 0.0, 1.0, "", "cubic", 0.5), "scale"),
        (("x", 0.0, 1.0, "", "linear", 2.0), "default"),
        (("", 0.0, 1.0, "", "linear", 0.5), "name"),
    ],
)
def test_invalid_param_raises(args, message):
    with pytest.raises(EffectError, match=message):
        effects.Param(*args)


def test_param_rejects_non_finite_values():
    param = effects.get("overdrive").params[0]
    with pytest.raises(EffectError, match="finite"):
        param.to_real(float("nan"))
    with pytest.raises(EffectError, match="finite"):
        param.to_normalized(np.array([1.0, np.inf]))


# -- Effect API ---------------------------------------------------------------------------------------


def test_names_and_get():
    assert effects.names() == NAMES
    for name in NAMES:
        effect = effects.get(name)
        assert effect.name == name
        assert effect.n_params == len(effect.params) >= 2
        assert effect.param_names == tuple(p.name for p in effect.params)
        assert all(isinstance(p, effects.Param) for p in effect.params)


def test_unknown_effect_lists_valid_names():
    with pytest.raises(EffectError, match="unknown effect 'fuzz'.*overdrive, delay, ambience"):
        effects.get("fuzz")


def test_defaults_describe_and_real():
    effect = effects.get("dynamics")
    p = effect.defaults()
    assert p.shape == (5,) and np.all((p >= 0) & (p <= 1))
    real = effect.real(p)
    assert real == {param.name: pytest.approx(param.default) for param in effect.params}
    described = effect.describe(p)
    assert described["ratio"] == {"normalized": pytest.approx(p[1]), "value": pytest.approx(4.0), "unit": ""}
    assert described["threshold_db"]["unit"] == "dB"
    assert all(isinstance(v, float) for item in described.values() for v in (item["normalized"], item["value"]))


def test_normalize_settings_dict_defaults_and_clipping():
    effect = effects.get("delay")
    p = effect.normalize_settings({"mix": 0.9})
    expected = effect.defaults()
    expected[2] = 0.9
    np.testing.assert_array_equal(p, expected)
    np.testing.assert_array_equal(effect.normalize_settings([-1, 2, 0.5, 0.25]), [0, 1, 0.5, 0.25])
    clipped = effect.normalize_settings({"feedback": 7})
    np.testing.assert_array_equal(clipped, effect.normalize_settings({"feedback": 1}))


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"mixx": 0.5}, "no parameter 'mixx'; valid names: delay_seconds, feedback, mix, tone_hz"),
        ([0.5, 0.5], "takes 4 settings \\(delay_seconds, feedback, mix, tone_hz\\)"),
        ([0.5, 0.5, np.nan, 0.5], "finite"),
        ({"mix": float("inf")}, "finite"),
        ({"mix": "loud"}, "must be numbers"),
        ({"mix": [0.1, 0.2]}, "must be one number"),
        ("0.5", "numbers or a dict"),
    ],
)
def test_bad_settings_raise(settings_, message):
    with pytest.raises(EffectError, match=message):
        effects.get("delay").normalize_settings(settings_)


@pytest.mark.parametrize(
    ("audio", "sr", "message"),
    [
        (np.zeros((2, 100), dtype=np.float32), SR, "1-D"),
        (np.array([0.0, np.nan, 0.0]), SR, "NaN"),
        (np.array(["a", "b"]), SR, "1-D"),
        (np.zeros(100, dtype=np.int16), SR, "float"),
        (np.zeros(100, dtype=np.float32), 0, "sample rate"),
        (np.zeros(100, dtype=np.float32), 24000.5, "sample rate"),
    ],
)
def test_bad_audio_raises(audio, sr, message):
    with pytest.raises(AudioError, match=message):
        effects.get("overdrive").render(audio, sr, effects.get("overdrive").defaults())


# -- rendering contract per effect ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_render_is_deterministic(name):
    effect = effects.get(name)
    p = np.random.default_rng(3).random(effect.n_params)
    x = music(1.0)
    first = effect.render(x, SR, p)
    effect.render(noise(0.5), SR, np.random.default_rng(4).random(effect.n_params))
    np.testing.assert_array_equal(effect.render(x, SR, p), first)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", [0, 1, 10, 1000, 30_011])
def test_render_keeps_length_and_is_finite(name, length):
    effect = effects.get(name)
    x = music(1.5)[:length]
    for p in (np.zeros(effect.n_params), np.ones(effect.n_params), effect.defaults()):
        for audio in (x, np.zeros(length, dtype=np.float32)):
            y = effect.render(audio, SR, p)
            assert y.dtype == np.float32 and y.shape == (length,)
            assert np.all(np.isfinite(y))


@pytest.mark.parametrize("name", NAMES)
def test_render_accepts_float64_and_other_rates(name):
    effect = effects.get(name)
    x = music(0.5)
    y = effect.render(x.astype(np.float64), 44_100, effect.defaults())
    assert y.dtype == np.float32 and y.shape == x.shape and np.all(np.isfinite(y))


@pytest.mark.parametrize("name", NAMES)
def test_snippet_renders_the_same_samples(name):
    effect = effects.get(name)
    x = music(1.0, seed=5)
    for seed in (0, 1):
        p = np.random.default_rng(seed).random(effect.n_params)
        namespace: dict = {}
        exec(compile(effect.snippet(p), f"<{name} snippet>", "exec"), namespace)  # noqa: S102
        np.testing.assert_allclose(namespace["process"](x, SR), effect.render(x, SR, p), atol=1e-6, rtol=0)


@pytest.mark.parametrize(("name", "index"), [(n, i) for n in NAMES for i in range(effects.get(n).n_params)])
def test_every_parameter_changes_the_output(name, index):
    effect = effects.get(name)
    x = music(1.5)
    low, high = effect.defaults(), effect.defaults()
    low[index], high[index] = 0.1, 0.9
    difference = rms(effect.render(x, SR, low) - effect.render(x, SR, high))
    assert difference > 0.01 * rms(x), f"{effect.param_names[index]} changes the output by {difference:.2e} only"


# -- audible changes with known answers -------------------------------------------------------------------


def harmonic_ratio(y: np.ndarray, f0: float) -> float:
    """Energy at harmonics 2–10 of f0 over energy at f0 (independent of level)."""
    fundamental = band_energy(y, f0 - 5, f0 + 5)
    harmonics = sum(band_energy(y, h * f0 - 5, h * f0 + 5) for h in range(2, 11))
    return harmonics / fundamental


def test_overdrive_adds_harmonics_with_drive():
    effect = effects.get("overdrive")
    x = sine(400.0)
    ratios = [harmonic_ratio(effect.render(x, SR, settings_for(effect, drive_db=d, tone_hz=10_000)), 400.0)
              for d in (0.0, 15.0, 40.0)]
    assert ratios[0] < 1e-3 < ratios[1] < ratios[2]
    assert ratios[2] > 0.1  # near a square wave: odd harmonics carry ~20 % of the fundamental's energy


def test_overdrive_tone_and_level():
    effect = effects.get("overdrive")
    x = music()
    dark = effect.render(x, SR, settings_for(effect, tone_hz=600))
    bright = effect.render(x, SR, settings_for(effect, tone_hz=9000))
    assert centroid(dark) < 0.7 * centroid(bright)
    quiet = effect.render(x, SR, settings_for(effect, level_db=-18))
    loud = effect.render(x, SR, settings_for(effect, level_db=6))
    assert 20 * np.log10(rms(loud) / rms(quiet)) == pytest.approx(24.0, abs=0.01)


def test_delay_echo_at_delay_time():
    effect = effects.get("delay")
    x = impulse()
    y = effect.render(x, SR, settings_for(effect, delay_seconds=0.3, feedback=0.0, mix=0.5, tone_hz=10_000))
    lag = int(np.argmax(np.abs(y[100:]))) + 100
    assert abs(lag - 0.3 * SR) <= 2
    assert abs(y[0]) == pytest.approx(0.25)
    assert np.abs(y[int(0.6 * SR) - 50 :]).max() < 1e-4  # no feedback, no second repeat
    y = effect.render(x, SR, settings_for(effect, delay_seconds=0.3, feedback=0.5, mix=0.5, tone_hz=10_000))
    second = np.abs(y[int(0.6 * SR) - 50 : int(0.6 * SR) + 50]).max()
    first = np.abs(y[int(0.3 * SR) - 50 : int(0.3 * SR) + 50]).max()
    assert second == pytest.approx(0.5 * first, rel=0.1)


def test_delay_tone_darkens_repeats_only():
    effect = effects.get("delay")
    x = noise(1.0)
    dark = effect.render(x, SR, settings_for(effect, tone_hz=1000, mix=1.0))
    bright = effect.render(x, SR, settings_for(effect, tone_hz=10_000, mix=1.0))
    assert centroid(dark) < 0.5 * centroid(bright)


def decay_time(y: np.ndarray, drop_db: float = 30.0) -> float:
    """Seconds until the remaining energy (Schroeder integral) falls ``drop_db`` below the total."""
    remaining = np.cumsum(np.square(y.astype(np.float64))[::-1])[::-1]
    level = 10 * np.log10(remaining / remaining[0] + 1e-30)
    return float(np.argmax(level < -drop_db) / SR)


def test_ambience_lengthens_decay_with_room_size():
    effect = effects.get("ambience")
    x = impulse(3.0)
    small = decay_time(effect.render(x, SR, settings_for(effect, room_size=0.1, mix=1.0, predelay_ms=0)))
    large = decay_time(effect.render(x, SR, settings_for(effect, room_size=0.95, mix=1.0, predelay_ms=0)))
    assert 0.05 < small < 0.6 * large
    dry = effect.render(x, SR, settings_for(effect, mix=0.0))
    np.testing.assert_array_equal(dry, x)


def test_ambience_predelay_delays_onset():
    effect = effects.get("ambience")
    x = impulse(0.5)
    for predelay_ms in (0.0, 50.0, 100.0):
        y = effect.render(x, SR, settings_for(effect, mix=1.0, predelay_ms=predelay_ms))
        onset = int(np.argmax(np.abs(y) > 1e-6))
        assert predelay_ms / 1000 * SR - 2 <= onset <= predelay_ms / 1000 * SR + 0.05 * SR


def test_reverb_onset_is_the_ambience_impulse_response_that_a_predelay_shifts():
    effect = effects.get("ambience")
    onset = effects.reverb_onset(SR)
    assert len(onset) == SR // 10 and int(np.argmax(np.abs(onset) > 1e-6)) == 607  # first reflection 25.3 ms
    for room_size in (0.1, 0.9):  # the reflections' times do not depend on the room size
        y = effect.render(impulse(0.5), SR, settings_for(effect, room_size=room_size, mix=1.0, predelay_ms=30.0))
        match = [np.corrcoef(y[shift: shift + len(onset)], onset)[0, 1] for shift in range(700, 741)]
        assert abs(700 + int(np.argmax(match)) - 720) <= 1 and max(match) > 0.8  # 30 ms, to the sample


def transfer_variation(effect, p, x, segment: int = SR // 4) -> float:
    """Relative spread over time of the transfer magnitude |H(f)| estimated on successive segments."""
    y = effect.render(x, SR, p)
    magnitudes = []
    for start in range(0, x.size - segment + 1, segment):
        _, cross = signal.csd(x[start : start + segment], y[start : start + segment], SR, nperseg=256)
        _, power = signal.welch(x[start : start + segment], SR, nperseg=256)
        magnitudes.append(np.abs(cross / power))
    magnitudes = np.array(magnitudes)
    return float(np.mean(np.std(magnitudes, axis=0)) / np.mean(magnitudes))


def test_flanger_sweeps_comb_filter_over_time():
    effect = effects.get("flanger")
    x = noise(4.0)
    sweeping = transfer_variation(effect, settings_for(effect, depth=1.0, rate_hz=1.0), x)
    static = transfer_variation(effect, settings_for(effect, depth=0.0, rate_hz=1.0), x)
    assert sweeping > 2.0 * static
    # the static setting is still a comb filter: deep notches and peaks across frequency
    _, cross = signal.csd(x, effect.render(x, SR, settings_for(effect, depth=0.0)), SR, nperseg=1024)
    _, power = signal.welch(x, SR, nperseg=1024)
    response_db = 20 * np.log10(np.abs(cross / power))
    assert response_db.max() - response_db.min() > 15.0


@pytest.mark.parametrize(("band", "edges"), [("low_gain_db", (20, 80)), ("mid_gain_db", (700, 1000)),
                                             ("high_gain_db", (9000, 11_500))])
@pytest.mark.parametrize("gain_db", [-12.0, 12.0])
def test_multiband_band_gains(band, edges, gain_db):
    effect = effects.get("multiband")
    x = noise(2.0)
    p = settings_for(effect, threshold_db=0.0, low_crossover_hz=200, high_crossover_hz=3000, **{band: gain_db})
    y = effect.render(x, SR, p)
    change_db = 10 * np.log10(band_energy(y, *edges) / band_energy(x, *edges))
    assert change_db == pytest.approx(gain_db, abs=2.5)


def test_multiband_is_transparent_at_unity_and_compresses_below_threshold():
    effect = effects.get("multiband")
    x = music()
    flat = effect.render(x, SR, settings_for(effect, threshold_db=0.0))
    np.testing.assert_allclose(flat, x, atol=1e-5)
    squashed = effect.render(x, SR, settings_for(effect, threshold_db=-40.0))
    assert rms(squashed) < 0.5 * rms(x)


def test_dynamics_reduces_loud_passages_above_threshold():
    effect = effects.get("dynamics")
    quiet, loud = 0.01 * noise(1.0, seed=7), 0.5 * noise(1.0, seed=8) / 0.25
    x = np.concatenate([quiet, loud]).astype(np.float32)
    p = settings_for(effect, threshold_db=-24.0, ratio=20.0, attack_ms=1.0, release_ms=50.0, makeup_db=0.0)
    y = effect.render(x, SR, p)
    half = quiet.size
    assert rms(y[:half]) == pytest.approx(rms(x[:half]), rel=0.05)  # below threshold: untouched
    steady = slice(half + SR // 10, None)
    assert 20 * np.log10(rms(x[steady]) / rms(y[steady])) > 12.0
    gentle = effect.render(x, SR, settings_for(effect, threshold_db=-24.0, ratio=1.0, makeup_db=0.0))
    np.testing.assert_allclose(gentle, x, atol=1e-6)


def test_dynamics_makeup_gain():
    effect = effects.get("dynamics")
    x = music()
    y0 = effect.render(x, SR, settings_for(effect, makeup_db=0.0))
    y18 = effect.render(x, SR, settings_for(effect, makeup_db=18.0))
    assert 20 * np.log10(rms(y18) / rms(y0)) == pytest.approx(18.0, abs=0.01)


def test_ringmod_moves_sine_to_sum_and_difference():
    effect = effects.get("ringmod")
    x = sine(1000.0)
    y = effect.render(x, SR, settings_for(effect, carrier_hz=300.0, mix=1.0))
    total = band_energy(y, 0, SR / 2)
    sidebands = band_energy(y, 690, 710) + band_energy(y, 1290, 1310)
    assert sidebands > 0.99 * total
    assert band_energy(y, 990, 1010) < 1e-4 * total
    half = effect.render(x, SR, settings_for(effect, carrier_hz=300.0, mix=0.5))
    assert band_energy(half, 990, 1010) / band_energy(x, 990, 1010) == pytest.approx(0.25, rel=0.02)
    assert effect.render(x, SR, settings_for(effect, carrier_hz=300.0, mix=1.0))[0] == 0.0  # phase 0 at start


def test_combo_cabinet_lowers_centroid_and_input_filter_thins_lows():
    effect = effects.get("combo")
    x = music()
    closed = effect.render(x, SR, settings_for(effect, cabinet_lowpass_hz=900))
    open_ = effect.render(x, SR, settings_for(effect, cabinet_lowpass_hz=7000))
    assert centroid(closed) < 0.8 * centroid(open_)
    assert band_energy(closed, 3000, SR / 2) < 0.01 * band_energy(open_, 3000, SR / 2)
    thin = effect.render(x, SR, settings_for(effect, input_highpass_hz=900, drive_db=0))
    full = effect.render(x, SR, settings_for(effect, input_highpass_hz=20, drive_db=0))
    assert band_energy(thin, 20, 200) < 0.1 * band_energy(full, 20, 200)


# -- VST3 plugins -----------------------------------------------------------------------------------------


def test_load_vst3_missing_path(tmp_path):
    path = tmp_path / "nothing.vst3"
    with pytest.raises(EffectError, match=f"VST3 plugin not found: {path}"):
        effects.load_vst3(path)


@pytest.mark.parametrize("make", [lambda p: p.write_bytes(b"\x00garbage" * 100), lambda p: p.mkdir()])
def test_load_vst3_garbage(tmp_path, make):
    path = tmp_path / "broken.vst3"
    make(path)
    with pytest.raises(EffectError, match=f"cannot load VST3 plugin {path}") as info:
        effects.load_vst3(str(path))
    assert "\n" not in str(info.value)


DPF = Path("/usr/share/dpf/distrho")  # Debian's dpf-source: the DISTRHO Plugin Framework
PLUGIN_SOURCE = Path(__file__).parent / "vst3_plugin"


@pytest.fixture(scope="module")
def drive_plugin(tmp_path_factory) -> Path:
    """A real VST3 bundle, compiled from tests/vst3_plugin with DPF: y = gain · tanh(drive · x)."""
    compiler = shutil.which("g++")
    if compiler is None or not (DPF / "DistrhoPluginMain.cpp").exists():
        pytest.skip("building the test VST3 plugin needs g++ and Debian's dpf-source")
    bundle = tmp_path_factory.mktemp("vst3") / "DafxTestDrive.vst3"
    binary = bundle / "Contents" / "x86_64-linux" / "DafxTestDrive.so"
    binary.parent.mkdir(parents=True)
    subprocess.run(
        [compiler, "-O1", "-std=gnu++11", "-fPIC", "-shared", "-fvisibility=hidden", "-DDISTRHO_PLUGIN_TARGET_VST3",
         f"-I{PLUGIN_SOURCE}", f"-I{DPF}", str(PLUGIN_SOURCE / "DafxTestDrive.cpp"), str(DPF / "DistrhoPluginMain.cpp"),
         f"-Wl,--version-script={DPF.parent / 'utils' / 'symbols' / 'vst3.version'}", "-o", str(binary)],
        check=True, capture_output=True, timeout=300,
    )
    return bundle


def expected_drive(x: np.ndarray, drive_raw: float, gain_raw: float) -> np.ndarray:
    """The test plugin's output: drive 1–20 and gain −24…+6 dB, both linear in the raw value."""
    drive, gain_db = 1.0 + 19.0 * drive_raw, -24.0 + 30.0 * gain_raw
    return 10 ** (gain_db / 20) * np.tanh(drive * x.astype(np.float64))


def test_vst3_plugin_loads_with_its_adjustable_parameters(drive_plugin):
    effect = effects.load_vst3(drive_plugin)
    assert effect.name == "DafxTestDrive"
    assert effect.param_names == ("drive", "gain_db")  # the boolean "invert" switch is left out
    assert all((p.minimum, p.maximum, p.scale) == (0.0, 1.0, "linear") for p in effect.params)
    np.testing.assert_allclose(effect.defaults(), [1 / 19, 18 / 30], atol=1e-6)  # drive 2, gain -6 dB


def test_vst3_plugin_renders_deterministically(drive_plugin):
    effect = effects.load_vst3(str(drive_plugin))
    x = music(1.0)
    for p in ([0.0, 1.0], [0.5, 0.25], [1.0, 0.6]):
        y = effect.render(x, SR, p)
        assert y.dtype == np.float32 and y.shape == x.shape
        np.testing.assert_allclose(y, expected_drive(x, *p), atol=1e-5)
    first = effect.render(x, SR, [0.3, 0.7])
    effect.render(noise(0.3), SR, [0.9, 0.1])
    np.testing.assert_array_equal(effect.render(x, SR, [0.3, 0.7]), first)
    assert effect.render(x[:10], SR, [0.3, 0.7]).shape == (10,)


def test_vst3_snippet_renders_the_same_samples(drive_plugin):
    effect = effects.load_vst3(drive_plugin)
    x = music(0.5)
    p = {"drive": 0.8, "gain_db": 0.4}
    namespace: dict = {}
    exec(compile(effect.snippet(p), "<plugin snippet>", "exec"), namespace)  # noqa: S102
    np.testing.assert_allclose(namespace["process"](x, SR), effect.render(x, SR, p), atol=1e-6, rtol=0)
