"""Tests of dafx_explorer.store on a real tiny dataset built by precompute."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from tiny_data import build_home

from dafx_explorer import effects, precompute, store
from dafx_explorer.errors import DataError
from dafx_explorer.settings import REPO_ROOT, SAMPLE_RATE, WINDOW

N = 40
REBUILD = "python -m dafx_explorer precompute --effect overdrive"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A data folder holding one dataset, ``overdrive``: 40 points, ks (0, 5), both encoders."""
    root = build_home(tmp_path_factory.mktemp("store_home"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAFX_EXPLORER_HOME", str(root))
        precompute.precompute("overdrive", points=N, n_supervised=(0, 5), progress=False)
    return root


@pytest.fixture
def copy(home, tmp_path):
    """A private copy of the data folder's datasets, to damage."""
    shutil.copytree(home / "datasets", tmp_path / "datasets")
    return tmp_path


def test_list_datasets_finds_complete_datasets_only(home, copy):
    assert store.list_datasets(home) == ["overdrive"]
    assert store.list_datasets(copy / "nowhere") == []
    shutil.copytree(copy / "datasets" / "overdrive", copy / "datasets" / "half")
    (copy / "datasets" / "half" / "embeddings_vq.npy").unlink()
    shutil.copytree(copy / "datasets" / "overdrive", copy / "datasets" / store.COMBINED)
    shutil.copytree(copy / "datasets" / "overdrive", copy / "datasets" / "another")
    (copy / "datasets" / "stray.txt").write_text("not a dataset")
    assert store.list_datasets(copy) == ["another", "overdrive"]


def test_round_trip(home):
    ds = store.load_dataset("overdrive", home)
    folder = home / "datasets" / "overdrive"
    effect = effects.get("overdrive")
    assert ds.name == "overdrive" and ds.effect is effect and len(ds) == N
    assert ds.ks == (0, 5) and ds.encoders == ("vae", "vq")
    assert ds.param_names == effect.param_names
    pd.testing.assert_frame_equal(ds.points, pd.read_parquet(folder / "points.parquet"))
    for encoder in ("vae", "vq"):
        stored = np.load(folder / f"embeddings_{encoder}.npy")
        assert ds.embeddings_for(encoder).dtype == np.float32
        np.testing.assert_array_equal(ds.embeddings_for(encoder), stored.astype(np.float32))
        assert len(ds.clean_embedding(encoder)) == stored.shape[1]
        for k in (0, 5):
            xy = ds.projection(k, encoder)
            assert xy.shape == (N, 2)
            np.testing.assert_array_equal(xy[:, 1], ds.points[f"y_{encoder}_k{k}"])
    np.testing.assert_array_equal(ds.embeddings, ds.embeddings_for("vae"))
    np.testing.assert_array_equal(ds.projection(0), ds.projection(0, "vae"))
    for i in (0, 17, N - 1):
        np.testing.assert_array_equal(ds.true_settings(i), ds.points.loc[i, [f"p_{n}" for n in ds.param_names]])
        np.testing.assert_array_equal(ds.predicted_settings(i),
                                      ds.points.loc[i, [f"pred_{n}" for n in ds.param_names]])
        np.testing.assert_array_equal(ds.settings_matrix()[i], ds.true_settings(i))
        np.testing.assert_array_equal(ds.settings_matrix(predicted=True)[i], ds.predicted_settings(i))
    assert store.settings_columns(("drive", "tone"), predicted=True) == ["pred_drive", "pred_tone"]
    ds.settings_matrix()[0] = -1.0  # a copy: the dataset keeps its settings
    assert ds.true_settings(0).min() >= 0.0
    assert ds.clean.shape == (WINDOW,) and ds.clean.dtype == np.float32


def test_audio_is_the_effect_on_the_clean_clip_and_is_cached(home):
    ds = store.load_dataset("overdrive", home)
    samples, sr = ds.audio(3)
    assert sr == SAMPLE_RATE and samples.dtype == np.float32 and samples.shape == (WINDOW,)
    np.testing.assert_array_equal(samples, ds.effect.render(ds.clean, SAMPLE_RATE, ds.true_settings(3)))
    assert ds.audio(3)[0] is samples and not samples.flags.writeable
    assert ds.render(ds.true_settings(3)) is samples
    by_name = ds.render(dict(zip(ds.param_names, ds.true_settings(3), strict=True)))
    assert by_name is samples
    for i in range(store.AUDIO_CACHE_SIZE):
        ds.render(np.full(len(ds.param_names), i / store.AUDIO_CACHE_SIZE))
    again = ds.audio(3)[0]
    assert again is not samples  # evicted: the cache is bounded
    np.testing.assert_array_equal(again, samples)


@pytest.mark.parametrize("name", ["dataset.json", "points.parquet", "embeddings_vae.npy", "embeddings_vq.npy"])
def test_missing_file_names_the_file_and_the_command(copy, name):
    (copy / "datasets" / "overdrive" / name).unlink()
    with pytest.raises(DataError, match=rf"{name.replace('.', '[.]')} is missing; rebuild it with: {REBUILD}"):
        store.load_dataset("overdrive", copy)


def test_embedding_rows_must_match_the_table(copy):
    path = copy / "datasets" / "overdrive" / "embeddings_vq.npy"
    np.save(path, np.load(path)[:-1])
    with pytest.raises(DataError, match=rf"embeddings_vq.npy has shape \({N - 1}, 128\) but points.parquet has {N}"):
        store.load_dataset("overdrive", copy)


def test_missing_projection_column_is_named(copy):
    path = copy / "datasets" / "overdrive" / "points.parquet"
    pd.read_parquet(path).drop(columns=["y_vq_k5"]).to_parquet(path)
    with pytest.raises(DataError, match=f"points.parquet lacks column.s. y_vq_k5; rebuild it with: {REBUILD}"):
        store.load_dataset("overdrive", copy)


def test_row_count_must_match_dataset_json(copy):
    path = copy / "datasets" / "overdrive" / "points.parquet"
    pd.read_parquet(path).iloc[:-2].to_parquet(path)
    with pytest.raises(DataError, match=f"points.parquet has {N - 2} rows but dataset.json says {N}"):
        store.load_dataset("overdrive", copy)


@pytest.mark.parametrize(("content", "match"), [
    ("{not json", "dataset.json is not valid JSON"),
    ('{"effect": "overdrive"}', "dataset.json lacks params, points"),
])
def test_bad_dataset_json(copy, content, match):
    (copy / "datasets" / "overdrive" / "dataset.json").write_text(content)
    with pytest.raises(DataError, match=match):
        store.load_dataset("overdrive", copy)


def test_unknown_effect_or_wrong_parameters_in_dataset_json(copy):
    path = copy / "datasets" / "overdrive" / "dataset.json"
    info = json.loads(path.read_text())
    path.write_text(json.dumps({**info, "effect": "delay"}))
    with pytest.raises(DataError, match="dataset.json lists parameters .* but effect delay has"):
        store.load_dataset("overdrive", copy)
    path.write_text(json.dumps({**info, "effect": "wah"}))
    with pytest.raises(DataError, match="dataset.json describes no usable effect .*unknown effect 'wah'"):
        store.load_dataset("overdrive", copy)


@pytest.mark.parametrize("clean", ["../../manifest.json", "", 7])
def test_a_clean_clip_named_outside_the_clips_folder_is_refused(copy, clean):
    path = copy / "datasets" / "overdrive" / "dataset.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "clean": clean}))
    with pytest.raises(DataError, match=f"names its clean clip {clean!r}, not a file name in _clips/; rebuild"):
        store.load_dataset("overdrive", copy)


def test_missing_clean_clip_names_it_and_the_command(copy):
    info = json.loads((copy / "datasets" / "overdrive" / "dataset.json").read_text())
    path = store.clean_path(copy / "datasets" / "overdrive", info)
    assert path == copy / "datasets" / store.CLIPS / info["clean"]
    path.unlink()
    with pytest.raises(DataError, match=rf"clean clip .*{info['clean']} is missing; rebuild it with: {REBUILD}"):
        store.load_dataset("overdrive", copy)
    assert store.list_datasets(copy) == []


def test_truncated_clean_clip(copy):
    info = json.loads((copy / "datasets" / "overdrive" / "dataset.json").read_text())
    path = store.clean_path(copy / "datasets" / "overdrive", info)
    import soundfile as sf

    sf.write(path, np.zeros(1000, np.float32), SAMPLE_RATE)
    with pytest.raises(DataError, match=f"{info['clean']} has 1000 samples, expected {WINDOW}"):
        store.load_dataset("overdrive", copy)


def test_bad_requests(home):
    with pytest.raises(DataError, match=r"no dataset 'reverb' .*available: overdrive.*precompute --effect reverb"):
        store.load_dataset("reverb", home)
    with pytest.raises(DataError, match="plain folder name"):
        store.load_dataset("../overdrive", home)
    ds = store.load_dataset("overdrive", home)
    with pytest.raises(DataError, match=f"points 0 to {N - 1}, got {N}"):
        ds.audio(N)
    with pytest.raises(DataError, match="got -1"):
        ds.true_settings(-1)
    with pytest.raises(DataError, match=r"no projection for k=7; available: \[0, 5\]"):
        ds.projection(7)
    with pytest.raises(DataError, match="no 'linear' embeddings"):
        ds.embeddings_for("linear")


def test_load_combined_missing_names_the_command(home):
    with pytest.raises(DataError, match="_combined/points.parquet is missing; rebuild it with: "
                                        "python -m dafx_explorer precompute --combined"):
        store.load_combined("vae", home)


def test_serving_imports_neither_umap_nor_training(home):
    code = (
        "import sys; from dafx_explorer import store; "
        f"d = store.load_dataset('overdrive', {str(home)!r}); d.audio(0); d.projection(5, 'vq'); "
        "bad = [m for m in ('umap', 'numba', 'dafx_explorer.training', 'dafx_explorer.precompute') "
        "if m in sys.modules]; print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_points_tables_are_written_with_zstd(tmp_path):
    import pyarrow.parquet as pq

    table = pd.DataFrame({"id": np.arange(10), "x": np.linspace(0.0, 1.0, 10, dtype=np.float32)})
    store.write_points(table, tmp_path / "points.parquet")
    assert pq.ParquetFile(tmp_path / "points.parquet").metadata.row_group(0).column(1).compression == "ZSTD"
    store.write_points(table, tmp_path / "parts", partition_rows=4)
    assert {pq.ParquetFile(part).metadata.row_group(0).column(1).compression
            for part in (tmp_path / "parts").iterdir()} == {"ZSTD"}
