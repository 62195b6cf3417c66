"""The estimator's correction from sample-resolution level statistics: the statistics, training, use."""

import json

import numpy as np
import pytest
import torch

from dafx_explorer import correction, effects, estimator, inference, manifest, models, sources
from dafx_explorer.cli import main
from dafx_explorer.errors import ModelError
from dafx_explorer.settings import REPO_ROOT, SAMPLE_RATE

CRESTS = len(correction.CREST_BLOCKS) * len(correction.CREST_QUANTILES)


@pytest.fixture(scope="module")
def trained(tiny_home, tmp_path_factory):
    """A tiny dynamics estimator and its correction in a models folder of their own."""
    out = tmp_path_factory.mktemp("correction") / "models"
    estimator.train_estimator(estimator.EstimatorTrainingConfig(
        effect="dynamics", tiny=True, steps=8, batch_size=4, validation_pairs=8, validate_every=4), out_dir=out)
    fit = correction.train_correction(correction.CorrectionTrainingConfig(
        effect="dynamics", tiny=True, pairs=192, epochs=30, learning_rate=3e-3), out_dir=out)
    return out, fit


def test_level_statistics_are_finite_and_sized_on_silence_and_sound():
    for signal in (np.zeros(65_536, np.float32), sources.generate("drums", seed=3, seconds=3.0)):
        stats = correction.level_statistics(signal)
        assert stats.shape == (correction.N_STATISTICS // 2,) and np.all(np.isfinite(stats))


@pytest.mark.parametrize("kind", ["drums", "voice"])
def test_a_fast_attack_flattens_the_crests_that_a_slow_one_lets_through(kind):
    """Heavy compression: at 0.1 ms attack the crest factors of 16–320 ms blocks fall; at 100 ms the
    onsets pass before the gain comes down, so they fall far less or rise."""
    signal = sources.generate(kind, seed=5, seconds=4.0)
    dynamics = effects.get("dynamics")

    def crest_change(attack_ms):
        real = {"threshold_db": -40.0, "ratio": 20.0, "attack_ms": attack_ms, "release_ms": 100.0, "makeup_db": 0.0}
        settings = [param.to_normalized(real[param.name]) for param in dynamics.params]
        longer = slice(2 * len(correction.CREST_QUANTILES), CRESTS)  # the 16, 64 and 320 ms blocks
        return correction.pair_statistics(signal, dynamics.render(signal, SAMPLE_RATE, settings))[longer]

    fast, slow = crest_change(0.1), crest_change(100.0)
    assert np.all(fast < 0) and np.mean(slow) > np.mean(fast) + 3.0


def test_a_tiny_correction_trains_and_beats_the_estimator_it_corrects(trained):
    out, fit = trained
    assert fit["best_val_l1"] < fit["initial_val_l1"] - 0.005 and fit["best_epoch"] >= 1
    entry = json.loads((out.parent / "manifest.json").read_text())["models"]["correction_dynamics"]
    assert entry["estimator_sha256"] == manifest.file_sha256(out / "estimator_dynamics.safetensors")
    assert entry["config"]["pairs"] == 192


def test_the_correction_loads_back_and_steps_only_the_settings_it_corrects(trained):
    out, _ = trained
    model = correction.load_correction("dynamics", out)
    dynamics = effects.get("dynamics")
    assert [dynamics.param_names[j] for j in model.config.corrected] == list(correction.CORRECTED_SETTINGS["dynamics"])
    settings_estimator, _ = estimator.load_estimator("dynamics", out)
    drums = sources.generate("drums", seed=8, seconds=6.0)
    reference = dynamics.render(sources.generate("drums", seed=9, seconds=6.0), SAMPLE_RATE, [0.3, 0.8, 0.1, 0.5, 0.4])
    estimate = estimator.predict(settings_estimator, drums, reference)
    corrected = correction.correct(model, drums, reference, estimate)
    makeup = dynamics.param_names.index("makeup_db")
    assert corrected[makeup] == pytest.approx(estimate[makeup], abs=1e-6)
    assert np.all((corrected >= 0) & (corrected <= 1)) and not np.allclose(corrected, estimate)
    bundle = inference.Models(encoder=None, controller=None, estimator=settings_estimator, correction=model)
    predicted, predictor = inference.predict_settings(dynamics, drums, reference, bundle)
    np.testing.assert_allclose(predicted, corrected, atol=1e-6)
    assert predictor == "estimator"


def test_the_shipped_dynamics_models_include_a_correction_trained_on_the_shipped_estimator():
    folder = REPO_ROOT / "precomputed" / "models"
    assert inference.load_models("dynamics", str(folder)).correction is not None
    assert inference.load_models("overdrive", str(folder)).correction is None
    entry = json.loads((REPO_ROOT / "precomputed" / "manifest.json").read_text())["models"]["correction_dynamics"]
    assert entry["estimator_sha256"] == manifest.file_sha256(folder / "estimator_dynamics.safetensors")


def test_a_correction_is_only_trained_where_one_is_defined(tmp_path):
    with pytest.raises(ModelError, match="no correction is defined for effect 'overdrive'"):
        correction.train_correction(correction.CorrectionTrainingConfig(effect="overdrive", tiny=True),
                                    out_dir=tmp_path)


def test_a_file_that_is_not_the_effects_correction_is_refused(tmp_path):
    other = models.SettingsEstimator(models.EstimatorConfig(n_params=5, channels=8, dilations=(1,), lag_features=8,
                                                            hidden=(8,)))
    models.save_model(other, tmp_path / "correction_dynamics.safetensors", extra={"effect": "dynamics"})
    with pytest.raises(ModelError, match="not the correction of dynamics"):
        correction.load_correction("dynamics", tmp_path)
    assert correction.load_correction("ringmod", tmp_path) is None


def test_a_correction_trained_on_another_estimator_is_refused(trained, tmp_path):
    """Its steps undo one estimator's errors: after train-estimator, train-correction must run again."""
    import shutil

    out, _ = trained
    for suffix in (".safetensors", ".json"):
        shutil.copy(out / f"correction_dynamics{suffix}", tmp_path)
    settings_estimator, meta = estimator.load_estimator("dynamics", out)
    models.save_model(settings_estimator, tmp_path / "estimator_dynamics.safetensors", extra=meta["extra"])
    with pytest.raises(ModelError, match="trained on another estimator.*train-correction --effect dynamics"):
        correction.load_correction("dynamics", tmp_path)


@pytest.mark.parametrize("corrected", [(), (5,), (1, 1)])
def test_a_correction_config_must_correct_distinct_settings_it_has(corrected):
    with pytest.raises(ModelError, match="CorrectionConfig"):
        models.CorrectionConfig(n_statistics=4, n_params=5, corrected=corrected)


def test_a_correction_refuses_inputs_of_the_wrong_size():
    model = models.SettingsCorrection(models.CorrectionConfig(n_statistics=4, n_params=5, corrected=(2,)))
    with pytest.raises(ModelError, match=r"statistics \(B, 4\)"):
        model(torch.zeros(1, 3), torch.zeros(1, 5))


def test_train_correction_cli_writes_a_correction(trained, capsys):
    out, _ = trained
    assert main(["train-correction", "--effect", "dynamics", "--tiny", "--pairs", "40", "--epochs", "2",
                 "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["effect"] == "dynamics"
    assert json.loads((out / "correction_dynamics.json").read_text())["extra"]["training"]["pairs"] == 40
