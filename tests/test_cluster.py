"""Dask runs of precompute: a real two-worker scheduler on loopback, one worker, this process; retries,
per-chunk files and --resume, partitioned points, a clear error for an unreachable scheduler."""

import json
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import LocalCluster
from tiny_data import build_home

from dafx_explorer import cli, cluster, evaluation, features, precompute, store
from dafx_explorer.errors import DataError

N = 40
CHUNK = 16
KS = (0, 5)


@pytest.fixture(scope="module")
def home(tiny_home, tmp_path_factory):
    """This module's data folder. The session's ``tiny_home`` (for the evaluate tests) is made first, so that
    the variable goes back to it afterwards, not to unset: training would then write to ``precomputed/``."""
    root = build_home(tmp_path_factory.mktemp("cluster_home"), ("overdrive",))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAFX_EXPLORER_HOME", str(root))
        patch.delenv(cluster.SCHEDULER_ENV, raising=False)
        yield root


@pytest.fixture(scope="module")
def scheduler():
    """A real scheduler with two worker processes on loopback; yields its address."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as local:
        yield local.scheduler_address


def _build(home, name, **options):
    return precompute.precompute("overdrive", points=N, n_supervised=KS, store_audio=True, progress=False,
                                 chunk_points=CHUNK, out=home / "datasets" / name, **options)


def _same_dataset(a: Path, b: Path) -> None:
    pd.testing.assert_frame_equal(pd.read_parquet(a / store.POINTS), pd.read_parquet(b / store.POINTS))
    for encoder in ("vae", "vq"):
        np.testing.assert_array_equal(np.load(a / store.embeddings_file(encoder)),
                                      np.load(b / store.embeddings_file(encoder)))
    for i in range(N):
        assert (a / store.audio_file(i)).read_bytes() == (b / store.audio_file(i)).read_bytes()


def test_two_workers_through_an_address_match_one_worker_and_this_process(home, scheduler):
    two = _build(home, "two", scheduler=scheduler)
    one = _build(home, "one", workers=1)
    here = _build(home, "here", workers=0)
    _same_dataset(two, one)
    _same_dataset(two, here)
    assert not precompute.chunk_folder(two).exists()  # the chunks are assembled and gone
    loaded = store.load_dataset("two")
    assert len(loaded) == N and loaded.projection(5, "vq").shape == (N, 2)


def _flaky(job, marker_dir):
    """Fails the first time it sees each job (a marker file remembers), then doubles it."""
    marker = Path(marker_dir) / f"{job}.tried"
    if not marker.exists():
        marker.touch()
        raise RuntimeError(f"first try of job {job}")
    return job * 2


@pytest.mark.parametrize("remote", [False, True], ids=["here", "scheduler"])
def test_a_failed_chunk_is_retried(tmp_path, scheduler, remote):
    with cluster.connect(scheduler if remote else None, workers=None if remote else 0) as client:
        results = dict(cluster.run_chunks(_flaky, list(range(5)), client=client, shared=str(tmp_path),
                                          progress=False, retries=1))
    assert results == {i: 2 * i for i in range(5)}
    with pytest.raises(RuntimeError, match="first try of job 7"):
        list(cluster.run_chunks(_flaky, [7], shared=str(tmp_path), progress=False, retries=0))


def test_resume_keeps_the_finished_chunks_and_computes_the_rest(home, monkeypatch):
    real = features.descriptor_changes
    calls = []

    def failing_from_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) >= 3:
            raise RuntimeError("worker lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(features, "descriptor_changes", failing_from_the_third)
    with pytest.raises(RuntimeError, match="worker lost"):
        _build(home, "resumed", workers=0)
    folder = home / "datasets" / "resumed"
    chunks = precompute.chunk_folder(folder)
    assert not folder.exists()
    finished = {path.name: path.stat().st_mtime_ns for path in chunks.glob("chunk-*.npz")}
    assert sorted(finished) == ["chunk-000000.npz", "chunk-000001.npz"]
    assert not list(chunks.glob(".chunk-*"))  # no half-written chunk

    calls.clear()
    monkeypatch.setattr(features, "descriptor_changes", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    with pytest.raises(DataError, match="other settings.*points"):
        precompute.precompute("overdrive", points=N + 1, n_supervised=KS, store_audio=True, progress=False,
                              chunk_points=CHUNK, out=folder, workers=0, resume=True)
    assert {path.name: path.stat().st_mtime_ns for path in chunks.glob("chunk-*.npz")} == finished
    _build(home, "resumed", workers=0, resume=True)
    assert len(calls) == 1  # only the third chunk (16 points, one batch) was computed
    _same_dataset(folder, _build(home, "fresh", workers=0))


def test_large_tables_are_written_in_partitions_and_load_like_one_file(home, monkeypatch):
    _build(home, "whole", workers=0)
    monkeypatch.setattr(store, "PARTITION_ROWS", 16)
    parted = _build(home, "parted", workers=0)
    assert sorted(p.name for p in (parted / store.POINTS).iterdir()) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    a, b = store.load_dataset("whole"), store.load_dataset("parted")
    pd.testing.assert_frame_equal(a.points, b.points)
    np.testing.assert_array_equal(a.projection(5), b.projection(5))
    info = json.loads((home / "manifest.json").read_text())["datasets"]
    assert "points.parquet/" in info["parted"]["files"] and "points.parquet" in info["whole"]["files"]


def test_an_unreachable_scheduler_is_a_one_line_error(home, monkeypatch, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    status = cli.main(["precompute", "--effect", "overdrive", "--points", "600", "--n-supervised", "0",
                       "--scheduler", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"error: cannot reach the Dask scheduler at 'tcp://127.0.0.1:{port}'")
    monkeypatch.setenv(cluster.SCHEDULER_ENV, "not an address")
    assert cli.main(["precompute", "--effect", "overdrive", "--points", "600", "--n-supervised", "0"]) == 2
    assert "cannot reach the Dask scheduler at 'not an address'" in capsys.readouterr().err


def _evaluate(tiny_home, **options):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluation, "ONE_WINDOW_COUNT", 2)  # the latent figures run here either way: keep them short
        return evaluation.evaluate(["overdrive"], pairs=5, refine_seconds=0.0, use_system_audio=False,
                                   generated_per_kind=1, models_dir=str(tiny_home / "models"), latent_per_effect=5,
                                   progress=False, **options)


@pytest.fixture(scope="module")
def evaluated_here(tiny_home):
    return _evaluate(tiny_home, workers=0)


def _numbers(report, path=()):
    """Every number of a report by its path of keys (strings and other leaves as they are)."""
    if isinstance(report, dict):
        return {k: v for key, value in report.items() for k, v in _numbers(value, (*path, key)).items()}
    if isinstance(report, list):
        return {k: v for i, value in enumerate(report) for k, v in _numbers(value, (*path, i)).items()}
    return {path: report}


def test_evaluate_through_the_scheduler_reports_what_this_process_does(tiny_home, scheduler, evaluated_here):
    there, here = _numbers(_evaluate(tiny_home, scheduler=scheduler)), _numbers(evaluated_here)
    assert there.keys() == here.keys()
    for key, value in here.items():  # float32 STFT sums differ in the last bits between 2 threads here and 1 there
        assert there[key] == (pytest.approx(value, rel=1e-6) if isinstance(value, float) else value), key


def test_evaluate_resumes_with_the_chunks_it_finished(tiny_home, evaluated_here, monkeypatch):
    real = evaluation.mrstft
    calls = []
    per_pair = len(evaluation.CONDITIONS) + 3  # each condition, then each of overdrive's settings made true

    def failing_after_one_chunk(*args):
        calls.append(1)
        if len(calls) > evaluation.SCORE_CHUNK * per_pair:
            raise RuntimeError("worker lost")
        return real(*args)

    monkeypatch.setattr(evaluation, "mrstft", failing_after_one_chunk)
    with pytest.raises(RuntimeError, match="worker lost"):
        _evaluate(tiny_home, workers=0)
    calls.clear()
    monkeypatch.setattr(evaluation, "mrstft", lambda *args: (calls.append(1), real(*args))[1])
    assert _evaluate(tiny_home, workers=0, resume=True) == evaluated_here
    assert len(calls) == per_pair  # only the last chunk's one pair was scored again
