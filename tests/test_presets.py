"""Preset export: JSON presets round-trip; snippets rebuild chains that render like the effects."""

import json

import numpy as np
import pytest

from dafx_explorer import effects, presets
from dafx_explorer.errors import DataError, EffectError
from dafx_explorer.settings import SAMPLE_RATE


def _settings(effect, seed):
    return np.random.default_rng(seed).random(effect.n_params)


def test_preset_has_effect_source_and_params_in_real_units():
    effect = effects.get("overdrive")
    p = np.array([0.5, 1.0, 0.0])
    data = presets.preset(effect, p)
    assert data["effect"] == "overdrive" and data["source"] == "dafx-explorer"
    assert list(data["params"]) == list(effect.param_names)
    assert data["params"]["drive_db"] == {"normalized": 0.5, "value": 22.5, "unit": "dB"}
    assert data["params"]["tone_hz"]["value"] == pytest.approx(10_000.0)
    assert data["params"]["level_db"]["value"] == pytest.approx(-18.0)


@pytest.mark.parametrize("name", effects.names())
def test_json_preset_round_trips(name):
    effect = effects.get(name)
    p = _settings(effect, seed=len(name))
    text = presets.preset_json(effect, p)
    assert json.loads(text)["effect"] == name
    loaded_effect, loaded = presets.read_preset(text)
    assert loaded_effect is effect
    np.testing.assert_array_equal(loaded, p)
    np.testing.assert_array_equal(presets.read_preset(text.encode())[1], p)


def test_value_only_parameters_are_normalized_and_missing_ones_default():
    effect = effects.get("delay")
    data = {"effect": "delay", "params": {"delay_seconds": {"value": 1.0, "unit": "s"}, "mix": {"normalized": 0.25}}}
    _, p = presets.read_preset(data)
    expected = effect.defaults()
    expected[0], expected[2] = 1.0, 0.25
    np.testing.assert_allclose(p, expected)


@pytest.mark.parametrize(("data", "error", "match"), [
    ("{not json", DataError, "JSON"),
    ('["effect"]', DataError, '"effect" and "params"'),
    ({"effect": "overdrive"}, DataError, '"effect" and "params"'),
    ({"effect": "fuzzbox", "params": {}}, EffectError, "unknown effect 'fuzzbox'"),
    ({"effect": "overdrive", "params": {"gain": {"normalized": 0.5}}}, EffectError, "no parameter 'gain'"),
    ({"effect": "overdrive", "params": {"gain": {"value": 3.0}}}, EffectError, "no parameter 'gain'"),
    ({"effect": "overdrive", "params": {"drive_db": 0.5}}, DataError, "'drive_db' must be an object"),
    ({"effect": "overdrive", "params": {"drive_db": {"normalized": "high"}}}, DataError, "finite number"),
    ({"effect": "overdrive", "params": {"drive_db": {"normalized": float("nan")}}}, DataError, "finite number"),
])
def test_bad_presets_are_refused_with_a_clear_error(data, error, match):
    with pytest.raises(error, match=match):
        presets.read_preset(data)


def test_preset_for_another_effect_is_refused():
    text = presets.preset_json(effects.get("delay"), [0.5] * 4)
    with pytest.raises(EffectError, match="for effect 'delay', not 'overdrive'"):
        presets.read_preset(text, effects.get("overdrive"))


@pytest.mark.parametrize("name", effects.names())
def test_snippet_rebuilds_a_chain_that_renders_the_same_samples(name):
    effect = effects.get(name)
    p = _settings(effect, seed=7 + len(name))
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    audio = (0.4 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t)
             + 0.05 * np.random.default_rng(1).standard_normal(t.size)).astype(np.float32)
    namespace = {}
    exec(compile(presets.snippet(effect, p), f"{name}_preset.py", "exec"), namespace)
    out = namespace["process"](audio.copy(), SAMPLE_RATE)
    expected = effect.render(audio, SAMPLE_RATE, p)
    assert np.asarray(out).shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert np.max(np.abs(expected - audio[: len(expected)])) > 1e-3  # the effect did something


def test_snippet_says_how_to_use_it_and_file_names_are_safe():
    effect = effects.get("ringmod")
    code = presets.snippet(effect, [0.5, 0.5])
    assert "def process(audio" in code and "# Usage" in code and "sf.write" in code
    assert presets.file_name(effect, ".json") == "ringmod_preset.json"
    plugin_like = effects.Effect("My Plug/in 2", [effects.Param("x", 0.0, 1.0, "", "linear", 0.5)])
    assert presets.file_name(plugin_like, ".py") == "My_Plug_in_2_preset.py"


def test_a_plain_pedalboard_preset_reads_as_the_effect_that_reproduces_it():
    effect, p = presets.read_preset('{"pedalboard": [{"Distortion": {"drive_db": 35}}, {"Gain": {"gain_db": -6}}]}')
    assert effect.name == "overdrive"
    assert effect.real(p) == pytest.approx({"drive_db": 35.0, "tone_hz": effects.TONE_OPEN_HZ, "level_db": -6.0})
    combo, q = presets.read_preset({"pedalboard": [{"Distortion": {"drive_db": 35}}]}, effects.get("combo"))
    assert combo.name == "combo" and combo.real(q)["drive_db"] == pytest.approx(35.0)


@pytest.mark.parametrize(("data", "error", "match"), [
    ({"pedalboard": []}, DataError, "non-empty list of processors"),
    ({"pedalboard": {"Distortion": {}}}, DataError, "non-empty list of processors"),
    ({"pedalboard": [{"Distortion": {}, "Gain": {}}]}, DataError, "each \"pedalboard\" entry"),
    ({"pedalboard": [{"Distortion": 35}]}, DataError, "each \"pedalboard\" entry"),
    ({"pedalboard": [{"Fuzz": {}}]}, EffectError, "'Fuzz'; known"),
    ({"pedalboard": [{"Delay": {"delay_seconds": 3.0}}]}, EffectError, "outside its range"),
])
def test_bad_pedalboard_presets_are_refused_with_a_clear_error(data, error, match):
    with pytest.raises(error, match=match):
        presets.read_preset(data)


@pytest.mark.parametrize(("name", "open_ends"), [
    ("overdrive", {"tone_hz": 1.0}), ("delay", {"tone_hz": 1.0}), ("multiband", {"threshold_db": 1.0}),
    ("combo", {"input_highpass_hz": 0.0, "cabinet_lowpass_hz": 1.0}),
])
def test_snippet_at_a_bypass_renders_the_same_samples(name, open_ends):
    effect = effects.get(name)
    audio = (0.3 * np.random.default_rng(2).standard_normal(SAMPLE_RATE // 2)).astype(np.float32)
    namespace = {}
    exec(compile(presets.snippet(effect, open_ends), f"{name}_preset.py", "exec"), namespace)
    np.testing.assert_allclose(namespace["process"](audio, SAMPLE_RATE), effect.render(audio, SAMPLE_RATE, open_ends),
                               atol=1e-6)
