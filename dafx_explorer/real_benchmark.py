"""Style matching scored on held-out real recordings (``python -m dafx_explorer evaluate --real``).

The recordings are :func:`dafx_explorer.corpus.real`'s held-out split: a speaker and music that no
model trained on. Per effect and pairing, ``pairs`` pairs are drawn as ``evaluate`` draws them
(:func:`dafx_explorer.evaluation.held_out_pairs`): within one recording (input and reference are two
excerpts of it) and across recordings (the input from another one). Each condition's settings render
the input and are scored by the same MRSTFT to the true target: ``match`` (what ``match`` returns
without refinement), the ``estimator`` alone, the β-VAE ``controller`` alone, ``random`` settings (the
anchor), the clean input (``identity``) and the ``floor``, the true settings rendered again (0 within
the effect family). Settings errors are mean absolute errors of the normalized settings.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dafx_explorer import corpus, effects, evaluation, inference, matching
from dafx_explorer.settings import SAMPLE_RATE, get_settings

CONDITIONS = ("match", "estimator", "controller", "random", "identity", "floor")
SETTINGS_CONDITIONS = ("match", "estimator", "controller", "random")
PAIRINGS = ("within", "across")
REPORT_FILE = "evaluation_real.json"
"""The shipped report's file name in the data folder (``build-default`` writes it)."""


def score_effect(effect: effects.Effect, pairs: list[dict], rng: np.random.Generator, bundle: inference.Models,
                 refine_seconds: float = 0.0) -> dict:
    """Mean MRSTFT (and standard error) per condition, ratios to the anchor, settings MAE, for one effect;
    without an estimator for the effect, ``match`` is the controller's and there is no ``estimator`` column."""
    extra = ("refined",) if refine_seconds else ()
    skipped = () if bundle.estimator is not None else ("estimator",)
    distances = {c: [] for c in (*CONDITIONS, *extra) if c not in skipped}
    errors = {c: [] for c in (*SETTINGS_CONDITIONS, *extra) if c not in skipped}
    match_seconds = []
    for pair in tqdm(pairs, desc=effect.name, leave=False):
        began = time.perf_counter()
        result = matching.match(effect, pair["input"], pair["reference"], refine_seconds=refine_seconds,
                                bundle=bundle)
        match_seconds.append(time.perf_counter() - began)
        settings = {"match": result.unrefined_params,
                    "controller": inference.predict(effect, pair["input"], pair["reference"], bundle),
                    "random": rng.random(effect.n_params)}
        if bundle.estimator is not None:  # match's prediction, before any setting read off the reference
            settings["estimator"] = result.params
        if refine_seconds:
            settings["refined"] = result.final_params
        for condition, p in settings.items():
            distances[condition].append(evaluation.mrstft(effect.render(pair["input"], SAMPLE_RATE, p), pair["target"]))
            errors[condition].append(float(np.mean(np.abs(p - pair["params"]))))
        distances["identity"].append(evaluation.mrstft(pair["input"], pair["target"]))
        distances["floor"].append(evaluation.mrstft(effect.render(pair["input"], SAMPLE_RATE, pair["params"]),
                                                    pair["target"]))
    return {"mrstft": {c: float(np.mean(v)) for c, v in distances.items()},
            "mrstft_sem": {c: float(np.std(v, ddof=1) / np.sqrt(len(v))) for c, v in distances.items()},
            "ratio_to_random": {c: evaluation.ratio_to_random(v, distances["random"])
                                for c, v in distances.items() if c != "random"},
            "param_mae": {**{c: float(np.mean(v)) for c, v in errors.items()}, "floor": 0.0},
            "match_seconds": float(np.mean(match_seconds)), "predictor": result.predictor}


def evaluate_real(effects_to_run: list[str] | None = None, *, pairs: int = 16, seed: int = 0,
                  models_dir: str | None = None, refine_seconds: float = 0.0) -> dict:
    """The real-recordings report: ``{"sources", "pairs", "within": {effect: row}, "across": {...}}``."""
    names = list(effects_to_run or effects.names())
    bundles = {name: inference.load_models(name, models_dir) for name in names}  # missing models fail first
    recordings = corpus.real("eval", seed=seed)
    report = {"pairs": pairs, "seed": seed, "refine_seconds": refine_seconds, "sources": corpus.origins(recordings)}
    for pairing in PAIRINGS:
        report[pairing] = {}
        for name in names:
            effect = effects.get(name)
            rng = np.random.default_rng([seed, effects.names().index(name), pairing == "across"])
            held_out = evaluation.held_out_pairs(effect, recordings, pairs, rng, across=pairing == "across")
            report[pairing][name] = score_effect(effect, held_out, rng, bundles[name], refine_seconds)
    return report


def refinement_helps(report: dict, effect_name: str) -> bool | None:
    """Whether refinement was no worse than its start (``match``) in both pairings of a report run with a
    refinement budget; None where the report did not refine that effect."""
    rows = [report.get(pairing, {}).get(effect_name) for pairing in PAIRINGS]
    if not report.get("refine_seconds") or any(row is None or "refined" not in row["mrstft"] for row in rows):
        return None
    return all(row["mrstft"]["refined"] <= row["mrstft"]["match"] for row in rows)


def refinement_offered(report: dict | None, effect_name: str) -> bool:
    """Whether Style Match offers refinement for the effect: everywhere but where ``report`` (the shipped
    real-recordings report, None if absent) shows it worse than its start (:func:`refinement_helps`)."""
    return report is None or refinement_helps(report, effect_name) is not False


def load_report(path: str | Path | None = None) -> dict | None:
    """The shipped real-recordings report (``evaluation_real.json`` in the data folder), or None if absent."""
    path = Path(path) if path is not None else get_settings().home / REPORT_FILE
    return json.loads(path.read_text()) if path.exists() else None


def markdown(report: dict) -> str:
    """The report's tables: per pairing, MRSTFT ÷ random per condition (95 % interval for ``match``; the
    refined result where the report refined), the clean input's, and the settings MAE of match,
    controller and random."""
    refined = bool(report.get("refine_seconds"))
    lines = []
    for pairing in PAIRINGS:
        title = "within one recording" if pairing == "within" else "across recordings"
        budget = f"; refined for {report['refine_seconds']:g} s" if refined else ""
        lines += [f"**{title.capitalize()}** ({report['pairs']} pairs per effect; MRSTFT ÷ random{budget}; "
                  "lower is better)", "",
                  "| effect | match predicts with | match (95 % CI) |" + (" refined |" if refined else "") +
                  " estimator | controller | identity (clean) | floor | random MRSTFT | MAE match | MAE controller "
                  "| MAE random |",
                  "| --- | --- |" + " ---: |" * (10 if refined else 9)]
        for name, row in report[pairing].items():
            ratio, mae = row["ratio_to_random"], row["param_mae"]
            low, high = ratio["match"]["ci95"]
            estimator_ratio = f"{ratio['estimator']['ratio']:.2f}" if "estimator" in ratio else "—"
            refined_cell = f" {ratio['refined']['ratio']:.2f} |" if refined else ""
            lines.append(f"| {name} | {row['predictor']} | {ratio['match']['ratio']:.2f} ({low:.2f}–{high:.2f}) |"
                         f"{refined_cell} {estimator_ratio} | {ratio['controller']['ratio']:.2f} | "
                         f"{ratio['identity']['ratio']:.2f} | {ratio['floor']['ratio']:.2f} | "
                         f"{row['mrstft']['random']:.3f} | {mae['match']:.3f} | {mae['controller']:.3f} | "
                         f"{mae['random']:.3f} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def training_table(manifest: dict) -> str:
    """The shipped estimators' and corrections' training, from the manifest: steps, new pairs seen, the
    share of pairs across works (0 for entries from before it was a setting), wall time, the validation
    L1 untrained (all 0.5; for a correction, its estimator's) and at its best step."""
    lines = ["| model | steps × pairs | pairs seen | pairs across works | wall time (min) "
             "| validation L1: untrained → best |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    total = 0.0
    for name in effects.names():
        for kind in ("estimator", "correction"):
            entry = manifest.get("models", {}).get(f"{kind}_{name}")
            if entry is None:
                continue
            config, fit, seconds = entry["config"], entry["fit"], entry["wall_seconds"]
            if kind == "estimator":
                seen = config["steps"] * config["batch_size"]
                label, steps = name, f"{config['steps']} × {config['batch_size']}"
            else:
                label, steps, seen = f"{name} correction", "—", config["pairs"]
            total += seconds
            lines.append(f"| {label} | {steps} | {seen} | {config.get('across_share', 0.0):g} | {seconds / 60:.1f} "
                         f"| {fit['initial_val_l1']:.3f} → {fit['best_val_l1']:.3f} |")
    lines.append(f"| all | | | | {total / 60:.1f} | |")
    return "\n".join(lines) + "\n"
