"""What the Home page shows: the app's page index, the data folder's status and every effect's
parameters, as Markdown tables. It imports neither pandas nor the audio stack, so Home is drawn
before those imports (about a second) are paid; :func:`warm_up` pays them afterwards."""

from __future__ import annotations

import functools
import threading

from dafx_explorer import effects
from dafx_explorer.settings import get_settings

PAGES = (
    ("app_pages/1_Latent_Controller.py", "Latent Controller", ":material/tune:",
     "click the map of an effect's settings and hear the result."),
    ("app_pages/2_Latent_Space.py", "Latent Space", ":material/scatter_plot:",
     "all effects on one map, and how each effect's map follows its knobs."),
    ("app_pages/3_Style_Match.py", "Style Match", ":material/graphic_eq:",
     "bring an input and a reference; get the settings, the audio and a preset."),
    ("app_pages/4_Listening_Test.py", "Listening Test", ":material/headphones:",
     "expert tests and MUSHRA for participants."),
    ("app_pages/5_Results.py", "Results", ":material/bar_chart:",
     "listening-test results and objective evaluation (admin password)."),
)
"""The app's pages after Home: (script relative to the repository root, title, icon, one line on what it
does). A page's URL is its title with underscores, e.g. ``/Style_Match``."""


@functools.cache
def warm_up() -> threading.Thread:
    """Start paying the one-time costs (pandas', torch's and librosa's imports, filter banks, the first
    STFT) once per process, in a background thread so that the page calling it renders without
    waiting; returns the thread."""

    def run() -> None:
        from dafx_explorer import features, ui  # noqa: F401  (ui: pandas, Plotly and the map code)

        features.warm_up()

    thread = threading.Thread(target=run, name="dafx-warm-up", daemon=True)
    thread.start()
    return thread


def markdown_table(rows: list[dict]) -> str:
    """A GitHub-flavoured Markdown table of rows that share their keys (the first row's keys are the header)."""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f"{row[key]:g}" if isinstance(row[key], float) else str(row[key]) for key in header)
              + " |" for row in rows]
    return "\n".join(lines)


def effects_tables() -> list[tuple[str, list[dict]]]:
    """One table of parameters (name, range, unit, scale, default) per built-in effect."""
    return [(name, [{"parameter": p.name, "min": p.minimum, "max": p.maximum, "unit": p.unit, "scale": p.scale,
                     "default": p.default} for p in effects.get(name).params])
            for name in effects.names()]


def data_status_table() -> list[dict]:
    """What the data folder holds: each model and dataset file with its status (loaded or missing)."""
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
    return rows
