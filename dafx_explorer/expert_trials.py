"""Expert listening tests on a dataset's map: interpolation trials, semantic-control trials, the map figure.

Test 1 asks whether the point halfway between two others sounds halfway between them; test 2
asks a participant to reach a described change by clicking the map. Trials are derived from a
precomputed dataset, so nothing needs to be built beforehand (see ``docs/listening-tests.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .errors import DataError
from .listening import session_rng

EXPERT_K = 0
"""Supervised points of the map the expert tests use (0 = unsupervised UMAP)."""

EXPERT1_TRIALS = 6
"""Interpolation trials per session (a seeded choice among all datasets' trials)."""

EXPERT2_TRIALS = 4
"""Semantic-control trials per session."""

SEMANTIC_PROMPTS = {
    "overdrive": ("Make it twice as distorted.", "Make it much darker."),
    "delay": ("Make the echoes go on much longer.", "Make the echoes much quieter."),
    "ambience": ("Make the room much bigger.", "Make it much drier (less reverb)."),
    "flanger": ("Make the sweep much faster.", "Make the effect much stronger."),
    "multiband": ("Make it much brighter.", "Give it much more bass."),
    "dynamics": ("Make it much more compressed (more even in level).", "Make it much punchier."),
    "ringmod": ("Make it sound much more metallic.", "Make the effect much subtler."),
    "combo": ("Make it twice as distorted.", "Make it sound like a much smaller speaker."),
}
"""Changes asked for in expert test 2, per effect."""


@dataclass(frozen=True)
class MapPoint:
    """A point of a dataset's map: its row ``index`` and its 2-D coordinates."""

    index: int
    x: float
    y: float

    def to_json(self) -> dict[str, float]:
        return {"index": self.index, "x": self.x, "y": self.y}


@dataclass(frozen=True)
class InterpolationTrial:
    """Expert test 1: A and B at the ends of a line on the map, C the point nearest its midpoint.

    ``along`` is ``"x"`` or ``"y"`` (A and B the points at the 2nd and 98th percentiles of that
    map coordinate) or a parameter name (A and B the points whose settings are
    nearest to all-0.5 with that parameter at 0 and at 1).
    """

    id: str
    dataset: str
    along: str
    k: int
    a: MapPoint
    b: MapPoint
    c: MapPoint

    def payload(self) -> dict[str, Any]:
        """What an answer to this trial stores about it: the dataset, the line and the three points."""
        return {"dataset": self.dataset, "along": self.along, "k": self.k, "a": self.a.to_json(),
                "b": self.b.to_json(), "c": self.c.to_json()}


@dataclass(frozen=True)
class SemanticTrial:
    """Expert test 2: a prompt for one dataset's effect; the start point is drawn per session."""

    id: str
    dataset: str
    prompt: str
    k: int

    def payload(self, start: MapPoint) -> dict[str, Any]:
        """What an answer to this trial stores about it: the dataset, the prompt and the start point."""
        return {"dataset": self.dataset, "prompt": self.prompt, "k": self.k, "start": start.to_json()}


def map_coordinates(dataset, k: int = EXPERT_K) -> tuple[np.ndarray, int]:
    """A dataset's map: (N×2 coordinates, k), with ``k`` or else the dataset's smallest k."""
    k = k if k in dataset.ks else min(dataset.ks)
    return np.asarray(dataset.projection(k), dtype=np.float64), k


def nearest_point(coords: np.ndarray, xy: Sequence[float], exclude: Sequence[int] = ()) -> int:
    """Row of ``coords`` (N×2) nearest to ``xy``, leaving out the rows in ``exclude``."""
    distances = np.hypot(coords[:, 0] - xy[0], coords[:, 1] - xy[1])
    distances[list(exclude)] = np.inf
    if not np.isfinite(distances).any():
        raise DataError("the map has no point left to choose")
    return int(np.argmin(distances))


def _true_settings(dataset) -> np.ndarray:
    """N×n matrix of the normalized settings each point was rendered with."""
    return dataset.settings_matrix()


def map_point(coords: np.ndarray, index: int) -> MapPoint:
    """Row ``index`` of a map's coordinates (N×2) as a :class:`MapPoint`."""
    return MapPoint(int(index), float(coords[index, 0]), float(coords[index, 1]))


def interpolation_trials(dataset, *, k: int = EXPERT_K) -> list[InterpolationTrial]:
    """The interpolation trials of a dataset: along both map axes and along each parameter."""
    coords, k = map_coordinates(dataset, k)
    settings = _true_settings(dataset)
    ends = {}
    for axis, column in (("x", 0), ("y", 1)):
        values = coords[:, column]
        ends[axis] = tuple(int(np.argmin(np.abs(values - q))) for q in np.quantile(values, [0.02, 0.98]))
    for j, name in enumerate(dataset.effect.param_names):
        corner = np.full(settings.shape[1], 0.5)
        pair = []
        for value in (0.0, 1.0):
            corner[j] = value
            distances = np.linalg.norm(settings - corner, axis=1)
            distances[pair] = np.inf
            pair.append(int(np.argmin(distances)))
        ends[name] = tuple(pair)
    trials = []
    for along, (a, b) in ends.items():
        c = nearest_point(coords, (coords[a] + coords[b]) / 2, exclude=[a, b])
        trials.append(InterpolationTrial(f"{dataset.name}:{along}", dataset.name, along, k, map_point(coords, a),
                                         map_point(coords, b), map_point(coords, c)))
    return trials


def semantic_trials(dataset, *, k: int = EXPERT_K) -> list[SemanticTrial]:
    """The semantic-control trials of a dataset: one per prompt of its effect (none for unknown effects)."""
    _, k = map_coordinates(dataset, k)
    prompts = SEMANTIC_PROMPTS.get(dataset.effect.name, ())
    return [SemanticTrial(f"{dataset.name}:{i}", dataset.name, prompt, k) for i, prompt in enumerate(prompts)]


def trials_by_test(datasets: Sequence) -> dict[str, dict[str, InterpolationTrial | SemanticTrial]]:
    """Every expert trial of some datasets: ``{"expert1": {id: trial}, "expert2": {id: trial}}``."""
    trials: dict[str, dict] = {"expert1": {}, "expert2": {}}
    for dataset in datasets:
        trials["expert1"].update({t.id: t for t in interpolation_trials(dataset)})
        trials["expert2"].update({t.id: t for t in semantic_trials(dataset)})
    return trials


def start_point(dataset, session_id: str, trial_id: str, *, k: int = EXPERT_K) -> MapPoint:
    """Expert test 2's start point X for one session: drawn (seeded by session and trial) among
    the tenth of the points whose settings are nearest to all-0.5, so that any change is possible."""
    coords, _ = map_coordinates(dataset, k)
    settings = _true_settings(dataset)
    central = np.argsort(np.abs(settings - 0.5).max(axis=1), kind="stable")[: max(1, len(settings) // 10)]
    return map_point(coords, int(session_rng(session_id, trial_id).choice(central)))


def selected_point(selection: Mapping[str, Any] | None, coords: np.ndarray) -> MapPoint | None:
    """The map point a Plotly selection event picked (its ``customdata`` index, else the point
    nearest the clicked coordinates); None when nothing is selected."""
    points = (selection or {}).get("points") or []
    if not points:
        return None
    point = points[-1]
    custom = point.get("customdata")
    if isinstance(custom, list | tuple) and custom:
        custom = custom[0]
    if isinstance(custom, int | float) and 0 <= int(custom) < len(coords):
        return map_point(coords, int(custom))
    if point.get("x") is None or point.get("y") is None:
        return None
    return map_point(coords, nearest_point(coords, (float(point["x"]), float(point["y"]))))


def map_figure(coords: np.ndarray, marks: Mapping[str, MapPoint] = (), *,
               line: tuple[MapPoint, MapPoint] | None = None, title: str | None = None) -> go.Figure:
    """The map of a dataset (WebGL scatter, each point's index as ``customdata``), with labelled
    marks on top and an optional line between two points."""
    figure = go.Figure(go.Scattergl(x=coords[:, 0], y=coords[:, 1], mode="markers", name="settings",
                                    customdata=np.arange(len(coords)), hoverinfo="none",
                                    marker={"size": 6, "color": "rgba(120, 120, 140, 0.45)"}))
    if line is not None:
        figure.add_trace(go.Scatter(x=[line[0].x, line[1].x], y=[line[0].y, line[1].y], mode="lines",
                                    line={"dash": "dash", "color": "#444"}, hoverinfo="skip", showlegend=False))
    if marks:
        figure.add_trace(go.Scatter(
            x=[p.x for p in marks.values()], y=[p.y for p in marks.values()], mode="markers+text",
            text=list(marks), textposition="top center", customdata=[p.index for p in marks.values()],
            marker={"size": 14, "color": "#d62728", "line": {"width": 1, "color": "white"}}, name="marks",
            hovertemplate="%{text}<extra></extra>"))
    figure.update_layout(title=title, showlegend=False, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                         xaxis={"title": "map x"}, yaxis={"title": "map y"}, dragmode="pan", height=480)
    return figure
