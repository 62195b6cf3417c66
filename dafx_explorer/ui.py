"""Tables, Plotly figures and tooltips shared by the Streamlit pages (no Streamlit calls here).

The pages stay thin: what they draw is built here, so tests check it without a browser, and the
pages and the benchmarks draw the same figures.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from dafx_explorer import audio, colour, effects, latent_map
from dafx_explorer.errors import DataError
from dafx_explorer.settings import SAMPLE_RATE

ENCODER_HELP = ("Which trained model listened to the sounds and placed them on the map. The β-VAE makes "
                "smoother maps; the VQ-VAE is an alternative to compare with.")
"""Tooltip of the pages' encoder choice."""

SUPERVISED_HELP = ("How many of the brightest, darkest, deepest and thinnest sounds guide the layout of the map. "
                   "0 lets the map arrange itself by sound alone; more makes brightness and depth read more "
                   "clearly across it.")
"""Tooltip of the pages' choice of supervised points (k)."""


def _spectrogram_colours() -> list[list]:
    """Magma with its darkest colour #000004 made pure black: Streamlit's chart code takes the colours
    #000001…#000010 for placeholders of its theme and would paint silence in a theme colour."""
    import plotly.colors

    colours = plotly.colors.sequential.Magma
    steps = np.linspace(0.0, 1.0, len(colours))
    return [[float(step), "#000000" if colour == "#000004" else colour] for step, colour in zip(steps, colours,
                                                                                                 strict=True)]


def spectrogram_figure(signals: dict[str, np.ndarray]):
    """Mel spectrograms (the encoder's input: 256 bands, compressed, standardized) side by side,
    one panel per named signal, on a shared colour scale."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from dafx_explorer import features

    images = features.mel_features(np.stack([audio.analysis_window(s) for s in signals.values()])).numpy()
    seconds = np.arange(features.N_FRAMES) * features.HOP / SAMPLE_RATE
    figure = make_subplots(rows=1, cols=len(signals), subplot_titles=list(signals), shared_yaxes=True)
    for column, image in enumerate(images, start=1):
        figure.add_trace(go.Heatmap(z=image, x=seconds, coloraxis="coloraxis"), row=1, col=column)
        figure.update_xaxes(title_text="time (s)", row=1, col=column)
    figure.update_yaxes(title_text="mel band", row=1, col=1)
    figure.update_layout(coloraxis={"colorscale": _spectrogram_colours(), "cmin": float(images.min()),
                                    "cmax": float(images.max())},
                         height=320, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return figure


MAP_HEIGHT = 620
"""Height of the map figures (px)."""

MAX_PAIR_POINTS = 5000
"""Points drawn per parameter-pair panel (a seeded subsample beyond that)."""


def wav_bytes(samples: np.ndarray, sr: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV of float samples, clipped to ±1 but not normalized (levels stay audible).

    ``st.audio`` given a numpy array peak-normalizes it; give it these bytes instead.
    """
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0), sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _map_layout(figure, xy: np.ndarray, **layout) -> None:
    """Shared look of a 2-D map: equal-looking axes without ticks, closest-point clicks."""
    low, high = latent_map.map_bounds(xy)
    figure.update_xaxes(range=[low[0], high[0]], showticklabels=False, title_text="map x", zeroline=False)
    figure.update_yaxes(range=[low[1], high[1]], showticklabels=False, title_text="map y", zeroline=False)
    figure.update_layout(height=MAP_HEIGHT, margin={"l": 30, "r": 10, "t": 40, "b": 30}, hovermode="closest",
                         **layout)


def latent_map_figure(xy: np.ndarray, colouring: latent_map.Colouring, *, title: str = ""):
    """The clickable map of a dataset: its points coloured by ``colouring`` and the invisible grid.

    Trace :data:`latent_map.POINTS_CURVE` holds the points (WebGL), trace :data:`latent_map.GRID_CURVE`
    a :data:`latent_map.GRID_SIZE`² grid of transparent markers (``hoverinfo="none"``: no label,
    but clicks still select them), so that a click on empty space reports a map position.
    A selected grid marker shows as a cross. A map of more than :data:`latent_map.MAX_DRAWN_POINTS`
    points draws one real point per cell of a fine grid (:func:`latent_map.drawn_points`), in the mean
    colour of the cell's points; its hover names the point and how many share its cell.
    """
    import plotly.graph_objects as go

    drawn = latent_map.drawn_points(xy)
    xy = whole = np.asarray(xy, dtype=np.float32)
    grid = latent_map.grid_positions(xy).astype(np.float32)
    values, shown = colouring.values.astype(np.float32), colouring.shown.astype(np.float32)
    customdata, hover = shown, "point %{pointNumber}<br>" + colouring.title + ": %{customdata:.3g}<extra></extra>"
    if drawn is not None:
        rows, cell = drawn
        counts = np.bincount(cell)
        values = (np.bincount(cell, weights=colouring.values) / counts).astype(np.float32)
        xy, customdata = xy[rows], np.column_stack([shown[rows], rows, counts]).astype(np.float32)
        hover = ("point %{customdata[1]:d} (%{customdata[2]:d} in this spot, coloured by their mean)<br>"
                 + colouring.title + ": %{customdata[0]:.3g}<extra></extra>")
    colorbar = {"title": {"text": colouring.title, "side": "right"}}
    if colouring.tickvals is not None:
        colorbar.update(tickvals=list(colouring.tickvals), ticktext=list(colouring.ticktext))
    marker = {"color": values, "colorscale": "Viridis", "size": 6,
              "colorbar": colorbar, "opacity": 0.9}
    if colouring.value_range is not None:
        marker.update(cmin=colouring.value_range[0], cmax=colouring.value_range[1])
    points = go.Scattergl(
        x=xy[:, 0], y=xy[:, 1], mode="markers", name="settings", marker=marker,
        customdata=customdata, hovertemplate=hover,
        selected={"marker": {"size": 14, "opacity": 1.0}}, unselected={"marker": {"opacity": 0.9}},
    )
    clickable = go.Scattergl(
        x=grid[:, 0], y=grid[:, 1], mode="markers", name="empty space", showlegend=False, hoverinfo="none",
        marker={"size": 10, "color": "#000000", "opacity": 0.0, "symbol": "x"},
        selected={"marker": {"opacity": 1.0}}, unselected={"marker": {"opacity": 0.0}},
    )
    traces = {latent_map.POINTS_CURVE: points, latent_map.GRID_CURVE: clickable}
    figure = go.Figure([traces[curve] for curve in sorted(traces)])
    _map_layout(figure, whole, title={"text": title}, showlegend=False)
    return figure


def combined_map_figure(table: pd.DataFrame):
    """All datasets in one map (columns ``effect``, ``x``, ``y``), one WebGL trace per effect."""
    import plotly.express as px
    import plotly.graph_objects as go

    table = table.dropna(subset=["x", "y"])
    palette = px.colors.qualitative.Bold + px.colors.qualitative.Safe
    figure = go.Figure()
    for j, (name, rows) in enumerate(table.groupby("effect", sort=True)):
        figure.add_trace(go.Scattergl(
            x=rows["x"].to_numpy(np.float32), y=rows["y"].to_numpy(np.float32), mode="markers", name=name,
            marker={"size": 4, "color": palette[j % len(palette)], "opacity": 0.8},
            hovertemplate=f"{name}<extra></extra>",
        ))
    _map_layout(figure, table[["x", "y"]].to_numpy(np.float64), legend={"itemsizing": "constant"})
    return figure


def domain_colouring_map_figure(xy: np.ndarray, colours: np.ndarray, *, title: str = ""):
    """The map painted with the 2-D colour map (:func:`colour.position_colours`): each point in the
    colour of its own position."""
    import plotly.graph_objects as go

    xy = np.asarray(xy, dtype=np.float32)
    figure = go.Figure(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", marker={"size": 6, "color": colours},
                                    hovertemplate="point %{pointNumber}<extra></extra>"))
    _map_layout(figure, xy, title={"text": title}, showlegend=False)
    return figure


def colour_key_figure(size: int = 64):
    """The 2-D colour map itself over the unit square (map x to the right, map y up)."""
    import plotly.graph_objects as go

    u, v = np.meshgrid(np.linspace(0.0, 1.0, size), np.linspace(1.0, 0.0, size))
    rgb = colour.position_colours(np.column_stack([u.ravel(), v.ravel()])).reshape(size, size, 3)
    figure = go.Figure(go.Image(z=np.rint(rgb * 255).astype(np.uint8), hoverinfo="skip"))
    figure.update_xaxes(showticklabels=False, title_text="map x →")
    figure.update_yaxes(showticklabels=False, title_text="map y →")
    figure.update_layout(height=240, width=240, margin={"l": 30, "r": 10, "t": 30, "b": 30},
                         title={"text": "colour key"})
    return figure


def parameter_pairs_figure(effect: effects.Effect, settings: np.ndarray, colours: np.ndarray, *,
                           max_points: int = MAX_PAIR_POINTS, seed: int = 0):
    """For every pair of parameters (i < j) a scatter of the settings in real units (log axes for
    log-scale parameters), each dot in its map colour; a lower-triangular grid of panels.

    Parameters
    ----------
    effect : effects.Effect
    settings : np.ndarray, shape (N, n_params)
        Normalized settings of the points.
    colours : np.ndarray of str, shape (N,)
        CSS colour of each point (:func:`latent_map.map_colours`).
    max_points : int
        At most this many points are drawn (a seeded random subsample).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    settings = np.asarray(settings, dtype=np.float64)
    if settings.ndim != 2 or settings.shape[1] != effect.n_params or len(colours) != len(settings):
        raise DataError(f"need settings (N, {effect.n_params}) and N colours, got {settings.shape} and "
                         f"{len(colours)}")
    if len(settings) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(settings), max_points, replace=False))
        settings, colours = settings[keep], np.asarray(colours)[keep]
    real = np.column_stack([p.to_real(settings[:, i]) for i, p in enumerate(effect.params)]).astype(np.float32)
    cells = max(effect.n_params - 1, 1)
    figure = make_subplots(rows=cells, cols=cells, horizontal_spacing=0.04, vertical_spacing=0.05)

    def label(param: effects.Param) -> str:
        return f"{param.name} ({param.unit})" if param.unit else param.name

    for j in range(1, effect.n_params):
        for i in range(j):
            px_, py_ = effect.params[i], effect.params[j]
            figure.add_trace(go.Scattergl(
                x=real[:, i], y=real[:, j], mode="markers", marker={"size": 4, "color": colours},
                hovertemplate=f"{px_.name}: %{{x:.3g}}<br>{py_.name}: %{{y:.3g}}<extra></extra>",
            ), row=j, col=i + 1)
            figure.update_xaxes(type="log" if px_.scale == "log" else "linear", row=j, col=i + 1,
                                title_text=label(px_) if j == effect.n_params - 1 else None)
            figure.update_yaxes(type="log" if py_.scale == "log" else "linear", row=j, col=i + 1,
                                title_text=label(py_) if i == 0 else None)
    figure.update_layout(height=max(360, 230 * cells), showlegend=False, margin={"l": 60, "r": 10, "t": 20, "b": 50})
    return figure


ROUTE_COLOUR = "#e4572e"
"""Colour of a drawn route on a map."""

ROUTE_ARROWS = (0.25, 0.5, 0.75, 1.0)
"""Where along a route (fraction of its length) arrows show its direction."""


def route_map_figure(figure, route=None, *, drawing: bool = False):
    """A copy of a map figure (:func:`latent_map_figure`) with a route drawn on it: a line, ``start``
    at its first position and arrows along it; ``drawing`` makes a drag draw a lasso (a new route)."""
    import plotly.graph_objects as go

    figure = go.Figure(figure)
    if drawing:
        figure.update_layout(dragmode="lasso")
    if route is None:
        return figure
    route = np.asarray(route, dtype=np.float64)
    figure.add_trace(go.Scattergl(x=route[:, 0], y=route[:, 1], mode="lines", name="route", hoverinfo="skip",
                                  line={"color": ROUTE_COLOUR, "width": 3}, showlegend=False))
    along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(route, axis=0).T))]
    for fraction in ROUTE_ARROWS:
        tip = [np.interp(fraction * along[-1], along, route[:, i]) for i in (0, 1)]
        tail = [np.interp(max(fraction - 0.04, 0.0) * along[-1], along, route[:, i]) for i in (0, 1)]
        figure.add_annotation(x=tip[0], y=tip[1], ax=tail[0], ay=tail[1], xref="x", yref="y", axref="x", ayref="y",
                              text="", showarrow=True, arrowhead=2, arrowsize=1.6, arrowwidth=2,
                              arrowcolor=ROUTE_COLOUR)
    figure.add_annotation(x=route[0, 0], y=route[0, 1], text="start", showarrow=False, yshift=12,
                          font={"color": ROUTE_COLOUR})
    return figure


def automation_figure(automation):
    """Each setting of an automation (:class:`dafx_explorer.automation.Automation`) in real units
    against time, one panel per parameter (log axes for log-scale parameters)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    effect = automation.effect
    figure = make_subplots(rows=effect.n_params, cols=1, shared_xaxes=True, vertical_spacing=0.03)
    for row, param in enumerate(effect.params, start=1):
        values = np.asarray(param.to_real(automation.settings[:, row - 1]), dtype=np.float64)
        figure.add_trace(go.Scatter(x=automation.times, y=values, mode="lines+markers", name=param.name,
                                    marker={"size": 4}, hovertemplate="%{x:.2f} s: %{y:.4g}<extra></extra>"),
                         row=row, col=1)
        figure.update_yaxes(title_text=f"{param.name} ({param.unit})" if param.unit else param.name,
                            type="log" if param.scale == "log" else "linear", row=row, col=1)
    figure.update_xaxes(title_text="time (s)", row=effect.n_params, col=1)
    figure.update_layout(height=110 * effect.n_params + 60, showlegend=False,
                         margin={"l": 60, "r": 10, "t": 20, "b": 40})
    return figure
