"""The plain pedalboard processors as special cases of the effects: exact bypasses, from_pedalboard."""

import numpy as np
import pedalboard
import pytest

from dafx_explorer import corpus, effects
from dafx_explorer.errors import EffectError
from dafx_explorer.settings import SAMPLE_RATE as SR

# (chain named as in pedalboard, the effect that reproduces it)
CHAINS = [
    ([("Distortion", {"drive_db": 35.0})], "overdrive"),
    ([("Distortion", {}), ("LowpassFilter", {"cutoff_frequency_hz": 2500.0}), ("Gain", {"gain_db": -4.0})],
     "overdrive"),
    ([("Delay", {})], "delay"),
    ([("Delay", {"delay_seconds": 0.3, "feedback": 0.6, "mix": 0.8})], "delay"),
    ([("Reverb", {})], "ambience"),
    ([("Reverb", {"room_size": 0.85, "damping": 0.1, "wet_level": 0.6, "dry_level": 0.2})], "ambience"),
    ([("Chorus", {})], "flanger"),
    ([("Chorus", {"rate_hz": 3.0, "depth": 0.8, "centre_delay_ms": 2.0, "feedback": 0.7, "mix": 0.9})], "flanger"),
    ([("Gain", {"gain_db": -5.0})], "multiband"),
    ([("Compressor", {"threshold_db": -30.0, "ratio": 6.0, "attack_ms": 3.0, "release_ms": 80.0})], "dynamics"),
    ([("Compressor", {"threshold_db": -20.0}), ("Gain", {"gain_db": 9.0})], "dynamics"),
    ([("HighpassFilter", {"cutoff_frequency_hz": 120.0}), ("Distortion", {"drive_db": 30.0}),
      ("Gain", {"gain_db": -3.0})], "combo"),
]


def peak_normalized(y: np.ndarray) -> np.ndarray:
    return y / np.max(np.abs(y))


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """Real recordings: three seconds of studio speech, then three of recorded music (lincity-ng)."""
    rng = np.random.default_rng(11)
    speech, music = corpus.asterisk("eval", rng)[0], corpus.lincity("eval", rng, per_track=1)[0]
    return np.concatenate([speech.samples[: 3 * SR], music.samples[: 3 * SR]])


def render_plain(chain, audio: np.ndarray) -> np.ndarray:
    return pedalboard.Pedalboard([getattr(pedalboard, name)(**arguments) for name, arguments in chain])(audio, SR)


@pytest.mark.parametrize(("chain", "name"), CHAINS, ids=lambda item: item if isinstance(item, str) else None)
def test_each_effect_reproduces_its_plain_processors(chain, name, clip):
    effect, p = effects.from_pedalboard(chain)
    assert effect.name == name
    difference = peak_normalized(effect.render(clip, SR, p)) - peak_normalized(render_plain(chain, clip))
    assert np.max(np.abs(difference)) <= 1e-5


def test_combo_reproduces_a_plain_distortion_when_asked(clip):
    chain = [("Distortion", {"drive_db": 28.0})]
    combo, p = effects.from_pedalboard(chain, effects.get("combo"))
    real = combo.real(p)
    assert real["input_highpass_hz"] == effects.HIGHPASS_OPEN_HZ
    assert real["cabinet_lowpass_hz"] == effects.CABINET_OPEN_HZ
    difference = peak_normalized(combo.render(clip, SR, p)) - peak_normalized(render_plain(chain, clip))
    assert np.max(np.abs(difference)) <= 1e-5


def test_reverb_defaults_are_the_ambience_at_mix_33_over_113():
    ambience, p = effects.from_pedalboard([("Reverb", {})])
    real = ambience.real(p)
    assert real["mix"] == pytest.approx(0.33 / (0.33 + 2 * 0.4), abs=1e-6)
    assert real["predelay_ms"] == 0.0 and real["room_size"] == pytest.approx(0.5)


def test_every_bypass_lies_in_its_range_and_every_chain_is_documented():
    for name in effects.names():
        effect = effects.get(name)
        for param in effect.params:
            if param.bypass is not None:
                assert param.minimum <= param.bypass <= param.maximum
        for stage in effect.plain:
            assert stage.processor in effects.__doc__
    assert {"tone_hz", "level_db"} <= {p.name for p in effects.get("overdrive").params if p.bypass is not None}


@pytest.mark.parametrize(("name", "param"), [("overdrive", "tone_hz"), ("delay", "tone_hz"),
                                             ("combo", "input_highpass_hz"), ("combo", "cabinet_lowpass_hz")])
def test_a_filter_acts_just_inside_its_bypass(name, param, clip):
    """The open end switches the filter out (the chains above); a step inside it the filter is back."""
    effect = effects.get(name)
    index = effect.param_names.index(param)
    at, inside = effect.defaults(), effect.defaults()
    at[index] = effect.params[index].to_normalized(effect.params[index].bypass)
    inside[index] = 0.98 if at[index] == 1.0 else 0.02
    assert not np.allclose(effect.render(clip, SR, at), effect.render(clip, SR, inside), atol=1e-4)


def test_multiband_with_its_compressors_out_and_0_db_bands_is_the_input(clip):
    multiband = effects.get("multiband")
    off = {"threshold_db": 1.0, **{f"{band}_gain_db": 0.5 for band in ("low", "mid", "high")}}
    assert multiband.real(off)["threshold_db"] == effects.COMPRESSOR_OFF_DB
    np.testing.assert_allclose(multiband.render(4.0 * clip, SR, off), 4.0 * clip, atol=1e-5)


def test_ringmod_mix_ends_are_dry_and_fully_wet(clip):
    ringmod = effects.get("ringmod")
    np.testing.assert_array_equal(ringmod.render(clip, SR, {"mix": 0.0}), clip)
    carrier = np.sin(2 * np.pi * ringmod.real({"mix": 1.0})["carrier_hz"] * np.arange(clip.size) / SR)
    np.testing.assert_allclose(ringmod.render(clip, SR, {"mix": 1.0}), clip * carrier, atol=1e-6)


@pytest.mark.parametrize(("chain", "effect", "match"), [
    ([("Distortio", {})], None, "'Distortio'; known: Chorus"),
    ([("Distortion", {"drive": 3.0})], None, "no argument 'drive'; its arguments: drive_db"),
    ([("Distortion", {"drive_db": "loud"})], None, "drive_db must be numbers"),
    ([("Reverb", {"room_size": 1.0})], None, "room_size = 1 is outside its range 0.05–0.95"),
    ([("Reverb", {"room_size": 7.0})], None, "Room Size value must be between"),
    ([("Delay", {"delay_seconds": 2.0})], None, "delay_seconds = 2 s is outside"),
    ([("Reverb", {"width": 0.5})], None, "only with width=1"),
    ([("Reverb", {"wet_level": 0.0, "dry_level": 0.0})], None, "silence"),
    ([("Gain", {}), ("Distortion", {})], None, "no built-in effect reproduces Gain → Distortion"),
    ([("LowpassFilter", {"cutoff_frequency_hz": 3000.0})], None, "no built-in effect reproduces LowpassFilter"),
    ([("Reverb", {})], "delay", "delay cannot reproduce Reverb"),
    ([], None, "non-empty list"),
])
def test_chains_that_cannot_be_reproduced_are_refused_clearly(chain, effect, match):
    with pytest.raises(EffectError, match=match):
        effects.from_pedalboard(chain, None if effect is None else effects.get(effect))
