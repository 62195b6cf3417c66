"""Large maps: one real point drawn per cell of a fine grid, coloured by the cell's mean, and a click on a
drawn marker chooses exactly that dataset point."""

import numpy as np
import pytest
from latent_data import build_latent_home

from dafx_explorer import inference, latent_map, store, ui


def test_small_maps_draw_every_point():
    assert latent_map.drawn_points(np.random.default_rng(0).normal(size=(500, 2)), limit=500) is None


def test_a_large_map_draws_one_real_point_per_occupied_cell_the_one_nearest_its_centre():
    xy = np.random.default_rng(1).normal(size=(30_000, 2)) ** 3  # dense centre, sparse tails
    rows, cell = latent_map.drawn_points(xy, limit=1000, bins=40)
    low, high = latent_map.map_bounds(xy)
    size = (high - low) / 40
    cells = np.clip(((xy - low) / size).astype(int), 0, 39)
    occupied = {tuple(c) for c in cells}
    assert len(rows) == len(set(rows.tolist())) == len(occupied) < len(xy)
    assert {tuple(cells[r]) for r in rows} == occupied  # every occupied cell has its one marker
    np.testing.assert_array_equal(cells[rows[cell]], cells)  # each point belongs to its cell's marker
    centre = low + (cells + 0.5) * size
    distance = np.sum((xy - centre) ** 2, axis=1)
    for marker in np.random.default_rng(2).choice(len(rows), 50, replace=False):
        members = np.flatnonzero(cell == marker)
        assert distance[rows[marker]] == distance[members].min()


@pytest.fixture(scope="module")
def large(tiny_home):
    """The overdrive dataset of the tiny home, drawn as a large map (the limit lowered below its 60 points)."""
    build_latent_home(tiny_home)
    dataset = store.load_dataset("overdrive", tiny_home)
    controller = latent_map.LatentController(dataset, inference.load_models("overdrive", str(tiny_home / "models")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(latent_map, "MAX_DRAWN_POINTS", 20)
        patch.setattr(latent_map, "DRAWN_BINS", 4)
        yield dataset, controller


def test_the_map_figure_draws_the_chosen_points_in_their_cells_mean_colour(large):
    dataset, _ = large
    xy = dataset.projection(0)
    colouring = latent_map.colouring(dataset, "drive_db")
    rows, cell = latent_map.drawn_points(xy)
    figure = ui.latent_map_figure(xy, colouring)
    points, grid = figure.data[latent_map.POINTS_CURVE], figure.data[latent_map.GRID_CURVE]
    assert 1 < len(rows) < len(dataset)
    np.testing.assert_array_equal(np.column_stack([points.x, points.y]), xy[rows].astype(np.float32))
    means = [colouring.values[cell == marker].mean() for marker in range(len(rows))]
    np.testing.assert_allclose(points.marker.color, means, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(points.customdata)[:, 1], rows)
    np.testing.assert_array_equal(np.asarray(points.customdata)[:, 2], np.bincount(cell))
    assert len(grid.x) == latent_map.GRID_SIZE ** 2  # empty space stays clickable over the whole map


def test_a_click_on_a_drawn_marker_chooses_exactly_that_point(large):
    dataset, controller = large
    xy = dataset.projection(0)
    rows, _ = latent_map.drawn_points(xy)
    marker = len(rows) // 2
    row = int(rows[marker])
    event = {"selection": {"points": [{"curve_number": latent_map.POINTS_CURVE, "point_index": marker,
                                       "point_number": marker, "x": float(xy[row, 0]), "y": float(xy[row, 1])}]}}
    choice = latent_map.resolve_click(dataset, event, xy, controller)
    assert choice.selection.index == row != marker
    np.testing.assert_array_equal(choice.true_settings, dataset.true_settings(row))
    np.testing.assert_array_equal(choice.settings, dataset.predicted_settings(row))
