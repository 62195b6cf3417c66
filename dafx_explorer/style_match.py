"""What the Style Match page shows, without Streamlit: the settings table and demo references.

Presets and snippets for export come from :mod:`dafx_explorer.presets`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dafx_explorer.effects import Effect
from dafx_explorer.settings import SAMPLE_RATE

UPLOAD_TYPES = ("wav", "flac", "ogg", "mp3", "aiff", "aif")
"""File suffixes the Style Match uploader offers (all decoded by :func:`dafx_explorer.audio.load_bytes`)."""


def settings_table(effect: Effect, predicted, refined=None, target=None) -> pd.DataFrame:
    """One row per parameter of ``effect``: its name, unit and values in real units.

    Parameters
    ----------
    effect : Effect
    predicted : array-like or dict
        Normalized settings the controller predicted (see ``Effect.normalize_settings``).
    refined : array-like or dict, optional
        Normalized settings after refinement; adds a ``refined`` column.
    target : array-like or dict, optional
        Normalized settings the reference was made with, when known; adds a ``reference`` column.

    Returns
    -------
    pd.DataFrame
        Columns ``parameter``, ``unit``, ``predicted`` and, when given, ``refined`` and ``reference``.
    """
    columns = {"predicted": predicted, "refined": refined, "reference": target}
    table = pd.DataFrame({"parameter": list(effect.param_names), "unit": [p.unit for p in effect.params]})
    for column, settings in columns.items():
        if settings is not None:
            table[column] = list(effect.real(settings).values())
    return table


def processed_reference(effect: Effect, clean: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A demo reference: ``clean`` (24 kHz mono) through ``effect`` at seeded random settings.

    Returns
    -------
    (audio, settings)
        The rendered reference (same length as ``clean``) and its normalized settings,
        drawn uniformly from [0, 1]^n with ``numpy.random.default_rng(seed)``.
    """
    settings = np.random.default_rng(seed).uniform(size=effect.n_params)
    return effect.render(clean, SAMPLE_RATE, settings), settings

