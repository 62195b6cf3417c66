"""Latent paths: route → settings → audio in plain functions, exports, and the ``automate`` command."""

import json

import numpy as np
import pytest
from latent_data import build_latent_home

from dafx_explorer import audio, automation, effects, inference, latent_map, store
from dafx_explorer.cli import main
from dafx_explorer.errors import DataError, ModelError
from dafx_explorer.settings import SAMPLE_RATE


@pytest.fixture(scope="module")
def home(tiny_home):
    return build_latent_home(tiny_home)


def _loaded(home, name):
    dataset = store.load_dataset(name, home)
    controller = latent_map.LatentController(dataset, inference.load_models(dataset.effect.name, str(home / "models")))
    return dataset, controller


def _tone(seconds: float, frequency: float = 220.0) -> np.ndarray:
    """A steady sine: its own kinks are tiny, so a click in a render stands out."""
    return (0.5 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE)).astype(
        np.float32)


def _far_apart(xy):
    """The two points of a map farthest apart along x."""
    return xy[int(np.argmin(xy[:, 0]))], xy[int(np.argmax(xy[:, 0]))]


def _lasso_event(route):
    return {"selection": {"points": [], "point_indices": [], "box": [],
                          "lasso": [{"xref": "x", "yref": "y", "x": [float(x) for x, _ in route],
                                     "y": [float(y) for _, y in route]}]}}


def test_a_lasso_event_is_a_route_in_drawing_order_and_a_click_is_none():
    route = [(0.0, 0.0), (1.0, 0.5), (2.0, 2.0)]
    np.testing.assert_array_equal(automation.parse_route(_lasso_event(route)), route)
    click = {"selection": {"points": [{"curve_number": 0, "point_index": 3, "x": 1.0, "y": 2.0}], "lasso": []}}
    assert automation.parse_route(click) is None and automation.parse_route({}) is None
    with pytest.raises(DataError, match="equal length"):
        automation.parse_route({"selection": {"lasso": [{"x": [1.0, 2.0], "y": [1.0]}]}})


@pytest.mark.parametrize(("route", "fragment"), [
    ("[[0, 0], [1", "must be JSON"),
    ('{"path": []}', '"route"'),
    ("[[0, 0], [1, 2, 3]]", r"list of \[x, y\]"),
    ('[[0, "a"], [1, 2]]', "must be numbers"),
])
def test_malformed_routes_are_refused(route, fragment):
    with pytest.raises(DataError, match=fragment):
        automation.read_route(route)


def test_a_route_needs_two_distinct_positions_on_the_map():
    xy = np.array([[0.0, 0.0], [10.0, 10.0], [5.0, 2.0]])
    with pytest.raises(DataError, match="at least 2 distinct"):
        automation.check_route([[1.0, 1.0], [1.0, 1.0]], xy)
    with pytest.raises(DataError, match=r"\(11, 5\) lies outside the map"):
        automation.check_route([[1.0, 1.0], [11.0, 5.0]], xy)
    np.testing.assert_array_equal(automation.check_route([[1, 1], [1, 1], [2, 3]], xy), [[1, 1], [2, 3]])


def test_simplify_keeps_the_ends_and_the_bends_of_a_dense_drag():
    wobble = 0.001 * np.sin(np.arange(50))
    leg_one = np.column_stack([np.linspace(0, 1, 50), wobble])
    leg_two = np.column_stack([1 + wobble, np.linspace(0, 1, 50)])[1:]
    bends = automation.simplify(np.vstack([leg_one, leg_two]), tolerance=0.01)
    np.testing.assert_allclose(bends, [[0, 0], leg_one[-1], leg_two[-1]])


def test_monotone_between_pools_the_controllers_wobbles_and_keeps_the_ends():
    fitted = automation.monotone_between([0.1, 0.5, 0.3, 0.9], 0.0, 1.0)
    np.testing.assert_allclose(fitted, [0.1, 0.4, 0.4, 0.9])
    assert np.all(np.diff(automation.monotone_between([0.8, 0.1, 0.9], 0.7, 0.2)) <= 0)


def test_a_straight_route_moves_every_setting_monotonically_from_one_click_to_the_other(home):
    dataset, controller = _loaded(home, "overdrive")
    xy = dataset.projection(0, "vae")
    start, end = _far_apart(xy)
    result = automation.automate(dataset, controller, [start, end], duration=3.0)
    np.testing.assert_allclose(result.times, np.r_[np.arange(0.0, 3.0, automation.STEP_SECONDS), 3.0])
    np.testing.assert_allclose(result.positions[[0, -1]], [start, end])
    for position, settings in ((start, result.settings[0]), (end, result.settings[-1])):
        clicked = latent_map.choose(dataset, latent_map.Selection(None, tuple(position)), xy, controller)
        np.testing.assert_allclose(settings, clicked.settings, atol=1e-6)  # the ends are empty-space clicks
    change = result.settings[-1] - result.settings[0]
    assert np.any(np.abs(change) > 1e-3), "the tiny controller predicts the same settings at both ends"
    assert np.all(np.diff(result.settings, axis=0) * np.sign(change) >= -1e-12)
    low, high = np.minimum(*result.settings[[0, -1]]), np.maximum(*result.settings[[0, -1]])
    assert np.all((result.settings >= low - 1e-12) & (result.settings <= high + 1e-12))


def test_a_dataset_without_a_controller_cannot_be_automated(home):
    dataset = store.load_dataset("delay", home)
    with pytest.raises(ModelError, match="train-controller --effect delay"):
        automation.automate(dataset, None, _far_apart(dataset.projection(0, "vae")), duration=1.0)


def _sweep(effect_name, start, end, seconds=4.0):
    """An automation of a built-in effect moving linearly from settings ``start`` to ``end``."""
    effect = effects.get(effect_name)
    times = automation.step_times(seconds)
    settings = np.linspace(effect.normalize_settings(start), effect.normalize_settings(end), len(times))
    route = np.column_stack([times, times])
    return automation.Automation(effect, "test", "vae", 0, route, route[[0, -1]], times, route, settings)


@pytest.mark.parametrize(("name", "start", "end"), [
    ("delay", {"mix": 0.0, "delay_seconds": 0.2}, {"mix": 1.0, "delay_seconds": 0.6}),
    ("ambience", {"mix": 0.0, "room_size": 0.2}, {"mix": 1.0, "room_size": 0.9}),
    ("ringmod", {"carrier_hz": 0.1, "mix": 0.2}, {"carrier_hz": 0.5, "mix": 1.0}),
])
def test_a_sweep_has_no_kink_larger_than_its_fixed_setting_renders_while_switching_clicks(name, start, end):
    sweep = _sweep(name, start, end)
    measured = automation.discontinuities(sweep, _tone(3.0), SAMPLE_RATE)  # the input loops to the route's 4 s
    assert measured["route"] <= measured["fixed"] * (1 + 1e-6)
    assert measured["switched"] > 2 * measured["fixed"], measured  # what the crossfades and ramps remove


def test_a_route_on_the_map_renders_without_a_larger_kink_than_fixed_settings(home):
    dataset, controller = _loaded(home, "delay")
    result = automation.automate(dataset, controller, _far_apart(dataset.projection(5, "vq")), duration=2.0,
                                 encoder="vq", k=5)
    rendered = automation.render(result, dataset.clean, SAMPLE_RATE)
    assert rendered.dtype == np.float32 and len(rendered) == len(dataset.clean)
    measured = automation.discontinuities(result, _tone(2.0), SAMPLE_RATE)
    assert measured["route"] <= measured["fixed"] * (1 + 1e-6)


@pytest.mark.parametrize("name", ["delay", "ringmod"])
def test_held_settings_render_like_the_fixed_setting(name):
    effect = effects.get(name)
    held = _sweep(name, {}, {}, seconds=1.0)
    clip = _tone(1.5, 330.0)
    np.testing.assert_allclose(automation.render(held, clip, SAMPLE_RATE),
                               effect.render(clip, SAMPLE_RATE, effect.defaults()), atol=2e-6)


@pytest.mark.parametrize("name", ["delay", "ringmod"])
def test_the_snippet_renders_the_same_samples(name):
    sweep = _sweep(name, {"mix": 0.1}, {"mix": 0.9}, seconds=1.0)
    namespace = {}
    exec(compile(automation.snippet(sweep), "snippet", "exec"), namespace)  # noqa: S102 - our own export
    clip = _tone(1.2)
    np.testing.assert_array_equal(namespace["process"](clip, SAMPLE_RATE),
                                  automation.render(sweep, clip, SAMPLE_RATE))


def test_csv_and_json_exports_hold_each_step_in_real_units_and_the_json_is_a_route_again():
    sweep = _sweep("delay", {"delay_seconds": 0.0}, {"delay_seconds": 1.0}, seconds=2.0)
    lines = automation.automation_csv(sweep).splitlines()
    assert lines[0] == "time_s,map_x,map_y,delay_seconds,feedback,mix,tone_hz"
    assert len(lines) == 1 + len(sweep.times)
    assert [float(v) for v in lines[-1].split(",")[:4]] == pytest.approx([2.0, 2.0, 2.0, 1.0])
    payload = json.loads(automation.automation_json(sweep))
    assert payload["steps"][0]["params"]["delay_seconds"] == {"normalized": 0.0, "value": 0.05, "unit": "s"}
    np.testing.assert_array_equal(automation.read_route(automation.automation_json(sweep)), sweep.route)


def test_automate_command_renders_the_route_and_writes_the_automation(home, tmp_path, capsys):
    dataset = store.load_dataset("overdrive", home)
    route = json.dumps([list(p) for p in _far_apart(dataset.projection(0, "vae"))])
    audio.save(tmp_path / "in.wav", _tone(1.0))
    out, table = tmp_path / "out.wav", tmp_path / "route.csv"
    assert main(["automate", "--dataset", "overdrive", "--route", route, "--input", str(tmp_path / "in.wav"),
                 "--output", str(out), "--duration", "2", "--automation", str(table), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["steps"] == len(automation.step_times(2.0)) and payload["duration_seconds"] == 2.0
    assert payload["discontinuity"]["route"] <= payload["discontinuity"]["fixed"] * (1 + 1e-6)
    assert len(audio.load(out)) == 2 * SAMPLE_RATE  # the 1 s input loops over the 2 s route
    assert table.read_text().startswith("time_s,map_x,map_y,drive_db,")
    (tmp_path / "route.json").write_text(route)
    assert main(["automate", "--dataset", "overdrive", "--route", str(tmp_path / "route.json"), "--input",
                 str(tmp_path / "in.wav"), "--output", str(out)]) == 0
    assert len(audio.load(out)) == SAMPLE_RATE  # the input's own length by default


@pytest.mark.parametrize(("args", "fragment"), [
    (["--dataset", "nosuch"], "nosuch"),
    (["--route", "[[0, 0], [1"], "must be JSON"),
    (["--route", "[[0.5, 0.5]]"], "at least 2 distinct"),
    (["--route", "[[0, 0], [1000, 1000]]"], "outside the map"),
    (["--input", "UNREADABLE"], "in.txt"),
    (["--duration", "0"], "at least 0.01"),
    (["--automation", "route.xlsx"], ".csv or .json"),
])
def test_automate_bad_input_exits_2_with_one_line(home, args, fragment, tmp_path, capsys):
    audio.save(tmp_path / "in.wav", _tone(0.5))
    (tmp_path / "in.txt").write_text("not audio")
    xy = store.load_dataset("overdrive", home).projection(0, "vae")
    given = dict(zip(args[::2], args[1::2], strict=True))
    options = {"--dataset": "overdrive", "--route": json.dumps([list(p) for p in _far_apart(xy)]),
               "--input": str(tmp_path / "in.wav"), "--output": str(tmp_path / "out.wav"), **given}
    options = {key: str(tmp_path / "in.txt") if value == "UNREADABLE" else value for key, value in options.items()}
    try:
        status = main(["automate", *[item for pair in options.items() for item in pair]])
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and fragment in err and "Traceback" not in err
