"""Every page in a real Chromium against `streamlit run app.py` (fixtures in conftest.py).

Streamlit reruns asynchronously: every step waits on what the rerun must show
(Playwright's auto-waiting ``expect``), never on a fixed delay.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3

import numpy as np
import pytest
import soundfile as sf
from playwright.sync_api import expect
from scipy.spatial import cKDTree
from streamlit_ui import (
    expect_no_exception,
    expect_playable,
    in_plot_area,
    open_page,
    table_columns,
    trace_pixels,
    wait_idle,
    wait_table_drawn,
    wav_from,
)

from dafx_explorer import effects
from dafx_explorer.latent_map import GRID_CURVE, POINTS_CURVE

pytestmark = pytest.mark.browser


def test_home_page_loads(page, screenshot):
    open_page(page, "/", "DAFX Explorer")
    expect(page.get_by_role("heading", name="Loaded data")).to_be_visible()
    expect(page.get_by_role("cell", name="encoder (vae)", exact=True)).to_be_visible()
    for name in ("Latent Controller", "Latent Space", "Style Match", "Listening Test", "Results"):
        expect(page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True)).to_be_visible()
    expect_no_exception(page)
    screenshot("home")


def test_latent_controller_click_on_a_point_and_on_empty_space_plays_audio(page, screenshot):
    open_page(page, "/Latent_Controller", "Latent Controller")
    plot = page.get_by_test_id("stPlotlyChart").locator(".js-plotly-plot").first
    expect(plot).to_be_visible()
    plot.scroll_into_view_if_needed()
    points = trace_pixels(plot, POINTS_CURVE)
    inside = in_plot_area(plot, points)
    assert inside.sum() > 10, "the map shows (almost) no points"
    # The point farthest from its neighbours: a click there can only hit that point.
    isolation = np.where(inside, cKDTree(points).query(points, k=2)[0][:, 1], -1.0)
    index = int(np.argmax(isolation))
    assert isolation[index] > 4, "no point of the map stands apart enough to be clicked alone"

    page.mouse.click(*points[index])
    expect(page.get_by_role("heading", name=f"Point {index}", exact=True)).to_be_visible()
    players = page.locator("audio")
    expect(players).to_have_count(3)  # the clean clip, the controller's prediction, the true settings
    for i in range(3):
        expect_playable(page, players.nth(i))
    table = page.get_by_test_id("stDataFrame")
    wait_table_drawn(page, table)
    screenshot("latent_controller")
    assert table_columns(page, table) == ["parameter", "unit", "predicted", "true"]
    expect_no_exception(page)

    # Empty space: the grid position farthest from every point.
    plot.scroll_into_view_if_needed()
    points, grid = trace_pixels(plot, POINTS_CURVE), trace_pixels(plot, GRID_CURVE)
    distance = cKDTree(points).query(grid)[0]
    page.mouse.click(*grid[int(np.argmax(np.where(in_plot_area(plot, grid), distance, -1.0)))])
    expect(page.get_by_role("heading", name="Empty space at")).to_be_visible()
    expect(page.get_by_text("Interpolated from points")).to_be_visible()
    expect(players).to_have_count(2)  # the clean clip and the prediction at the interpolated embedding
    expect_playable(page, players.nth(1))
    assert table_columns(page, page.get_by_test_id("stDataFrame")) == ["parameter", "unit", "predicted"]
    expect_no_exception(page)


def test_latent_space_shows_every_effect_and_the_domain_colouring(page, server, screenshot):
    open_page(page, "/Latent_Space", "Latent Space")
    combined = page.get_by_test_id("stPlotlyChart").locator(".js-plotly-plot").first
    expect(combined).to_be_visible()
    names = combined.evaluate("gd => gd._fullData.map(trace => trace.name)")
    assert sorted(names) == sorted(effects.names())  # one trace per effect; the real-recording maps are apart
    combined.scroll_into_view_if_needed()
    screenshot("latent_space")
    page.get_by_role("tab", name="Domain colouring").click()
    expect(page.get_by_role("heading", name="Parameter pairs, coloured by map position")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart").locator(".js-plotly-plot")).to_have_count(4)
    expect_no_exception(page)


def upload_wav() -> dict:
    """A 5.5 s stereo 44.1 kHz WAV (an arpeggio of decaying plucked tones), as Playwright's file payload."""
    rate = 44_100
    t = np.arange(int(5.5 * rate)) / rate
    tone = np.zeros_like(t)
    for k, start in enumerate(np.arange(0.0, 5.5, 0.25)):
        frequency = (196.0, 247.0, 294.0, 392.0)[k % 4]
        after = np.clip(t - start, 0.0, None)
        notes = sum(np.sin(2 * np.pi * h * frequency * after) / h for h in (1, 2, 3, 4))
        tone += (t >= start) * notes * np.exp(-4.0 * after)
    stereo = 0.2 * np.stack([tone, np.roll(tone, 441)], axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, stereo.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return {"name": "my-recording.wav", "mimeType": "audio/wav", "buffer": buffer.getvalue()}


def test_style_match_with_an_uploaded_input_plays_the_result(page, screenshot):
    open_page(page, "/Style_Match", "Style Match")
    input_origin = page.get_by_test_id("stRadio").first
    expect(input_origin).to_be_visible()
    players = page.locator("audio")
    expect(players).to_have_count(3)  # the shipped input clip, the reference, the result
    wait_idle(page)
    shipped_input_source = players.nth(0).get_attribute("src")
    input_origin.get_by_text("Upload a file", exact=True).click()
    uploader = page.locator("input[type=file]")
    expect(uploader).to_have_count(1)
    uploader.set_input_files(files=[upload_wav()])
    expect(page.get_by_text("5.5 s", exact=True)).to_be_visible()  # decoded
    expect(page.get_by_text("Predicted settings", exact=True)).to_be_visible()
    expect(page.get_by_text("Predicted in")).to_be_visible()
    # A player's src catches up a moment after the run that replaced it ends.
    expect(players.nth(0)).not_to_have_attribute("src", shipped_input_source)
    expect(players).to_have_count(3)  # input, reference, result
    uploaded, _ = wav_from(page, players.nth(0))
    assert uploaded.ndim == 1 and len(uploaded) == int(5.5 * 24_000), "the upload was not converted to 24 kHz mono"
    result, _ = wav_from(page, players.nth(2))
    assert len(result) == len(uploaded), "the result is not the input processed whole"
    assert not np.allclose(result, uploaded, atol=1e-3), "the result is the unprocessed input"
    expect_playable(page, players.nth(2))
    table = page.get_by_test_id("stDataFrame").first
    wait_table_drawn(page, table)
    page.get_by_text("Predicted settings", exact=True).scroll_into_view_if_needed()
    screenshot("style_match")
    assert table_columns(page, table)[:3] == ["parameter", "unit", "predicted"]
    expect_no_exception(page)


def test_one_mushra_trial_is_answered_and_stored(page, server, screenshot):
    open_page(page, "/Listening_Test", "Listening test")
    page.get_by_role("button", name="Start a new session").click()
    expect(page).to_have_url(re.compile(r"[?&]session=[^&]+"))
    session_id = re.search(r"[?&]session=([^&]+)", page.url).group(1)
    expect(page.get_by_text(f"Session code {session_id}")).to_be_visible()
    page.get_by_test_id("stRadio").get_by_text("MUSHRA", exact=True).click()
    expect(page.get_by_text("MUSHRA: 0 of")).to_be_visible()
    expect(page.get_by_role("button", name="Submit ratings")).to_be_visible()  # the trial's last widget
    play_buttons = page.get_by_role("button", name=re.compile(r"^Play [A-Z]$"))
    labels = [text.removeprefix("Play ") for text in play_buttons.all_inner_texts()]
    assert len(labels) >= 3 and labels == [chr(ord("A") + i) for i in range(len(labels))]

    wanted = {}
    for i, label in enumerate(labels):
        slider = page.get_by_role("slider", name=f"Rating of {label}")
        expect(slider).to_be_disabled()  # a stimulus is rated only once played
        page.get_by_role("button", name=f"Play {label}", exact=True).click()
        expect(page.locator("audio")).to_have_count(2 + i)  # the reference and every stimulus played so far
        expect(slider).to_be_enabled()
        slider.focus()
        key, presses = ("ArrowRight", 3 * i + 1) if i % 2 else ("ArrowLeft", 5 * i + 2)
        for _ in range(presses):
            page.keyboard.press(key)
        wanted[label] = 50 + presses if key == "ArrowRight" else 50 - presses
        expect(slider).to_have_value(str(wanted[label]))
    for i in range(1, len(labels) + 1):
        expect_playable(page, page.locator("audio").nth(i))
    screenshot("listening_test")
    page.get_by_role("button", name="Submit ratings").click()
    expect(page.get_by_text("Trial 1 saved.")).to_be_visible()
    expect(page.get_by_text("MUSHRA: 1 of")).to_be_visible()
    expect_no_exception(page)

    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT item, value, payload FROM answers WHERE session_id = ? AND test = 'mushra'",
                          (session_id,)).fetchall()
    assert rows, "no MUSHRA answer reached the database"
    payload = json.loads(rows[0][2])
    shown_as = {member: group[0] for group in payload["merged"] for member in group}  # one sound, one rating
    stored = {chr(ord("A") + payload["order"].index(shown_as.get(item, item))): value for item, value, _ in rows}
    assert stored == wanted and len(rows) == len(labels) + sum(len(group) - 1 for group in payload["merged"])


def test_results_page_asks_for_the_password(page, server, screenshot):
    open_page(page, "/Results", "Results")
    password = page.get_by_label("Admin password", exact=True)  # not its tooltip, "Help for Admin password"
    expect(password).to_be_visible()
    expect(password).to_have_attribute("type", "password")
    expect(page.get_by_role("tab")).to_have_count(0)
    screenshot("results")
    password.fill("not the password")
    password.press("Enter")
    expect(page.get_by_text("Wrong password.")).to_be_visible()
    expect(page.get_by_role("tab")).to_have_count(0)
    password.fill(server.admin_password)
    password.press("Enter")
    expect(page.get_by_role("tab", name="MUSHRA")).to_be_visible()
    expect(page.get_by_text("Wrong password.")).to_have_count(0)
    expect_no_exception(page)
