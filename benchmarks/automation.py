"""Latent paths (issue 24): route-render time, the page's answer time, and discontinuities.

Run from the repository root::

    python -m benchmarks.automation [--home DIR] [--repeats 3] [--no-page]

For every dataset, a route across its map (from the point farthest left, over the highest, to the
farthest right; β-VAE, unsupervised map):

- ``render_seconds``: :func:`automation.automate` + :func:`automation.render` of a 10 s route over a
  10 s clip (the dataset's clean clip, looped), the best and the worst of ``--repeats`` runs, models
  loaded beforehand. Budget: 1 s.
- ``discontinuity``: :func:`automation.discontinuity` (largest |second difference|, full scale 1) of
  the route's render, of the largest of the fixed-setting renders of its steps, and of the same steps
  switched without crossfades, on a steady 220 Hz tone (where the effect's own kinks are small) and
  on the clip.
- ``page_seconds`` (unless ``--no-page``): the Latent Controller page, run headless with AppTest with
  the route set, from choosing a 10 s route length until the page has answered (the route rendered on
  the 5.46 s clip, looped; figures and downloads built); dataset and models already loaded. Budget: 2 s.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from dafx_explorer import automation, inference, latent_map, store
from dafx_explorer.settings import REPO_ROOT, SAMPLE_RATE

RENDER_BUDGET_SECONDS = 1.0
PAGE_BUDGET_SECONDS = 2.0
SECONDS = 10.0
PAGE = str(REPO_ROOT / "app_pages" / "1_Latent_Controller.py")


def across(xy: np.ndarray) -> np.ndarray:
    """A route over a map: its leftmost point, its highest, its rightmost."""
    return xy[[int(np.argmin(xy[:, 0])), int(np.argmax(xy[:, 1])), int(np.argmax(xy[:, 0]))]]


def measure_dataset(home: str, name: str, repeats: int) -> dict:
    """Render times and discontinuities of a 10 s route across one dataset's map."""
    dataset = store.load_dataset(name, home)
    bundle = inference.load_models(dataset.effect.name, str(store.settings_for(home).models_dir))
    controller = latent_map.LatentController(dataset, bundle)
    route = across(dataset.projection(0, "vae"))
    clip = np.resize(dataset.clean, int(SECONDS * SAMPLE_RATE))
    times = []
    for _ in range(repeats + 1):  # the first run warms up
        begun = time.perf_counter()
        result = automation.automate(dataset, controller, route, duration=SECONDS)
        automation.render(result, clip, SAMPLE_RATE)
        times.append(time.perf_counter() - begun)
    t = np.arange(clip.size) / SAMPLE_RATE
    tone = (0.5 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    return {
        "steps": len(result.times), "bends": len(result.bends),
        "render_seconds": {"best": round(min(times[1:]), 3), "worst": round(max(times[1:]), 3)},
        "discontinuity": {signal: {kind: round(value, 5) for kind, value in
                                   automation.discontinuities(result, samples, SAMPLE_RATE).items()}
                          for signal, samples in (("tone", tone), ("clip", clip))},
    }


def page_seconds(home: str, name: str) -> float:
    """Seconds the page takes to answer a new route length with a route set (see the module docstring)."""
    import os

    from streamlit.testing.v1 import AppTest

    os.environ["DAFX_EXPLORER_HOME"] = home
    route = tuple(map(tuple, across(store.load_dataset(name, home).projection(0, "vae")).tolist()))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["latent:dataset"] = name
    at.session_state["latent:route"] = ((name, "vae", 0), route)
    at.run()  # loads the dataset and the models, renders the route at the clip's length
    assert at.number_input(key="latent:route_seconds").value == SECONDS  # so the next run renders anew
    begun = time.perf_counter()
    at.radio(key="latent:route_length").set_value("seconds").run()
    elapsed = time.perf_counter() - begun
    if at.exception:
        raise RuntimeError(f"the page failed: {at.exception[0].value}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="data folder (default: DAFX_EXPLORER_HOME or the shipped precomputed/)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-page", action="store_true", help="skip the page's answer time")
    args = parser.parse_args()
    home = str(store.settings_for(args.home).home)
    names = [name for name in store.list_datasets(home) if store.load_dataset(name, home).info.get("controller", True)]
    results = {name: measure_dataset(home, name, args.repeats) for name in names}
    if not args.no_page:
        for name in names:
            results[name]["page_seconds"] = round(page_seconds(home, name), 3)
    worst_render = max(r["render_seconds"]["worst"] for r in results.values())
    summary = {"home": home, "route_seconds": SECONDS, "clip_seconds": SECONDS,
               "step_seconds": automation.STEP_SECONDS, "torch_threads": torch.get_num_threads(),
               "render_budget_seconds": RENDER_BUDGET_SECONDS, "worst_render_seconds": worst_render,
               "render_within_budget": worst_render <= RENDER_BUDGET_SECONDS,
               "route_kink_at_most_fixed": all(d["route"] <= d["fixed"] * (1 + 1e-6) for r in results.values()
                                               for d in r["discontinuity"].values())}
    if not args.no_page:
        worst_page = max(r["page_seconds"] for r in results.values())
        summary.update(page_budget_seconds=PAGE_BUDGET_SECONDS, worst_page_seconds=worst_page,
                       page_within_budget=worst_page <= PAGE_BUDGET_SECONDS)
    print(json.dumps({**summary, "datasets": results}))


if __name__ == "__main__":
    main()
