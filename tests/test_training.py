"""Training: tiny configurations train in seconds, their losses fall, runs resume, files are described."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from dafx_explorer import cluster, corpus, manifest, models, training
from dafx_explorer.errors import DafxError


def _losses(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_tiny_encoder_loss_falls_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    config = training.EncoderTrainingConfig(kind="vae", tiny=True, epochs=3, examples=96, batch_size=8)
    first = training.train_encoder(training.EncoderTrainingConfig(**{**config.__dict__, "epochs": 1}))
    result = training.train_encoder(config, resume=True)
    rows = _losses(tmp_path / "runs" / "encoder_vae_tiny" / "losses.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]  # the second run continued, it did not restart
    assert float(rows[-1]["recon"]) < float(rows[0]["recon"])
    assert result["steps"] == 3 * first["steps"]
    again = training.train_encoder(config, resume=True)  # nothing left to train: saves the same model
    assert again["steps"] == result["steps"] and again["losses"] == pytest.approx(result["losses"])
    model, meta = models.load_model(tmp_path / "models" / "encoder_vae.safetensors")
    assert isinstance(model, models.BetaVAE)
    assert meta["extra"]["sources"] == {"generated": len(corpus.sources.KINDS)}
    entry = json.loads((tmp_path / "manifest.json").read_text())["models"]["encoder_vae"]
    assert entry["sha256"] == manifest.file_sha256(tmp_path / "models" / "encoder_vae.safetensors")
    assert "pytest" in entry["command"]  # the command that made it


def test_tiny_vq_encoder_trains(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    config = training.EncoderTrainingConfig(kind="vq", tiny=True, epochs=2, examples=48, batch_size=8)
    training.train_encoder(config)
    rows = _losses(tmp_path / "runs" / "encoder_vq_tiny" / "losses.csv")
    assert float(rows[1]["recon"]) < float(rows[0]["recon"])
    encoder, _ = models.load_encoder("vq", models_dir=tmp_path / "models")
    assert encoder.embed(torch.zeros(2, 256, 256)).shape == (2, 128)


def test_tiny_controller_learns(tiny_home):
    controller, meta = models.load_controller("overdrive", models_dir=tiny_home / "models")
    fit = meta["extra"]["fit"]
    assert fit["best_val_mse"] < fit["first_train_mse"]
    assert meta["extra"]["param_names"] == list(training.effects.get("overdrive").param_names)
    z = torch.randn(4, 128)
    assert not torch.allclose(controller(z, z), torch.full((4, controller.config.n_params), 0.5), atol=1e-3)


def test_controller_pairs_use_different_segments():
    recording = corpus.Recording("test", "generated", np.random.default_rng(0).standard_normal(300_000))
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = training.random_segment(recording, rng)
        b = training.random_segment(recording, rng, avoid=a)
        assert abs(a - b) >= training.MIN_SEGMENT_GAP
        assert a >= 0 and b + training.WINDOW <= len(recording.samples)


def test_encoder_examples_label_effect_and_settings():
    recordings = corpus.generated("train", 1)
    data = training.render_encoder_examples(recordings, 40, np.random.default_rng(3), clean_fraction=0.2)
    assert data.mel.shape == (40, 256, 256) and len(data) == 40
    assert (data.classes == 0).any() and (data.classes > 0).any()
    for i in range(40):
        name = training.EFFECT_CLASSES[int(data.classes[i])]
        n = 0 if name == "clean" else training.effects.get(name).n_params
        assert int(data.mask[i].sum()) == n  # only the applied effect's settings are supervised
        if n:
            offset = int(training.SETTINGS_OFFSETS[name])
            assert data.mask[i, offset : offset + n].all()
    assert len(training.EFFECT_CLASSES) + training.N_SETTINGS == training.AUX_OUTPUTS


def test_semi_supervised_vae_logs_its_auxiliary_losses(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    training.train_encoder(training.EncoderTrainingConfig(kind="vae", tiny=True, epochs=1, examples=32,
                                                          batch_size=8))
    row = _losses(tmp_path / "runs" / "encoder_vae_tiny" / "losses.csv")[0]
    assert float(row["effect_ce"]) > 0 and float(row["settings_mse"]) > 0
    model, _ = models.load_encoder("vae", models_dir=tmp_path / "models")
    assert model.aux is not None and model.aux.out_features == training.AUX_OUTPUTS


def test_bad_controller_config_fails_before_rendering_pairs(tiny_home):
    config = training.ControllerTrainingConfig(effect="delay", tiny=True, pairs=32, epochs=1, dropout=1.0)
    with pytest.raises(models.ModelError, match="dropout"):
        training.train_controller(config)
    assert not list((tiny_home / "runs" / "controller_delay_tiny").glob("pairs_*_32_*.pt"))


def test_resume_extends_or_cuts_cached_pairs_to_what_one_run_makes(tiny_home, tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    for path in (tiny_home / "models").glob("encoder_vae.*"):
        shutil.copy(path, tmp_path / "models")
    rendered = []
    render = training.controller_pairs

    def counting_render(effect, encoder, recordings, count, rng, **options):
        rendered.append(count)
        return render(effect, encoder, recordings, count, rng, **options)

    monkeypatch.setattr(training, "controller_pairs", counting_render)
    config = training.ControllerTrainingConfig(effect="ringmod", tiny=True, pairs=64, epochs=1)
    training.train_controller(config)
    training.train_controller(training.ControllerTrainingConfig(**{**config.__dict__, "pairs": 160}), resume=True)
    training.train_controller(training.ControllerTrainingConfig(**{**config.__dict__, "pairs": 96}), resume=True)
    assert rendered == [64, 96]  # the extension rendered only the pairs it lacked; the cut rendered none
    extended = torch.load(next((tmp_path / "runs" / "controller_ringmod_tiny").glob("pairs_*_160_0.pt")),
                          weights_only=True)
    encoder, _ = models.load_encoder("vae", models_dir=tmp_path / "models")
    effect = training.effects.get("ringmod")
    one_run = render(effect, encoder, training.training_corpus(config), 160, training.pairs_generator(config))
    assert torch.equal(extended["settings"], one_run[2])
    torch.testing.assert_close(extended["z_in"], one_run[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(extended["z_target"], one_run[1], atol=1e-4, rtol=0)


def test_an_epochs_windows_do_not_depend_on_how_many_processes_render_them():
    recordings = corpus.generated("train", 1)
    config = training.EncoderTrainingConfig(tiny=True, examples=training.RENDER_CHUNK + 20)
    here = training.render_epoch(recordings, config, 5)
    with cluster.connect(workers=2) as client:
        on_workers = training.render_epoch(cluster.share(client, recordings), config, 5, client)
    assert len(here) == config.examples
    for field in ("mel", "classes", "settings", "mask"):
        assert torch.equal(getattr(here, field), getattr(on_workers, field)), field
    other = training.render_epoch(recordings, config, 6)
    assert not torch.equal(here.mel, other.mel)  # each epoch renders new windows


def test_training_device_choice():
    assert training.training_device("cpu").type == "cpu"
    assert training.training_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda'"):
        training.training_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DafxError, match="no CUDA GPU"):
            training.training_device("cuda")
    assert "cores" in manifest.machine(torch.device("cpu")) and "NVIDIA" not in manifest.machine(torch.device("cpu"))


def test_encoder_trains_on_an_exported_corpus_with_render_workers(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path / "home"))
    recordings = corpus.generated("train", 1)[:3]
    corpus.export(recordings, tmp_path / "corpus")
    config = training.EncoderTrainingConfig(kind="vae", tiny=True, epochs=1, examples=24, batch_size=8)
    result = training.train_encoder(config, workers=2, corpus_dir=tmp_path / "corpus", device="cpu")
    assert result["sources"] == {"generated": 3}
    entry = json.loads((tmp_path / "home" / "manifest.json").read_text())["models"]["encoder_vae"]
    assert entry["sources"] == {"generated": 3} and entry["machine"] == manifest.machine()
