"""Latent Controller responsiveness (DESIGN §7: click → audio ready ≤ 100 ms at p95, app start ≤ 5 s,
Home drawn ≤ 2 s after the server answers).

Run from the repository root::

    python -m benchmarks.explorer [--home DIR] [--dataset overdrive] [--clicks 200] [--no-app-start]
                                  [--browser /usr/bin/chromium] [--starts 1]

Server side, over ``--clicks`` random clicks on the map of one dataset, times what the Latent
Controller page does after a click, with the dataset and models already loaded (they load once
per process): the selection event → settings → rendering(s) → WAV bytes for the players.

- point clicks: the controller's predicted settings (the dataset's ``pred_*`` columns) rendered,
  and the point's true rendering (the second player);
- empty-space clicks: inverse-distance interpolation of the β-VAE embedding at a random map
  position → controller → rendering.

Distinct points are clicked (no repeat hits the rendering cache). ``app_start_seconds`` is the
time from launching ``streamlit run app.py --server.headless true`` on a free port until
``/_stcore/health`` answers ``ok`` and the first page's HTML is served (HTTP 200). Streamlit serves
that HTML before it runs any page script, so with ``--browser`` (a headless Chromium, driven by
Playwright and started before the server) the same launch also times ``home_drawn_s`` (the server
answering → Home drawn in the browser: its title and last section shown and Streamlit's script run
over; DESIGN budget 2 s), ``first_page_seconds`` (launch → the same) and ``first_map_seconds``
(then opening the Latent Controller → the first dataset's map drawn, dataset and models loaded).
``--starts N`` launches the app N times and reports each figure's median, with every run under
``app_start_runs``.

Prints one JSON object; exits with status 2 and a JSON ``error`` when the dataset is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import torch

from dafx_explorer import inference, latent_map, store, ui
from dafx_explorer.errors import DafxError
from dafx_explorer.settings import REPO_ROOT

BUDGET_MS = 100.0
HOME_BUDGET_S = 2.0
START_TIMEOUT = 120.0
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]


def _percentiles(milliseconds: list[float]) -> dict[str, float]:
    values = np.asarray(milliseconds)
    return {"p50": round(float(np.percentile(values, 50)), 2), "p95": round(float(np.percentile(values, 95)), 2),
            "max": round(float(values.max()), 2), "n": int(values.size)}


def _event(curve: int, index: int, position) -> dict:
    return {"selection": {"points": [{"curve_number": curve, "point_number": index, "point_index": index,
                                      "x": float(position[0]), "y": float(position[1])}],
                          "point_indices": [index], "box": [], "lasso": []}}


def _click_ms(dataset, xy, controller, event) -> float:
    """Milliseconds from a selection event to the WAV bytes of every player the page shows."""
    start = time.perf_counter()
    choice = latent_map.resolve_click(dataset, event, xy, controller)
    ui.wav_bytes(choice.audio)
    if choice.true_audio is not None:
        ui.wav_bytes(choice.true_audio)
    return 1000.0 * (time.perf_counter() - start)


def click_latencies(home: str, name: str, clicks: int, encoder: str, k: int | None, seed: int) -> dict:
    """Point and empty-space click latencies on one dataset's map."""
    begun = time.perf_counter()
    dataset = store.load_dataset(name, home)
    bundle = inference.load_models(dataset.effect.name, str(store.settings_for(home).models_dir))
    controller = latent_map.LatentController(dataset, bundle)
    k = max(dataset.ks) if k is None else k
    xy = dataset.projection(k, encoder)
    load_seconds = time.perf_counter() - begun
    rng = np.random.default_rng(seed)
    _click_ms(dataset, xy, controller, _event(latent_map.POINTS_CURVE, 0, xy[0]))  # warm-up (first render, torch)
    points = rng.permutation(np.arange(1, len(dataset)))[:clicks]
    point_ms = [_click_ms(dataset, xy, controller, _event(latent_map.POINTS_CURVE, int(i), xy[i])) for i in points]
    low, high = latent_map.map_bounds(xy)
    positions = rng.uniform(low, high, size=(clicks, 2))
    space_ms = [_click_ms(dataset, xy, controller, _event(latent_map.GRID_CURVE, 0, p)) for p in positions]
    return {
        "dataset": name, "effect": dataset.effect.name, "points": len(dataset), "encoder": encoder, "k": k,
        "load_seconds": round(load_seconds, 3),
        "click_to_audio_ms": {"point": _percentiles(point_ms), "empty_space": _percentiles(space_ms)},
        "within_budget": bool(max(np.percentile(point_ms, 95), np.percentile(space_ms, 95)) <= BUDGET_MS),
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def _wait_served(url: str, server: subprocess.Popen, begun: float) -> float:
    """Seconds since ``begun`` when the server is healthy and serves the first page's HTML."""
    healthy = False
    while time.perf_counter() - begun < START_TIMEOUT:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {server.returncode}: "
                               f"{server.stderr.read().decode(errors='replace')[-500:]}")
        healthy = healthy or _get(f"{url}/_stcore/health") == (200, b"ok")
        if healthy:
            status, body = _get(f"{url}/")
            if status == 200 and b"<html" in body.lower():
                return time.perf_counter() - begun
        time.sleep(0.02)
    raise RuntimeError(f"streamlit did not serve its first page within {START_TIMEOUT:.0f} s")


def wait_home_drawn(page) -> None:
    """Wait until Home is drawn: its title and last section shown and Streamlit's script run over."""
    timeout = START_TIMEOUT * 1000
    page.get_by_role("heading", name="DAFX Explorer", exact=True).wait_for(timeout=timeout)
    page.get_by_role("heading", name="Effects", exact=True).wait_for(timeout=timeout)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)


def app_start(home: str, chromium: str | None) -> dict[str, float]:
    """Launch ``streamlit run app.py`` on a free port and time its start (see the module docstring)."""
    from contextlib import ExitStack

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    with ExitStack() as stack:
        page = None
        if chromium:  # started first, so that neither its start nor its CPU counts against the app
            from playwright.sync_api import sync_playwright

            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            stack.callback(browser.close)
            page = browser.new_page()
            page.goto("about:blank")
        begun = time.perf_counter()
        server = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, "DAFX_EXPLORER_HOME": home},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        stack.callback(stop_server, server)
        served = _wait_served(url, server, begun)
        result = {"app_start_seconds": round(served, 3)}
        if page is not None:
            page.goto(url)
            wait_home_drawn(page)
            drawn = time.perf_counter() - begun
            opened = time.perf_counter()
            page.goto(f"{url}/Latent_Controller")
            page.locator(".js-plotly-plot").first.wait_for(timeout=START_TIMEOUT * 1000)
            result.update(home_drawn_s=round(drawn - served, 3), first_page_seconds=round(drawn, 3),
                          first_map_seconds=round(time.perf_counter() - opened, 3))
        return result


def stop_server(server: subprocess.Popen) -> None:
    """Terminate a server process; kill it if it has not ended within 10 s."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def app_starts(home: str, chromium: str | None, starts: int) -> dict:
    """``starts`` app starts: each figure's median, and every run under ``app_start_runs``."""
    runs = [app_start(home, chromium) for _ in range(starts)]
    result = {key: round(float(np.median([run[key] for run in runs])), 3) for key in runs[0]}
    if "home_drawn_s" in result:
        result["home_budget_s"] = HOME_BUDGET_S
        result["home_within_budget"] = result["home_drawn_s"] <= HOME_BUDGET_S
    if starts > 1:
        result["app_start_runs"] = runs
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="data folder (default: DAFX_EXPLORER_HOME or the shipped precomputed/)")
    parser.add_argument("--dataset", default="overdrive")
    parser.add_argument("--clicks", type=int, default=200, help="clicks of each kind")
    parser.add_argument("--encoder", default="vae", choices=tuple(latent_map.ENCODER_LABELS))
    parser.add_argument("--k", type=int, help="supervised points of the map (default: the dataset's largest)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-app-start", action="store_true", help="skip the app start measurement")
    parser.add_argument("--browser", metavar="CHROMIUM", help="also time the first rendered pages in this Chromium")
    parser.add_argument("--starts", type=int, default=1, help="app starts to time (medians are reported)")
    args = parser.parse_args()
    home = str(store.settings_for(args.home).home)
    try:
        result = {"home": home, **click_latencies(home, args.dataset, args.clicks, args.encoder, args.k, args.seed)}
    except DafxError as error:
        print(json.dumps({"home": home, "error": str(error),
                          "hint": "pass --home DIR with a built dataset (python -m dafx_explorer precompute ...)"}))
        sys.exit(2)
    result["budget_ms_p95"] = BUDGET_MS
    result["torch_threads"] = torch.get_num_threads()
    if not args.no_app_start:
        result.update(app_starts(home, args.browser, max(1, args.starts)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
