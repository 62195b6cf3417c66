"""The pilot that chose the style-match estimator's architecture; prints JSON.

On the delay and the overdrive, three ways to get settings from (input, reference) are scored on
held-out real recordings (``corpus.real("eval")``: a speaker and music no model trained on; input and
reference are two excerpts of one recording), by the MRSTFT of the input rendered with them to the
true target, beside random settings and the clean input:

- ``controller``: the β-VAE controller (two 128-D embeddings), as shipped;
- ``boosting``: gradient-boosted trees (one per setting) over pooled features of both recordings
  (mean and spread of each log-mel band, the onset autocorrelation in 8 ms steps; input, reference
  and their difference), fitted on ``--pairs`` fresh pairs of the real training recordings;
- ``cnn``: the time-pooled convolutional estimator (``models.SettingsEstimator``) trained by
  ``estimator.train_estimator``, read from ``--estimators DIR``.

    python benchmarks/estimator_pilot.py --estimators DIR [--pairs 3000] [--eval-pairs 16]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dafx_explorer import corpus, effects, estimator, evaluation, inference  # noqa: E402
from dafx_explorer.settings import SAMPLE_RATE  # noqa: E402


def pooled(signals: np.ndarray) -> np.ndarray:
    """Per recording: mean and spread of each log-mel band, and the onset autocorrelation in 8 ms steps."""
    frames, lags = estimator.recording_features(signals)
    frames, lags = frames.numpy(), lags.numpy()
    return np.concatenate([frames.mean(-1), frames.std(-1), lags.reshape(len(lags), -1, 4).mean(-1)], axis=1)


def pair_features(inputs: np.ndarray, references: np.ndarray) -> np.ndarray:
    a, b = pooled(inputs), pooled(references)
    return np.concatenate([a, b, b - a], axis=1)


def fit_boosting(effect, recordings, count: int, rng) -> list:
    from sklearn.ensemble import HistGradientBoostingRegressor

    inputs, references, settings = estimator.draw_pairs(effect, recordings, count, rng)
    x = np.concatenate([pair_features(inputs[i: i + 256], references[i: i + 256]) for i in range(0, count, 256)])
    return [HistGradientBoostingRegressor(max_iter=300, learning_rate=0.08).fit(x, settings[:, j])
            for j in range(effect.n_params)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimators", required=True, help="folder with estimator_{delay,overdrive}.safetensors")
    parser.add_argument("--pairs", type=int, default=3000, help="training pairs of the boosted trees")
    parser.add_argument("--eval-pairs", type=int, default=16)
    args = parser.parse_args()
    held_out, training_set = corpus.real("eval"), corpus.real("train")
    report = {"eval_sources": corpus.origins(held_out), "effects": {}}
    for name in ("delay", "overdrive"):
        effect = effects.get(name)
        began = time.perf_counter()
        trees = fit_boosting(effect, training_set, args.pairs, np.random.default_rng([5, len(name)]))
        boosting_seconds = time.perf_counter() - began
        cnn, meta = estimator.load_estimator(name, args.estimators)
        bundle = inference.load_models(name)
        rng = np.random.default_rng([0, effects.names().index(name)])
        pairs = evaluation.held_out_pairs(effect, held_out, args.eval_pairs, rng)
        scores = {c: [] for c in ("controller", "boosting", "cnn", "random", "identity")}
        errors = {c: [] for c in ("controller", "boosting", "cnn", "random")}
        for pair in pairs:
            x = pair_features(pair["input"][None, :], pair["reference"][None, :])
            settings = {
                "controller": inference.predict(effect, pair["input"], pair["reference"], bundle),
                "boosting": np.clip([tree.predict(x)[0] for tree in trees], 0.0, 1.0),
                "cnn": estimator.predict(cnn, pair["input"], pair["reference"]),
                "random": rng.random(effect.n_params),
            }
            for condition, p in settings.items():
                rendered = effect.render(pair["input"], SAMPLE_RATE, p)
                scores[condition].append(evaluation.mrstft(rendered, pair["target"]))
                errors[condition].append(float(np.mean(np.abs(p - pair["params"]))))
            scores["identity"].append(evaluation.mrstft(pair["input"], pair["target"]))
        random_mean = float(np.mean(scores["random"]))
        report["effects"][name] = {
            "mrstft": {c: float(np.mean(v)) for c, v in scores.items()},
            "ratio_to_random": {c: float(np.mean(v)) / random_mean for c, v in scores.items()},
            "param_mae": {c: float(np.mean(v)) for c, v in errors.items()},
            "boosting_fit_seconds": round(boosting_seconds, 1),
            "cnn_training": {"wall_seconds": meta["extra"].get("wall_seconds"),
                             "steps": meta["extra"]["training"]["steps"],
                             "batch_size": meta["extra"]["training"]["batch_size"]},
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
