"""Shared fixtures: a data folder with tiny, really trained models (seconds to build)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

TINY_EFFECTS = ("overdrive", "delay", "ambience")
TINY_ESTIMATOR_EFFECTS = ("overdrive", "delay")
"""Effects of the tiny home with a tiny settings estimator too (the ambience's match uses its controller)."""


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Put pytest's ``__main__`` back after each test: Streamlit's ``AppTest`` leaves the last page it ran
    there, and the worker processes of a Dask local cluster started later (spawned) would run that page."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory) -> Path:
    """A data folder (``DAFX_EXPLORER_HOME``) with the built-in clips, a tiny trained β-VAE, tiny
    trained controllers for :data:`TINY_EFFECTS` and tiny estimators for :data:`TINY_ESTIMATOR_EFFECTS`.
    The variable stays set for the session's tests that ask for this fixture and is restored afterwards."""
    from dafx_explorer import estimator, real_clips, sources, training
    from dafx_explorer.settings import REPO_ROOT

    home = tmp_path_factory.mktemp("tiny_home")
    previous = os.environ.get("DAFX_EXPLORER_HOME")
    os.environ["DAFX_EXPLORER_HOME"] = str(home)
    try:
        sources.write_builtin_clips(home / "sources")
        for name in (*real_clips.CLIPS, real_clips.CATALOGUE):  # the shipped real clips, as they are
            file = name if name == real_clips.CATALOGUE else f"{name}.flac"
            shutil.copy(REPO_ROOT / "precomputed" / "sources" / file, home / "sources" / file)
        training.train_encoder(training.EncoderTrainingConfig(kind="vae", tiny=True, epochs=1, examples=48,
                                                              batch_size=16))
        for effect in TINY_EFFECTS:
            training.train_controller(training.ControllerTrainingConfig(effect=effect, tiny=True, pairs=64,
                                                                        epochs=15))
        for effect in TINY_ESTIMATOR_EFFECTS:
            estimator.train_estimator(estimator.EstimatorTrainingConfig(
                effect=effect, tiny=True, steps=8, batch_size=4, validation_pairs=8, validate_every=4))
        yield home
    finally:
        if previous is None:
            os.environ.pop("DAFX_EXPLORER_HOME", None)
        else:
            os.environ["DAFX_EXPLORER_HOME"] = previous
