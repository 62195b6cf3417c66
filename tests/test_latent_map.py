"""The latent controller's plain functions: selections, interpolation, clicks → settings → audio, colours."""

import re

import numpy as np
import pytest
import torch
from latent_data import build_latent_home

from dafx_explorer import colour, effects, inference, latent_map, presets, store
from dafx_explorer.errors import DataError, EffectError, ModelError
from dafx_explorer.settings import SAMPLE_RATE


def _event(*points):
    """A selection event as ``st.plotly_chart(on_select="rerun", selection_mode="points")`` returns it."""
    return {"selection": {"points": [
        {"curve_number": curve, "point_number": index, "point_index": index, "x": x, "y": y}
        for curve, index, x, y in points
    ], "point_indices": [p[1] for p in points], "box": [], "lasso": []}}


# --------------------------------------------------------------------------- interpolation


@pytest.fixture
def scattered():
    return np.random.default_rng(0).normal(size=(200, 2)) * [3.0, 1.0]


def test_weights_sum_to_one_and_come_nearest_first(scattered):
    for position in ([0.1, 0.2], [5.0, -2.0], [-30.0, 40.0]):
        indices, weights = latent_map.inverse_distance_weights(scattered, position, neighbours=8)
        assert len(indices) == 8 and len(set(indices.tolist())) == 8
        assert weights.sum() == pytest.approx(1.0) and np.all(weights > 0)
        distances = np.linalg.norm(scattered[indices] - position, axis=1)
        assert np.all(np.diff(distances) >= 0)
        assert distances[-1] <= np.sort(np.linalg.norm(scattered - position, axis=1))[7] + 1e-12


def test_far_points_weigh_less():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [0.0, -6.0]])
    indices, weights = latent_map.inverse_distance_weights(xy, [0.5, 0.0], neighbours=4)
    assert indices.tolist() == [0, 1, 2, 3]
    assert weights[0] == pytest.approx(weights[1])  # equally far
    assert weights[1] > weights[2] > weights[3]
    np.testing.assert_allclose(weights / weights[0], [1.0, 1.0, 0.25 / 6.25, 0.25 / 36.25])


def test_exact_hit_returns_the_point(scattered):
    indices, weights = latent_map.inverse_distance_weights(scattered, scattered[17])
    assert indices.tolist() == [17] and weights.tolist() == [1.0]
    values = np.random.default_rng(1).normal(size=(200, 16)).astype(np.float32)
    np.testing.assert_array_equal(latent_map.interpolate(values, indices, weights), values[17])
    twins = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    indices, weights = latent_map.inverse_distance_weights(twins, [1.0, 1.0])
    assert sorted(indices.tolist()) == [1, 2] and weights.tolist() == [0.5, 0.5]


def test_interpolation_lies_between_the_neighbours_and_few_points_are_fine():
    xy = np.array([[0.0, 0.0], [2.0, 0.0]])
    values = np.array([[0.0, 10.0], [4.0, 30.0]])
    indices, weights = latent_map.inverse_distance_weights(xy, [0.5, 0.0], neighbours=8)
    assert len(indices) == 2
    np.testing.assert_allclose(latent_map.interpolate(values, indices, weights), [0.4, 12.0])  # weights 0.9, 0.1


@pytest.mark.parametrize(("xy", "position", "neighbours", "match"), [
    (np.zeros((0, 2)), [0, 0], 8, "shape"),
    (np.zeros((5, 3)), [0, 0], 8, "shape"),
    (np.array([[0.0, np.nan]]), [0, 0], 8, "finite"),
    (np.zeros((5, 2)), [0.0, np.inf], 8, "two finite numbers"),
    (np.zeros((5, 2)), [0.0], 8, "two finite numbers"),
    (np.zeros((5, 2)), [0.0, 0.0], 0, "positive integer"),
])
def test_bad_interpolation_input_is_refused(xy, position, neighbours, match):
    with pytest.raises(DataError, match=match):
        latent_map.inverse_distance_weights(xy, position, neighbours=neighbours)


def test_grid_covers_the_map_with_a_margin(scattered):
    grid = latent_map.grid_positions(scattered)
    assert grid.shape == (latent_map.GRID_SIZE**2, 2)
    low, high = latent_map.map_bounds(scattered)
    np.testing.assert_allclose(grid.min(axis=0), low)
    np.testing.assert_allclose(grid.max(axis=0), high)
    assert np.all(low < scattered.min(axis=0)) and np.all(high > scattered.max(axis=0))
    assert len(np.unique(grid[:, 0])) == latent_map.GRID_SIZE
    flat = latent_map.grid_positions(np.array([[1.0, 2.0], [1.0, 2.0]]), size=3)
    assert np.all(np.isfinite(flat)) and len(np.unique(flat, axis=0)) == 9


# --------------------------------------------------------------------------- selection events


def test_neighbour_agreement_tells_separate_regions_from_mixed_ones():
    rng = np.random.default_rng(4)
    centres = np.repeat([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], 50, axis=0)
    labels = np.repeat(["delay", "flanger", "ringmod"], 50)
    xy = centres + rng.normal(size=centres.shape)
    assert latent_map.neighbour_agreement(xy, labels) == 1.0
    assert latent_map.neighbour_agreement(xy, rng.permutation(labels)) < 0.6  # chance is 1/3
    one_off = labels.copy()
    one_off[0] = "ringmod"  # a ringmod point among the delays: it alone is among other effects
    assert latent_map.neighbour_agreement(xy, one_off) == pytest.approx(149 / 150)
    twice = np.concatenate([xy, xy])  # every point has a twin on top of it: the twin is a neighbour, itself not
    assert latent_map.neighbour_agreement(twice, np.concatenate([one_off, one_off])) == pytest.approx(298 / 300)
    with pytest.raises(DataError, match="one label per point"):
        latent_map.neighbour_agreement(xy, labels[:-1])


def test_parse_selection_tells_points_from_empty_space():
    point = latent_map.parse_selection(_event((latent_map.POINTS_CURVE, 12, 1.5, -2.0)), n_points=20)
    assert point == latent_map.Selection(12, (1.5, -2.0)) and point.on_point
    space = latent_map.parse_selection(_event((latent_map.GRID_CURVE, 3599, 0.25, 4.0)), n_points=20)
    assert space == latent_map.Selection(None, (0.25, 4.0)) and not space.on_point
    both = _event((latent_map.GRID_CURVE, 5, 0.0, 0.0), (latent_map.POINTS_CURVE, 4, 1.0, 1.0))
    assert latent_map.parse_selection(both, n_points=20).index == 4
    for nothing in (None, {}, {"selection": {"points": [], "point_indices": []}}, _event((7, 1, 0.0, 0.0))):
        assert latent_map.parse_selection(nothing, n_points=20) is None


@pytest.mark.parametrize(("event", "match"), [
    (_event((latent_map.POINTS_CURVE, 20, 0.0, 0.0)), "index from 0 to 19"),
    (_event((latent_map.POINTS_CURVE, -1, 0.0, 0.0)), "index from 0 to 19"),
    ({"selection": {"points": [{"curve_number": latent_map.GRID_CURVE, "x": 1.0}]}}, "numeric x and y"),
    (_event((latent_map.GRID_CURVE, 0, float("nan"), 0.0)), "finite position"),
])
def test_bad_selections_are_refused(event, match):
    with pytest.raises(DataError, match=match):
        latent_map.parse_selection(event, n_points=20)


# --------------------------------------------------------------------------- colour map


CORNERS = [[0, 0], [1, 0], [0, 1], [1, 1]]


def test_colour_map_corners_are_distinct_and_the_centre_is_neutral():
    rgb = colour.position_colours(CORNERS + [[0.5, 0.5]])
    corners, centre = rgb[:4], rgb[4]
    gaps = [np.linalg.norm(corners[i] - corners[j]) for i in range(4) for j in range(i + 1, 4)]
    assert min(gaps) > 0.3
    assert np.ptp(centre) < 0.01 and centre.mean() > 0.6
    assert len(set(colour.css_colours(rgb[:4]).tolist())) == 4


def test_colour_map_is_continuous():
    rng = np.random.default_rng(2)
    uv = rng.random((5000, 2))
    step = 1e-3
    nudged = uv + rng.normal(size=uv.shape) * step
    change = np.linalg.norm(colour.position_colours(uv) - colour.position_colours(nudged), axis=1)
    moved = np.linalg.norm(np.clip(nudged, 0, 1) - uv, axis=1)
    assert np.max(change / np.maximum(moved, 1e-12)) < 20.0  # Lipschitz: nearby positions, nearby colours
    across_centre = colour.position_colours([[0.5 - 1e-4, 0.5], [0.5 + 1e-4, 0.5], [0.5, 0.5 + 1e-4]])
    assert np.max(np.ptp(across_centre, axis=0)) < 1e-3
    line = colour.position_colours(np.column_stack([np.linspace(0, 1, 1001), np.full(1001, 0.2)]))
    assert np.max(np.linalg.norm(np.diff(line, axis=0), axis=1)) < 0.01


def test_map_colours_are_valid_css_colours_following_position(scattered):
    colours = latent_map.map_colours(scattered)
    assert colours.shape == (len(scattered),)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    uv = latent_map.normalized_positions(scattered)
    assert uv.min() == 0.0 and uv.max() == 1.0
    lowest, highest = np.argmin(uv.sum(axis=1)), np.argmax(uv.sum(axis=1))
    assert colours[lowest] != colours[highest]
    np.testing.assert_array_equal(latent_map.normalized_positions(scattered, [[1e6, -1e6]]), [[1.0, 0.0]])


# --------------------------------------------------------------------------- clicks → settings → audio


@pytest.fixture(scope="module")
def overdrive(tiny_home):
    build_latent_home(tiny_home)
    dataset = store.load_dataset("overdrive", tiny_home)
    bundle = inference.load_models("overdrive", str(tiny_home / "models"))
    return dataset, bundle, latent_map.LatentController(dataset, bundle)


def _controller_reference(bundle, dataset, z_target):
    """What the controller predicts, computed from scratch: the clean clip embedded with the encoder."""
    with torch.no_grad():
        z_clean = inference.embed(bundle.encoder, dataset.clean)
        return bundle.controller(z_clean, torch.as_tensor(z_target, dtype=torch.float32)[None]).numpy()[0]


def test_point_click_plays_the_prediction_and_offers_the_true_rendering(overdrive):
    dataset, _, controller = overdrive
    xy = dataset.projection(5, "vae")
    i = 11
    choice = latent_map.resolve_click(dataset, _event((latent_map.POINTS_CURVE, i, *xy[i])), xy, controller)
    assert choice.selection.index == i and choice.predicted
    p_true = dataset.points.loc[i, [f"p_{n}" for n in dataset.param_names]].to_numpy(np.float64)
    p_pred = dataset.points.loc[i, [f"pred_{n}" for n in dataset.param_names]].to_numpy(np.float64)
    np.testing.assert_array_equal(choice.settings, p_pred)
    np.testing.assert_array_equal(choice.true_settings, p_true)
    effect = effects.get("overdrive")
    np.testing.assert_allclose(choice.audio, effect.render(dataset.clean, SAMPLE_RATE, p_pred), atol=1e-7)
    np.testing.assert_allclose(choice.true_audio, effect.render(dataset.clean, SAMPLE_RATE, p_true), atol=1e-7)
    table = latent_map.settings_table(dataset.effect, {"predicted": choice.settings, "true": choice.true_settings})
    assert table.columns.tolist() == ["parameter", "unit", "predicted", "true"]
    assert table["unit"].tolist() == ["dB", "Hz", "dB"]
    assert table["true"].tolist() == pytest.approx(list(effect.real(p_true).values()))


def test_empty_space_click_renders_the_interpolated_embedding(overdrive):
    dataset, bundle, controller = overdrive
    for encoder in ("vae", "vq"):
        xy = dataset.projection(0, encoder)
        grid = latent_map.grid_positions(xy)
        distance_to_points = np.min(np.linalg.norm(grid[:, None, :] - xy[None], axis=2), axis=1)
        g = int(np.argmax(distance_to_points > 0) + len(grid) // 2)  # a grid node in the middle, off the points
        position = grid[g]
        choice = latent_map.resolve_click(dataset, _event((latent_map.GRID_CURVE, g, *position)), xy, controller)
        assert not choice.selection.on_point and choice.true_audio is None
        assert len(choice.neighbours) == latent_map.NEIGHBOURS and choice.weights.sum() == pytest.approx(1.0)
        distances = np.linalg.norm(xy - position, axis=1)
        nearest = np.argsort(distances)[:latent_map.NEIGHBOURS]
        np.testing.assert_array_equal(np.sort(choice.neighbours), np.sort(nearest))
        ratios = choice.weights / distances[choice.neighbours] ** -2.0
        np.testing.assert_allclose(ratios, ratios[0])  # inverse-square weights
        z_interpolated = choice.weights @ dataset.embeddings_for("vae")[choice.neighbours]
        expected = _controller_reference(bundle, dataset, z_interpolated)
        np.testing.assert_allclose(choice.settings, expected, atol=2e-3)  # clean embedding stored as float16
        np.testing.assert_allclose(choice.audio, dataset.effect.render(dataset.clean, SAMPLE_RATE, choice.settings),
                                   atol=1e-7)


def test_empty_space_click_on_a_point_predicts_like_the_point(overdrive):
    dataset, _, controller = overdrive
    xy = dataset.projection(5, "vq")
    i = 23
    choice = latent_map.resolve_click(dataset, _event((latent_map.GRID_CURVE, 0, *xy[i])), xy, controller)
    assert choice.neighbours.tolist() == [i] and choice.weights.tolist() == [1.0]
    np.testing.assert_allclose(choice.settings, dataset.predicted_settings(i), atol=1e-5)


def test_without_a_controller_empty_space_plays_the_nearest_point(overdrive):
    dataset, _, _ = overdrive
    xy = dataset.projection(0, "vae")
    nearest = 30
    position = xy[nearest] + 1e-3
    choice = latent_map.choose(dataset, latent_map.Selection(None, tuple(position)), xy, None)
    assert choice.selection.index == int(np.argmin(np.linalg.norm(xy - position, axis=1)))
    np.testing.assert_array_equal(choice.true_settings, dataset.true_settings(choice.selection.index))


def test_clicks_on_another_map_or_a_mismatched_controller_are_refused(overdrive, tiny_home):
    dataset, _, controller = overdrive
    with pytest.raises(DataError, match="the map has 5 points"):
        latent_map.choose(dataset, latent_map.Selection(0, (0.0, 0.0)), np.zeros((5, 2)), controller)
    with pytest.raises(ModelError, match="predicts 4 settings but effect overdrive has 3"):
        latent_map.LatentController(dataset, inference.load_models("delay", str(tiny_home / "models")))


def test_colouring_by_parameters_and_descriptors(overdrive):
    dataset, _, _ = overdrive
    assert latent_map.colour_choices(dataset) == ["drive_db", "tone_hz", "level_db", "brightness_change",
                                                "depth_change"]
    tone = latent_map.colouring(dataset, "tone_hz")
    np.testing.assert_array_equal(tone.values, dataset.points["p_tone_hz"].to_numpy(np.float64))
    np.testing.assert_allclose(tone.shown, dataset.effect.params[1].to_real(tone.values))
    assert tone.title == "tone_hz (Hz)" and tone.value_range == (0.0, 1.0)
    assert tone.ticktext[0] == "500" and tone.ticktext[-1] == "1e+04"
    depth = latent_map.colouring(dataset, "depth_change")
    assert depth.title == "depth change (dB)" and depth.value_range is None
    with pytest.raises(DataError, match="cannot colour by 'wetness'"):
        latent_map.colouring(dataset, "wetness")



def test_choose_preset_renders_it_and_finds_the_nearest_point_in_settings(overdrive):
    dataset = overdrive[0]
    xy = dataset.projection(0, "vae")
    target = dataset.true_settings(3) + 0.01
    text = presets.preset_json(dataset.effect, target)
    choice = latent_map.choose_preset(dataset, text, xy, name="mine.json")
    np.testing.assert_allclose(choice.settings, np.clip(target, 0, 1))
    np.testing.assert_allclose(choice.audio, dataset.render(choice.settings))
    assert choice.selection.index == 3 and choice.selection.position == tuple(xy[3])
    assert choice.preset == "mine.json" and not choice.predicted
    with pytest.raises(EffectError, match="for effect 'delay', not 'overdrive'"):
        latent_map.choose_preset(dataset, presets.preset_json(effects.get("delay"), [0.5] * 4), xy)
