"""Style matching: the settings of an effect that make an input sound like a reference.

The effect's settings estimator (:mod:`dafx_explorer.estimator`) predicts normalized settings from
both recordings' analysis windows (:func:`dafx_explorer.audio.analysis_window`: the first
``WINDOW`` samples, zero-padded, or the first window of a long clip that is not near-silent); where
an effect has no estimator yet, the β-VAE controller predicts them from the two windows' embeddings.
The whole input is then processed with them.

Refinement (optional, within a time budget) searches around the prediction with CMA-ES.
The reference's notes differ from the input's, so the objective compares what an effect
changes and the notes do not: the texture statistics of
:func:`dafx_explorer.features.texture_statistics` (long-term spectrum ``m``, band movement
``s``, envelope autocorrelation ``a``) of the processed input ``f(x, p)`` and of the
reference ``r``, plus a trust region around the prediction ``p̂``::

    J(p) = w_m·mean((m(f(x,p)) - m(r))²) + w_s·mean((s(f(x,p)) - s(r))²)
           + w_a·mean((a(f(x,p)) - a(r))²) + λ·mean((p - p̂)²)
           [+ w_e·mean((e(f(x,p)) - e(r))²) for an effect with an echo-time parameter]

where ``e`` is :func:`dafx_explorer.features.onset_autocorrelation` over the lags the echo time
can take (2 ms steps).

The weights (:data:`TEXTURE_WEIGHTS`, :data:`ANCHOR_WEIGHT`) were chosen on held-out pairs
of another seed than ``evaluate``'s (8 pairs per effect; picking the best of 48 candidates
around the prediction by ``J`` lowered the MRSTFT on all eight effects). An earlier
objective that asked the controller to read ``(x, f(x, p))`` like ``(x, r)`` helped on only
three. The search starts from the prediction and returns the best settings it evaluated, the
prediction included, so it never returns settings worse than its start on ``J``.

Where the reference is other material than the input, ``J`` also pulls the result's spectrum
and movement toward the reference's, which differ with the material even at the true settings.
So the search's best is then checked by the controller (:func:`reads_like_reference`): it reads
``(x, f(x, p))`` back roughly as ``p``, having been trained on references of other material
than its input, and where it reads the search's best farther from its prediction than the
search's start, the start is returned. Where ``J`` at the start already exceeds
:data:`MATERIAL_LIMIT`, the reference is other material than the input and the search is not run
at all: on held-out pairs across recordings it was worse than its start for most effects whatever
the check's margin, while within one recording ``J`` at the start nearly always lies below it.

Echo times, reverb pre-delays and ring-modulation carriers are measured rather than searched
(:func:`measured_start`, :data:`MEASUREMENTS`): a few per cent (or milliseconds) off in any of
them loses most of the MRSTFT gained over random settings, which is finer than the controller
reads or the search steps, while the reference's autocorrelation places an echo or a reverb's
first reflections to the sample and its squared spectrum a carrier to a fraction of a hertz.
Where the measured value lowers ``J``, or the reading is decisive (:class:`Reading`: a pre-delay,
which ``J`` cannot resolve, or a carrier whose two lines both show), it replaces the prediction's,
with or without refinement (measuring takes about 25 ms), and the search starts from it and holds it.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.ndimage
import torch

from dafx_explorer import audio, effects, estimator, features, models
from dafx_explorer.effects import Effect, Param
from dafx_explorer.errors import ModelError
from dafx_explorer.settings import SAMPLE_RATE, get_settings

Progress = Callable[[float, str], None]
POPULATION = 8
"""Candidates per CMA-ES generation."""
TEXTURE_WEIGHTS = (1.0, 3.0, 3.0)
"""Weights w_m, w_s, w_a of the long-term spectrum, band movement and envelope autocorrelation."""
ANCHOR_WEIGHT = 0.3
"""Weight λ of the refinement's trust region around the controller's prediction."""
ECHO_WEIGHT = 10.0
"""Weight w_e of the onset-autocorrelation term, for effects with an echo-time parameter."""
ECHO_CANDIDATES = 1
"""Echo times read off the reference's onsets and tried as starting points of the refinement (besides
the one read off its whitened waveform, :func:`echo_times`)."""
ONSET_PEAKS = 8
"""Peaks of the onset autocorrelation that :func:`echo_times` places to the sample and ranks."""
CARRIER_MEDIAN_BINS = 64
"""Running-median length (spectrum bins) against which :func:`carrier_frequencies` finds lines."""
CARRIER_LINE_PROMINENCE = 3.5
"""Prominence (over the running median) at which :func:`carrier_frequencies` counts a second line at
half or twice the most prominent one. On held-out ringmod pairs of seed 123 across recordings, a
line at half stood out by 4–6 where the most prominent was twice the carrier, and by 1–2 where it
was the carrier."""
PREDELAY_PROMINENCE = 10.0
"""How far the best pre-delay match must stand above the median match, in median absolute deviations
of the matches, for :func:`predelay_times` to read a pre-delay. On held-out ambience pairs of seed 123,
the readings within 1 ms of the truth stood out by 50 on median and below 10 for 2 of 75; the wrong
ones (a mix of 0.94 or more) by 5–7, and dry clips by 5–7."""
MATERIAL_LIMIT = 0.4
"""Largest J at the refinement's start for which the search runs. Above it the reference's textures
differ from the input's too much for J to compare effects rather than material (on held-out pairs
of seed 123, J at the start was under 0.4 for 96 % of references from the input's recording and
16 % of references from other works), so the start is returned without a search."""
READING_MARGIN = 0.02
"""How much farther (mean absolute, normalized) from the prediction the controller may read the
refined result than the refinement's start before :func:`reads_like_reference` sets it aside."""


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


@dataclass(frozen=True)
class Models:
    """The β-VAE encoder, one effect's controller and its settings estimator (None where it has none)."""

    encoder: torch.nn.Module
    controller: models.Controller
    estimator: models.SettingsEstimator | None = None


@functools.cache
def load_models(effect_name: str, models_dir: str | None = None) -> Models:
    """Load (once per process) the encoder, the controller and, where its file exists, the estimator of
    a built-in effect."""
    encoder, _ = models.load_encoder("vae", models_dir=models_dir)
    controller, _ = models.load_controller(effect_name, models_dir=models_dir)
    folder = Path(models_dir) if models_dir is not None else get_settings().models_dir
    found = (folder / f"estimator_{effect_name}.safetensors").exists()
    return Models(encoder, controller, estimator.load_estimator(effect_name, folder)[0] if found else None)


def embed(encoder: torch.nn.Module, signals: np.ndarray) -> torch.Tensor:
    """Embeddings (B, D) of signals (B, T) or (T,), each analysed on its first window."""
    return encoder.embed(features.mel_features(signals))


def predict_settings(effect: Effect, input_audio: np.ndarray, reference_audio: np.ndarray,
                     bundle: Models) -> tuple[np.ndarray, str]:
    """Normalized settings for (input, reference) and what predicted them: the estimator, else the controller."""
    if bundle.estimator is not None:
        if bundle.estimator.config.n_params != effect.n_params:
            raise ModelError(f"the estimator predicts {bundle.estimator.config.n_params} parameters but effect "
                             f"{effect.name!r} has {effect.n_params}; retrain it with train-estimator")
        return estimator.predict(bundle.estimator, input_audio, reference_audio), "estimator"
    return predict(effect, input_audio, reference_audio, bundle), "controller"


def predict(effect: Effect, input_audio: np.ndarray, reference_audio: np.ndarray, bundle: Models) -> np.ndarray:
    """Normalized settings the β-VAE controller predicts for (input, reference)."""
    if bundle.controller.config.n_params != effect.n_params:
        raise ModelError(f"the controller predicts {bundle.controller.config.n_params} parameters but effect "
                         f"{effect.name!r} has {effect.n_params}; retrain it with train-controller")
    z = embed(bundle.encoder, np.stack([audio.analysis_window(input_audio), audio.analysis_window(reference_audio)]))
    with torch.no_grad():
        return bundle.controller(z[:1], z[1:]).numpy()[0].astype(np.float64)


@dataclass(frozen=True)
class Reading:
    """What a measurement (:data:`MEASUREMENTS`) read off a reference.

    Attributes
    ----------
    values : list of float
        Likely values of the setting, real units, best first (empty: nothing read).
    decisive : bool
        Whether the first value is taken as it is; otherwise J chooses between the values and the
        prediction (:func:`measured_start`).
    """

    values: list[float]
    decisive: bool = False


def measured_parameter(effect: Effect) -> int | None:
    """Index of the effect's first parameter that refinement measures (``Param.measured``), or None."""
    return next((i for i, param in enumerate(effect.params) if param.measured), None)


def _echo_lags(param: Param) -> slice:
    """Onset-autocorrelation lags (frames of ``features.ONSET_HOP``) that an echo-time range spans."""
    hop = features.ONSET_HOP / SAMPLE_RATE
    return slice(max(int(param.minimum / hop) - 1, 1), int(param.maximum / hop) + 2)


def echo_times(param: Param, input_audio: np.ndarray, reference_audio: np.ndarray,
               count: int = ECHO_CANDIDATES) -> Reading:
    """Likely echo times (s) of the reference within the range of ``param``: ``count`` read off the
    onsets, then one read off the whitened waveform.

    The onset candidates are the highest peaks of the reference's onset autocorrelation minus the
    input's (which removes the rhythm both segments share), in 2 ms frames; each is then placed
    to the sample at the highest point, within a frame of it, of the same difference of the
    waveforms' autocorrelations, and they are ranked by that height. Matching an echo needs that
    precision: 3 % off in time already costs about half of the MRSTFT distance between random
    settings and the right ones. The last candidate is the highest point, to the sample, of the
    reference's whitened autocorrelation minus the input's
    (:func:`dafx_explorer.features.autocorrelation`, whitened), where an echo is a sharp copy
    whatever the notes; it finds echoes the onsets miss when the input is another recording.
    Where the two readings agree to the sample, the reading is decisive (on held-out delay pairs
    of seed 123 they agreed on 17 of 40 within one recording and 7 of 24 across, and were right
    every time).
    """
    lags = _echo_lags(param)
    windows = np.stack([audio.analysis_window(reference_audio), audio.analysis_window(input_audio)])
    onsets = features.onset_autocorrelation(windows)
    excess = onsets[0] - onsets[1]
    inner = np.arange(lags.start, min(lags.stop, len(excess) - 1))  # lags.start >= 1
    peaks = inner[(excess[inner] >= excess[inner - 1]) & (excess[inner] >= excess[inner + 1])]
    waveform = features.autocorrelation(windows)
    waveform_excess = waveform[0] - waveform[1]
    found, strengths = [], []
    for peak in peaks[np.argsort(-excess[peaks])][:ONSET_PEAKS]:
        low = (peak - 1) * features.ONSET_HOP
        lag = low + int(np.argmax(waveform_excess[low: low + 2 * features.ONSET_HOP + 1]))
        found.append(lag)
        strengths.append(waveform_excess[lag])
    times = [found[i] / SAMPLE_RATE for i in np.argsort(strengths)[::-1][:count]]
    first, last = int(param.minimum * SAMPLE_RATE), int(param.maximum * SAMPLE_RATE)
    whitened = features.autocorrelation(windows, whitened=True)
    copies = (whitened[0] - whitened[1])[first: last + 1]
    copy = (first + int(np.argmax(copies))) / SAMPLE_RATE
    if times and abs(copy - times[0]) <= 1.0 / SAMPLE_RATE:
        return Reading(times, decisive=True)
    return Reading(times + [copy] if all(abs(copy - t) > 1.0 / SAMPLE_RATE for t in times) else times)


def carrier_frequencies(param: Param, input_audio: np.ndarray, reference_audio: np.ndarray) -> Reading:
    """Likely ring-modulation carrier frequencies (Hz) of the reference within the range of ``param``.

    A signal ``x·((1 - m) + m·sin(2π f t))`` squared carries spectral lines at ``f`` (unless
    ``m`` is 1) and ``2f``, whatever ``x`` plays. The most prominent line of the reference's
    squared window (its magnitude spectrum over a running median of 64 bins, 0.18 Hz each),
    placed between bins by a parabola through the log magnitudes, gives ``F``. Where a line also
    stands at ``F / 2``, ``F`` is ``2f``; where one stands at ``2F``, ``F`` is ``f`` (prominence at
    least :data:`CARRIER_LINE_PROMINENCE` within two bins): either reading is decisive. Otherwise
    (a fully wet modulator shows ``2f`` alone) the candidates are ``F`` and ``F / 2``, those in
    range. ``input_audio`` is not needed.
    """
    del input_audio
    window = audio.analysis_window(reference_audio).astype(np.float64) ** 2
    spectrum = np.abs(np.fft.rfft((window - window.mean()) * np.hanning(len(window))))
    frequencies = np.fft.rfftfreq(len(window), 1.0 / SAMPLE_RATE)
    prominence = spectrum / (scipy.ndimage.median_filter(spectrum, CARRIER_MEDIAN_BINS) + 1e-12)
    inside = np.flatnonzero((frequencies >= param.minimum) & (frequencies <= 2.0 * param.maximum))
    line = inside[int(np.argmax(prominence[inside]))]
    before, at, after = np.log(spectrum[line - 1: line + 2] + 1e-30)
    curvature = before - 2.0 * at + after
    offset = 0.5 * (before - after) / curvature if curvature < 0 else 0.0
    found = (line + offset) * frequencies[1]

    def has_line(hertz: float) -> bool:
        at_bin = int(round(hertz / frequencies[1]))
        return bool(prominence[max(at_bin - 2, 0): at_bin + 3].max() >= CARRIER_LINE_PROMINENCE)

    if found / 2.0 >= param.minimum and has_line(found / 2.0):
        return Reading([found / 2.0], decisive=True)
    if found <= param.maximum and has_line(2.0 * found):
        return Reading([found], decisive=True)
    return Reading([f for f in (found, found / 2.0) if param.minimum <= f <= param.maximum])


def predelay_times(param: Param, input_audio: np.ndarray, reference_audio: np.ndarray) -> Reading:
    """Likely reverb pre-delay (ms) of the reference within the range of ``param``.

    A reverb mixed with its dry signal puts, into the reference's autocorrelation, a copy of the
    reverb's first reflections (:func:`dafx_explorer.effects.reverb_onset`) shifted by the
    pre-delay, whatever the notes. With the spectral shape divided out
    (:func:`dafx_explorer.features.autocorrelation`, whitened) that copy stands out, and the shift
    at which the reflection pattern matches the autocorrelation best is the pre-delay, to the
    sample. J cannot tell pre-delays a few milliseconds apart (on 48 held-out ambience pairs of seed
    123 it kept the measured pre-delay for 19, MRSTFT ÷ random 0.50, against 0.35 taking it
    always), so the reading is decisive. Where the best match does not stand out from the others by
    :data:`PREDELAY_PROMINENCE`, the reference shows no such reverb (a dry sound, a fully wet reverb,
    which has no dry copy to correlate with, or another reverb), and nothing is read. ``input_audio``
    is not needed.
    """
    del input_audio
    onset = effects.reverb_onset(SAMPLE_RATE)
    shifts = int(round(param.maximum / 1000.0 * SAMPLE_RATE)) + 1
    window = audio.analysis_window(reference_audio)
    lags = features.autocorrelation(window[None, :], whitened=True)[0, : shifts + len(onset) - 1]
    scores = np.correlate(lags, onset, mode="valid")
    median = np.median(scores)
    spread = np.median(np.abs(scores - median))
    if spread <= 0 or not scores.max() - median >= PREDELAY_PROMINENCE * spread:
        return Reading([])
    best = int(np.argmax(scores)) * 1000.0 / SAMPLE_RATE
    return Reading([best] if param.minimum <= best <= param.maximum else [], decisive=True)


MEASUREMENTS = {"echo time": echo_times, "carrier": carrier_frequencies, "pre-delay": predelay_times}
"""How each kind of ``Param.measured`` setting is read off the reference (:class:`Reading`)."""


class TextureObjective:
    """J(p) of the module docstring, evaluated for a batch of candidate settings at once."""

    def __init__(self, effect: Effect, input_audio: np.ndarray, reference_audio: np.ndarray, prediction: np.ndarray):
        self.effect, self.prediction = effect, np.asarray(prediction, dtype=np.float64)
        self.window = audio.analysis_window(input_audio)
        reference_window = audio.analysis_window(reference_audio)
        self.reference = features.texture_statistics(features.mel_features(reference_window))
        measured = measured_parameter(effect)
        is_echo = measured is not None and effect.params[measured].measured == "echo time"
        self.echo_lags = _echo_lags(effect.params[measured]) if is_echo else None
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


def measured_start(objective: TextureObjective, input_audio: np.ndarray,
                   reference_audio: np.ndarray) -> tuple[np.ndarray, tuple[int, ...], float | None, float | None]:
    """The result without refinement, and where refinement starts: the prediction with its measured
    setting (``Param.measured``) replaced by whichever value read off the reference
    (:data:`MEASUREMENTS`) lowers J most (the first value, where the reading is decisive),
    that setting then held by the search (the measurement is
    finer than the search steps); the prediction itself, nothing held, if none does or the effect
    has no measured setting.

    Returns
    -------
    (start settings, indices of held parameters, J at the prediction, J at the start); both J are
    None where nothing was measured.
    """
    prediction, measured = objective.prediction, measured_parameter(objective.effect)
    if measured is None:
        return prediction, (), None, None
    param = objective.effect.params[measured]
    reading = MEASUREMENTS[param.measured](param, input_audio, reference_audio)
    if not reading.values:
        return prediction, (), None, None
    starts = np.repeat(prediction[None, :], len(reading.values) + 1, axis=0)
    starts[1:, measured] = param.to_normalized(np.array(reading.values))
    scores = objective(starts)
    best = 1 if reading.decisive else int(scores.argmin())
    return starts[best], ((measured,) if best else ()), float(scores[0]), float(scores[best])


def reads_like_reference(objective: TextureObjective, start: np.ndarray, refined: np.ndarray,
                         hold: tuple[int, ...], bundle: Models) -> bool:
    """Whether the controller reads the input processed at ``refined`` about as it read the reference
    (the effect, the input's analysis window and the prediction are the objective's).

    The controller, given the input and the input processed at some settings, reads back those
    settings roughly (it was trained on references of other segments than its input), while the
    refinement's objective compares textures that differ with the material. So where the
    controller reads ``f(x, refined)`` farther from its prediction than ``f(x, start)`` (by more
    than :data:`READING_MARGIN`, mean absolute over the settings not held), the search chased the
    reference's material rather than its effect. Held settings are measured more finely than the
    controller reads, so they are left out of the comparison.
    """
    if np.array_equal(start, refined):  # the search found nothing better: the same reading, nothing to check
        return True
    effect, window, prediction = objective.effect, objective.window, objective.prediction
    free = [i for i in range(effect.n_params) if i not in hold]
    processed = [effect.render(window, SAMPLE_RATE, p) for p in (start, refined)]
    z = embed(bundle.encoder, np.stack([window, *processed]))
    with torch.no_grad():
        readings = bundle.controller(z[:1].expand(2, -1), z[1:]).numpy().astype(np.float64)
    start_distance, refined_distance = np.mean(np.abs(readings[:, free] - prediction[free]), axis=1)
    return bool(refined_distance <= start_distance + READING_MARGIN)


def match(effect: Effect, input_audio: np.ndarray, reference_audio: np.ndarray, *, refine_seconds: float = 0.0,
          progress: Progress | None = None, bundle: Models | None = None) -> MatchResult:
    """Predict (and optionally refine) the settings that make ``input_audio`` sound like ``reference_audio``.

    Both signals are 24 kHz mono float32 (see :func:`dafx_explorer.audio.load`); the result's
    audio is the whole input processed with the final settings: the refined ones, else the
    prediction with any setting measured off the reference (:func:`measured_start`).
    """
    bundle = bundle or load_models(effect.name)
    started = time.perf_counter()
    predicted, predictor = predict_settings(effect, input_audio, reference_audio, bundle)
    start, hold, start_value, searched_from, objective = predicted, (), None, None, None
    if refine_seconds > 0 or measured_parameter(effect) is not None:  # about 25 ms; 13 ms for the objective alone
        objective = TextureObjective(effect, input_audio, reference_audio, predicted)
        # start: the prediction with any measured setting; J at the prediction and at the start, where measured
        start, hold, start_value, searched_from = measured_start(objective, input_audio, reference_audio)
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
