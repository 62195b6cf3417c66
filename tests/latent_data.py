"""Small real datasets for the explorer and map-page tests (helper, not a test module).

Built on the session's ``tiny_home`` (tests/conftest.py): a tiny VQ-VAE is trained beside its
β-VAE, then overdrive and delay datasets of :data:`POINTS` points with projections for
:data:`KS` are precomputed, and all of them projected together.
"""

from __future__ import annotations

from pathlib import Path

POINTS = 60
KS = (0, 5)
EFFECTS = ("overdrive", "delay")


def build_latent_home(home: Path) -> Path:
    """Add the VQ-VAE, the datasets and the combined projection to ``home`` (once; idempotent)."""
    from dafx_explorer import effects, precompute, store, training

    if set(EFFECTS) <= set(store.list_datasets(home)) and (home / "datasets" / store.COMBINED).is_dir():
        return home
    if not (home / "models" / "encoder_vq.safetensors").is_file():
        training.train_encoder(training.EncoderTrainingConfig(kind="vq", tiny=True, epochs=1, examples=48,
                                                              batch_size=16))
    for name in EFFECTS:
        precompute.precompute(effects.get(name), points=POINTS, n_supervised=KS, encoders=("vae", "vq"),
                              out=home / "datasets" / name, progress=False)
    precompute.precompute_combined(home=home, progress=False)
    return home
