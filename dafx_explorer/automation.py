"""Latent paths: a route drawn across a dataset's map becomes automation of the effect's settings.

The route is simplified to its bends (:func:`simplify`); at each bend the embedding is interpolated
from the nearest points as an empty-space click does, and between bends it moves in a straight line in
latent space. Travelled at constant speed, one step every :data:`STEP_SECONDS`, the controller predicts
every step's settings (:func:`automate`), and each setting moves monotonically between two bends
(:func:`monotone_between`), so a straight stroke is a morph that never doubles back.

:func:`render` crossfades fixed-setting renders of consecutive steps, each fed the input from its start
so delays and reverbs ring as they would; the ring modulator is ramped per sample instead
(:func:`ramp_ring_modulator`), so a carrier sweep neither clicks nor beats. Both use numpy only, so the
exported script (:func:`snippet`) renders the same samples. See docs/latent-paths.md.
"""

from __future__ import annotations

import inspect
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dafx_explorer import effects, latent_map, store
from dafx_explorer.errors import DataError, EffectError, ModelError

STEP_SECONDS = 0.4
"""Time between two automation steps (s): the controller is asked once per step."""

MIN_STEP_SECONDS = 0.01
"""Shortest step and shortest route accepted (s)."""

SIMPLIFY_TOLERANCE = 0.02
"""Largest distance (fraction of the map's extent) a simplified route strays from the drawn one."""

MAX_DURATION_SECONDS = 600.0
"""Longest route duration accepted (s)."""

MAX_ROUTE_POINTS = 10_000
"""Most positions accepted in one route."""

SOURCE = "dafx-explorer"
"""The ``source`` field of exported automation."""


# --------------------------------------------------------------------------- routes


def parse_route(event) -> np.ndarray | None:
    """The route in a Streamlit Plotly selection event: the last lasso's vertices in drawing order.

    Parameters
    ----------
    event : mapping
        What ``st.plotly_chart(..., on_select="rerun", selection_mode=("points", "lasso"))`` returns;
        a lasso arrives as ``{"selection": {"lasso": [{"x": [...], "y": [...], ...}], ...}}``.

    Returns
    -------
    np.ndarray of float64, shape (M, 2), or None
        Map positions (x, y) where the drag went, first to last (the closing edge Plotly draws
        back to the start is not part of the route); None when the event holds no lasso.
    """
    selection = event.get("selection") if isinstance(event, Mapping) else None
    lassos = selection.get("lasso") if isinstance(selection, Mapping) else None
    if not lassos:
        return None
    lasso = lassos[-1]
    if not isinstance(lasso, Mapping) or not isinstance(lasso.get("x"), list | tuple) \
            or not isinstance(lasso.get("y"), list | tuple) or len(lasso["x"]) != len(lasso["y"]):
        raise DataError("a lasso selection must carry lists x and y of equal length")
    return _positions(list(zip(lasso["x"], lasso["y"], strict=True)), "a lasso")


def read_route(data) -> np.ndarray:
    """A route from JSON: ``[[x, y], ...]`` in map coordinates, or an object with such a ``"route"``
    (an exported automation, :func:`automation_json`).

    Parameters
    ----------
    data : str, bytes, list or mapping
        JSON text, or the parsed value.
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"a route must be JSON, e.g. [[0.5, 1.2], [3.0, 2.5]] ({exc})") from None
    if isinstance(data, Mapping):
        if "route" not in data:
            raise DataError('a route object must have a "route": [[x, y], ...]')
        data = data["route"]
    return _positions(data, "a route")


def _positions(data, what: str) -> np.ndarray:
    if not isinstance(data, list | tuple) or not all(isinstance(p, list | tuple) and len(p) == 2 for p in data):
        raise DataError(f"{what} must be a list of [x, y] map positions, e.g. [[0.5, 1.2], [3.0, 2.5]]")
    if len(data) > MAX_ROUTE_POINTS:
        raise DataError(f"{what} may hold at most {MAX_ROUTE_POINTS} positions, got {len(data)}")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for p in data for v in p):
        raise DataError(f"{what}'s positions must be numbers, got {data[:3]!r}…")
    route = np.asarray(data, dtype=np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(route)):
        raise DataError(f"{what}'s positions must be finite numbers")
    return route


def check_route(route, xy) -> np.ndarray:
    """The route as float64 (M, 2) without repeated consecutive positions, or ``DataError``: it needs
    at least two distinct positions, all of them on the map (:func:`latent_map.map_bounds`)."""
    route = _positions(np.asarray(route, dtype=np.float64).tolist(), "a route")
    if len(route):
        route = route[np.r_[True, np.any(np.diff(route, axis=0) != 0.0, axis=1)]]
    if len(route) < 2:
        raise DataError(f"a route needs at least 2 distinct map positions, got {len(route)}")
    low, high = latent_map.map_bounds(xy)
    outside = np.flatnonzero(np.any((route < low) | (route > high), axis=1))
    if outside.size:
        x, y = route[outside[0]]
        raise DataError(f"route position ({x:.4g}, {y:.4g}) lies outside the map, which spans x "
                        f"{low[0]:.4g} to {high[0]:.4g} and y {low[1]:.4g} to {high[1]:.4g}")
    return route


def simplify(route, tolerance: float) -> np.ndarray:
    """Ramer–Douglas–Peucker simplification (Douglas & Peucker 1973): the fewest vertices of
    ``route`` (M, 2), ends kept, such that the drawn route stays within ``tolerance`` (map units)."""
    route = np.asarray(route, dtype=np.float64)
    keep = np.zeros(len(route), dtype=bool)
    keep[[0, -1]] = True
    pending = [(0, len(route) - 1)]
    while pending:
        first, last = pending.pop()
        if last - first < 2:
            continue
        start, chord = route[first], route[last] - route[first]
        offsets = route[first + 1:last] - start
        length = float(np.hypot(*chord))
        if length > 0.0:
            distances = np.abs(chord[0] * offsets[:, 1] - chord[1] * offsets[:, 0]) / length
        else:
            distances = np.hypot(offsets[:, 0], offsets[:, 1])
        farthest = int(np.argmax(distances))
        if distances[farthest] > tolerance:
            middle = first + 1 + farthest
            keep[middle] = True
            pending += [(first, middle), (middle, last)]
    return route[keep]


def _arc_lengths(route: np.ndarray) -> np.ndarray:
    """Cumulative length along the polyline at each vertex, from 0."""
    return np.r_[0.0, np.cumsum(np.hypot(*np.diff(route, axis=0).T))]


# --------------------------------------------------------------------------- automation


@dataclass(frozen=True)
class Automation:
    """Settings moving along a route of a dataset's map.

    Attributes
    ----------
    effect : effects.Effect
    dataset, encoder : str
        The map the route was drawn on (``dataset.projection(k, encoder)``).
    k : int
    route : np.ndarray, shape (M, 2)
        The route as given (map positions, in travel order).
    bends : np.ndarray, shape (B, 2)
        Its simplified vertices, where embeddings are interpolated from the map's points.
    times : np.ndarray, shape (K,)
        Step times (s), from 0 to ``times[-1]``, the route's duration.
    positions : np.ndarray, shape (K, 2)
        Map position of each step.
    settings : np.ndarray, shape (K, n_params)
        Normalized settings the controller predicts at each step.
    """

    effect: effects.Effect
    dataset: str
    encoder: str
    k: int
    route: np.ndarray
    bends: np.ndarray
    times: np.ndarray
    positions: np.ndarray
    settings: np.ndarray

    @property
    def duration(self) -> float:
        """Seconds the route takes."""
        return float(self.times[-1])


def step_times(duration: float, step_seconds: float = STEP_SECONDS) -> np.ndarray:
    """Times (s) of the steps of a route lasting ``duration`` s: every ``step_seconds`` from 0, and the end."""
    for name, value in (("duration", duration), ("step_seconds", step_seconds)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or value < MIN_STEP_SECONDS:
            raise DataError(f"the route's {name} must be a number of seconds of at least {MIN_STEP_SECONDS:g}, "
                            f"got {value!r}")
    if duration > MAX_DURATION_SECONDS:
        raise DataError(f"a route may last at most {MAX_DURATION_SECONDS:g} s, got {duration:g} s")
    steps = max(1, math.ceil(duration / step_seconds - 1e-9))
    return np.minimum(np.arange(steps + 1) * float(step_seconds), float(duration))


def automate(dataset: store.Dataset, controller: latent_map.LatentController | None, route, *, duration: float,
             encoder: str = "vae", k: int = 0, step_seconds: float = STEP_SECONDS,
             neighbours: int = latent_map.NEIGHBOURS) -> Automation:
    """Settings at every step of a route across the map ``dataset.projection(k, encoder)``.

    Parameters
    ----------
    dataset : store.Dataset
    controller : latent_map.LatentController
        Predicts settings from interpolated embeddings; a dataset without one cannot be automated.
    route : array-like, shape (M, 2)
        Map positions in travel order (at least two distinct ones, on the map).
    duration : float
        Seconds the route takes; it is travelled at constant speed.
    encoder, k
        Which of the dataset's maps the route is drawn on.
    step_seconds : float
        Time between steps (s).
    neighbours : int
        Points each bend's embedding is interpolated from.
    """
    if controller is None:
        raise ModelError(f"dataset {dataset.name} has no controller to predict settings along a route; "
                         f"train one with: python -m dafx_explorer train-controller --effect {dataset.effect.name}")
    xy = dataset.projection(k, encoder)
    route = check_route(route, xy)
    low, high = latent_map.map_bounds(xy)
    bends = simplify(route, SIMPLIFY_TOLERANCE * float(np.max(high - low)))
    embeddings = dataset.embeddings_for("vae")
    bend_z = np.stack([latent_map.interpolate(embeddings, *latent_map.inverse_distance_weights(
        xy, position, neighbours=neighbours)) for position in bends])
    times = step_times(duration, step_seconds)
    along = _arc_lengths(bends)
    travelled = times / times[-1] * along[-1]
    segment = np.clip(np.searchsorted(along, travelled, side="right") - 1, 0, len(bends) - 2)
    fraction = np.clip((travelled - along[segment]) / (along[segment + 1] - along[segment]), 0.0, 1.0)[:, None]
    positions = (1.0 - fraction) * bends[segment] + fraction * bends[segment + 1]
    z = (1.0 - fraction) * bend_z[segment] + fraction * bend_z[segment + 1]
    settings = np.stack([controller.predict(row) for row in z])
    bend_settings = np.stack([controller.predict(row) for row in bend_z])
    for j in np.unique(segment):
        steps = segment == j
        for i in range(settings.shape[1]):
            settings[steps, i] = monotone_between(settings[steps, i], bend_settings[j, i], bend_settings[j + 1, i])
    return Automation(dataset.effect, dataset.name, encoder, int(k), route, bends, times, positions, settings)


def monotone_between(values, start: float, end: float) -> np.ndarray:
    """The closest sequence (least squares) to ``values`` that moves monotonically from ``start`` to
    ``end`` and stays between them: isotonic regression by pooling adjacent violators (Barlow et
    al. 1972) of ``[start, *values, end]`` in the direction of ``end − start``, clipped to
    ``[start, end]``; constant where the two are equal."""
    sign = 1.0 if end >= start else -1.0
    means, counts = [], []
    for value in sign * np.r_[start, np.asarray(values, dtype=np.float64), end]:
        means.append(float(value))
        counts.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            count = counts[-2] + counts[-1]
            means[-2:] = [(means[-2] * counts[-2] + means[-1] * counts[-1]) / count]
            counts[-2:] = [count]
    fitted = sign * np.repeat(means, counts)[1:-1]
    return np.clip(fitted, min(start, end), max(start, end))


# --------------------------------------------------------------------------- rendering


def render_steps(process, audio, sample_rate, times, settings):
    """Render ``audio`` with settings that move from step to step, without clicks.

    Output sample n is the blend of the fixed-setting renders of the steps around it, with
    triangular weights (a linear crossfade over the whole step); each render is fed the input
    from its start, so that echoes and reverb ring as they would at that setting. The input is
    looped when the route lasts longer than it; past the route's end the last setting holds.

    Parameters
    ----------
    process : callable
        ``process(audio, sample_rate, step_settings)`` → the same number of samples.
    audio : np.ndarray
        Mono float32 samples.
    sample_rate : int
        Hz.
    times : sequence of float
        Step times (s), increasing from 0.
    settings : sequence
        The settings of each step, as ``process`` takes them.

    Returns
    -------
    np.ndarray
        float32, ``max(len(audio), times[-1] * sample_rate)`` samples.
    """
    x = np.asarray(audio, dtype=np.float32)
    marks = np.rint(np.asarray(times, dtype=np.float64) * sample_rate).astype(np.int64)
    x = np.resize(x, max(x.size, int(marks[-1])))
    out = np.zeros(x.size, dtype=np.float64)
    lookahead = sample_rate // 10  # renders run on past their span: zero-phase filters see what follows
    for k in range(len(marks)):
        start = 0 if k == 0 else int(marks[k - 1])
        stop = x.size if k == len(marks) - 1 else min(int(marks[k + 1]), x.size)
        if stop <= start:
            continue
        rendered = np.asarray(process(x[:min(stop + lookahead, x.size)], sample_rate, settings[k]), dtype=np.float32)
        unit = np.zeros(len(marks))
        unit[k] = 1.0
        out[start:stop] += np.interp(np.arange(start, stop), marks, unit) * rendered[start:stop]
    return out.astype(np.float32)


def ramp_ring_modulator(audio, sample_rate, times, carrier_hz, mix):
    """Ring modulator with its carrier frequency and mix ramped per sample between steps.

    The carrier (geometric interpolation between steps, as on its log scale) accumulates its
    phase from 0 at the first sample, so it stays continuous however fast it sweeps; the mix is
    interpolated linearly. The input is looped when the route lasts longer than it; past the
    route's end the last setting holds. Same arguments as :func:`render_steps`, with the
    steps' ``carrier_hz`` and ``mix``; float32 out.
    """
    x = np.asarray(audio, dtype=np.float32)
    marks = np.asarray(times, dtype=np.float64) * sample_rate
    x = np.resize(x, max(x.size, int(round(marks[-1]))))
    n = np.arange(x.size)
    frequency = np.exp(np.interp(n, marks, np.log(np.asarray(carrier_hz, dtype=np.float64))))
    phase = 2.0 * np.pi * np.r_[0.0, np.cumsum(frequency[:-1])] / sample_rate
    wet = np.interp(n, marks, np.asarray(mix, dtype=np.float64))
    carrier = np.sin(phase).astype(np.float32)
    return ((1.0 - wet) * x + wet * (x * carrier)).astype(np.float32)


def _ramps_per_sample(effect: effects.Effect) -> bool:
    return getattr(effect, "function", None) is effects.process_ringmod


def render(automation: Automation, audio, sr: int) -> np.ndarray:
    """``audio`` (mono float32 at ``sr`` Hz) with the effect's settings moving along the route.

    Returns float32 samples, as many as the longer of the input and the route (the input loops).
    """
    effect = automation.effect
    samples = _checked_audio(audio, sr)
    if _ramps_per_sample(effect):
        real = [effect.real(p) for p in automation.settings]
        return ramp_ring_modulator(samples, sr, automation.times, [v["carrier_hz"] for v in real],
                                   [v["mix"] for v in real])
    return render_steps(effect.render, samples, sr, automation.times, list(automation.settings))


def switched_render(automation: Automation, audio, sr: int) -> np.ndarray:
    """The baseline that :func:`render` improves on: each step's fixed-setting render played from
    its time to the next step's, switched without a crossfade."""
    samples = _checked_audio(audio, sr)
    marks = np.rint(automation.times * sr).astype(np.int64)
    x = np.resize(samples, max(samples.size, int(marks[-1])))
    edges = np.r_[marks, x.size]
    out = np.zeros_like(x)
    for k, p in enumerate(automation.settings):
        start, stop = int(edges[k]), int(min(edges[k + 1], x.size))
        if stop > start:
            out[start:stop] = automation.effect.render(x[:stop], sr, p)[start:stop]
    return out


def _checked_audio(audio, sr) -> np.ndarray:
    samples = np.asarray(audio)
    if samples.ndim != 1 or samples.size == 0 or not np.issubdtype(samples.dtype, np.floating):
        raise DataError(f"a route renders mono float audio with at least one sample, got {samples.dtype} "
                        f"{samples.shape}")
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
        raise DataError(f"sample rate must be a positive integer in Hz, got {sr!r}")
    return samples.astype(np.float32)


def discontinuity(samples) -> float:
    """The largest kink in a signal: max |y[n] − 2 y[n−1] + y[n−2]| (full scale 1).

    A click (a step) or a zipper (a run of small steps) shows as a second difference larger than
    the signal's own; compare the value of a route's render with those of fixed-setting renders.
    """
    y = np.asarray(samples, dtype=np.float64)
    return float(np.max(np.abs(np.diff(y, 2)))) if y.size > 2 else 0.0


def discontinuities(automation: Automation, audio, sr: int) -> dict[str, float]:
    """:func:`discontinuity` of the route's render, of the largest of the fixed-setting renders of
    its steps (each looped like the route's input), and of :func:`switched_render`."""
    samples = _checked_audio(audio, sr)
    x = np.resize(samples, max(samples.size, int(round(automation.duration * sr))))
    fixed = max(discontinuity(automation.effect.render(x, sr, p)) for p in automation.settings)
    return {"route": discontinuity(render(automation, samples, sr)), "fixed": fixed,
            "switched": discontinuity(switched_render(automation, samples, sr))}


# --------------------------------------------------------------------------- export


def table(automation: Automation) -> pd.DataFrame:
    """One row per step: ``time_s``, ``map_x``, ``map_y``, then every setting in real units."""
    effect = automation.effect
    real = np.column_stack([p.to_real(automation.settings[:, i]) for i, p in enumerate(effect.params)])
    frame = pd.DataFrame(real, columns=list(effect.param_names))
    frame.insert(0, "map_y", automation.positions[:, 1])
    frame.insert(0, "map_x", automation.positions[:, 0])
    frame.insert(0, "time_s", automation.times)
    return frame


def automation_csv(automation: Automation) -> str:
    """:func:`table` as CSV text (real units; the units are in :func:`automation_json`)."""
    buffer = io.StringIO()
    table(automation).to_csv(buffer, index=False, float_format="%.6g")
    return buffer.getvalue()


def automation_dict(automation: Automation) -> dict:
    """The automation as a JSON-ready dict: the map, the route, and each step's time, position and
    settings (``{name: {"normalized", "value", "unit"}}``, as in presets)."""
    effect = automation.effect
    return {
        "effect": effect.name, "dataset": automation.dataset, "encoder": automation.encoder, "k": automation.k,
        "duration_seconds": automation.duration, "route": automation.route.tolist(),
        "steps": [{"time_s": float(t), "map_x": float(x), "map_y": float(y), "params": effect.describe(p)}
                  for t, (x, y), p in zip(automation.times, automation.positions, automation.settings, strict=True)],
        "source": SOURCE,
    }


def automation_json(automation: Automation) -> str:
    """:func:`automation_dict` as indented JSON text; ``automate --route`` reads it back."""
    return json.dumps(automation_dict(automation), indent=2) + "\n"


def snippet(automation: Automation) -> str:
    """Python source defining ``process(audio, sample_rate)`` that renders like :func:`render` (the
    same samples): the effect's processing function, :func:`render_steps` (or
    :func:`ramp_ring_modulator`) and the steps' settings in real units. Built-in effects only."""
    effect = automation.effect
    if not isinstance(effect, effects.BuiltinEffect):
        raise EffectError(f"a standalone automation script is made for built-in effects only, not {effect.name!r}; "
                          f"export the automation as JSON or CSV instead")
    times = [float(t) for t in automation.times]
    values = [effect.real(p) for p in automation.settings]
    header = (f'"""{effect.name} ({effect.description}) automated along a route across the {automation.dataset} '
              f"map, exported from DAFX Explorer.\n\n{len(times)} steps over {automation.duration:g} s. Call "
              f'process(audio, sample_rate) on mono float32 audio.\n"""\n\nimport numpy as np\nimport pedalboard\n\n'
              f"TIMES = {times!r}\nSETTINGS = [\n" + "".join(f"    {v!r},\n" for v in values) + "]\n\n\n")
    if _ramps_per_sample(effect):
        body = (inspect.getsource(ramp_ring_modulator)
                + "\n\ndef process(audio: np.ndarray, sample_rate: int) -> np.ndarray:\n"
                + "    return ramp_ring_modulator(audio, sample_rate, TIMES, [s['carrier_hz'] for s in SETTINGS],\n"
                + "                               [s['mix'] for s in SETTINGS])\n")
    else:  # the effect's own script, less its header and its fixed-setting process()
        fixed = effect.snippet(automation.settings[0])[len(effect._snippet_header(automation.settings[0])):]
        sources = fixed[:fixed.rindex("\n\ndef process(")].rstrip("\n") + "\n\n\n" + inspect.getsource(render_steps)
        body = (sources + "\n\ndef process(audio: np.ndarray, sample_rate: int) -> np.ndarray:\n"
                + f"    return render_steps(lambda x, rate, values: {effect.function.__name__}(x, rate, **values),\n"
                + "                        audio, sample_rate, TIMES, SETTINGS)\n")
    usage = ('\n\n# Usage:\n#     import soundfile as sf\n#     audio, sample_rate = sf.read("input.wav", '
             'dtype="float32", always_2d=True)\n#     sf.write("output.wav", process(audio.mean(axis=1), '
             "sample_rate), sample_rate)\n")
    return header + body + usage


def file_name(automation: Automation, suffix: str) -> str:
    """A safe download name: ``{effect}_route{suffix}``."""
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in automation.effect.name) + f"_route{suffix}"
