"""The Latent Controller's routes, driven headless with Streamlit's AppTest (a route set in session state
from a lasso event through :func:`automation.parse_route`, as the page does with a real one)."""

import base64
import json

import numpy as np
import pytest
from latent_data import build_latent_home
from streamlit.testing.v1 import AppTest

from dafx_explorer import automation, store
from dafx_explorer.settings import REPO_ROOT

CONTROLLER_PAGE = str(REPO_ROOT / "app_pages" / "1_Latent_Controller.py")


@pytest.fixture(scope="module")
def home(tiny_home):
    return build_latent_home(tiny_home)


def _route(home, name, encoder="vae", k=0):
    """A lasso across the map of ``name`` through three of its points, as the page stores it."""
    xy = store.load_dataset(name, home).projection(k, encoder)
    corners = xy[[int(np.argmin(xy[:, 0])), int(np.argmax(xy[:, 1])), int(np.argmax(xy[:, 0]))]]
    event = {"selection": {"points": [], "point_indices": [], "box": [],
                           "lasso": [{"xref": "x", "yref": "y", "x": corners[:, 0].tolist(),
                                      "y": corners[:, 1].tolist()}]}}
    return (name, encoder, k), tuple(map(tuple, automation.check_route(automation.parse_route(event), xy).tolist()))


def _run(**state):
    at = AppTest.from_file(CONTROLLER_PAGE, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _spec(chart) -> dict:
    return json.loads(chart.proto.spec)


def _array(value) -> np.ndarray:
    """A figure's data array, plain or as Plotly's base64 typed array."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def test_a_route_plays_the_clip_along_it_with_its_settings_against_time_and_exports(home):
    at = _run(**{"latent:dataset": "overdrive", "latent:route": _route(home, "overdrive")})
    assert "Route" in [s.value for s in at.subheader]
    assert len(at.get("audio")) == 2  # the route's render, and the clean clip
    map_spec, plot_spec = (_spec(chart) for chart in at.get("plotly_chart"))
    route_trace = next(trace for trace in map_spec["data"] if trace.get("name") == "route")
    drawn = np.c_[_array(route_trace["x"]), _array(route_trace["y"])]
    np.testing.assert_allclose(drawn, _route(home, "overdrive")[1], rtol=1e-6)
    assert len(map_spec["layout"]["annotations"]) == 5  # four arrows and "start"
    clip_seconds = len(store.load_dataset("overdrive", home).clean) / 24_000
    assert [trace["name"] for trace in plot_spec["data"]] == ["drive_db", "tone_hz", "level_db"]
    assert _array(plot_spec["data"][0]["x"])[-1] == pytest.approx(clip_seconds)
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels == ["Audio (WAV)", "Automation (CSV)", "Automation (JSON)", "Python snippet"]

    at.radio(key="latent:route_length").set_value("seconds").run()
    at.number_input(key="latent:route_seconds").set_value(8.0).run()
    assert not at.exception, [e.value for e in at.exception]
    assert _array(_spec(at.get("plotly_chart")[1])["data"][0]["x"])[-1] == pytest.approx(8.0)


def test_drawing_turns_drags_into_lassos_and_a_route_stays_with_its_map(home):
    at = _run(**{"latent:dataset": "delay", "latent:route": _route(home, "overdrive")})
    assert "Route" not in [s.value for s in at.subheader]  # drawn on another dataset's map
    assert "dragmode" not in _spec(at.get("plotly_chart")[0])["layout"]
    at.toggle(key="latent:drawing").set_value(True).run()
    assert _spec(at.get("plotly_chart")[0])["layout"]["dragmode"] == "lasso"
    at = _run(**{"latent:dataset": "delay", "latent:route": _route(home, "delay", "vq", 5)})
    assert "Route" not in [s.value for s in at.subheader]  # drawn on the VQ-VAE map with k = 5
    at.radio(key="latent:encoder").set_value("vq").run()
    at.selectbox(key="latent:k").set_value(5).run()
    assert not at.exception and "Route" in [s.value for s in at.subheader]
