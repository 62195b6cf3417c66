"""The settings read straight off a reference (echo time, pre-delay, carrier, sweep, echo level)."""

import numpy as np
import pytest

from dafx_explorer import effects, inference, matching, models, readings, sources
from dafx_explorer.audio import analysis_window
from dafx_explorer.settings import SAMPLE_RATE, WINDOW


@pytest.mark.parametrize("kind, seconds", [("drums", 0.0731), ("guitar", 0.2467), ("voice", 0.6123)])
def test_echo_times_find_the_delay_to_the_sample(kind, seconds):
    effect = effects.get("delay")
    truth = effect.params[0].to_normalized(seconds)
    reference = effect.render(sources.generate(kind, seed=1011, seconds=6.0), 24_000, [truth, 0.3, 0.5, 0.7])
    reading = readings.echo_times(effect.params[0], analysis_window(sources.generate(kind, seed=1012, seconds=6.0)),
                                 analysis_window(reference))
    times = reading.values
    assert reading.decisive == (len(times) == 1)  # the two readings agree to the sample, or J chooses
    assert 1 <= len(times) <= readings.ECHO_CANDIDATES + 1
    assert times[0] == pytest.approx(seconds, abs=2.5 / 24_000)
    assert times[-1] == pytest.approx(seconds, abs=1.5 / 24_000)  # the whitened waveform's reading too


@pytest.mark.parametrize("kind, hertz, mix", [("voice", 47.3, 0.4), ("guitar", 311.7, 0.7), ("chords", 1234.5, 1.0)])
def test_carrier_frequencies_find_the_carrier_to_a_fraction_of_a_hertz(kind, hertz, mix):
    effect = effects.get("ringmod")
    reference = effect.render(sources.generate(kind, seed=1016, seconds=6.0), 24_000,
                              [effect.params[0].to_normalized(hertz), mix])
    reading = readings.carrier_frequencies(effect.params[0], analysis_window(reference), analysis_window(reference))
    assert 1 <= len(reading.values) <= 2
    assert min(abs(f - hertz) for f in reading.values) < 0.1
    if mix < 1.0:  # lines at f and 2f: the reading is decisive, and right
        assert reading.decisive and reading.values[0] == pytest.approx(hertz, abs=0.1)


def test_a_fully_wet_ring_modulator_leaves_the_octave_to_the_objective():
    effect = effects.get("ringmod")
    hertz = 311.7  # squared, x·sin(2π f t) has a line at 2f only, so F could be 2f or a carrier of 2f with mix < 1
    reference = effect.render(sources.generate("guitar", seed=1017, seconds=6.0), 24_000,
                              [effect.params[0].to_normalized(hertz), 1.0])
    reading = readings.carrier_frequencies(effect.params[0], analysis_window(reference), analysis_window(reference))
    assert not reading.decisive and reading.values == [pytest.approx(2 * hertz, abs=0.1), pytest.approx(hertz, abs=0.1)]


@pytest.mark.parametrize("kind, milliseconds, room_size, mix", [
    ("voice", 12.5, 0.3, 0.4), ("guitar", 47.0, 0.8, 0.6), ("drums", 88.25, 0.5, 0.9), ("chords", 0.0, 0.6, 0.5),
])
def test_predelay_times_find_the_predelay_to_the_sample(kind, milliseconds, room_size, mix):
    effect = effects.get("ambience")
    param = effect.params[3]
    settings = [room_size, 0.5, mix, param.to_normalized(milliseconds)]
    reference = effect.render(sources.generate(kind, seed=1021, seconds=6.0), 24_000, settings)
    reading = readings.predelay_times(param, None, analysis_window(reference))
    assert reading.decisive and reading.values == [pytest.approx(milliseconds, abs=1.5 / 24)]  # 1.5 samples


@pytest.mark.parametrize("kind", ["voice", "guitar", "drums", "chords"])
def test_predelay_times_read_nothing_without_the_reverb(tiny_home, kind):
    effect = effects.get("ambience")
    param = effect.params[3]
    x = sources.generate(kind, seed=1023, seconds=6.0)
    fully_wet = effect.render(x, 24_000, [0.5, 0.5, 1.0, param.to_normalized(40.0)])
    for reference in (x, fully_wet, np.zeros(WINDOW, dtype=np.float32)):  # dry, no dry copy, silent
        assert readings.predelay_times(param, None, analysis_window(reference)).values == []
    encoder = inference.load_models("delay", str(tiny_home / "models")).encoder  # the tiny home's encoder
    untrained = models.Controller(models.ControllerConfig(n_params=effect.n_params, embedding_dim=128))
    result = matching.match(effect, x, x, bundle=inference.Models(encoder, untrained))
    assert result.measured == () and result.measured_params is None  # the page then claims no reading


def test_only_the_delay_the_ambience_and_the_ring_modulator_have_read_settings():
    read = {name: readings.measured_parameter(effects.get(name)) for name in effects.names()}
    assert read == {name: {"delay": 0, "ambience": 3, "ringmod": 0}.get(name) for name in effects.names()}
    for name, (param_name, _) in readings.READERS.items():
        assert effects.get(name).param_names[read[name]] == param_name
    renamed = effects.Effect("delay", [effects.Param("time_s", 0.1, 1.0, "s", "linear", 0.5)])
    assert readings.measured_parameter(renamed) is None  # a custom effect of that name has nothing read


def test_the_sweep_fit_moves_a_flangers_rate_depth_and_centre_towards_the_truth():
    """From a prediction off in rate, depth and centre delay, the fit lands near the true sweep of a
    flanged noise, and leaves the feedback and mix as predicted."""
    effect = effects.get("flanger")
    noise = np.random.default_rng(0).standard_normal((2, 131_072)).astype(np.float32) * 0.1
    truth = np.array([param.to_normalized(value) for param, value in zip(effect.params, (1.5, 0.4, 4.0, 0.3, 0.7),
                                                                         strict=True)])
    reference = effect.render(noise[1], SAMPLE_RATE, truth)
    prediction = truth + np.array([0.08, -0.1, 0.1, 0.2, -0.2])
    fitted = readings.fit_sweep(effect, noise[0], reference, prediction)
    swept = [effect.param_names.index(name) for name in readings.SWEEP_SETTINGS]
    assert abs(fitted[swept[0]] - truth[swept[0]]) < 0.0005  # the rate to 0.25 %: finer than the first grid's 0.00375
    assert np.all(np.abs(fitted[swept] - truth[swept]) < np.abs(prediction[swept] - truth[swept]))
    assert np.all(np.abs(fitted[swept[1:]] - truth[swept[1:]]) < 0.04)  # ranked on the exact excess alone: 0.07, 0.08
    np.testing.assert_array_equal(fitted[3:], prediction[3:])
    assert readings.measured_parameters(effect) == tuple(swept) == (0, 1, 2)
    assert readings.measured_parameters(effects.get("delay")) == (0, 1, 2)
    assert readings.measured_parameters(effects.get("overdrive")) == ()


@pytest.mark.parametrize("kind", ["drums", "guitar"])
@pytest.mark.parametrize("echo_seconds, feedback, mix", [(0.2467, 0.3, 0.55), (0.0731, 0.6, 0.3)])
@pytest.mark.parametrize("offset", [(-0.12, 0.12), (0.12, -0.12)])
def test_the_echo_level_fit_moves_a_delays_feedback_and_mix_towards_the_truth(kind, echo_seconds, feedback, mix,
                                                                               offset):
    """From a start off in feedback and mix (the echo time right), the fit lands nearer the true pair,
    the mix within 0.1, and leaves the echo time and tone as they were."""
    effect = effects.get("delay")
    truth = np.array([effect.params[0].to_normalized(echo_seconds), feedback, mix, 1.0])
    reference = effect.render(sources.generate(kind, seed=1011, seconds=6.0), 24_000, truth)
    start = truth + np.array([0.0, *offset, 0.0])
    fitted = readings.fit_echo_level(effect, analysis_window(sources.generate(kind, seed=1012, seconds=6.0)),
                                     analysis_window(reference), start)
    level = list(readings.echo_level_indices(effect))
    assert level == [1, 2] and np.all(np.abs(fitted[level] - start[level]) <= readings.ECHO_LEVEL_SPAN + 1e-9)
    assert np.sum(np.abs(fitted[level] - truth[level])) < np.sum(np.abs(start[level] - truth[level]))
    assert abs(fitted[2] - mix) <= 0.1
    np.testing.assert_array_equal(fitted[[0, 3]], start[[0, 3]])
