"""A route drawn with real mouse drags on the Latent Controller's map, in Chromium (fixtures in conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect
from streamlit_ui import expect_no_exception, expect_playable, open_page, wait_idle

pytestmark = pytest.mark.browser

# Map coordinates of the route trace of a Plotly graph div, and the pixel → data conversion of a position.
ROUTE_TRACE = """gd => { const trace = gd._fullData.find(t => t.name === "route");
    return trace ? Array.from(trace.x, (x, i) => [x, trace.y[i]]) : null; }"""
TO_DATA = """(gd, pixel) => { const layout = gd._fullLayout, box = gd.getBoundingClientRect();
    return [layout.xaxis.p2d(pixel[0] - box.left - layout.xaxis._offset),
            layout.yaxis.p2d(pixel[1] - box.top - layout.yaxis._offset)]; }"""
PLOT_AREA = """gd => { const layout = gd._fullLayout, box = gd.getBoundingClientRect();
    return [box.left + layout.xaxis._offset, box.top + layout.yaxis._offset, layout.xaxis._length,
            layout.yaxis._length]; }"""


def test_a_route_dragged_across_the_map_plays_and_shows_its_direction_and_settings(page, screenshot):
    open_page(page, "/Latent_Controller", "Latent Controller")
    page.get_by_test_id("stCheckbox").get_by_text("Draw a route", exact=True).click()
    # The run the click starts redraws the map in lasso mode; wait for that map, not the one before it.
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullLayout?.dragmode === 'lasso'")
    wait_idle(page)
    plot = page.get_by_test_id("stPlotlyChart").locator(".js-plotly-plot").first
    expect(plot).to_be_visible()
    plot.scroll_into_view_if_needed()
    left, top, width, height = plot.evaluate(PLOT_AREA)
    path = [(left + width * u, top + height * v) for u, v in ((0.2, 0.7), (0.45, 0.3), (0.8, 0.45))]

    page.mouse.move(*path[0])
    page.mouse.down()
    for point in path[1:]:
        page.mouse.move(*point, steps=12)
    page.mouse.up()

    expect(page.get_by_role("heading", name="Route", exact=True)).to_be_visible()
    players = page.locator("audio")
    expect(players).to_have_count(2)  # the route's render (under the map), the clean clip
    expect_playable(page, players.first)
    expect(page.get_by_role("button", name="Automation (CSV)")).to_be_visible()
    expect(page.get_by_role("button", name="Python snippet")).to_be_visible()
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullData?.some(t => t.name === "
                           "'route')")
    plot = page.get_by_test_id("stPlotlyChart").locator(".js-plotly-plot").first
    route = np.array(plot.evaluate(ROUTE_TRACE))
    start, end = (np.array(plot.evaluate(TO_DATA, list(pixel))) for pixel in (path[0], path[-1]))
    extent = np.ptp(route, axis=0).max()
    assert np.linalg.norm(route[0] - start) < 0.05 * extent  # drawn where the drag began…
    assert np.linalg.norm(route[-1] - end) < 0.05 * extent  # …and in its direction
    assert plot.evaluate("gd => gd._fullLayout.annotations.filter(a => a.showarrow).length") == 4
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)  # the map, the settings against time
    screenshot("latent_route")
    expect_no_exception(page)
