"""Tables and Plotly figures shared by the Streamlit pages (no Streamlit calls here)."""

from __future__ import annotations

import functools

import pandas as pd

from dafx_explorer import effects
from dafx_explorer.settings import get_settings


@functools.cache
def warm_up() -> None:
    """Pay the one-time costs (librosa's JIT, torch's first STFT) once per process."""
    from dafx_explorer import features

    features.warm_up()


def effects_tables() -> list[tuple[str, pd.DataFrame]]:
    """One table of parameters (name, range, unit, scale, default) per built-in effect."""
    tables = []
    for name in effects.names():
        rows = [
            {"parameter": p.name, "min": p.minimum, "max": p.maximum, "unit": p.unit, "scale": p.scale,
             "default": p.default}
            for p in effects.get(name).params
        ]
        tables.append((name, pd.DataFrame(rows)))
    return tables


def data_status_table() -> pd.DataFrame:
    """What the data folder holds: each model and dataset file with its status."""
    settings = get_settings()
    rows = []
    for kind in ("vae", "vq"):
        path = settings.models_dir / f"encoder_{kind}.safetensors"
        rows.append({"item": f"encoder ({kind})", "status": "loaded" if path.exists() else "missing"})
    for name in effects.names():
        model = settings.models_dir / f"controller_{name}.safetensors"
        dataset = settings.datasets_dir / name / "points.parquet"
        rows.append({"item": f"controller {name}", "status": "loaded" if model.exists() else "missing"})
        rows.append({"item": f"dataset {name}", "status": "loaded" if dataset.exists() else "missing"})
    return pd.DataFrame(rows)
