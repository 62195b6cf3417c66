"""Objective evaluation on held-out material (``python -m dafx_explorer evaluate``).

Per effect, ``pairs`` held-out pairs are drawn from the corpus' held-out split: an input segment ``x``,
another segment through new random settings ``p`` as the reference, and ``f(x, p)`` as the true target
(with ``across``, the input comes from another recording, as a user's usually does). Each condition's
settings (the model's prediction, with a measured setting, refined, random as the MUSHRA anchor, all
0.5, and the clean input) are applied to ``x`` and scored by the multi-resolution STFT distance
(:func:`mrstft`) to the target, with settings errors, standard errors and bootstrap intervals of the
ratios to random, since 16 pairs are noisy; ``model_one_true`` says which setting limits the model.
The latent figures (k-NN effect accuracy, linear-probe R² per setting, and the same within one window)
say how well the embedding holds each effect. ``markdown_tables`` prints the tables of docs/results.md.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from dafx_explorer import cluster, corpus, effects, inference, manifest, matching, models, readings, training
from dafx_explorer.errors import DataError
from dafx_explorer.settings import SAMPLE_RATE, get_settings

CONDITIONS = ("model", "measured", "refined", "random", "mid", "identity")
"""Results compared with the true target: the controller's prediction; the prediction with any setting
measured off the reference (what ``match`` returns without refinement); the refined prediction; random
settings (the anchor); all settings 0.5; the clean input."""
MRSTFT_FFT_SIZES = tuple(2**i for i in range(5, 16))
"""FFT sizes 32 … 32768 (hops a half, windows the FFT size)."""
ONE_WINDOW_COUNT = 8
"""Held-out windows of the one-window latent figures, each rendered through every effect."""


@functools.cache
def _mrstft_loss():
    import auraloss

    return auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=list(MRSTFT_FFT_SIZES), hop_sizes=[n // 2 for n in MRSTFT_FFT_SIZES],
        win_lengths=list(MRSTFT_FFT_SIZES), w_sc=0.0, w_log_mag=1.0, w_lin_mag=1.0,
    )


def mrstft(estimate: np.ndarray, target: np.ndarray) -> float:
    """Multi-resolution STFT distance (auraloss; log + linear magnitude, FFT 32…32768) of
    two signals after each is peak-normalized."""
    def prepare(signal: np.ndarray) -> torch.Tensor:
        peak = max(float(np.max(np.abs(signal))), 1e-8)
        return torch.as_tensor(signal / peak, dtype=torch.float32)[None, None, :]

    with torch.no_grad():
        return float(_mrstft_loss()(prepare(estimate), prepare(target)))


def held_out_pairs(effect: effects.Effect, recordings, count: int, rng: np.random.Generator, *,
                   across: bool = False) -> list[dict]:
    """Held-out (input, reference, target, true settings) pairs of one effect: input and reference
    are different segments of one recording, or with ``across`` of two different works
    (:func:`dafx_explorer.corpus.same_work`)."""
    pairs = []
    for _ in range(count):
        recording = recordings[rng.integers(len(recordings))]
        a = training.random_segment(recording, rng)
        b = training.random_segment(recording, rng, avoid=a)
        x, other = training.window_at(recording, a), training.window_at(recording, b)
        p = rng.random(effect.n_params)
        source = recording.name
        if across:
            others = [r for r in recordings if not corpus.same_work(r, recording)]
            input_recording = others[rng.integers(len(others))]
            x = training.window_at(input_recording, training.random_segment(input_recording, rng))
            source = f"{input_recording.name} → {recording.name}"
        pairs.append({"input": x, "reference": effect.render(other, SAMPLE_RATE, p),
                      "target": effect.render(x, SAMPLE_RATE, p), "params": p, "source": source})
    return pairs


def one_true_setting(effect: effects.Effect, x: np.ndarray, target: np.ndarray, predicted: np.ndarray,
                     truth: np.ndarray) -> dict[str, float]:
    """Per parameter, the MRSTFT of ``f(x, predicted)`` to ``target`` with that one setting set true."""
    distances = {}
    for j, name in enumerate(effect.param_names):
        corrected = np.array(predicted, dtype=np.float64)
        corrected[j] = truth[j]
        distances[name] = mrstft(effect.render(x, SAMPLE_RATE, corrected), target)
    return distances


SCORE_CHUNK = 4
"""Held-out pairs per chunk of the evaluation's work (the unit a Dask worker scores, retried and resumed)."""
LOCAL_PAIRS = 8
"""Up to this many pairs are scored in this process unless a cluster is asked for (starting workers costs seconds)."""
ERROR_CONDITIONS = ("model", "measured", "refined", "random", "mid")
"""Conditions with settings, whose mean absolute settings error is reported."""


def score_pair(effect: effects.Effect, pair: dict, random_settings: np.ndarray, refine_seconds: float,
               bundle: inference.Models) -> dict[str, np.ndarray]:
    """One pair's MRSTFT per condition (:data:`CONDITIONS`), settings MAE per condition with settings
    (:data:`ERROR_CONDITIONS`) and, per parameter, the model's MRSTFT with that setting true."""
    result = matching.match(effect, pair["input"], pair["reference"], refine_seconds=refine_seconds, bundle=bundle)
    settings = {"model": result.params, "measured": result.unrefined_params, "refined": result.final_params,
                "random": random_settings, "mid": np.full(effect.n_params, 0.5)}
    distances = {c: mrstft(effect.render(pair["input"], SAMPLE_RATE, p), pair["target"]) for c, p in settings.items()}
    distances["identity"] = mrstft(pair["input"], pair["target"])
    one_true = one_true_setting(effect, pair["input"], pair["target"], result.params, pair["params"])
    return {"mrstft": np.array([distances[c] for c in CONDITIONS]),
            "param_error": np.array([np.mean(np.abs(settings[c] - pair["params"])) for c in ERROR_CONDITIONS]),
            "one_true": np.array([one_true[name] for name in effect.param_names])}


def score_chunk(job: tuple, bundles: dict[str, inference.Models]) -> dict[str, np.ndarray]:
    """Scores (:func:`score_pair`, stacked over pairs) of one chunk ``(effect name, pairs, random
    settings, refine seconds)``, with ``bundles`` the models of each effect (a Dask task)."""
    name, pairs, random_settings, refine_seconds = job
    effect = effects.get(name)
    scores = [score_pair(effect, pair, p, refine_seconds, bundles[name])
              for pair, p in zip(pairs, random_settings, strict=True)]
    return {key: np.stack([score[key] for score in scores]) for key in scores[0]}


def summarize(effect: effects.Effect, pairs: list[dict], scores: dict[str, np.ndarray]) -> dict:
    """Means over pairs of one effect's scores (:func:`score_pair`, stacked): MRSTFT and its standard
    error per condition, ratios to the random anchor, settings MAE, the one-true-setting MRSTFT, per pair."""
    distances = {c: scores["mrstft"][:, j].tolist() for j, c in enumerate(CONDITIONS)}
    return {"mrstft": {c: float(np.mean(v)) for c, v in distances.items()},
            "mrstft_sem": {c: float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None
                           for c, v in distances.items()},
            "ratio_to_random": {c: ratio_to_random(distances[c], distances["random"])
                                for c in ("model", "measured", "refined")},
            "param_mae": {c: float(np.mean(scores["param_error"][:, j])) for j, c in enumerate(ERROR_CONDITIONS)},
            "model_one_true": {name: float(np.mean(scores["one_true"][:, j]))
                               for j, name in enumerate(effect.param_names)},
            "per_pair": [{"source": pair["source"], "mrstft": {c: distances[c][i] for c in CONDITIONS}}
                         for i, pair in enumerate(pairs)]}


def ratio_to_random(distances: list[float], random: list[float], resamples: int = 2000) -> dict:
    """``mean(distances) / mean(random)`` over the same pairs, with a 95 % bootstrap interval
    (pairs resampled together, a fixed generator so that reports repeat)."""
    distances, random = np.asarray(distances), np.asarray(random)
    picks = np.random.default_rng(0).integers(0, len(distances), size=(resamples, len(distances)))
    ratios = distances[picks].mean(1) / np.maximum(random[picks].mean(1), 1e-12)
    return {"ratio": float(distances.mean() / max(random.mean(), 1e-12)),
            "ci95": [float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))]}


def _standardized(z: np.ndarray) -> np.ndarray:
    return (z - z.mean(0)) / (z.std(0) + 1e-8)


def _knn_accuracy(z: np.ndarray, labels, folds: int) -> float:
    """Cross-validated accuracy of a 5-nearest-neighbour classifier on (standardized) embeddings ``z``."""
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    return float(cross_val_score(KNeighborsClassifier(n_neighbors=5), z, np.asarray(labels),
                                 cv=folds).mean())


def _probe_r2(z: np.ndarray, values: np.ndarray, param_names, folds: int) -> dict[str, float]:
    """Per parameter, the cross-validated R² of a ridge probe from ``z`` to the normalized setting."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import cross_val_predict

    r2 = {}
    for j, param in enumerate(param_names):
        predicted = cross_val_predict(RidgeCV(alphas=np.logspace(-2, 3, 12)), z, values[:, j], cv=folds)
        residual = np.sum((values[:, j] - predicted) ** 2)
        r2[param] = float(1.0 - residual / max(np.sum((values[:, j] - values[:, j].mean()) ** 2), 1e-12))
    return r2


def latent_structure(recordings, encoder, rng: np.random.Generator, per_effect: int = 60) -> dict:
    """k-NN effect accuracy and per-parameter linear-probe R² of embeddings of held-out renderings,
    each of another segment (eight effects and clean); under ``one_window``, the same figures with
    the content held fixed (:func:`one_window_structure`)."""
    labels, windows, settings = [], [], {}
    for label, name in enumerate(["clean", *effects.names()]):
        for _ in range(per_effect):
            recording = recordings[rng.integers(len(recordings))]
            x = training.window_at(recording, training.random_segment(recording, rng))
            if name != "clean":
                effect = effects.get(name)
                p = rng.random(effect.n_params)
                x = effect.render(x, SAMPLE_RATE, p)
                settings.setdefault(name, []).append((len(windows), p))
            labels.append(label)
            windows.append(x)
    z = _standardized(training.embed_windows(encoder, np.stack(windows)).numpy())
    folds = min(5, per_effect)
    probe = {name: _probe_r2(z[[i for i, _ in rows]], np.array([p for _, p in rows]),
                             effects.get(name).param_names, folds)
             for name, rows in settings.items()}
    return {"knn_effect_accuracy": _knn_accuracy(z, labels, folds), "probe_r2": probe,
            "one_window": one_window_structure(recordings, encoder, rng, per_effect)}


def one_window_structure(recordings, encoder, rng: np.random.Generator, per_effect: int = 60) -> dict:
    """The latent figures with the content held fixed, as in a Latent Controller dataset: one held-out
    window at a time through each effect at ``per_effect`` random settings (no clean class), k-NN
    effect accuracy and probe R² within that window; means over :data:`ONE_WINDOW_COUNT` windows of
    different recordings, and each window's accuracy under ``knn_per_window``."""
    folds = min(5, per_effect)
    accuracies, probes = [], {}
    for index in rng.choice(len(recordings), min(ONE_WINDOW_COUNT, len(recordings)), replace=False):
        recording = recordings[index]
        x = training.window_at(recording, training.random_segment(recording, rng))
        renders, labels, settings = [], [], {}
        for label, name in enumerate(effects.names()):
            effect = effects.get(name)
            settings[name] = rng.random((per_effect, effect.n_params))
            renders += [effect.render(x, SAMPLE_RATE, p) for p in settings[name]]
            labels += [label] * per_effect
        z = _standardized(training.embed_windows(encoder, np.stack(renders)).numpy())
        accuracies.append([recording.name, _knn_accuracy(z, labels, folds)])
        for position, (name, values) in enumerate(settings.items()):
            rows = z[position * per_effect: (position + 1) * per_effect]
            for param, r2 in _probe_r2(rows, values, effects.get(name).param_names, folds).items():
                probes.setdefault(name, {}).setdefault(param, []).append(r2)
    return {"knn_effect_accuracy": float(np.mean([a for _, a in accuracies])), "knn_per_window": accuracies,
            "probe_r2": {name: {param: float(np.mean(v)) for param, v in params.items()}
                         for name, params in probes.items()}}


def evaluation_recordings(audio_dirs: tuple = (), *, seed: int = 0, use_system_audio: bool = True,
                          generated_per_kind: int = 4) -> list[corpus.Recording]:
    """The held-out recordings: the built-in corpus's evaluation split, or every file of the folders
    in ``audio_dirs`` instead (recordings the models did not train on; at least two)."""
    if not audio_dirs:
        return corpus.build("eval", seed=seed, generated_per_kind=generated_per_kind,
                            use_system_audio=use_system_audio)
    recordings = []
    for path in audio_dirs:
        recordings += [r for r in corpus.folder(path, None) if corpus.is_audible(r)]
    if len(recordings) < 2:
        raise DataError(f"evaluation needs at least two audible recordings; {', '.join(map(str, audio_dirs))} "
                        f"held {len(recordings)} (files ending in {', '.join(corpus.AUDIO_SUFFIXES)})")
    return recordings


def _model_hashes(names, models_dir) -> dict[str, str]:
    folder = Path(models_dir) if models_dir else get_settings().models_dir
    files = [models.ENCODER_FILES["vae"], *(f"controller_{name}.safetensors" for name in names)]
    return {file: manifest.file_sha256(folder / file) for file in files if (folder / file).is_file()}


def evaluate(effects_to_run: list[str] | None = None, *, pairs: int = 16, seed: int = 0,
             refine_seconds: float = 5.0, across: bool = False, use_system_audio: bool = True,
             generated_per_kind: int = 4, models_dir: str | None = None, latent_per_effect: int = 60,
             audio_dirs: tuple = (), scheduler: str | None = None, workers: int | None = None,
             resume: bool = False, progress: bool = True) -> dict:
    """The evaluation report (DESIGN §6 JSON): per-effect MRSTFT and settings MAE, latent structure;
    on the built-in held-out recordings, or on the files of ``audio_dirs``.

    The pairs are scored in chunks of :data:`SCORE_CHUNK` on a Dask cluster (``scheduler``, else a
    local one of ``workers`` processes, or here up to :data:`LOCAL_PAIRS` pairs; :func:`dafx_explorer.cluster.connect`);
    each finished chunk is kept under ``runs/evaluate-*`` until the report is complete, and ``resume``
    scores only the chunks an interrupted run with the same settings did not finish. Without refinement
    the report is the same however many workers score it; a refinement's time budget makes it depend on
    the speed of the machine that runs it.
    """
    names = list(effects_to_run or effects.names())
    for name in names:
        effects.get(name)  # unknown names fail before any work
    recordings = evaluation_recordings(audio_dirs, seed=seed, use_system_audio=use_system_audio,
                                       generated_per_kind=generated_per_kind)
    report: dict = {"effects": {}, "pairs": pairs, "seed": seed, "refine_seconds": refine_seconds,
                    "pairing": "across recordings" if across else "same recording",
                    "sources": corpus.origins(recordings), "per_pair": {}}
    if audio_dirs:
        report["audio_dirs"] = [str(path) for path in audio_dirs]
    bundles = {name: inference.load_models(name, models_dir) for name in names}
    built_in = effects.names()
    held_out, jobs, owners = {}, [], []
    for position, name in enumerate(names):
        effect = effects.get(name)
        # Each effect's pairs depend on the effect, not on which others run: `--effects delay` repeats
        # the delay rows of a full run.
        index = built_in.index(name) if name in built_in else len(built_in) + position
        rng = np.random.default_rng([seed, index])
        held_out[name] = held_out_pairs(effect, recordings, pairs, rng, across=across)
        random_settings = [rng.random(effect.n_params) for _ in held_out[name]]  # the anchor, drawn after the pairs
        for start, stop in cluster.chunk_bounds(pairs, SCORE_CHUNK):
            jobs.append((name, held_out[name][start:stop], random_settings[start:stop], refine_seconds))
            owners.append(name)
    job = {"effects": names, "pairs": pairs, "seed": seed, "refine_seconds": refine_seconds, "across": across,
           "audio_dirs": report.get("audio_dirs", []), "sources": report["sources"],
           "recordings": [r.name for r in recordings], "models": _model_hashes(names, models_dir)}
    chunks = cluster.ChunkStore(get_settings().runs_dir / f"evaluate-{cluster.job_digest(job)}", job).open(resume)
    done = chunks.done()
    missing = sum(len(job[1]) for i, job in enumerate(jobs) if i not in done)
    with cluster.connect(scheduler, workers=workers, tiny=missing <= LOCAL_PAIRS) as client:
        cluster.stream_into(chunks, score_chunk, jobs, client=client, shared=bundles,
                            sizes=[len(j[1]) for j in jobs], desc="evaluate", progress=progress)
    for name in names:
        parts = [chunks.load(i) for i, owner in enumerate(owners) if owner == name]
        row = summarize(effects.get(name), held_out[name], {key: np.concatenate([part[key] for part in parts])
                                                            for key in parts[0]})
        report["per_pair"][name] = row.pop("per_pair")
        report["effects"][name] = row
    if names:
        report["latent"] = latent_structure(recordings, bundles[names[-1]].encoder,
                                            np.random.default_rng([seed, 99]), per_effect=latent_per_effect)
    chunks.remove()
    return report


def format_table(report: dict) -> str:
    """The report as a plain-text table (one row per effect)."""
    lines = [f"{'effect':<10} " + " ".join(f"{c:>9}" for c in CONDITIONS)
             + "   model÷random (95 % CI)   MAE model/random/mid"]
    for name, row in report["effects"].items():
        m, mae, ratio = row["mrstft"], row["param_mae"], row["ratio_to_random"]["model"]
        low, high = ratio["ci95"]
        lines.append(f"{name:<10} " + " ".join(f"{m[c]:9.3f}" for c in CONDITIONS)
                     + f"   {ratio['ratio']:.2f} ({low:.2f}–{high:.2f})"
                     + f"        {mae['model']:.3f}/{mae['random']:.3f}/{mae['mid']:.3f}")
    if "latent" in report:
        latent = report["latent"]
        lines.append(f"k-NN effect accuracy: {latent['knn_effect_accuracy']:.3f}"
                     + (f" (within one window: {latent['one_window']['knn_effect_accuracy']:.3f})"
                        if "one_window" in latent else ""))
    return "\n".join(lines)


def markdown_tables(report: dict) -> str:
    """docs/results.md's held-out results table (MRSTFT mean ± standard error, no ± from a single pair; ratios to
    the random anchor with their 95 % intervals; settings MAE) and, where the report has latent
    figures, its probe-R² table."""
    def ratio(row: dict, condition: str) -> str:
        r = row["ratio_to_random"][condition]
        return f"{r['ratio']:.2f} ({r['ci95'][0]:.2f}–{r['ci95'][1]:.2f})"

    lines = ["| effect | model | refined | random (anchor) | all 0.5 | identity (clean) | model ÷ random (95 % CI) "
             "| with measured setting ÷ random | refined ÷ random (95 % CI) | MAE model | MAE random | MAE mid |",
             "| --- |" + " ---: |" * 11]
    for name, row in report["effects"].items():
        m, sem, mae = row["mrstft"], row["mrstft_sem"], row["param_mae"]
        cells = [f"{m[c]:.3f}" + ("" if sem[c] is None else f" ± {sem[c]:.3f}") for c in ("model", "refined", "random")]
        cells += [f"{m['mid']:.3f}", f"{m['identity']:.3f}", ratio(row, "model"),
                  ratio(row, "measured") if readings.measured_parameter(effects.get(name)) is not None else "(none)",
                  ratio(row, "refined")]
        cells += [f"{mae[c]:.3f}" for c in ("model", "random", "mid")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if "latent" in report:
        one_window = report["latent"].get("one_window", {}).get("probe_r2", {})
        lines += ["", "| effect | R² per parameter | within one window |", "| --- | --- | --- |"]
        for name, probe in report["latent"]["probe_r2"].items():
            lines.append(f"| {name} | " + ", ".join(f"{param} {r2:.2f}" for param, r2 in probe.items())
                         + " | " + ", ".join(f"{param} {r2:.2f}" for param, r2 in one_window.get(name, {}).items())
                         + " |")
    return "\n".join(lines)

