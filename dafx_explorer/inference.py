"""Model inference in one place: load an effect's models once, embed audio, predict settings.

The settings estimator predicts where an effect has one, the β-VAE controller elsewhere; the latent
map, precompute and style matching all read the controller through :func:`controller_settings`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dafx_explorer import audio, correction, estimator, features, models
from dafx_explorer.effects import Effect
from dafx_explorer.errors import ModelError
from dafx_explorer.settings import get_settings


@dataclass(frozen=True)
class Models:
    """The β-VAE encoder, one effect's controller, its settings estimator and the estimator's correction
    (:mod:`dafx_explorer.correction`; each None where it has none)."""

    encoder: torch.nn.Module
    controller: models.Controller
    estimator: models.SettingsEstimator | None = None
    correction: models.SettingsCorrection | None = None


@functools.cache
def load_models(effect_name: str, models_dir: str | None = None) -> Models:
    """Load (once per process) the encoder, the controller and, where their files exist, the estimator
    and its correction of a built-in effect."""
    encoder, _ = models.load_encoder("vae", models_dir=models_dir)
    controller, _ = models.load_controller(effect_name, models_dir=models_dir)
    folder = Path(models_dir) if models_dir is not None else get_settings().models_dir
    if not (folder / f"estimator_{effect_name}.safetensors").exists():
        return Models(encoder, controller)
    return Models(encoder, controller, estimator.load_estimator(effect_name, folder)[0],
                  correction.load_correction(effect_name, folder))


def embed(encoder: torch.nn.Module, signals: np.ndarray) -> torch.Tensor:
    """Embeddings (B, D) of signals (B, T) or (T,), each analysed on its first window."""
    return encoder.embed(features.mel_features(signals))


def predict_settings(effect: Effect, input_audio: np.ndarray, reference_audio: np.ndarray,
                     bundle: Models) -> tuple[np.ndarray, str]:
    """Normalized settings for (input, reference) and what predicted them: the estimator (with its
    correction where it has one), else the controller."""
    if bundle.estimator is not None:
        if bundle.estimator.config.n_params != effect.n_params:
            raise ModelError(f"the estimator predicts {bundle.estimator.config.n_params} parameters but effect "
                             f"{effect.name!r} has {effect.n_params}; retrain it with train-estimator")
        settings = estimator.predict(bundle.estimator, input_audio, reference_audio)
        if bundle.correction is not None:
            settings = correction.correct(bundle.correction, input_audio, reference_audio, settings)
        return settings, "estimator"
    return predict(effect, input_audio, reference_audio, bundle), "controller"


def predict(effect: Effect, input_audio: np.ndarray, reference_audio: np.ndarray, bundle: Models) -> np.ndarray:
    """Normalized settings the β-VAE controller predicts for (input, reference)."""
    if bundle.controller.config.n_params != effect.n_params:
        raise ModelError(f"the controller predicts {bundle.controller.config.n_params} parameters but effect "
                         f"{effect.name!r} has {effect.n_params}; retrain it with train-controller")
    z = embed(bundle.encoder, np.stack([audio.analysis_window(input_audio), audio.analysis_window(reference_audio)]))
    return controller_settings(bundle.controller, z[:1], z[1:])[0]


def controller_settings(controller: models.Controller, z_input, z_reference) -> np.ndarray:
    """Normalized settings (B, n_params) the controller gives for input and reference embeddings (B, D)."""
    with torch.no_grad():
        return controller(torch.as_tensor(z_input), torch.as_tensor(z_reference)).numpy().astype(np.float64)
