"""Scaling of dataset building on Dask (issue 25): points per second for 1 and 2 local workers, and
the projection step's time at 10 000 and 100 000 points.

Run from the repository root (a quiet machine; the shipped models in ``precomputed/``)::

    python -m benchmarks.scale [--effect overdrive] [--points 512] [--workers 1 2]
                               [--projection-points 10000 100000] [--scheduler ADDRESS]

Throughput: ``--points`` settings of ``--effect`` on the guitar clip, rendered, described, embedded
by both encoders and predicted by the controller (:func:`dafx_explorer.precompute.render_chunk`, in
chunks of :data:`CHUNK` points) on a ``LocalCluster`` of N single-threaded worker processes; each
cluster is started and warmed up (one chunk per worker: imports, models) before the timed run, and
``start_seconds`` says what that cost. ``--scheduler`` times a running cluster instead.

Projection: one UMAP fit (:func:`dafx_explorer.projection.project`, unsupervised, seeded, one thread
as in ``precompute``) of N embeddings made from the shipped datasets' β-VAE embeddings (each a random
point between two of one dataset's points). A dataset needs one fit per encoder and k
(10 by default); from :data:`dafx_explorer.precompute.CLUSTER_PROJECTION_POINTS` points they run on
the cluster's workers side by side.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from dafx_explorer import audio, cluster, effects, models, precompute, projection, sources, store

CHUNK = 64
"""Points per chunk here (a quarter of ``precompute.CHUNK_POINTS``, so that 512 points keep two workers busy)."""


def _context(effect_name: str) -> precompute.ChunkContext:
    clean = audio.analysis_window(sources.load_clip("guitar"))
    encoders = {kind: models.load_encoder(kind)[0] for kind in precompute.ENCODERS}
    controller, _ = models.load_controller(effect_name)
    return precompute.ChunkContext(effect_name, None, clean, encoders, controller, False)


def throughput(effect_name: str, points: int, workers: int, scheduler: str | None = None) -> dict:
    """Points per second of ``render_chunk`` on ``workers`` local workers (or ``scheduler``'s)."""
    settings = np.random.default_rng(0).random((points, effects.get(effect_name).n_params)).astype(np.float32)
    jobs = [(a, settings[a:b]) for a, b in cluster.chunk_bounds(points, CHUNK)]
    started = time.perf_counter()
    with cluster.connect(scheduler, workers=workers) as client:
        shared = cluster.share(client, _context(effect_name))
        n_workers = len(client.scheduler_info()["workers"])
        warm_up = [(0, settings[:1])] * n_workers
        list(cluster.run_chunks(precompute.render_chunk, warm_up, client=client, shared=shared, progress=False))
        start_seconds = time.perf_counter() - started
        tick = time.perf_counter()
        done = sum(1 for _ in cluster.run_chunks(precompute.render_chunk, jobs, client=client, shared=shared,
                                                 progress=False))
        seconds = time.perf_counter() - tick
    assert done == len(jobs)
    return {"workers": n_workers, "points": points, "seconds": round(seconds, 2),
            "points_per_second": round(points / seconds, 2), "start_seconds": round(start_seconds, 2)}


def projection_seconds(n: int, seed: int = 0) -> dict:
    """Seconds of one seeded UMAP fit of ``n`` embeddings: points on the segments between two random
    points of one shipped dataset (repeated points, even jittered, would make thousands of separate
    clumps, which UMAP's spectral initialisation lays out one by one: a case no real dataset is)."""
    datasets = [store.load_dataset(name).embeddings_for("vae") for name in store.list_datasets()]
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(datasets), n)
    data = np.empty((n, datasets[0].shape[1]), np.float32)
    for d, z in enumerate(datasets):
        rows = np.flatnonzero(which == d)
        a, b = z[rng.integers(0, len(z), len(rows))], z[rng.integers(0, len(z), len(rows))]
        data[rows] = a + rng.random((len(rows), 1), dtype=np.float32) * (b - a)
    tick = time.perf_counter()
    projection.project(data, seed=seed)
    return {"points": n, "seconds": round(time.perf_counter() - tick, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--effect", default="overdrive")
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--projection-points", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--scheduler", help="also time this running cluster")
    args = parser.parse_args(argv)
    runs = []
    for n in args.workers:
        runs.append(throughput(args.effect, args.points, n))
        print(json.dumps(runs[-1]), file=sys.stderr, flush=True)  # as it comes: the projections take minutes
    report = {"effect": args.effect, "chunk_points": CHUNK, "throughput": runs}
    if len(runs) > 1:
        report["speed_up"] = round(runs[-1]["points_per_second"] / runs[0]["points_per_second"], 2)
    if args.scheduler:
        report["scheduler"] = throughput(args.effect, args.points, 0, args.scheduler)
    projection.project(np.random.default_rng(0).random((50, 8)), seed=0)  # numba compiles once, untimed
    report["projection"] = []
    for n in args.projection_points:
        report["projection"].append(projection_seconds(n))
        print(json.dumps(report["projection"][-1]), file=sys.stderr, flush=True)
    report["projection_fits_per_dataset"] = len(precompute.ENCODERS) * len(precompute.DEFAULT_KS)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":  # the local cluster's worker processes import this module
    main()
