"""The style-match estimator: features, training on fresh pairs, persistence, time-pooling."""

import csv

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dafx_explorer import corpus, effects, estimator, features, models
from dafx_explorer.errors import ModelError
from dafx_explorer.settings import SAMPLE_RATE


@pytest.fixture(scope="module")
def recordings():
    return corpus.build("train", generated_per_kind=1, use_system_audio=False)


def tiny_config(**overrides):
    values = {"effect": "overdrive", "steps": 32, "batch_size": 8, "validation_pairs": 16, "validate_every": 8,
              "tiny": True, "learning_rate": 1e-2, "across_share": 0.0}
    return estimator.EstimatorTrainingConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_home):
    out = tmp_path_factory.mktemp("estimator_models")
    return out, estimator.train_estimator(tiny_config(), out_dir=out)


def test_features_have_the_documented_shapes_and_scale(recordings):
    inputs, references, _ = estimator.draw_pairs(effects.get("overdrive"), recordings, 3, np.random.default_rng(0))
    frames, lags = estimator.recording_features(np.concatenate([inputs, references]))
    assert frames.shape == (6, estimator.N_MELS, estimator.TRAIN_WINDOW // estimator.FRAME_LCM * 3)
    assert lags.shape == (6, estimator.N_LAGS)
    assert -3.0 < float(frames.mean()) < 3.0 and 0.2 < float(frames.std()) < 3.0
    assert float(lags.abs().max()) <= 1.0 + 1e-6


def test_cepstral_frames_peak_in_the_band_of_an_added_delay():
    """A copy of the signal 5 ms late (a flanger's comb, held still) peaks in the quefrency band that
    holds 120 samples; the dry signal has no such peak."""
    x = np.random.default_rng(0).standard_normal(80 * estimator.FRAME_LCM).astype(np.float32) * 0.1
    combed = x + 0.7 * np.roll(x, 120)
    frames, _ = estimator.recording_features(np.stack([x, combed]), cepstrum=True)
    assert frames.shape[1] == estimator.N_MELS + len(estimator.QUEFRENCY_EDGES) - 1
    dry, wet = frames[:, estimator.N_MELS:].mean(-1).numpy()
    band = int(np.searchsorted(estimator.QUEFRENCY_EDGES, 120, side="right")) - 1
    assert int(np.argmax(wet)) == band and wet[band] > dry[band] + 1.0


def test_too_short_recordings_are_refused_with_the_length_needed():
    with pytest.raises(ModelError, match="at least 24624 samples"):
        estimator.recording_features(np.zeros((1, 10_000), dtype=np.float32))


def test_pairs_are_reproducible_and_the_reference_is_the_effect_on_another_segment(recordings):
    effect = effects.get("delay")
    first = estimator.draw_pairs(effect, recordings, 4, np.random.default_rng(3))
    again = estimator.draw_pairs(effect, recordings, 4, np.random.default_rng(3))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    inputs, references, p = first
    assert inputs.shape == references.shape == (4, estimator.TRAIN_WINDOW) and p.shape == (4, effect.n_params)
    assert not np.allclose(inputs, references, atol=1e-3)


def test_across_pairs_take_the_input_from_another_work():
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    tones = [corpus.Recording(f"tone_{hz}", "generated", (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32))
             for hz in (220.0, 1760.0)]
    effect = effects.get("dynamics")

    def peaks(signals):
        return np.argmax(np.abs(np.fft.rfft(signals, axis=1)), axis=1)

    dry_peaks = peaks(np.stack([tone.samples[: estimator.TRAIN_WINDOW] for tone in tones]))

    def nearest_tone(signals):
        return np.abs(peaks(signals)[:, None] - dry_peaks[None, :]).argmin(1)

    for share, same in ((0.0, True), (1.0, False)):
        inputs, references, _ = estimator.draw_pairs(effect, tones, 6, np.random.default_rng(5), across_share=share)
        assert np.all((nearest_tone(inputs) == nearest_tone(references)) == same)


def test_random_settings_put_each_bypassable_setting_at_its_bypass_about_as_often_as_said():
    overdrive = effects.get("overdrive")
    tone = overdrive.param_names.index("tone_hz")
    draws = np.array([estimator.random_settings(overdrive, np.random.default_rng(i)) for i in range(2000)])
    share = float(np.mean(draws[:, tone] == 1.0))
    assert abs(share - estimator.BYPASS_SHARE) < 0.03
    assert not np.any(draws[:, overdrive.param_names.index("drive_db")] == 1.0)  # no bypass: uniform


def test_a_tiny_estimator_trains_in_seconds_and_its_loss_falls(trained):
    out, fit = trained
    assert fit["best_val_l1"] < fit["initial_val_l1"] - 0.01
    assert (out / "estimator_overdrive.safetensors").is_file()


def test_save_load_round_trip_predicts_the_same(trained, recordings):
    out, _ = trained
    overdrive = effects.get("overdrive")
    model, meta = estimator.load_estimator("overdrive", out)
    assert meta["extra"]["effect"] == "overdrive" and meta["extra"]["param_names"] == list(overdrive.param_names)
    inputs, references, _ = estimator.draw_pairs(overdrive, recordings, 1, np.random.default_rng(9))
    first = estimator.predict(model, inputs[0], references[0])
    again, _ = estimator.load_estimator("overdrive", out)
    np.testing.assert_array_equal(estimator.predict(again, inputs[0], references[0]), first)
    assert first.shape == (3,) and np.all((first > 0) & (first < 1))


def test_the_dynamics_estimator_pools_quantiles_and_loads_back_with_them(tiny_home, tmp_path, recordings):
    estimator.train_estimator(tiny_config(effect="dynamics", steps=4, validate_every=4), out_dir=tmp_path)
    model, _ = estimator.load_estimator("dynamics", tmp_path)
    assert model.config.quantiles == estimator.POOLED_QUANTILES
    inputs, references, _ = estimator.draw_pairs(effects.get("dynamics"), recordings, 1, np.random.default_rng(2))
    assert estimator.predict(model, inputs[0], references[0]).shape == (5,)
    with pytest.raises(ModelError, match="quantiles must lie in"):
        models.EstimatorConfig(n_params=2, quantiles=(0.5, 1.5))


def test_missing_or_mismatched_estimators_are_clear_errors(trained, tmp_path):
    out, _ = trained
    with pytest.raises(ModelError, match="train-estimator --effect ambience"):
        estimator.load_estimator("ambience", tmp_path)
    for suffix in (".safetensors", ".json"):
        (tmp_path / f"estimator_flanger{suffix}").write_bytes((out / f"estimator_overdrive{suffix}").read_bytes())
    with pytest.raises(ModelError, match="not the estimator of flanger"):
        estimator.load_estimator("flanger", tmp_path)


def test_resume_continues_from_the_checkpoint(tiny_home, tmp_path):
    first = estimator.train_estimator(tiny_config(effect="ringmod", steps=8), out_dir=tmp_path)
    resumed = estimator.train_estimator(tiny_config(effect="ringmod", steps=16), out_dir=tmp_path, resume=True)
    log = tiny_home / "runs" / "estimator_ringmod_tiny" / "losses.csv"
    with log.open() as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps == [8, 16]
    assert resumed["initial_val_l1"] == pytest.approx(first["initial_val_l1"])


def test_loader_workers_do_not_change_what_is_trained(tiny_home, tmp_path):
    """Batches drawn by two worker processes train the same estimator, to the bit, as the training
    process drawing them itself: each step's pairs are seeded by the step."""
    config = tiny_config(effect="flanger", steps=6, validate_every=3)
    weights = []
    for workers in (0, 2):
        out = tmp_path / f"workers_{workers}"
        estimator.train_estimator(config, out_dir=out, workers=workers)
        weights.append((out / "estimator_flanger.safetensors").read_bytes())
    assert weights[0] == weights[1]


@settings(max_examples=12, deadline=None)
@given(shift=st.integers(1, 6), seed=st.integers(0, 1000), cepstrum=st.booleans(), quantiles=st.booleans())
def test_time_pooling_ignores_where_both_recordings_start(shift, seed, cepstrum, quantiles):
    """Rolling both recordings by a few frames leaves the estimate as it was, with or without the
    cepstral frames and the pooled quantiles."""
    torch.manual_seed(seed)
    n_mels = estimator.N_MELS + (len(estimator.QUEFRENCY_EDGES) - 1) * cepstrum
    pooled = estimator.POOLED_QUANTILES if quantiles else ()
    model = models.SettingsEstimator(models.EstimatorConfig(n_params=3, n_mels=n_mels, quantiles=pooled,
                                                            **estimator.TINY_ESTIMATOR))
    assert estimator.reads_cepstrum(model) == cepstrum
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)
    model.eval()
    rng = np.random.default_rng(seed)
    t = np.arange(80 * estimator.FRAME_LCM) / SAMPLE_RATE  # a whole number of frames, as the features read
    clips = np.stack([np.sin(2 * np.pi * rng.uniform(100, 800) * t) * (np.sin(2 * np.pi * rng.uniform(1, 4) * t) > 0)
                      + 0.05 * rng.standard_normal(t.size) for _ in range(2)]).astype(np.float32)

    def estimate(signals):
        frames, lags = estimator.recording_features(signals, cepstrum)
        with torch.no_grad():
            return model(frames[:1], lags[:1], frames[1:], lags[1:]).numpy()

    rolled = np.roll(clips, shift * estimator.FRAME_LCM, axis=1)
    np.testing.assert_allclose(estimate(rolled), estimate(clips), atol=1e-4)
    assert estimator.FRAME_LCM % estimator.HOP == 0 and estimator.FRAME_LCM % features.ONSET_HOP == 0
