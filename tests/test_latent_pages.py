"""The Latent Controller and Latent Space pages, driven headless with Streamlit's AppTest."""

import io
import shutil

import numpy as np
import pytest
import soundfile as sf
from latent_data import EFFECTS, KS, build_latent_home
from streamlit.testing.v1 import AppTest

from dafx_explorer import inference, latent_map, store
from dafx_explorer.settings import REPO_ROOT, SAMPLE_RATE

CONTROLLER_PAGE = str(REPO_ROOT / "app_pages" / "1_Latent_Controller.py")
SPACE_PAGE = str(REPO_ROOT / "app_pages" / "2_Latent_Space.py")


@pytest.fixture(scope="module")
def home(tiny_home):
    return build_latent_home(tiny_home)


def _run(page, **state):
    at = AppTest.from_file(page, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at):
    return " ".join(str(e.value) for kind in ("info", "warning", "error", "markdown", "caption", "subheader")
                    for e in getattr(at, kind))


def test_controller_page_switches_effect_encoder_k_and_colouring(home):
    at = _run(CONTROLLER_PAGE)
    assert at.selectbox(key="latent:dataset").options == sorted(EFFECTS)
    assert len(at.get("plotly_chart")) == 1
    assert "Click the map" in _texts(at)
    assert len(at.get("audio")) == 1  # the clean clip is always playable
    for name in EFFECTS:
        at.selectbox(key="latent:dataset").set_value(name).run()
        assert not at.exception
        at.radio(key="latent:encoder").set_value("vq").run()
        assert not at.exception
        k = at.selectbox(key="latent:k")
        assert k.options == [f"{v} (unsupervised)" if v == 0 else str(v) for v in KS]
        k.set_value(KS[-1]).run()
        colour = at.selectbox(key="latent:colour")
        for choice in colour.options:
            colour.set_value(choice).run()
            assert not at.exception, [e.value for e in at.exception]
        at.radio(key="latent:encoder").set_value("vae").run()
        assert not at.exception


def _choice(home, name, event_of):
    dataset = store.load_dataset(name, home)
    xy = dataset.projection(0, "vae")
    controller = latent_map.LatentController(dataset, inference.load_models(dataset.effect.name, str(home / "models")))
    return latent_map.resolve_click(dataset, event_of(xy), xy, controller)


def _event(curve, index, x, y):
    return {"selection": {"points": [{"curve_number": curve, "point_index": index, "x": x, "y": y}]}}


def test_controller_page_shows_a_clicked_point_with_both_players_table_and_exports(home):
    choice = _choice(home, "overdrive", lambda xy: _event(latent_map.POINTS_CURVE, 4, *xy[4]))
    at = _run(CONTROLLER_PAGE, **{"latent:dataset": "overdrive", "latent:choice": ("overdrive", choice)})
    assert "Point 4" in _texts(at)
    assert len(at.get("audio")) == 3  # clean, predicted, true
    table = at.dataframe[0].value
    assert table.columns.tolist() == ["parameter", "unit", "predicted", "true"]
    assert table["parameter"].tolist() == ["drive_db", "tone_hz", "level_db"]
    assert len(at.get("download_button")) == 2
    code = at.code[0].value
    assert "def process(audio" in code and "drive_db=" in code
    at.radio(key="latent:export").set_value("true").run()
    assert not at.exception
    true_drive = store.load_dataset("overdrive", home).effect.real(choice.true_settings)["drive_db"]
    assert f"drive_db={true_drive!r}" in at.code[0].value


def test_controller_page_shows_an_empty_space_click(home):
    choice = _choice(home, "delay", lambda xy: _event(latent_map.GRID_CURVE, 0, *(xy.min(axis=0) - 0.1)))
    at = _run(CONTROLLER_PAGE, **{"latent:dataset": "delay", "latent:choice": ("delay", choice)})
    assert "Empty space at" in _texts(at) and "Interpolated from points" in _texts(at)
    assert len(at.get("audio")) == 2  # clean and the interpolated prediction
    assert at.dataframe[0].value.columns.tolist() == ["parameter", "unit", "predicted"]
    at.selectbox(key="latent:dataset").set_value("overdrive").run()  # a choice on another dataset is not shown
    assert not at.exception and "Click the map" in _texts(at)


def test_space_page_combined_map_and_domain_colouring(home):
    at = _run(SPACE_PAGE)
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # combined map, domain-coloured map, colour key, parameter pairs
    for encoder in ("vae", "vq"):
        at.radio(key="space:combined_encoder").set_value(encoder).run()
        assert not at.exception
        points = store.load_combined(encoder)
        agreement = latent_map.neighbour_agreement(points[["x", "y"]].to_numpy(), points["effect"].to_numpy())
        assert f"{agreement:.1%} of the points have most of their 5 nearest neighbours" in _texts(at)
    for name in EFFECTS:
        at.selectbox(key="space:dataset").set_value(name).run()
        for encoder in ("vq", "vae"):
            at.radio(key="space:encoder").set_value(encoder).run()
            for k in KS:
                at.selectbox(key="space:k").set_value(k).run()
                assert not at.exception, [e.value for e in at.exception]


def test_pages_say_which_command_builds_missing_data(tmp_path, monkeypatch, home):
    empty = tmp_path / "empty_home"
    empty.mkdir()
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(empty))
    at = _run(CONTROLLER_PAGE)
    assert "python -m dafx_explorer precompute --effect overdrive" in _texts(at)
    at = _run(SPACE_PAGE)
    assert "python -m dafx_explorer precompute --combined" in _texts(at)
    assert "python -m dafx_explorer precompute --effect overdrive" in _texts(at)


def test_figures_hold_every_point_in_webgl_with_a_clickable_grid(home):
    from dafx_explorer import ui

    dataset = store.load_dataset("overdrive", home)
    xy = dataset.projection(5, "vq")
    figure = ui.latent_map_figure(xy, latent_map.colouring(dataset, "drive_db"))
    points, grid = figure.data[latent_map.POINTS_CURVE], figure.data[latent_map.GRID_CURVE]
    assert points.type == grid.type == "scattergl"
    np.testing.assert_allclose(np.asarray(points.x), xy[:, 0], rtol=1e-6)
    assert len(grid.x) == latent_map.GRID_SIZE**2 and grid.marker.opacity == 0.0
    assert grid.hoverinfo == "none"  # "skip" would also stop click events
    settings = dataset.points[[f"p_{n}" for n in dataset.param_names]].to_numpy()
    pairs = ui.parameter_pairs_figure(dataset.effect, settings, latent_map.map_colours(xy))
    assert len(pairs.data) == 3 and all(t.type == "scattergl" for t in pairs.data)
    assert list(pairs.data[0].marker.color) == latent_map.map_colours(xy).tolist()


def test_controller_page_without_models_warns_and_still_draws_the_map(home, tmp_path, monkeypatch):
    other = tmp_path / "no_models"
    for folder in ("overdrive", store.CLIPS):
        shutil.copytree(home / "datasets" / folder, other / "datasets" / folder)
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(other))
    at = _run(CONTROLLER_PAGE)
    assert "rebuild it with: python -m dafx_explorer train-" in _texts(at) and "nearest point" in _texts(at)
    assert len(at.get("plotly_chart")) == 1


def test_players_get_wav_bytes_at_the_true_level():
    from dafx_explorer import ui

    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    quiet = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    samples, sr = sf.read(io.BytesIO(ui.wav_bytes(quiet)), dtype="float32")
    assert sr == SAMPLE_RATE and samples.shape == quiet.shape
    np.testing.assert_allclose(samples, quiet, atol=1e-4)  # not peak-normalized as st.audio would
    loud, _ = sf.read(io.BytesIO(ui.wav_bytes(np.full(10, 3.0, np.float32))), dtype="float32")
    assert np.all(loud <= 1.0) and np.all(loud > 0.99)


def test_warm_up_runs_once_in_the_background():
    from dafx_explorer import home

    thread = home.warm_up()
    assert home.warm_up() is thread
    thread.join(timeout=120)
    assert not thread.is_alive()


def test_controller_page_plays_a_loaded_preset_and_names_the_nearest_point(home):
    at = _run(CONTROLLER_PAGE, **{"latent:dataset": "overdrive"})
    at.file_uploader(key="latent:preset_file").set_value(
        ("loud.json", b'{"pedalboard": [{"Reverb": {}}]}', "application/json")).run()
    assert not at.exception and "overdrive cannot reproduce Reverb" in _texts(at)
    at.file_uploader(key="latent:preset_file").set_value(
        ("plain.json", b'{"pedalboard": [{"Distortion": {"drive_db": 35}}]}', "application/json")).run()
    assert not at.exception, [e.value for e in at.exception]
    dataset = store.load_dataset("overdrive", home)
    choice = latent_map.choose_preset(dataset, '{"pedalboard": [{"Distortion": {"drive_db": 35}}]}',
                                    dataset.projection(0, "vae"))
    assert "Preset plain.json" in _texts(at) and f"settings: {choice.selection.index}." in _texts(at)
    assert len(at.get("audio")) == 2  # clean and the preset
    table = at.dataframe[0].value
    assert table.columns.tolist() == ["parameter", "unit", "preset"]
    assert table["preset"].tolist() == pytest.approx([35.0, 10_000.0, 0.0])
