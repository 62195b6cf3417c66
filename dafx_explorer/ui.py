"""Tables and Plotly figures shared by the Streamlit pages (no Streamlit calls here)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from dafx_explorer import audio, effects
from dafx_explorer.settings import SAMPLE_RATE, get_settings


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


def spectrogram_figure(signals: dict[str, np.ndarray]):
    """Mel spectrograms (the encoder's input: 256 bands, compressed, standardized) side by side,
    one panel per named signal, on a shared colour scale."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from dafx_explorer import features

    images = features.mel_features(np.stack([audio.analysis_window(s) for s in signals.values()])).numpy()
    seconds = np.arange(features.N_FRAMES) * features.HOP / SAMPLE_RATE
    figure = make_subplots(rows=1, cols=len(signals), subplot_titles=list(signals), shared_yaxes=True)
    for column, image in enumerate(images, start=1):
        figure.add_trace(go.Heatmap(z=image, x=seconds, coloraxis="coloraxis"), row=1, col=column)
        figure.update_xaxes(title_text="time (s)", row=1, col=column)
    figure.update_yaxes(title_text="mel band", row=1, col=1)
    figure.update_layout(coloraxis={"colorscale": "Magma", "cmin": float(images.min()), "cmax": float(images.max())},
                         height=320, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return figure
