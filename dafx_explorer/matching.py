"""Style matching: the settings of an effect that make an input sound like a reference.

The effect's settings estimator (:mod:`dafx_explorer.estimator`) predicts them from both recordings'
analysis windows (:func:`dafx_explorer.audio.analysis_window`), or the β-VAE controller where an effect
has no estimator; a setting that can be read off the reference (:mod:`dafx_explorer.readings`) replaces
the prediction's, and the whole input is processed with the result.

Optional refinement searches around that start with CMA-ES on :class:`TextureObjective`, which compares
what an effect changes and the notes do not, and keeps the start wherever the reference reads as other
material (:data:`MATERIAL_LIMIT`) or the controller reads the search's best as farther from the
reference than the start (:func:`reads_like_reference`). It never returns settings worse than its start
on the objective; docs/results.md shows per effect where it helps on real recordings.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from dafx_explorer import audio, features, inference, readings
from dafx_explorer.effects import Effect
from dafx_explorer.settings import SAMPLE_RATE

Progress = Callable[[float, str], None]
POPULATION = 8
"""Candidates per CMA-ES generation."""
TEXTURE_WEIGHTS = (1.0, 3.0, 3.0)
"""Weights w_m, w_s, w_a of the long-term spectrum, band movement and envelope autocorrelation."""
ANCHOR_WEIGHT = 0.3
"""Weight λ of the refinement's trust region around the controller's prediction."""
ECHO_WEIGHT = 10.0
"""Weight w_e of the onset-autocorrelation term, for effects with an echo-time parameter."""
MATERIAL_LIMIT = 0.4
"""Largest J at the refinement's start for which the search runs; above it the reference reads as other material."""
READING_MARGIN = 0.02
"""How much farther (mean absolute, normalized) the controller may read the refined result than its start."""


@dataclass(frozen=True)
class MatchResult:
    """Outcome of :func:`match`.

    Attributes
    ----------
    params : np.ndarray
        Settings predicted (normalized), by :attr:`predictor`.
    refined_params : np.ndarray or None
        Settings after refinement (None when no refinement ran).
    audio : np.ndarray
        The whole input processed with :attr:`final_params` (24 kHz).
    seconds : float
        Wall time of prediction, measurement and rendering (s), model loading excluded.
    refine_seconds : float
        Wall time spent refining (s).
    objective_start, objective_best : float or None
        Refinement objective at the prediction and at the refined settings.
    measured : tuple of int
        Indices of the settings read off the reference (:func:`measured_start`), held by refinement.
    measured_params : np.ndarray or None
        ``params`` with the ``measured`` settings replaced by the values read off the reference
        (None when nothing was measured): the result without refinement.
    set_aside : bool
        Whether the search's best settings were set aside for its start (:func:`reads_like_reference`);
        ``refined_params`` is then the start: the prediction, with any measured setting.
    other_material : bool
        Whether the search was skipped because J at its start exceeded :data:`MATERIAL_LIMIT` (the
        reference reads as other material than the input); ``refined_params`` is then the start.
    predictor : {"estimator", "controller"}
        What predicted :attr:`params`: the effect's settings estimator, or the β-VAE controller where
        the effect has none.
    """

    params: np.ndarray
    refined_params: np.ndarray | None
    audio: np.ndarray
    seconds: float
    refine_seconds: float = 0.0
    objective_start: float | None = None
    objective_best: float | None = None
    measured: tuple[int, ...] = ()
    set_aside: bool = False
    other_material: bool = False
    measured_params: np.ndarray | None = None
    predictor: str = "estimator"

    @property
    def unrefined_params(self) -> np.ndarray:
        """The result without refinement: the prediction with any measured setting."""
        return self.params if self.measured_params is None else self.measured_params

    @property
    def final_params(self) -> np.ndarray:
        """The settings the result was rendered with: refined, else :attr:`unrefined_params`."""
        return self.unrefined_params if self.refined_params is None else self.refined_params


class TextureObjective:
    """The refinement's objective J over a batch of candidate settings p, from the analysis windows::

        J(p) = w_m·mean((m(f(x,p)) - m(r))²) + w_s·mean((s(f(x,p)) - s(r))²)
               + w_a·mean((a(f(x,p)) - a(r))²) + λ·mean((p - p̂)²) [+ w_e·mean((e(f(x,p)) - e(r))²)]

    with ``m, s, a`` the texture statistics of :func:`dafx_explorer.features.texture_statistics`
    (long-term spectrum, band movement, envelope autocorrelation) of the processed input and the
    reference, ``p̂`` the prediction, and ``e`` the onset autocorrelation over the echo-time range where
    the effect's read setting is an echo time.
    """

    def __init__(self, effect: Effect, input_window: np.ndarray, reference_window: np.ndarray,
                 prediction: np.ndarray):
        self.effect, self.prediction = effect, np.asarray(prediction, dtype=np.float64)
        self.window = audio.analysis_window(input_window)
        reference_window = audio.analysis_window(reference_window)
        self.reference = features.texture_statistics(features.mel_features(reference_window))
        read = readings.measured_parameter(effect)
        is_echo = read is not None and readings.READERS[effect.name][1] is readings.echo_times
        self.echo_lags = readings.echo_lags(effect.params[read]) if is_echo else None
        if self.echo_lags is not None:
            self.reference_echoes = features.onset_autocorrelation(reference_window)[0, self.echo_lags]

    def __call__(self, candidates: np.ndarray) -> np.ndarray:
        """Objective values (n,) for candidate settings (n, n_params)."""
        rendered = np.stack([self.effect.render(self.window, SAMPLE_RATE, p) for p in candidates])
        statistics = features.texture_statistics(features.mel_features(rendered))
        texture = sum(weight * torch.mean((candidate - reference) ** 2, dim=1)
                      for weight, candidate, reference in zip(TEXTURE_WEIGHTS, statistics, self.reference, strict=True))
        anchor = np.mean((candidates - self.prediction) ** 2, axis=1)
        values = texture.numpy().astype(np.float64) + ANCHOR_WEIGHT * anchor
        if self.echo_lags is not None:
            echoes = features.onset_autocorrelation(rendered)[:, self.echo_lags]
            values += ECHO_WEIGHT * np.mean((echoes - self.reference_echoes) ** 2, axis=1)
        return values


def refine(objective: Callable[[np.ndarray], np.ndarray], start: np.ndarray, *, seconds: float,
           seed: int = 0, sigma: float = 0.15, hold: tuple[int, ...] = (), start_value: float | None = None,
           progress: Progress | None = None) -> tuple[np.ndarray, float, float]:
    """CMA-ES in [0, 1]^n from ``start`` for about ``seconds`` s: the first generation (which also
    scores the start, unless ``start_value`` gives its objective already) always runs, a later one
    only when it would likely end within the budget. The parameters whose indices are in ``hold``
    keep their values from ``start``.

    Returns
    -------
    (best settings, objective at start, best objective); best is ``start`` unless a candidate beat it.
    """
    with warnings.catch_warnings():  # cma warns that matplotlib (plots only) is absent
        warnings.simplefilter("ignore", UserWarning)
        import cma

    begun = time.perf_counter()
    start = np.clip(np.asarray(start, dtype=np.float64), 0.0, 1.0)
    free = np.array([i for i in range(len(start)) if i not in hold])
    if not len(free):
        raise ValueError("refine needs at least one parameter that is not held")
    options = {"seed": seed + 1, "verbose": -9, "popsize": POPULATION}
    if len(free) > 1:  # cma's bound handling fails in one dimension; there the clipping below keeps the box
        options["bounds"] = [0.0, 1.0]
    strategy = cma.CMAEvolutionStrategy(start[free].tolist(), sigma, options)
    best, best_value, generation_seconds, generations = start.copy(), start_value, 0.0, 0
    while not generations or time.perf_counter() - begun + generation_seconds <= seconds:
        tick = time.perf_counter()
        points = np.clip(np.array(strategy.ask()), 0.0, 1.0)
        candidates = np.repeat(start[None, :], len(points), axis=0)
        candidates[:, free] = points
        if start_value is None:  # the start is scored in the first generation's batch
            values = objective(np.vstack([start[None, :], candidates]))
            start_value = best_value = float(values[0])
            values = values[1:]
        else:
            values = objective(candidates)
        strategy.tell(list(points), values.tolist())
        generation_seconds, generations = time.perf_counter() - tick, generations + 1
        if values.min() < best_value:
            best, best_value = candidates[int(values.argmin())].copy(), float(values.min())
        if progress is not None:
            progress(min((time.perf_counter() - begun) / seconds, 1.0), f"objective {best_value:.4g}")
    return best, float(start_value), float(best_value)


def measured_start(objective: TextureObjective, reference_window: np.ndarray
                   ) -> tuple[np.ndarray, tuple[int, ...], float | None, float | None]:
    """The result without refinement, and where refinement starts: the prediction with its read setting
    (:mod:`dafx_explorer.readings`) replaced by the value that lowers J most (the first, where the
    reading is decisive) and then held by the search, for the delay with its feedback and mix then fitted
    (:func:`dafx_explorer.readings.fit_echo_level`), held too; for the flanger, the prediction with its
    sweep fitted (:func:`dafx_explorer.readings.fit_sweep`), held; the prediction, nothing held, where
    nothing is read or no value lowers J.

    Returns
    -------
    (start settings, indices of held parameters, J at the prediction, J at the start); both J are
    None where nothing was read or the sweep was fitted.
    """
    prediction, effect = objective.prediction, objective.effect
    if readings.sweep_fitted(effect):
        start = readings.fit_sweep(effect, objective.window, reference_window, prediction)
        return start, readings.measured_parameters(effect), None, None
    found = readings.read(effect, objective.window, reference_window)
    if found is None or not found[1].values:
        return prediction, (), None, None
    index, reading = found
    starts = np.repeat(prediction[None, :], len(reading.values) + 1, axis=0)
    starts[1:, index] = effect.params[index].to_normalized(np.array(reading.values))
    scores = objective(starts)
    best = 1 if reading.decisive else int(scores.argmin())
    start, hold, value = starts[best], ((index,) if best else ()), float(scores[best])
    if readings.echo_level_fitted(effect):
        start = readings.fit_echo_level(effect, objective.window, reference_window, start)
        hold = tuple(sorted({*hold, *readings.echo_level_indices(effect)}))
        value = float(objective(start[None, :])[0])
    return start, hold, float(scores[0]), value


def reads_like_reference(objective: TextureObjective, start: np.ndarray, refined: np.ndarray,
                         hold: tuple[int, ...], bundle: inference.Models) -> bool:
    """Whether the controller reads the input processed at ``refined`` about as it read the reference.

    The controller reads back the settings of ``f(x, p)`` roughly whatever the material, while J
    compares textures that differ with it; so where it reads ``f(x, refined)`` farther from its
    prediction than ``f(x, start)`` (by more than :data:`READING_MARGIN`, over the settings not held),
    the search chased the reference's material rather than its effect.
    """
    if np.array_equal(start, refined):  # the search found nothing better: the same reading, nothing to check
        return True
    effect, window, prediction = objective.effect, objective.window, objective.prediction
    free = [i for i in range(effect.n_params) if i not in hold]
    processed = [effect.render(window, SAMPLE_RATE, p) for p in (start, refined)]
    z = inference.embed(bundle.encoder, np.stack([window, *processed]))
    readings_back = inference.controller_settings(bundle.controller, z[:1].expand(2, -1), z[1:])
    start_distance, refined_distance = np.mean(np.abs(readings_back[:, free] - prediction[free]), axis=1)
    return bool(refined_distance <= start_distance + READING_MARGIN)


def match(effect: Effect, input_audio: np.ndarray, reference_audio: np.ndarray, *, refine_seconds: float = 0.0,
          progress: Progress | None = None, bundle: inference.Models | None = None) -> MatchResult:
    """Predict (and optionally refine) the settings that make ``input_audio`` sound like ``reference_audio``.

    Both signals are 24 kHz mono float32 (see :func:`dafx_explorer.audio.load`); the result's
    audio is the whole input processed with the final settings: the refined ones, else the
    prediction with any setting measured off the reference (:func:`measured_start`).
    """
    bundle = bundle or inference.load_models(effect.name)
    started = time.perf_counter()
    input_window, reference_window = audio.analysis_window(input_audio), audio.analysis_window(reference_audio)
    predicted, predictor = inference.predict_settings(effect, input_window, reference_window, bundle)
    start, hold, start_value, searched_from, objective = predicted, (), None, None, None
    if refine_seconds > 0 or readings.measured_parameters(effect):
        objective = TextureObjective(effect, input_window, reference_window, predicted)
        start, hold, start_value, searched_from = measured_start(objective, reference_window)
    seconds = time.perf_counter() - started
    refined, refine_time, best_value, set_aside, other_material = None, 0.0, None, False, False
    if refine_seconds > 0:
        tick = time.perf_counter()
        if searched_from is None:
            searched_from = start_value = float(objective(start[None, :])[0])
        other_material = searched_from > MATERIAL_LIMIT
        if other_material:
            refined, best_value = start, searched_from
        else:
            budget = refine_seconds - (time.perf_counter() - tick)
            refined, _, best_value = refine(objective, start, seconds=budget, hold=hold, start_value=searched_from,
                                            progress=progress)
            set_aside = not reads_like_reference(objective, start, refined, hold, bundle)
            refined = start if set_aside else refined
        refine_time = time.perf_counter() - tick
    tick = time.perf_counter()
    output = effect.render(input_audio, SAMPLE_RATE, start if refined is None else refined)
    seconds += time.perf_counter() - tick
    return MatchResult(predicted, refined, output, seconds, refine_time, start_value, best_value, hold, set_aside,
                       other_material, start if hold else None, predictor)
