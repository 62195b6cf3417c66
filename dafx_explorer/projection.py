"""2-D projections of embeddings with UMAP, unsupervised or semi-supervised (DESIGN §3).

UMAP (and numba behind it) is imported inside :func:`project` only, so that serving the app
never loads it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

from .errors import DataError

N_CLASSES = 4
"""Semi-supervised classes: 0 brightest, 1 darkest, 2 deepest, 3 thinnest; -1 unlabelled."""

MIN_POINTS = 5
"""Fewest points a projection accepts."""


def _descriptor(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise DataError(f"{name} must be a 1-D array of one value per point, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{name} has {int(np.sum(~np.isfinite(array)))} non-finite values; expected finite")
    return array


def semi_supervised_labels(brightness, depth, k: int) -> np.ndarray:
    """Class labels of the k most extreme points for brightness and depth change.

    Parameters
    ----------
    brightness : array-like, shape (N,)
        Brightness change of each point (octaves).
    depth : array-like, shape (N,)
        Depth (low-end weight) change of each point (dB).
    k : int >= 0
        Points labelled at each extreme.

    Returns
    -------
    labels : np.ndarray of int64, shape (N,)
        0 for the k largest brightness changes, 1 for the k smallest, 2 for the k largest
        depth changes, 3 for the k smallest; -1 for every other point. A point chosen twice
        keeps its first label (in the order 0, 1, 2, 3). Ties go to the lower index.
    """
    brightness = _descriptor(brightness, "brightness")
    depth = _descriptor(depth, "depth")
    if brightness.shape != depth.shape:
        raise DataError(f"brightness has {brightness.size} points but depth has {depth.size}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise DataError(f"number of supervised points k must be a non-negative integer, got {k!r}")
    labels = np.full(brightness.size, -1, dtype=np.int64)
    extremes = (
        np.argsort(-brightness, kind="stable"),
        np.argsort(brightness, kind="stable"),
        np.argsort(-depth, kind="stable"),
        np.argsort(depth, kind="stable"),
    )
    for label, order in enumerate(extremes):
        chosen = order[:k]
        chosen = chosen[labels[chosen] == -1]
        labels[chosen] = label
    return labels


def project(
    embeddings,
    labels=None,
    *,
    seed: int = 0,
    n_neighbors: int = 15,
    n_epochs: int = 300,
) -> np.ndarray:
    """Fit UMAP to embeddings and return their 2-D coordinates.

    Parameters
    ----------
    embeddings : array-like, shape (N, D)
        One embedding per point, N >= ``MIN_POINTS``.
    labels : array-like of int, shape (N,), optional
        Semi-supervised class per point, -1 for unlabelled (see :func:`semi_supervised_labels`).
        ``None`` or all -1 fits unsupervised.
    seed : int
        UMAP ``random_state``: the same inputs and seed give the same coordinates
        (this runs UMAP single-threaded).
    n_neighbors : int
        UMAP neighbourhood size (capped at N - 1).
    n_epochs : int
        Layout optimisation epochs (UMAP's default for small data is 500; 300 looks the same
        at about two thirds of the cost).

    Returns
    -------
    coordinates : np.ndarray of float32, shape (N, 2)
    """
    data = np.asarray(embeddings, dtype=np.float32)
    if data.ndim != 2 or data.shape[0] < MIN_POINTS:
        raise DataError(f"embeddings must have shape (N, D) with N >= {MIN_POINTS}, got {data.shape}")
    if not np.all(np.isfinite(data)):
        raise DataError("embeddings contain non-finite values; expected finite numbers")
    target = None
    if labels is not None:
        target = np.asarray(labels, dtype=np.int64)
        if target.shape != (data.shape[0],):
            raise DataError(f"labels must have shape ({data.shape[0]},), got {target.shape}")
        if np.all(target == -1):
            target = None

    import umap  # lazy: heavy (numba) and never needed when the app serves

    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(n_neighbors, data.shape[0] - 1),
        n_epochs=n_epochs,
        random_state=seed,
        n_jobs=1,
        low_memory=True,
    )
    with warnings.catch_warnings():
        # UMAP warns that random_state forces one thread, and about graph sizes on tiny data.
        warnings.simplefilter("ignore", UserWarning)
        coordinates = reducer.fit_transform(data, y=target)
    return np.asarray(coordinates, dtype=np.float32)


def project_for_ks(
    embeddings,
    brightness,
    depth,
    ks: Iterable[int],
    *,
    seed: int = 0,
    n_epochs: int = 300,
) -> dict[int, np.ndarray]:
    """Project once per k: unsupervised for k = 0, semi-supervised with k labels per extreme otherwise.

    Returns
    -------
    coordinates : dict k -> np.ndarray of float32, shape (N, 2)
    """
    return {
        int(k): project(embeddings, semi_supervised_labels(brightness, depth, int(k)), seed=seed, n_epochs=n_epochs)
        for k in ks
    }
