"""Settings read straight off a reference: an echo time, a reverb's pre-delay, a ring modulator's carrier,
and, near the prediction, a flanger's sweep and an echo's feedback and mix.

A few per cent off in any of these loses most of what a match gains over random settings, which is
finer than the estimator reads, while the reference's autocorrelation or spectrum gives them to the
sample or a fraction of a hertz. Each reader takes the two analysis windows
(:func:`dafx_explorer.audio.analysis_window`) cut once per match. Which setting of which effect is read,
and how, is :data:`READERS`; the sweep is :func:`fit_sweep`, the echo's level :func:`fit_echo_level`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from dafx_explorer import effects, features
from dafx_explorer.effects import Effect, Param
from dafx_explorer.settings import SAMPLE_RATE

ECHO_CANDIDATES = 1
"""Echo times read off the onsets and tried, besides the one read off the whitened waveform."""
ONSET_PEAKS = 8
"""Peaks of the onset autocorrelation placed to the sample and ranked by :func:`echo_times`."""
CARRIER_MEDIAN_BINS = 64
"""Running-median length (spectrum bins of 0.18 Hz) against which :func:`carrier_frequencies` finds lines."""
CARRIER_LINE_PROMINENCE = 3.5
"""Prominence over the running median at which a second line at half or twice the first counts."""
PREDELAY_PROMINENCE = 10.0
"""How far (median absolute deviations) the best pre-delay match must stand above the median one."""
SWEEP_SETTINGS = ("rate_hz", "depth", "centre_delay_ms")
"""The flanger's settings that :func:`fit_sweep` reads."""
SWEEP_SPANS, SWEEP_STEPS = (0.15, 0.2, 0.2), (81, 13, 13)
"""Half-widths (normalized) of the grid around the prediction that :func:`fit_sweep` searches, and its points."""
SWEEP_KEEP = 32
"""Best sweeps that each of :func:`fit_sweep`'s finer grids is laid around."""
SWEEP_BLUR = (9, 5, 3, 3, 3)
"""One per finer grid of :func:`fit_sweep`: the width (quefrency samples) of the running maximum of the
excess cepstrum that picks the sweeps it is laid around; the last grid is ranked on the excess itself."""
SWEEP_FFT, SWEEP_HOP = 1024, 512
"""STFT size and hop (samples) of the cepstra :func:`fit_sweep` reads."""
ECHO_LEVEL_SETTINGS = ("feedback", "mix")
"""The delay's settings that :func:`fit_echo_level` reads."""
ECHO_LEVEL_GRIDS = (np.linspace(0.0, 1.0, 10), np.linspace(0.0, 1.0, 21))
"""Normalized feedback and mix values that :func:`fit_echo_level` tries, those within :data:`ECHO_LEVEL_SPAN`."""
ECHO_LEVEL_SPAN = 0.15
"""Largest distance (normalized) from its start of a feedback or mix that :func:`fit_echo_level` tries."""
ECHO_REPEATS, ECHO_PEAK_WIDTH = 3, 2
"""Multiples of the echo time whose peaks :func:`echo_peaks` reads, and how far (samples) each may lie off it."""


@dataclass(frozen=True)
class Reading:
    """What a reader read off a reference.

    Attributes
    ----------
    values : list of float
        Likely values of the setting, real units, best first (empty: nothing read).
    decisive : bool
        Whether the first value is taken as it is; otherwise the refinement objective chooses between
        the values and the prediction (:func:`dafx_explorer.matching.measured_start`).
    """

    values: list[float]
    decisive: bool = False


def echo_lags(param: Param) -> slice:
    """Onset-autocorrelation lags (frames of ``features.ONSET_HOP``) that an echo-time range spans."""
    hop = features.ONSET_HOP / SAMPLE_RATE
    return slice(max(int(param.minimum / hop) - 1, 1), int(param.maximum / hop) + 2)


def echo_times(param: Param, input_window: np.ndarray, reference_window: np.ndarray,
               count: int = ECHO_CANDIDATES) -> Reading:
    """Likely echo times (s) of the reference within the range of ``param``.

    ``count`` come from the highest peaks of the reference's onset autocorrelation minus the input's
    (the rhythm both share cancels), each placed to the sample on the waveforms' autocorrelations;
    one more is the highest point of the reference's whitened autocorrelation minus the input's,
    where an echo is a sharp copy whatever the notes. Where the two agree to the sample the reading
    is decisive.
    """
    lags = echo_lags(param)
    windows = np.stack([reference_window, input_window])
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
    copy = (first + int(np.argmax((whitened[0] - whitened[1])[first: last + 1]))) / SAMPLE_RATE
    if times and abs(copy - times[0]) <= 1.0 / SAMPLE_RATE:
        return Reading(times, decisive=True)
    return Reading(times + [copy] if all(abs(copy - t) > 1.0 / SAMPLE_RATE for t in times) else times)


def carrier_frequencies(param: Param, input_window: np.ndarray, reference_window: np.ndarray) -> Reading:
    """Likely ring-modulation carrier frequencies (Hz) of the reference within the range of ``param``.

    ``x·((1 - m) + m·sin(2π f t))`` squared carries lines at ``f`` (unless ``m`` is 1) and ``2f``
    whatever ``x`` plays. The most prominent line ``F`` of the squared reference, placed between bins
    by a parabola, is ``2f`` where a line also stands at ``F / 2`` and ``f`` where one stands at ``2F``
    (decisive either way); otherwise both ``F`` and ``F / 2`` are candidates. The input is not needed.
    """
    del input_window
    window = reference_window.astype(np.float64) ** 2
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


def predelay_times(param: Param, input_window: np.ndarray, reference_window: np.ndarray) -> Reading:
    """Likely reverb pre-delay (ms) of the reference within the range of ``param``.

    A reverb mixed with its dry signal leaves in the reference's whitened autocorrelation a copy of
    the reverb's first reflections (:func:`dafx_explorer.effects.reverb_onset`) shifted by the
    pre-delay; the best-matching shift is the pre-delay, to the sample (decisive). Where no shift
    stands out by :data:`PREDELAY_PROMINENCE` (a dry sound, a fully wet or another reverb), nothing is
    read. The input is not needed.
    """
    del input_window
    onset = effects.reverb_onset(SAMPLE_RATE)
    shifts = int(round(param.maximum / 1000.0 * SAMPLE_RATE)) + 1
    lags = features.autocorrelation(reference_window[None, :], whitened=True)[0, : shifts + len(onset) - 1]
    scores = np.correlate(lags, onset, mode="valid")
    median = np.median(scores)
    spread = np.median(np.abs(scores - median))
    if spread <= 0 or not scores.max() - median >= PREDELAY_PROMINENCE * spread:
        return Reading([])
    best = int(np.argmax(scores)) * 1000.0 / SAMPLE_RATE
    return Reading([best] if param.minimum <= best <= param.maximum else [], decisive=True)


def echo_peaks(windows: np.ndarray, lag: int) -> np.ndarray:
    """Per row of ``windows`` (B, N), the highest whitened autocorrelation within :data:`ECHO_PEAK_WIDTH`
    samples of each of the first :data:`ECHO_REPEATS` multiples of ``lag`` (samples), 0 past the row (B, repeats)."""
    lags = features.autocorrelation(np.atleast_2d(windows), whitened=True)
    peaks = np.zeros((len(lags), ECHO_REPEATS))
    for k in range(ECHO_REPEATS):
        at = (k + 1) * lag
        if at + ECHO_PEAK_WIDTH < lags.shape[1]:
            peaks[:, k] = lags[:, at - ECHO_PEAK_WIDTH: at + ECHO_PEAK_WIDTH + 1].max(axis=1)
    return peaks


def fit_echo_level(effect: Effect, input_window: np.ndarray, reference_window: np.ndarray,
                   start: np.ndarray) -> np.ndarray:
    """``start`` with the delay's feedback and mix replaced by those, near it, whose render of the input
    has the reference's :func:`echo_peaks` at ``start``'s echo time: how strong the first repeats are
    against the dry sound. Far from the start a mix ``m`` and ``1 − m`` give alike peaks."""
    start = np.asarray(start, dtype=np.float64)
    feedback, mix = echo_level_indices(effect)
    echo = measured_parameter(effect)
    lag = int(round(effect.params[echo].to_real(start[echo]) * SAMPLE_RATE))
    near = [grid[np.abs(grid - start[i]) <= ECHO_LEVEL_SPAN] for grid, i in zip(ECHO_LEVEL_GRIDS, (feedback, mix),
                                                                                strict=True)]
    candidates = np.repeat(start[None, :], len(near[0]) * len(near[1]), axis=0)
    candidates[:, [feedback, mix]] = np.stack(np.meshgrid(*near, indexing="ij"), axis=-1).reshape(-1, 2)
    rendered = np.stack([effect.render(input_window, SAMPLE_RATE, p) for p in candidates])
    distance = np.sum((echo_peaks(rendered, lag) - echo_peaks(reference_window, lag)) ** 2, axis=1)
    return candidates[int(np.argmin(distance))]


def cepstrogram(window: np.ndarray) -> np.ndarray:
    """Real cepstrum of each Hann-windowed frame (SWEEP_FFT // 2 + 1 quefrencies of 1 sample, frames)."""
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(window, dtype=np.float64), SWEEP_FFT)[::SWEEP_HOP]
    power = np.abs(np.fft.rfft(frames * np.hanning(SWEEP_FFT), axis=1)) ** 2
    return np.fft.irfft(np.log(power + 1e-12), axis=1)[:, : SWEEP_FFT // 2 + 1].T


def fit_sweep(effect: Effect, input_window: np.ndarray, reference_window: np.ndarray,
              prediction: np.ndarray) -> np.ndarray:
    """The prediction with the flanger's rate, depth and centre delay replaced by the sweep, near it,
    whose delay trajectory runs along the highest cepstral values of the reference (less the input's
    mean cepstrum, so that the notes' own periods cancel).

    pedalboard's ``Chorus`` delays by d(t) = max(1, centre − 10·depth·sin 2π·rate·t) ms from the clip's
    start, and a delayed copy of the signal adds a cepstral peak at quefrency d(t). The search lays a grid
    around the prediction (far from it the notes' own peaks fit as well), then, for each width in
    ``SWEEP_BLUR``, a grid of half the spacing around each of the ``SWEEP_KEEP`` best sweeps so far, those
    ranked on the excess's running maximum over that many quefrencies: the score's peak is narrower than
    the coarser grids' spacing.
    """
    indices = _sweep_indices(effect)
    excess = cepstrogram(reference_window) - cepstrogram(input_window).mean(axis=1, keepdims=True)
    minimum = int(round(effect.params[indices[2]].minimum / 1000.0 * SAMPLE_RATE))
    excess[:minimum] = 0.0  # below the shortest delay: the spectral envelope, not a comb
    frames = np.arange(excess.shape[1])
    times = (frames * SWEEP_HOP + SWEEP_FFT // 2) / SAMPLE_RATE  # frame centres (s)
    params = [effect.params[i] for i in indices]

    def scores(sweeps: np.ndarray, blur: int = 1) -> np.ndarray:
        along = scipy.ndimage.maximum_filter1d(excess, blur, axis=0) if blur > 1 else excess
        rate, depth, centre = (param.to_real(sweeps[:, k]) for k, param in enumerate(params))
        delay_ms = centre[:, None] - 10.0 * depth[:, None] * np.sin(2 * np.pi * rate[:, None] * times[None, :])
        quefrency = np.maximum(delay_ms, 1.0) / 1000.0 * SAMPLE_RATE
        below = np.floor(quefrency).astype(int).clip(0, excess.shape[0] - 2)
        above = quefrency - below  # linear interpolation between the two nearest quefrencies
        return ((1.0 - above) * along[below, frames] + above * along[below + 1, frames]).mean(axis=1)

    spacing = 2.0 * np.array(SWEEP_SPANS) / (np.array(SWEEP_STEPS) - 1)
    sweeps = _sweep_grid(prediction[list(indices)], SWEEP_SPANS, SWEEP_STEPS)
    for blur in SWEEP_BLUR:
        best = sweeps[np.argsort(-scores(sweeps, blur))[:SWEEP_KEEP]]
        spacing = spacing / 2.0
        sweeps = np.unique(np.concatenate([_sweep_grid(sweep, 2.0 * spacing, (5, 5, 5)) for sweep in best]), axis=0)
    fitted = np.array(prediction, dtype=np.float64)
    fitted[list(indices)] = sweeps[int(np.argmax(scores(sweeps)))]
    return fitted


def _sweep_grid(centre: np.ndarray, spans, steps) -> np.ndarray:
    """Every (rate, depth, centre delay), normalized, on a grid of ``steps`` points within ±``spans`` of
    ``centre``, clipped to [0, 1] (rows, 3)."""
    axes = [np.clip(at + np.linspace(-span, span, count), 0.0, 1.0)
            for at, span, count in zip(centre, spans, steps, strict=True)]
    return np.unique(np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3), axis=0)


def _indices(effect: Effect, names: tuple[str, ...]) -> tuple[int, ...]:
    """Indices of the effect's settings ``names``, in that order."""
    return tuple(effect.param_names.index(name) for name in names)


def _sweep_indices(effect: Effect) -> tuple[int, ...]:
    """Indices of the effect's :data:`SWEEP_SETTINGS`, in that order."""
    return _indices(effect, SWEEP_SETTINGS)


def echo_level_indices(effect: Effect) -> tuple[int, ...]:
    """Indices of the effect's :data:`ECHO_LEVEL_SETTINGS`, in that order."""
    return _indices(effect, ECHO_LEVEL_SETTINGS)


def _builtin_with(effect: Effect, name: str, settings: tuple[str, ...]) -> bool:
    """Whether ``effect`` is the built-in effect ``name`` and has all of ``settings``."""
    return effect.name == name and isinstance(effect, effects.BuiltinEffect) \
        and all(setting in effect.param_names for setting in settings)


def sweep_fitted(effect: Effect) -> bool:
    """Whether :func:`fit_sweep` reads the effect's sweep (the built-in flanger)."""
    return _builtin_with(effect, "flanger", SWEEP_SETTINGS)


def echo_level_fitted(effect: Effect) -> bool:
    """Whether :func:`fit_echo_level` reads the effect's feedback and mix (the built-in delay, its echo
    time read by :data:`READERS`)."""
    return _builtin_with(effect, "delay", (READERS["delay"][0], *ECHO_LEVEL_SETTINGS))


Reader = Callable[[Param, np.ndarray, np.ndarray], Reading]
READERS: dict[str, tuple[str, Reader]] = {
    "delay": ("delay_seconds", echo_times),
    "ambience": ("predelay_ms", predelay_times),
    "ringmod": ("carrier_hz", carrier_frequencies),
}
"""Per built-in effect, the setting read off the reference and its reader."""


def measured_parameter(effect: Effect) -> int | None:
    """Index of the effect's setting that is read off the reference (:data:`READERS`), or None."""
    entry = READERS.get(effect.name)
    if entry is None or not _builtin_with(effect, effect.name, (entry[0],)):
        return None
    return list(effect.param_names).index(entry[0])


def measured_parameters(effect: Effect) -> tuple[int, ...]:
    """Indices of every setting of the effect that is read off the reference: by its reader, the sweep fit
    or the echo level fit."""
    if sweep_fitted(effect):
        return _sweep_indices(effect)
    index = measured_parameter(effect)
    fitted = echo_level_indices(effect) if echo_level_fitted(effect) else ()
    return tuple(sorted({*fitted, *(() if index is None else (index,))}))


def read(effect: Effect, input_window: np.ndarray, reference_window: np.ndarray) -> tuple[int, Reading] | None:
    """The index of the effect's read setting and what was read off the reference, or None (no reader)."""
    index = measured_parameter(effect)
    if index is None:
        return None
    return index, READERS[effect.name][1](effect.params[index], input_window, reference_window)
