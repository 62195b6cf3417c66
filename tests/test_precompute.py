"""End-to-end tests of dafx_explorer.precompute with real effects and tiny real models."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from test_effects import drive_plugin  # noqa: F401  (fixture: a real VST3 plugin compiled with DPF)
from tiny_data import build_home

from dafx_explorer import effects, features, manifest, models, precompute, projection, store
from dafx_explorer.errors import DataError, EffectError, ModelError
from dafx_explorer.settings import SAMPLE_RATE, WINDOW

N = 60
KS = (0, 5)
OTHER_ENTRIES = {"models": {"encoder_vae": {"sha256": "abc"}}, "datasets": {"ringmod": {"points": 7}}}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """``DAFX_EXPLORER_HOME`` for this module: guitar clip, tiny encoders, overdrive and delay controllers."""
    root = build_home(tmp_path_factory.mktemp("precompute_home"), ("overdrive", "delay"))
    (root / "manifest.json").write_text(json.dumps(OTHER_ENTRIES))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAFX_EXPLORER_HOME", str(root))
        yield root


@pytest.fixture(scope="module")
def built(home):
    return precompute.precompute("overdrive", points=N, n_supervised=KS, progress=False)


def test_writes_every_file(home, built):
    assert built == home / "datasets" / "overdrive"
    assert sorted(p.name for p in built.iterdir()) == [
        "dataset.json", "embeddings_vae.npy", "embeddings_vq.npy", "points.parquet"]
    for encoder in ("vae", "vq"):
        z = np.load(built / f"embeddings_{encoder}.npy")
        assert z.dtype == np.float16 and z.shape == (N, 128) and np.all(np.isfinite(z))
    clip = store.clean_path(built, json.loads((built / "dataset.json").read_text()))
    assert clip.parent == home / "datasets" / store.CLIPS
    clean, sr = sf.read(clip, dtype="float32")
    assert clip.name == store.clip_name(clean)
    source, _ = sf.read(home / "sources" / "guitar.flac", dtype="float32")
    assert sr == SAMPLE_RATE and clean.shape == (WINDOW,)
    np.testing.assert_allclose(clean[: len(source)], source[:WINDOW], atol=1e-6)  # zero-padded 6 s clip
    assert not np.any(clean[len(source):])
    info = json.loads((built / "dataset.json").read_text())
    assert info["effect"] == "overdrive" and info["plugin"] is None
    assert [p["name"] for p in info["params"]] == list(effects.get("overdrive").param_names)
    assert {k: info[k] for k in ("source", "points", "seed", "ks", "encoders", "store_audio")} == {
        "source": "guitar", "points": N, "seed": 0, "ks": [0, 5], "encoders": ["vae", "vq"], "store_audio": False}
    assert info["command"] == ("python -m dafx_explorer precompute --effect overdrive --points 60 --source guitar "
                               "--n-supervised 0 5 --seed 0")
    assert info["libraries"]["torch"] == torch.__version__
    for name, digest in info["models"].items():
        assert digest == manifest.file_sha256(home / "models" / name)
    assert sorted(info["models"]) == ["controller_overdrive.safetensors", "encoder_vae.safetensors",
                                      "encoder_vq.safetensors"]


def test_table_holds_settings_predictions_descriptors_and_maps(home, built):
    table = pd.read_parquet(built / "points.parquet")
    effect = effects.get("overdrive")
    p_cols = [f"p_{n}" for n in effect.param_names]
    pred_cols = [f"pred_{n}" for n in effect.param_names]
    xy_cols = [f"{a}_{e}_k{k}" for e in ("vae", "vq") for k in KS for a in "xy"]
    assert sorted(table.columns) == sorted(["id", *p_cols, *pred_cols, "brightness_change", "depth_change", *xy_cols])
    np.testing.assert_array_equal(table["id"], np.arange(N))
    settings = table[p_cols].to_numpy()
    np.testing.assert_array_equal(settings, np.random.default_rng(0).random((N, 3)).astype(np.float32))
    clean, _ = sf.read(store.clean_path(built, json.loads((built / "dataset.json").read_text())), dtype="float32")
    rendered = np.stack([effect.render(clean, SAMPLE_RATE, settings[i]) for i in (0, 31)])
    brightness, depth = features.descriptor_changes(rendered, clean)
    np.testing.assert_allclose(table.loc[[0, 31], "brightness_change"], brightness, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(table.loc[[0, 31], "depth_change"], depth, rtol=1e-5, atol=1e-5)
    # embeddings and predictions are the models' own on these renderings
    vae, _ = models.load_encoder("vae")
    controller, _ = models.load_controller("overdrive")
    mel = features.mel_features(np.concatenate([clean[None], rendered]))
    z = vae.embed(mel).numpy()
    stored = np.load(built / "embeddings_vae.npy").astype(np.float32)
    np.testing.assert_allclose(stored[[0, 31]], z[1:], rtol=2e-3, atol=2e-3)
    predicted = controller(torch.from_numpy(z[:1]).expand(2, -1), torch.from_numpy(z[1:])).detach().numpy()
    np.testing.assert_allclose(table.loc[[0, 31], pred_cols], predicted, atol=5e-3)
    assert table[pred_cols].std().min() > 0.01  # the controller's predictions vary per point
    # the maps are UMAP of the stored embeddings with the semi-supervised labels of the descriptors
    for encoder in ("vae", "vq"):
        embeddings = np.load(built / f"embeddings_{encoder}.npy")
        for k in KS:
            labels = projection.semi_supervised_labels(table["brightness_change"], table["depth_change"], k)
            expected = projection.project(embeddings, labels, seed=0)
            np.testing.assert_allclose(table[[f"x_{encoder}_k{k}", f"y_{encoder}_k{k}"]], expected, atol=1e-4)
    assert not np.allclose(table["x_vae_k0"], table["x_vae_k5"])


def test_same_seed_same_table_other_seed_other_settings(home, built, tmp_path):
    again = precompute.precompute("overdrive", points=N, n_supervised=KS, out=tmp_path / "again", progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(again / "points.parquet"), pd.read_parquet(built / "points.parquet"))
    for name in ("embeddings_vae.npy", "embeddings_vq.npy"):
        assert (again / name).read_bytes() == (built / name).read_bytes()
    info = json.loads((again / "dataset.json").read_text())
    assert info["clean"] == json.loads((built / "dataset.json").read_text())["clean"]
    assert store.clean_path(again, info).read_bytes() == store.clean_path(built, info).read_bytes()
    other = precompute.precompute("overdrive", points=N, n_supervised=(0,), encoders=("vae",), seed=1,
                                  out=tmp_path / "other", progress=False)
    assert not np.allclose(pd.read_parquet(other / "points.parquet")["p_drive_db"],
                           pd.read_parquet(built / "points.parquet")["p_drive_db"])
    assert sorted(p.name for p in other.iterdir()) == ["dataset.json", "embeddings_vae.npy", "points.parquet"]
    assert [p.name for p in (tmp_path / store.CLIPS).iterdir()] == [info["clean"]]  # one source: one clip for both


def test_manifest_entry_is_merged(home, built, tmp_path):
    data = json.loads((home / "manifest.json").read_text())
    assert data["models"] == OTHER_ENTRIES["models"]
    assert data["datasets"]["ringmod"] == OTHER_ENTRIES["datasets"]["ringmod"]
    entry = data["datasets"]["overdrive"]
    assert entry["path"] == "datasets/overdrive" and entry["points"] == N and entry["ks"] == [0, 5]
    assert entry["command"].startswith("python -m dafx_explorer precompute --effect overdrive")
    assert set(entry["files"]) == {p.name for p in built.iterdir()}
    for name, digest in entry["files"].items():
        assert digest == manifest.file_sha256(built / name)
    # a dataset written elsewhere (--out outside the data folder) leaves the manifest alone
    before = (home / "manifest.json").read_text()
    precompute.precompute("overdrive", points=8, n_supervised=(0,), encoders=("vae",), out=tmp_path / "x",
                          progress=False)
    assert (home / "manifest.json").read_text() == before


def test_progress_bars(home, tmp_path, capsys):
    precompute.precompute("delay", points=8, n_supervised=(0, 1), encoders=("vae",), out=tmp_path / "d")
    err = capsys.readouterr().err
    assert "delay: render and embed" in err and "8/8" in err and "delay: UMAP" in err and "2/2" in err


def test_combined_projection(home, built):
    precompute.precompute("delay", points=30, n_supervised=(0,), encoders=("vae",), progress=False)
    folder = precompute.precompute_combined(progress=False)
    assert folder == home / "datasets" / store.COMBINED
    assert store.list_datasets() == ["delay", "overdrive"]
    vae = store.load_combined("vae")
    assert list(vae.columns) == ["dataset", "effect", "id", "x", "y"] and len(vae) == 30 + N
    assert vae["dataset"].value_counts().to_dict() == {"overdrive": N, "delay": 30}
    assert np.all(np.isfinite(vae[["x", "y"]]))
    vq = store.load_combined("vq")  # delay has no VQ embeddings: only overdrive's points
    assert len(vq) == N and set(vq["effect"]) == {"overdrive"}
    assert json.loads((home / "manifest.json").read_text())["datasets"][store.COMBINED]["datasets"] == [
        "delay", "overdrive"]


def test_plugin_dataset_keeps_its_audio(home, drive_plugin, tmp_path):  # noqa: F811
    bundle = shutil.copytree(drive_plugin, tmp_path / drive_plugin.name)
    with pytest.raises(DataError, match="needs --store-audio"):
        precompute.precompute(str(bundle), points=12, progress=False)
    folder = precompute.precompute(str(bundle), points=12, n_supervised=(0,), encoders=("vae",), store_audio=True,
                                   progress=False)
    assert folder == home / "datasets" / "DafxTestDrive"
    assert sorted(p.name for p in (folder / "audio").iterdir()) == [f"{i:05d}.flac" for i in range(12)]
    info = json.loads((folder / "dataset.json").read_text())
    assert info["plugin"]["path"] == str(bundle) and info["controller"] is False
    assert info["command"].endswith("--store-audio")
    plugin = effects.load_vst3(bundle)
    ds = store.load_dataset("DafxTestDrive")
    expected = [plugin.render(ds.clean, SAMPLE_RATE, ds.true_settings(i)) for i in range(3)]
    assert np.all(np.isnan(ds.predicted_settings(0)))
    del plugin
    shutil.rmtree(bundle)  # the app may run where the plugin is absent
    ds = store.load_dataset("DafxTestDrive")
    assert ds.effect.param_names == ("drive", "gain_db")
    assert ds.effect.describe([0.5, 0.5])["drive"]["normalized"] == 0.5
    for i in range(3):
        samples, sr = ds.audio(i)
        assert sr == SAMPLE_RATE
        np.testing.assert_allclose(samples, np.clip(expected[i], -1, 1), atol=1e-6)
    with pytest.raises(EffectError, match="VST3 plugin not found"):
        ds.render([0.2, 0.3])
    (folder / "audio" / "00005.flac").unlink()
    with pytest.raises(DataError, match="00005.flac is missing; rebuild it with: .*--store-audio"):
        ds.audio(5)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"points": 3}, DataError, "points must be an integer >= 5"),
    ({"n_supervised": (0, -5)}, DataError, "n_supervised must be non-negative integers"),
    ({"encoders": ("vq",)}, DataError, "encoders must include 'vae'"),
    ({"encoders": ("vae", "linear")}, DataError, "encoders must include 'vae'"),
    ({"source": "kazoo"}, DataError, "source 'kazoo' is neither a built-in clip"),
])
def test_bad_arguments(home, tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        precompute.precompute("overdrive", out=tmp_path / "bad", progress=False, **kwargs)
    assert not (tmp_path / "bad").exists()


def test_refuses_to_replace_a_folder_that_is_not_a_dataset(home, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="is not a dataset folder"):
        precompute.precompute("overdrive", points=8, out=tmp_path, progress=False)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_unknown_effect_and_missing_controller(home, tmp_path):
    with pytest.raises(EffectError, match="unknown effect 'wah'"):
        precompute.precompute("wah", points=8, progress=False)
    with pytest.raises(ModelError, match="controller_ringmod.safetensors: file not found; rebuild it with: "
                                         "python -m dafx_explorer train-controller --effect ringmod"):
        precompute.precompute("ringmod", points=8, out=tmp_path / "r", progress=False)
