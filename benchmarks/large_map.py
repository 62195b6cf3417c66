"""The Latent Controller with a large dataset (issue 25): the map's draw time and a click's round trip
in Chromium, at 100 000 points and at the shipped 1 000.

Run from the repository root (Debian's Chromium, driven by Playwright)::

    python -m benchmarks.large_map [--points 1000 100000] [--clicks 5] [--browser /usr/bin/chromium]

For each size a data folder is made in a temporary directory: the shipped models and clips, and an
``overdrive`` dataset of that many points drawn from the shipped one (its rows repeated, settings
jittered by 0.02 and map positions by 1 % of the map, embeddings by 5 % of each dimension's spread,
written as a partitioned table where it is large). A real ``streamlit run app.py`` serves it; the
numbers are

- ``figure``: server side, building the map figure (:func:`dafx_explorer.ui.latent_map_figure`)
  and the size of its JSON;
- ``first_draw_seconds``: opening the Latent Controller until the map's points are on the page,
  on the first visit (the dataset and models load in this time);
- ``draw_seconds``: the same on reloading the page (everything loaded and cached);
- ``recolour_seconds``: changing "Colour by" until the map shows the new colours;
- ``click_seconds``: clicking a drawn point until the new choice's heading and players are there
  (median and max over ``--clicks`` points; ``on_points`` of them chose the point, the others the
  empty space of the clickable grid above it).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.explorer import _free_port
from dafx_explorer import latent_map, store, ui
from dafx_explorer.settings import REPO_ROOT, get_settings

START_TIMEOUT = 120.0
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
MAP_DRAWN = """([curve, n]) => { const gd = document.querySelector('.js-plotly-plot');
    return !!(gd && gd._fullData && gd._fullData[curve] && gd._fullData[curve]._length === n
              && gd.querySelector('canvas')); }"""
CHOICE_HEADING = """() => [...document.querySelectorAll('h1,h2,h3,h4')].map(e => e.textContent.trim())
    .find(t => /^Point \\d+$/.test(t) || t.startsWith('Empty space at')) || ''"""
MARKER_COLOURS = """gd => { const c = gd._fullData[0].marker.color; return [c.length, c[0], c[c.length - 1]]; }"""


def build_home(points: int, folder: Path, seed: int = 0) -> Path:
    """A data folder with the shipped models and clips and an ``overdrive`` dataset of ``points`` points."""
    shipped = get_settings().home
    for name in ("models", "sources"):
        os.symlink(shipped / name, folder / name)
    for name in ("manifest.json", "listening_set.json"):
        if (shipped / name).is_file():
            shutil.copy(shipped / name, folder / name)
    base = store.load_dataset("overdrive", shipped)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(base), points) if points != len(base) else np.arange(points)
    table = base.points.iloc[picks].reset_index(drop=True)
    table["id"] = np.arange(points, dtype=np.int64)
    jittered = points != len(base)
    for column in table.columns:
        if jittered and column.startswith("p_"):
            table[column] = np.clip(table[column] + rng.normal(0, 0.02, points), 0, 1).astype(np.float32)
        if jittered and column.startswith(("x_", "y_")):
            spread = float(np.ptp(table[column]))
            table[column] = (table[column] + rng.normal(0, 0.01 * spread, points)).astype(np.float32)
    target = folder / "datasets" / "overdrive"
    target.mkdir(parents=True)
    store.write_points(table, target / store.POINTS)
    for encoder in base.encoders:
        z = base.embeddings_for(encoder)[picks]
        if jittered:
            z = z + rng.normal(0, 0.05, z.shape).astype(np.float32) * z.std(0)
        np.save(target / store.embeddings_file(encoder), z.astype(np.float16))
    clip = store.clean_path(target, base.info)
    clip.parent.mkdir(exist_ok=True)
    shutil.copy(store.clean_path(base.folder, base.info), clip)
    info = {**base.info, "points": points, "command": f"python -m benchmarks.large_map --points {points}"}
    (target / store.DATASET_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return folder


def figure_cost(home: Path) -> dict:
    """Seconds to build the map figure (default colouring), its JSON size in MB and the markers it draws."""
    dataset = store.load_dataset("overdrive", home)
    colouring = latent_map.colouring(dataset, latent_map.colour_choices(dataset)[0])
    tick = time.perf_counter()
    figure = ui.latent_map_figure(dataset.projection(0), colouring)
    built = time.perf_counter() - tick
    return {"build_seconds": round(built, 3), "json_mb": round(len(figure.to_json()) / 1e6, 2),
            "markers": len(figure.data[latent_map.POINTS_CURVE].x)}


def browser_times(home: Path, markers: int, clicks: int, chromium: str) -> dict:
    """Draw, redraw and click times of the Latent Controller served from ``home`` (see the module docstring)."""
    from playwright.sync_api import expect, sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"], cwd=REPO_ROOT,
        env={**os.environ, "DAFX_EXPLORER_HOME": str(home), "DAFX_EXPLORER_DB": str(home / "listening.sqlite")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(START_TIMEOUT * 1000)
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    page.goto(url)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            page.get_by_role("heading", name="DAFX Explorer").wait_for()
            tick = time.perf_counter()
            page.goto(f"{url}/Latent_Controller")
            page.wait_for_function(MAP_DRAWN, arg=[latent_map.POINTS_CURVE, markers], polling=50)
            first_draw = time.perf_counter() - tick
            idle = page.get_by_test_id("stApp")
            expect(idle).to_have_attribute("data-test-script-state", "notRunning")
            tick = time.perf_counter()
            page.reload()
            page.wait_for_function(MAP_DRAWN, arg=[latent_map.POINTS_CURVE, markers], polling=50)
            draw = time.perf_counter() - tick
            expect(idle).to_have_attribute("data-test-script-state", "notRunning")
            plot = page.locator(".js-plotly-plot").first
            before = plot.evaluate(MARKER_COLOURS)
            colour = page.get_by_test_id("stSelectbox").filter(has_text="Colour by")
            tick = time.perf_counter()
            colour.click()
            page.get_by_role("option").nth(1).click()
            page.wait_for_function(f"""() => {{ const gd = document.querySelector('.js-plotly-plot');
                const c = gd._fullData[0].marker.color; return c.length === {markers}
                && (c[0] !== {before[1]!r} || c[c.length - 1] !== {before[2]!r}); }}""", polling=50)
            redraw = time.perf_counter() - tick
            expect(idle).to_have_attribute("data-test-script-state", "notRunning")
            plot.scroll_into_view_if_needed()
            pixels = np.array(plot.evaluate(f"""gd => {{ const t = gd._fullData[{latent_map.POINTS_CURVE}],
                xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
                return Array.from({{length: t._length}}, (_, i) => [box.left + xa._offset + xa.d2p(t.x[i]),
                                                                     box.top + ya._offset + ya.d2p(t.y[i])]); }}"""))
            left, top = pixels.min(0) + 20
            right, bottom = pixels.max(0) - 20
            inside = np.flatnonzero((pixels[:, 0] > left) & (pixels[:, 0] < right)
                                    & (pixels[:, 1] > top) & (pixels[:, 1] < bottom))
            chosen = np.random.default_rng(1).choice(inside, clicks, replace=False)
            times, on_points = [], 0
            for index in chosen:
                previous = page.evaluate(CHOICE_HEADING)
                tick = time.perf_counter()
                page.mouse.click(*pixels[index])
                page.wait_for_function(f"""previous => {{ const h = ({CHOICE_HEADING})();
                    return h && h !== previous && document.querySelectorAll('audio[src]').length >= 2; }}""",
                                       arg=previous, polling=20)
                times.append(time.perf_counter() - tick)
                on_points += page.evaluate(CHOICE_HEADING).startswith("Point ")
                expect(idle).to_have_attribute("data-test-script-state", "notRunning")
            browser.close()
        return {"first_draw_seconds": round(first_draw, 2), "draw_seconds": round(draw, 2),
                "recolour_seconds": round(redraw, 2),
                "click_seconds": {"median": round(statistics.median(times), 3), "max": round(max(times), 3),
                                  "n": len(times), "on_points": on_points}}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--clicks", type=int, default=5)
    parser.add_argument("--browser", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    report = []
    for points in args.points:
        with tempfile.TemporaryDirectory() as tmp:
            home = build_home(points, Path(tmp))
            figure = figure_cost(home)
            report.append({"points": points, "figure": figure,
                           **browser_times(home, figure["markers"], args.clicks, args.browser)})
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
