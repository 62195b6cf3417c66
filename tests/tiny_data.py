"""A data folder with the guitar clip and tiny, freshly initialised models, for precompute and store tests."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
import torch

from dafx_explorer import effects, models, sources
from dafx_explorer.settings import SAMPLE_RATE


def build_home(home: Path, effect_names=("overdrive",)) -> Path:
    """Write ``sources/guitar.flac``, tiny β-VAE and VQ-VAE encoders and a controller per effect.

    The controllers' output layers get large random weights so that their predictions vary
    from point to point (an untrained controller predicts 0.5 everywhere).
    """
    torch.manual_seed(0)
    (home / "sources").mkdir(parents=True, exist_ok=True)
    sf.write(home / "sources" / "guitar.flac", sources.generate("guitar", seconds=6.0), SAMPLE_RATE,
             subtype="PCM_24")
    folder = home / "models"
    models.save_model(models.BetaVAE(models.VAEConfig(channels=(4,) * 6)), folder / "encoder_vae.safetensors")
    models.save_model(models.VQVAE(models.VQVAEConfig(channels=(4,) * 4, n_codes=16)),
                      folder / "encoder_vq.safetensors")
    for name in effect_names:
        controller = models.Controller(models.ControllerConfig(n_params=effects.get(name).n_params, hidden=(16,)))
        torch.nn.init.normal_(controller.output.weight, std=0.5)
        models.save_model(controller, folder / f"controller_{name}.safetensors", extra={"effect": name})
    return home
