"""The latent map behind the map pages: clicks → settings → audio, interpolation, colours per position.

A map of a dataset (:meth:`store.Dataset.projection`) is drawn as two WebGL traces (see
:func:`dafx_explorer.ui.latent_map_figure`): the points (curve :data:`POINTS_CURVE`) and,
above them, an invisible grid of :data:`GRID_SIZE` × :data:`GRID_SIZE` clickable markers
(curve :data:`GRID_CURVE`). A Plotly selection reports points only, so the grid turns a click
on empty space into a map coordinate.

- A click on a point plays the settings the controller predicted for that point's embedding
  (the dataset's ``pred_*`` columns) and offers the point's true rendering.
- A click on empty space interpolates a β-VAE embedding at that map position from the
  :data:`NEIGHBOURS` nearest points (inverse-distance weights, Shepard 1968), and the
  controller predicts settings from ``[z_clean; z_interpolated]``; they are rendered live.

Everything here is plain Python over numpy (and torch for the controller, imported when one is
made, so that pages drawing maps only start fast), testable without Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dafx_explorer import colour, store
from dafx_explorer.errors import DataError, ModelError

if TYPE_CHECKING:
    from dafx_explorer import inference

POINTS_CURVE = 0
"""Trace index of the dataset's points in a map figure."""

GRID_CURVE = 1
"""Trace index of the invisible clickable grid in a map figure."""

GRID_SIZE = 60
"""Grid markers per side of the clickable layer."""

GRID_MARGIN = 0.04
"""How far (fraction of the map's extent) the grid reaches beyond the outermost points."""

NEIGHBOURS = 8
"""Points an empty-space embedding is interpolated from."""

MAX_DRAWN_POINTS = 20_000
"""Maps of more points draw one marker per occupied cell of a :data:`DRAWN_BINS` ² grid
(:func:`drawn_points`): WebGL draws 100 000 markers, but each redraw (a click, a new colouring) then
takes seconds in a browser without a GPU."""

DRAWN_BINS = 200
"""Cells per side of the grid that aggregates a large map for display."""

IDW_POWER = 2.0
"""Exponent of the inverse-distance weights 1 / d**power."""

DESCRIPTORS = {"brightness_change": "octaves", "depth_change": "dB"}
"""Descriptor columns of a dataset and their units."""

ENCODER_LABELS = {"vae": "β-VAE", "vq": "VQ-VAE"}
"""Display names of the encoders."""


# --------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Selection:
    """What a click on the map chose.

    Attributes
    ----------
    index : int or None
        Row of the clicked point, or None for a click on empty space.
    position : tuple of float
        Map coordinates (x, y) of the click (of the point, for a point).
    """

    index: int | None
    position: tuple[float, float]

    @property
    def on_point(self) -> bool:
        return self.index is not None


def parse_selection(event, n_points: int) -> Selection | None:
    """The selection in a Streamlit Plotly selection event, or None when nothing is selected.

    Parameters
    ----------
    event : mapping
        What ``st.plotly_chart(..., on_select="rerun", selection_mode="points")`` returns:
        ``{"selection": {"points": [{"curve_number", "point_index", "x", "y", ...}], ...}}``.
    n_points : int
        Points in the map's :data:`POINTS_CURVE` trace.

    Returns
    -------
    Selection or None
        The first selected dataset point if any (shift-click can select several), else the
        first grid point; None for an empty selection.
    """
    selection = event.get("selection") if isinstance(event, Mapping) else None
    points = selection.get("points") if isinstance(selection, Mapping) else None
    if not points:
        return None
    chosen = [p for p in points if isinstance(p, Mapping) and p.get("curve_number") == POINTS_CURVE]
    chosen = chosen or [p for p in points if isinstance(p, Mapping) and p.get("curve_number") == GRID_CURVE]
    if not chosen:
        return None
    point = chosen[0]
    try:
        position = (float(point["x"]), float(point["y"]))
    except (KeyError, TypeError, ValueError):
        raise DataError(f"a map selection must carry numeric x and y, got {dict(point)!r}") from None
    if not all(math.isfinite(v) for v in position):
        raise DataError(f"a map selection must be at a finite position, got {position}")
    if point.get("curve_number") == GRID_CURVE:
        return Selection(None, position)
    index = point.get("point_index", point.get("point_number"))
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_points:
        raise DataError(f"a selected map point must have an index from 0 to {n_points - 1}, got {index!r}")
    return Selection(index, position)


# --------------------------------------------------------------------------- map geometry


def _check_map(xy) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0:
        raise DataError(f"map coordinates must have shape (N, 2) with N >= 1, got {xy.shape}")
    if not np.all(np.isfinite(xy)):
        raise DataError("map coordinates must be finite")
    return xy


def map_bounds(xy) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners (x, y) of the map's points, widened by :data:`GRID_MARGIN`.

    A map whose points share a coordinate gets a unit extent on that axis.
    """
    xy = _check_map(xy)
    low, high = xy.min(axis=0), xy.max(axis=0)
    extent = np.where(high > low, high - low, 1.0)
    return low - GRID_MARGIN * extent, high + GRID_MARGIN * extent


def grid_positions(xy, size: int = GRID_SIZE) -> np.ndarray:
    """Positions (size², 2) of the clickable grid: ``size`` × ``size`` points over :func:`map_bounds`."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise DataError(f"grid size must be an integer >= 2, got {size!r}")
    low, high = map_bounds(xy)
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], size), np.linspace(low[1], high[1], size))
    return np.column_stack([gx.ravel(), gy.ravel()])


def drawn_points(xy, *, limit: int | None = None, bins: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Which points a map of more than ``limit`` (default :data:`MAX_DRAWN_POINTS`) points draws: one
    per occupied cell of a ``bins`` × ``bins`` grid (default :data:`DRAWN_BINS`) over :func:`map_bounds`,
    the point nearest the cell's centre (the lowest row on a tie).

    A drawn marker is a real point, so a click on it is a click on that point (:func:`resolve_click`).

    Returns
    -------
    (rows, cell) or None
        ``rows`` (M,): the dataset rows drawn, in the order of the markers; ``cell`` (N,): for every
        point, the marker of its cell (to aggregate colours over a cell). None when every point is drawn.
    """
    xy = _check_map(xy)
    limit, bins = limit or MAX_DRAWN_POINTS, bins or DRAWN_BINS
    if len(xy) <= limit:
        return None
    low, high = map_bounds(xy)
    size = (high - low) / bins
    cells = np.clip(((xy - low) / size).astype(np.int64), 0, bins - 1)
    code = cells[:, 0] * bins + cells[:, 1]
    distance = np.sum((xy - (low + (cells + 0.5) * size)) ** 2, axis=1)
    order = np.lexsort((np.arange(len(xy)), distance, code))  # by cell, then nearest the centre, then row
    first = np.r_[True, code[order][1:] != code[order][:-1]]
    _, cell = np.unique(code, return_inverse=True)  # markers in cell order, as ``rows``
    return order[first], cell


def neighbour_agreement(xy, labels, neighbours: int = 5) -> float:
    """Share of a map's points whose ``neighbours`` nearest other points are mostly of its own label
    (leave-one-out k-NN accuracy on the map; ties go to the label of the nearer points): how well
    the labels, such as the effects of the combined map, keep to their own regions."""
    from scipy.spatial import cKDTree

    xy = _check_map(xy)
    codes, labels = np.unique(np.asarray(labels), return_inverse=True)
    if len(labels) != len(xy) or len(xy) <= neighbours:
        raise DataError(f"need one label per point and more than {neighbours} points; got {len(labels)} "
                        f"labels for {len(xy)} points")
    _, nearest = cKDTree(xy).query(xy, k=neighbours + 1)
    others = nearest != np.arange(len(xy))[:, None]  # the point itself, wherever among points on top of it
    nearest = np.take_along_axis(nearest, np.argsort(~others, axis=1, kind="stable"), axis=1)[:, :neighbours]
    votes = np.zeros((len(xy), len(codes)))
    for rank in range(neighbours):
        np.add.at(votes, (np.arange(len(xy)), labels[nearest[:, rank]]), 1.0 + (neighbours - rank) * 1e-3)
    return float(np.mean(votes.argmax(axis=1) == labels))


def inverse_distance_weights(xy, position, *, neighbours: int = NEIGHBOURS,
                             power: float = IDW_POWER) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-distance weights of the points nearest to a map position.

    Parameters
    ----------
    xy : array-like, shape (N, 2)
        Map coordinates of the points.
    position : array-like, shape (2,)
        Map coordinates of the query.
    neighbours : int
        How many nearest points take part (at most N).
    power : float
        Weights are ``1 / distance**power``, normalized to sum to 1.

    Returns
    -------
    indices : np.ndarray of int, shape (m,)
        Rows of the nearest points, nearest first.
    weights : np.ndarray of float64, shape (m,)
        Their weights, summing to 1. A query on a point (distance below 1e-9 of the map's
        extent) returns that point alone (several coinciding points share the weight).
    """
    xy = _check_map(xy)
    query = np.asarray(position, dtype=np.float64)
    if query.shape != (2,) or not np.all(np.isfinite(query)):
        raise DataError(f"a map position must be two finite numbers (x, y), got {position!r}")
    if isinstance(neighbours, bool) or not isinstance(neighbours, int) or neighbours < 1:
        raise DataError(f"neighbours must be a positive integer, got {neighbours!r}")
    if not (isinstance(power, int | float) and power > 0):
        raise DataError(f"power must be a positive number, got {power!r}")
    squared = np.sum((xy - query) ** 2, axis=1)
    m = min(neighbours, len(xy))
    nearest = np.argpartition(squared, m - 1)[:m] if m < len(xy) else np.arange(len(xy))
    nearest = nearest[np.argsort(squared[nearest], kind="stable")]
    distances = np.sqrt(squared[nearest])
    low, high = xy.min(axis=0), xy.max(axis=0)
    tolerance = 1e-9 * max(float(np.max(high - low)), 1.0)
    hits = distances <= tolerance
    if hits.any():
        return nearest[hits], np.full(int(hits.sum()), 1.0 / hits.sum())
    weights = distances ** -float(power)
    return nearest, weights / weights.sum()


def interpolate(values, indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted sum of rows ``values[indices]`` (e.g. embeddings), float64."""
    return np.asarray(weights, dtype=np.float64) @ np.asarray(values)[indices].astype(np.float64)


# --------------------------------------------------------------------------- controller


class LatentController:
    """The effect's controller applied to a dataset's clean clip: settings from target embeddings.

    Parameters
    ----------
    dataset : store.Dataset
    bundle : inference.Models
        The β-VAE encoder and the controller of ``dataset.effect`` (:func:`inference.load_models`).
        The clean clip's embedding is the one stored with the dataset when present, else it is
        embedded with the encoder.
    """

    def __init__(self, dataset: store.Dataset, bundle: inference.Models):
        import torch

        from dafx_explorer import inference

        config = bundle.controller.config
        if config.n_params != dataset.effect.n_params:
            raise ModelError(f"the controller predicts {config.n_params} settings but effect "
                             f"{dataset.effect.name} has {dataset.effect.n_params}; retrain it with train-controller")
        stored = dataset.info.get("clean_embeddings", {}).get("vae")
        if stored is not None:
            z_clean = torch.tensor(stored, dtype=torch.float32)[None]
        else:
            with torch.no_grad():
                z_clean = inference.embed(bundle.encoder, dataset.clean)
        if z_clean.shape[1] != config.embedding_dim or dataset.embeddings_for("vae").shape[1] != config.embedding_dim:
            raise ModelError(f"the controller of {dataset.effect.name} reads {config.embedding_dim}-D embeddings "
                             f"but dataset {dataset.name} holds {z_clean.shape[1]}-D ones; rebuild it with: "
                             f"{dataset.info.get('command') or store.rebuild_command(dataset.effect.name)}")
        self.controller = bundle.controller
        self.z_clean = z_clean

    def predict(self, z_target) -> np.ndarray:
        """Normalized settings (n_params,) predicted for one target embedding (D,)."""
        from dafx_explorer import inference

        return inference.controller_settings(self.controller, self.z_clean,
                                             np.asarray(z_target, dtype=np.float32).reshape(1, -1))[0]


@dataclass(frozen=True)
class Choice:
    """Settings chosen by a click, and their audio.

    Attributes
    ----------
    selection : Selection
    settings : np.ndarray
        Normalized settings that are played: the controller's prediction (for a point of a
        dataset without a controller, its true settings).
    audio : np.ndarray
        ``settings`` rendered on the dataset's clean clip (float32, ``SAMPLE_RATE``).
    true_settings, true_audio : np.ndarray or None
        For a point: the settings it was rendered with, and that rendering.
    predicted : bool
        Whether ``settings`` come from the controller.
    neighbours, weights : np.ndarray or None
        For empty space: the points the embedding was interpolated from, and their weights.
    preset : str or None
        For a loaded preset (:func:`choose_preset`): its file name; ``selection`` is then the
        dataset point nearest its settings.
    """

    selection: Selection
    settings: np.ndarray
    audio: np.ndarray
    true_settings: np.ndarray | None = None
    true_audio: np.ndarray | None = None
    predicted: bool = True
    neighbours: np.ndarray | None = None
    weights: np.ndarray | None = None
    preset: str | None = None


def choose(dataset: store.Dataset, selection: Selection, xy, controller: LatentController | None,
           *, neighbours: int = NEIGHBOURS) -> Choice:
    """Settings and audio for a selection on a map of ``dataset``.

    Parameters
    ----------
    dataset : store.Dataset
    selection : Selection
        From :func:`parse_selection`.
    xy : array-like, shape (N, 2)
        The map that was clicked (``dataset.projection(k, encoder)``).
    controller : LatentController or None
        Needed for clicks on empty space; without it (a dataset without a controller) such a
        click plays the nearest point instead.
    """
    xy = _check_map(xy)
    if len(xy) != len(dataset):
        raise DataError(f"the map has {len(xy)} points but dataset {dataset.name} has {len(dataset)}")
    if not selection.on_point:
        indices, weights = inverse_distance_weights(xy, selection.position, neighbours=neighbours)
        if controller is not None:
            z = interpolate(dataset.embeddings_for("vae"), indices, weights)
            settings = controller.predict(z)
            return Choice(selection, settings, dataset.render(settings), neighbours=indices, weights=weights)
        nearest = int(indices[0])
        selection = Selection(nearest, (float(xy[nearest, 0]), float(xy[nearest, 1])))
    i = selection.index
    true = dataset.true_settings(i)
    predicted = dataset.predicted_settings(i)
    has_prediction = bool(np.all(np.isfinite(predicted)))
    settings = predicted if has_prediction else true
    true_audio = dataset.audio(i)[0]
    audio = dataset.render(settings) if has_prediction else true_audio
    return Choice(selection, settings, audio, true, true_audio, predicted=has_prediction)


def choose_preset(dataset: store.Dataset, data, xy, *, name: str = "preset") -> Choice:
    """A preset's settings (JSON text or dict: ours, or a pedalboard chain, :func:`presets.read_preset`)
    rendered on the dataset's clean clip, with the dataset point nearest them in normalized settings."""
    from dafx_explorer import presets

    xy = _check_map(xy)
    _, settings = presets.read_preset(data, dataset.effect)
    true = np.stack([dataset.true_settings(i) for i in range(len(dataset))])
    nearest = int(np.argmin(np.linalg.norm(true - settings, axis=1)))
    selection = Selection(nearest, (float(xy[nearest, 0]), float(xy[nearest, 1])))
    return Choice(selection, settings, dataset.render(settings), predicted=False, preset=name)


def resolve_click(dataset: store.Dataset, event, xy, controller: LatentController | None) -> Choice | None:
    """:func:`parse_selection` then :func:`choose`: a Streamlit selection event → settings and audio.

    On a large map, which draws only some points (:func:`drawn_points`), the clicked marker is
    translated to its dataset row."""
    drawn = drawn_points(xy)
    selection = parse_selection(event, len(dataset) if drawn is None else len(drawn[0]))
    if selection is not None and selection.on_point and drawn is not None:
        selection = Selection(int(drawn[0][selection.index]), selection.position)
    return None if selection is None else choose(dataset, selection, xy, controller)


def settings_table(effect, columns: Mapping[str, np.ndarray | None]) -> pd.DataFrame:
    """Settings in real units: columns parameter, unit, then one per entry of ``columns``
    (e.g. ``{"predicted": p, "true": q}``; None entries are left out)."""
    table = {"parameter": list(effect.param_names), "unit": [p.unit for p in effect.params]}
    for title, settings in columns.items():
        if settings is not None:
            values = effect.real(settings)
            table[title] = [values[name] for name in effect.param_names]
    return pd.DataFrame(table)


# --------------------------------------------------------------------------- colouring


@dataclass(frozen=True)
class Colouring:
    """Numbers to colour a map's points by, with the values to show on hover and colour-bar ticks.

    Parameters are coloured by their normalized value on a fixed [0, 1] range (uniform, as they
    were drawn) with tick labels and hover values in real units; descriptors by their value.

    Attributes
    ----------
    values : np.ndarray
        Colour value of each point.
    shown : np.ndarray
        Value of each point shown on hover (real units).
    title : str
        Colour-bar title with the unit.
    value_range : tuple of float or None
        Fixed colour range (None: the values' own).
    tickvals, ticktext : tuple or None
        Colour-bar ticks (None: automatic).
    """

    values: np.ndarray
    shown: np.ndarray
    title: str
    value_range: tuple[float, float] | None = None
    tickvals: tuple[float, ...] | None = None
    ticktext: tuple[str, ...] | None = None


def colour_choices(dataset: store.Dataset) -> list[str]:
    """What a dataset's points can be coloured by: its parameters, then the descriptors."""
    return [*dataset.param_names, *DESCRIPTORS]


def colouring(dataset: store.Dataset, name: str) -> Colouring:
    """Colour values for ``name`` (a parameter or a descriptor, see :func:`colour_choices`)."""
    if name in DESCRIPTORS:
        values = dataset.points[name].to_numpy(np.float64)
        return Colouring(values, values, f"{name.replace('_', ' ')} ({DESCRIPTORS[name]})")
    if name not in dataset.param_names:
        raise DataError(f"cannot colour by {name!r}; choose one of {', '.join(colour_choices(dataset))}")
    param = dataset.effect.params[dataset.param_names.index(name)]
    values = dataset.settings_matrix()[:, dataset.param_names.index(name)]
    ticks = (0.0, 0.25, 0.5, 0.75, 1.0)
    text = tuple(f"{param.to_real(t):.3g}" for t in ticks)
    title = f"{name} ({param.unit})" if param.unit else name
    return Colouring(values, np.asarray(param.to_real(values)), title, (0.0, 1.0), ticks, text)


def normalized_positions(xy, positions=None) -> np.ndarray:
    """Map positions scaled to [0, 1]² by the bounds of the map's points ``xy`` (clipped).

    ``positions`` defaults to ``xy`` itself.
    """
    xy = _check_map(xy)
    positions = xy if positions is None else np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    low, high = xy.min(axis=0), xy.max(axis=0)
    extent = np.where(high > low, high - low, 1.0)
    return np.clip((positions - low) / extent, 0.0, 1.0)


def map_colours(xy) -> np.ndarray:
    """CSS colour of each point of a map: :func:`dafx_explorer.colour.position_colours` of its normalized position."""
    return colour.css_colours(colour.position_colours(normalized_positions(xy)))
