"""Shared fixtures: a data folder with tiny, really trained models (seconds to build)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TINY_EFFECTS = ("overdrive", "delay", "ambience")


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory) -> Path:
    """A data folder (``DAFX_EXPLORER_HOME``) with the built-in clips, a tiny trained β-VAE and
    tiny trained controllers for :data:`TINY_EFFECTS`. The variable stays set for the session's
    tests that ask for this fixture and is restored afterwards."""
    from dafx_explorer import sources, training

    home = tmp_path_factory.mktemp("tiny_home")
    previous = os.environ.get("DAFX_EXPLORER_HOME")
    os.environ["DAFX_EXPLORER_HOME"] = str(home)
    try:
        sources.write_builtin_clips(home / "sources")
        training.train_encoder(training.EncoderTrainingConfig(kind="vae", tiny=True, epochs=1, examples=48,
                                                              batch_size=16))
        for effect in TINY_EFFECTS:
            training.train_controller(training.ControllerTrainingConfig(effect=effect, tiny=True, pairs=64,
                                                                        epochs=15))
        yield home
    finally:
        if previous is None:
            os.environ.pop("DAFX_EXPLORER_HOME", None)
        else:
            os.environ["DAFX_EXPLORER_HOME"] = previous
