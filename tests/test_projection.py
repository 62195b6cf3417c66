"""Tests of dafx_explorer.projection: semi-supervised labels and UMAP projections."""

import numpy as np
import pytest

from dafx_explorer.errors import DataError
from dafx_explorer.projection import project, project_for_ks, semi_supervised_labels


def test_labels_pick_the_extremes_in_order():
    brightness = np.array([0.0, 5.0, -3.0, 1.0, 2.0, -1.0, 0.5, 0.2])
    depth = np.array([9.0, 0.0, 0.1, -7.0, 0.3, 0.2, 4.0, -2.0])
    labels = semi_supervised_labels(brightness, depth, 2)
    # brightest: 1, 4 -> 0; darkest: 2, 5 -> 1; deepest: 0, 6 -> 2; thinnest: 3, 7 -> 3
    np.testing.assert_array_equal(labels, [2, 0, 1, 3, 0, 1, 2, 3])
    assert labels.dtype == np.int64


def test_point_chosen_twice_keeps_first_label():
    brightness = np.array([3.0, 2.0, 1.0, 0.0, -1.0])
    depth = np.array([3.0, 0.0, 1.0, 2.0, -1.0])
    labels = semi_supervised_labels(brightness, depth, 1)
    # point 0 is brightest and deepest: keeps 0; the deepest label goes nowhere else
    # point 4 is darkest and thinnest: keeps 1.
    np.testing.assert_array_equal(labels, [0, -1, -1, -1, 1])


def test_zero_k_labels_nothing_and_large_k_labels_everything():
    rng = np.random.default_rng(1)
    b, d = rng.normal(size=20), rng.normal(size=20)
    assert np.all(semi_supervised_labels(b, d, 0) == -1)
    labels = semi_supervised_labels(b, d, 10)
    assert set(np.unique(labels)) == {0, 1}  # 10 brightest + 10 darkest cover all 20
    assert np.sum(labels == 0) == 10


@pytest.mark.parametrize(
    ("brightness", "depth", "k", "match"),
    [
        ([1.0, 2.0], [1.0], 1, "depth has 1"),
        ([1.0, np.nan], [1.0, 2.0], 1, "brightness has 1 non-finite"),
        ([1.0, 2.0], [1.0, 2.0], -1, "non-negative integer"),
        ([1.0, 2.0], [1.0, 2.0], 1.5, "non-negative integer"),
        ([[1.0, 2.0]], [1.0, 2.0], 1, "1-D array"),
    ],
)
def test_labels_reject_bad_input(brightness, depth, k, match):
    with pytest.raises(DataError, match=match):
        semi_supervised_labels(brightness, depth, k)


def _clusters(n_per=40, seed=0):
    """Three well-separated Gaussian clusters in 16-D."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(3, 16))
    points = np.concatenate([c + rng.normal(size=(n_per, 16)) for c in centres]).astype(np.float32)
    return points, np.repeat(np.arange(3), n_per)


def test_project_is_deterministic_and_keeps_clusters_apart():
    points, cluster = _clusters()
    a = project(points, seed=3, n_epochs=100)
    b = project(points, seed=3, n_epochs=100)
    assert a.shape == (120, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    centres = np.stack([a[cluster == c].mean(axis=0) for c in range(3)])
    spread = max(np.linalg.norm(a[cluster == c] - centres[c], axis=1).mean() for c in range(3))
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 2 * spread


def test_labels_change_the_projection_and_all_unlabelled_equals_unsupervised():
    points, _ = _clusters(seed=4)
    unsupervised = project(points, seed=0, n_epochs=100)
    np.testing.assert_array_equal(project(points, np.full(len(points), -1), seed=0, n_epochs=100), unsupervised)
    labels = np.full(len(points), -1)
    labels[:10], labels[-10:] = 0, 1
    assert not np.allclose(project(points, labels, seed=0, n_epochs=100), unsupervised)


def test_project_for_ks_gives_one_map_per_k():
    points, _ = _clusters(n_per=20, seed=5)
    rng = np.random.default_rng(0)
    maps = project_for_ks(points, rng.normal(size=60), rng.normal(size=60), (0, 5), seed=1, n_epochs=50)
    assert sorted(maps) == [0, 5]
    np.testing.assert_array_equal(maps[0], project(points, seed=1, n_epochs=50))
    assert all(m.shape == (60, 2) for m in maps.values())


@pytest.mark.parametrize(
    ("embeddings", "labels", "match"),
    [
        (np.zeros((3, 8)), None, "N >= 5"),
        (np.zeros(8), None, r"shape \(N, D\)"),
        (np.full((10, 4), np.inf), None, "non-finite"),
        (np.zeros((10, 4)), np.zeros(9), r"labels must have shape \(10,\)"),
    ],
)
def test_project_rejects_bad_input(embeddings, labels, match):
    with pytest.raises(DataError, match=match):
        project(embeddings, labels)
