"""A second stage after the estimator: its settings corrected from sample-resolution level statistics.

The estimator reads 21 ms frames, too coarse for a compressor's attack (0.1–100 ms) and the level
it lets through at each onset. :func:`level_statistics` reads those at 1–320 ms, and a small network
(:class:`dafx_explorer.models.SettingsCorrection`) trained on the estimator's own errors steps the
:data:`CORRECTED_SETTINGS` from them (:func:`train_correction`, ``train-correction --effect E``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dafx_explorer import audio, effects, estimator, manifest, models
from dafx_explorer.errors import ModelError
from dafx_explorer.settings import get_settings

CORRECTED_SETTINGS = {"dynamics": ("threshold_db", "ratio", "attack_ms", "release_ms")}
"""The settings each effect's correction steps."""
CREST_BLOCKS = (24, 96, 384, 1536, 7680)
"""Block lengths (samples; 1, 4, 16, 64 and 320 ms) of the crest factors (peak ÷ RMS)."""
CREST_QUANTILES = (0.5, 0.9, 0.98)
LOUD_QUANTILE = 0.3
"""Crest factors are read on the blocks louder than this quantile of block RMS."""
PEAK_BLOCK = 24
"""Samples (1 ms) per peak of the onset envelope."""
ONSET_QUANTILE = 0.95
"""Onsets: the rises (over 2 ms) of the peak level above this quantile of all its rises."""
DECAY_MS = (2, 5, 10, 20)
"""Delays after an onset at which its level drop is read (ms, so counted in peaks of ``PEAK_BLOCK``)."""
LEVEL_BLOCK = 240
LEVEL_QUANTILES = (0.1, 0.5, 0.9, 0.99)
"""RMS level in 10 ms blocks and the quantiles of it read."""
FLOOR = 1e-6
"""Amplitude floor (−120 dBFS) of every level."""
BATCH = 32
"""Training pairs drawn and read by the estimator at a time."""
TRAIN_CORRECTION_COMMAND = "python -m dafx_explorer train-correction --effect {effect}"


def _db(x: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(x, FLOOR))


def _blocks(x: np.ndarray, n: int) -> np.ndarray:
    return x[: len(x) // n * n].reshape(-1, n)


def level_statistics(signal: np.ndarray) -> np.ndarray:
    """Statistics (dB) of one recording: crest-factor quantiles of its loud blocks per block length, the
    median level drop 2–20 ms after its onsets, and quantiles of its 10 ms RMS level."""
    x = np.asarray(signal, dtype=np.float64)
    stats = []
    for n in CREST_BLOCKS:
        blocks = _blocks(x, n)
        rms = np.sqrt(np.mean(blocks**2, axis=1))
        crest = _db(np.abs(blocks).max(axis=1)) - _db(rms)
        loud = rms > np.quantile(rms, LOUD_QUANTILE)
        stats += list(np.quantile(crest[loud] if loud.sum() > 4 else crest, CREST_QUANTILES))
    peaks = _db(np.abs(_blocks(x, PEAK_BLOCK)).max(axis=1))
    rises = peaks[2:] - peaks[:-2]
    for lag in DECAY_MS:
        onsets = np.flatnonzero(rises[: -lag - 2] > np.quantile(rises, ONSET_QUANTILE))
        stats.append(float(np.median(peaks[onsets + 2] - peaks[onsets + 2 + lag])) if onsets.size else 0.0)
    stats += list(np.quantile(_db(np.sqrt(np.mean(_blocks(x, LEVEL_BLOCK) ** 2, axis=1))), LEVEL_QUANTILES))
    return np.array(stats)


N_STATISTICS = 2 * (len(CREST_BLOCKS) * len(CREST_QUANTILES) + len(DECAY_MS) + len(LEVEL_QUANTILES))


def pair_statistics(input_audio: np.ndarray, reference_audio: np.ndarray) -> np.ndarray:
    """(N_STATISTICS,): the reference's :func:`level_statistics` less the input's, then the reference's."""
    reference = level_statistics(reference_audio)
    return np.concatenate([reference - level_statistics(input_audio), reference])


def correct(correction: models.SettingsCorrection, input_audio: np.ndarray, reference_audio: np.ndarray,
            estimate: np.ndarray) -> np.ndarray:
    """The estimator's normalized settings for (input, reference) corrected, each recording read on its
    analysis window as the estimator reads it."""
    statistics = pair_statistics(audio.analysis_window(input_audio), audio.analysis_window(reference_audio))
    with torch.no_grad():
        corrected = correction(torch.as_tensor(statistics[None], dtype=torch.float32),
                               torch.as_tensor(np.asarray(estimate)[None], dtype=torch.float32))
    return corrected.numpy()[0].astype(np.float64)


def load_correction(effect_name: str, models_dir: str | Path | None = None) -> models.SettingsCorrection | None:
    """The shipped correction of an effect (``correction_{effect_name}.safetensors``), None where it has none."""
    folder = Path(models_dir) if models_dir is not None else get_settings().models_dir
    path = folder / f"correction_{effect_name}.safetensors"
    if not path.exists():
        return None
    hint = TRAIN_CORRECTION_COMMAND.format(effect=effect_name)
    model, meta = models.load_model(path, rebuild_hint=hint)
    if not isinstance(model, models.SettingsCorrection) or meta["extra"].get("effect") != effect_name:
        raise ModelError(f"cannot load model {path}: it is not the correction of {effect_name}; "
                         f"rebuild it with: {hint}")
    if meta["extra"].get("estimator_sha256") != manifest.file_sha256(folder / f"estimator_{effect_name}.safetensors"):
        raise ModelError(f"{path.name} was trained on another estimator than the one in {folder}; "
                         f"train it again with: {hint}")
    return model


@dataclass(frozen=True)
class CorrectionTrainingConfig:
    """Settings of ``train-correction``: ``pairs`` new pairs (drawn as the estimator's are, ``across_share``
    of them across works), the shipped estimator's settings for each, then ``epochs`` of AdamW on the L1
    error of the corrected settings, keeping the best epoch on the first ``validation_share`` of the
    pairs; ``tiny``: generated clips (tests)."""

    effect: str
    pairs: int = 8000
    across_share: float = estimator.ACROSS_SHARE
    epochs: int = 60
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-3
    validation_share: float = 0.1
    hidden: int = 128
    seed: int = 0
    tiny: bool = False


def _training_set(effect: effects.Effect, settings_estimator: models.SettingsEstimator, recordings: list,
                  config: CorrectionTrainingConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(statistics, estimates, true settings) of ``config.pairs`` new pairs, drawn as the estimator's are."""
    statistics, estimates, truths = [], [], []
    cepstrum = estimator.reads_cepstrum(settings_estimator)
    for batch in range(-(-config.pairs // BATCH)):
        inputs, references, settings = estimator.draw_pairs(effect, recordings, BATCH,
                                                            np.random.default_rng([config.seed, 7, batch]),
                                                            across_share=config.across_share)
        with torch.no_grad():
            estimates.append(settings_estimator(*estimator.recording_features(inputs, cepstrum),
                                                *estimator.recording_features(references, cepstrum)).numpy())
        statistics += [pair_statistics(x, y) for x, y in zip(inputs, references, strict=True)]
        truths.append(settings)
    return (np.array(statistics)[: config.pairs], np.concatenate(estimates)[: config.pairs],
            np.concatenate(truths)[: config.pairs])


def train_correction(config: CorrectionTrainingConfig, *, out_dir: str | Path | None = None) -> dict:
    """Train one effect's correction on its shipped estimator in ``out_dir``; write
    ``correction_{effect}.safetensors`` and its manifest entry."""
    if config.effect not in CORRECTED_SETTINGS:
        raise ModelError(f"no correction is defined for effect {config.effect!r}; "
                         f"choose from: {', '.join(CORRECTED_SETTINGS)}")
    effect = effects.get(config.effect)
    out_dir = Path(out_dir) if out_dir else get_settings().models_dir
    settings_estimator, _ = estimator.load_estimator(effect.name, out_dir)
    trained_on = {"estimator_sha256": manifest.file_sha256(out_dir / f"estimator_{effect.name}.safetensors")}
    recordings = estimator.training_recordings(config.seed, config.tiny)
    torch.manual_seed(config.seed)
    began = time.perf_counter()
    statistics, estimates, truths = _training_set(effect, settings_estimator, recordings, config)
    corrected = tuple(effect.param_names.index(name) for name in CORRECTED_SETTINGS[effect.name])
    correction = models.SettingsCorrection(models.CorrectionConfig(
        n_statistics=N_STATISTICS, n_params=effect.n_params, corrected=corrected, hidden=config.hidden))
    inputs = np.concatenate([statistics, estimates], axis=1)
    correction.input_mean.copy_(torch.as_tensor(inputs.mean(axis=0)))
    correction.input_std.copy_(torch.as_tensor(inputs.std(axis=0) + 1e-6))
    s, e, t = (torch.as_tensor(a, dtype=torch.float32) for a in (statistics, estimates, truths[:, list(corrected)]))
    held = max(1, int(round(config.validation_share * len(s))))

    def l1(rows) -> torch.Tensor:
        return torch.mean(torch.abs(correction(s[rows], e[rows])[:, list(corrected)] - t[rows]))

    optimizer = torch.optim.AdamW(correction.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    validation = torch.arange(held)
    with torch.no_grad():
        initial = float(l1(validation))
    best = {"val_l1": initial, "epoch": 0, "state": {k: v.clone() for k, v in correction.state_dict().items()}}
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(len(s) - held) + held
        for i in range(0, len(order), config.batch_size):
            loss = l1(order[i: i + config.batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            val = float(l1(validation))
        if val < best["val_l1"]:
            best = {"val_l1": val, "epoch": epoch, "state": {k: v.clone() for k, v in correction.state_dict().items()}}
    correction.load_state_dict(best["state"])
    correction.eval()
    seconds = time.perf_counter() - began
    fit = {"initial_val_l1": initial, "best_val_l1": best["val_l1"], "best_epoch": best["epoch"]}
    return estimator.save_trained(correction, out_dir / f"correction_{effect.name}.safetensors", config=config,
                                  recordings=recordings, fit=fit, seconds=seconds,
                                  extra={"corrected": list(CORRECTED_SETTINGS[effect.name]), **trained_on},
                                  provenance=trained_on)
