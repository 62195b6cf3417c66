"""Helpers that drive Streamlit pages in Playwright (for the browser tests; not a test module)."""

from __future__ import annotations

import io
import re

import numpy as np
import soundfile as sf
from playwright.sync_api import Locator, Page, expect

NONEMPTY = re.compile(r"\S")
FETCH_ATTEMPTS = 6

# Pixel position (in the viewport) of every point of one trace of a Plotly graph div.
TRACE_PIXELS = """(gd, curve) => {
    const layout = gd._fullLayout, box = gd.getBoundingClientRect(), trace = gd._fullData[curve];
    return Array.from(trace.x, (x, i) => [box.left + layout.xaxis._offset + layout.xaxis.d2p(x),
                                          box.top + layout.yaxis._offset + layout.yaxis.d2p(trace.y[i])]);
}"""
# The plot area of a Plotly graph div in the viewport: [left, top, width, height].
PLOT_AREA = """gd => { const layout = gd._fullLayout, box = gd.getBoundingClientRect();
    return [box.left + layout.xaxis._offset, box.top + layout.yaxis._offset, layout.xaxis._length,
            layout.yaxis._length]; }"""


def open_page(page: Page, path: str, title: str) -> None:
    """Load a page and wait for its title."""
    page.goto(path)
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def wait_idle(page: Page) -> None:
    """Wait until the script run the last interaction started has finished."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


def expect_no_exception(page: Page) -> None:
    """Once the run is over, no element shows an exception."""
    wait_idle(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def wav_from(page: Page, audio: Locator) -> tuple[np.ndarray, int]:
    """The samples an ``<audio>`` element plays, fetched from its ``src`` the way the browser does
    (once the script run is over: a run in progress may replace the media files)."""
    for attempt in range(FETCH_ATTEMPTS):
        wait_idle(page)
        source = audio.get_attribute("src")
        assert source, "the audio player has no source"
        response = page.request.get(source)
        if response.ok:
            return sf.read(io.BytesIO(response.body()), dtype="float32")
        # Streamlit drops a run's media files when the next run replaces them; the player's src
        # catches up a moment after the run ends, so read it again.
        page.wait_for_timeout(250 * (attempt + 1))
    raise AssertionError(f"{source}: HTTP {response.status} after {FETCH_ATTEMPTS} attempts")


def expect_playable(page: Page, audio: Locator) -> None:
    """The player has a source that serves audible, non-empty audio."""
    expect(audio).to_have_attribute("src", NONEMPTY)
    samples, rate = wav_from(page, audio)
    assert rate > 0 and len(samples) > rate // 10, "the player's audio is shorter than 0.1 s"
    assert np.abs(samples).max() > 1e-4, "the player's audio is silent"


def trace_pixels(plot: Locator, curve: int) -> np.ndarray:
    """Viewport pixel positions (n, 2) of the points of trace ``curve`` of a Plotly graph."""
    return np.array(plot.evaluate(TRACE_PIXELS, curve))


def in_plot_area(plot: Locator, pixels: np.ndarray, margin: float = 5.0) -> np.ndarray:
    """Which of ``pixels`` (n, 2) lie inside the plot area, at least ``margin`` pixels from its edges."""
    left, top, width, height = plot.evaluate(PLOT_AREA)
    return ((pixels[:, 0] > left + margin) & (pixels[:, 0] < left + width - margin)
            & (pixels[:, 1] > top + margin) & (pixels[:, 1] < top + height - margin))


# Whether the canvas of an st.dataframe has drawn anything darker than its background.
TABLE_DRAWN = """table => {
    const canvas = table.querySelector("canvas[data-testid='data-grid-canvas']");
    if (!canvas || !canvas.width || !canvas.height) return false;
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i] < 128 && pixels[i + 3] > 0) return true;
    return false;
}"""


def wait_table_drawn(page: Page, table: Locator) -> None:
    """Wait until an ``st.dataframe`` (drawn lazily on a canvas) shows its cells."""
    expect(table).to_be_visible()
    page.wait_for_function(TABLE_DRAWN, arg=table.element_handle())


def table_columns(page: Page, table: Locator) -> list[str]:
    """Column names of an ``st.dataframe`` (drawn on a canvas), read from its show/hide-columns menu."""
    table.scroll_into_view_if_needed()
    table.hover()
    # The toolbar shows while the pointer is over the table; the click goes straight to the button.
    table.get_by_role("button", name="Show/hide columns").dispatch_event("click")
    menu = page.get_by_test_id("stDataFrameColumnVisibilityMenu")
    expect(menu).to_be_visible()
    names = [line.strip() for line in menu.inner_text().splitlines()]
    page.keyboard.press("Escape")
    return [name for name in names if name and name not in ("Select all", "(index)")]
