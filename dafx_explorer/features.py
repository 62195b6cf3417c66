"""Feature images for the encoders, statistics for style matching, and the descriptors of the maps.

``mel_features`` turns an analysis window into a standardized 256 × 256 image (``torch.stft``, 256 mel
bands from 20 Hz to 12 kHz, magnitudes raised to ``COMPRESSION``); ``linear_features`` is the same with
linear-frequency bins. A power law rather than a log keeps silence finite and scales with the signal.
Both run without gradients: they feed models and are not layers. Batched ``torch.stft`` with a cached
mel filter bank is the fast path where features feed a model on its device.

``texture_statistics`` summarizes an image by what an effect changes whatever the notes: the long-term
spectrum, how much each band moves, and the envelope autocorrelation from 21 ms to 1 s (echoes, reverb
decay, modulation). ``onset_autocorrelation`` (2 ms frames) shows an echo as a peak at its delay, which
is how a delay's echo time is read off a reference; ``autocorrelation`` places it to the sample.

``brightness`` (centroid of the long-term power spectrum, Hz) and ``depth`` (its share below 200 Hz,
dB), and their changes between a render and its clean clip, pick the maps' labelled extreme points.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.ndimage
import torch

from dafx_explorer.errors import AudioError
from dafx_explorer.settings import SAMPLE_RATE, WINDOW

N_MELS = 256
"""Mel bands of the feature image (its height)."""
N_FRAMES = 256
"""STFT frames of the feature image (its width): the first 256 frames of the analysis window."""
N_FFT = 2048
"""STFT length in samples (85 ms at 24 kHz), Hann window."""
HOP = 512
"""STFT hop in samples (21 ms at 24 kHz)."""
F_MIN = 20.0
"""Lowest mel band edge (Hz)."""
F_MAX = 12000.0
"""Highest mel band edge (Hz): the Nyquist frequency at 24 kHz."""
COMPRESSION = 0.3
"""Exponent applied to band magnitudes before standardization."""

# Standardization constants: mean and standard deviation of all compressed values
# (before standardization) over the analysis windows of generate(kind, seed=s, seconds=8)
# for every kind in sources.KINDS and s = 0..7 (40 clean clips, the shipped ones included),
# computed once with feature_stats(); tests/test_features.py recomputes them.
MEL_MEAN = 0.0273459
"""Mean of the compressed mel magnitudes, subtracted in standardization."""
MEL_STD = 0.0316622
"""Standard deviation of the compressed mel magnitudes, divided out in standardization."""
LINEAR_MEAN = 0.0401414
"""Mean of the compressed linear-frequency magnitudes."""
LINEAR_STD = 0.0539098
"""Standard deviation of the compressed linear-frequency magnitudes."""

DEPTH_CUTOFF_HZ = 200.0
"""Energy below this frequency counts as low end in ``depth``."""

DEPTH_FLOOR_DB = -100.0
"""``depth`` of a signal without low end (or of silence)."""

_CHUNK = 32  # windows per STFT call: bounds memory to ~70 MB of complex spectra
_WELCH_CHUNK = 1 << 22  # samples per Welch call: bounds its framed copies to ~70 MB each

Descriptor = float | np.ndarray
"""A float for one signal of shape (T,), an array of B values for signals of shape (B, T)."""


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 mel per 200 Hz), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(hz < 1000.0, 3.0 * hz / 200.0, 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / log_step)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(mel < 15.0, 200.0 * mel / 3.0, 1000.0 * np.exp(log_step * (mel - 15.0)))


def mel_filter_bank(sr: int = SAMPLE_RATE) -> np.ndarray:
    """Mel filter bank, shape (N_MELS, N_FFT // 2 + 1), equal to ``librosa.filters.mel`` defaults.

    Triangles with edges equally spaced on Slaney's mel scale from ``F_MIN`` to ``F_MAX``
    (Hz), each scaled to unit area per Hz (weight 2 / bandwidth at its peak).
    """
    bins = np.linspace(0.0, sr / 2.0, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(F_MIN), _hz_to_mel(F_MAX), N_MELS + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (upper - lower))


def linear_filter_bank() -> np.ndarray:
    """Linear-frequency pooling, shape (N_MELS, N_FFT // 2 + 1).

    Band j averages STFT bins 4j+1 .. 4j+4, so the 256 bands tile 5.9 Hz .. 12 kHz in
    46.9 Hz steps at 24 kHz; the DC bin is left out.
    """
    n_bins = N_FFT // 2 + 1
    width = (n_bins - 1) // N_MELS
    bank = np.zeros((N_MELS, n_bins))
    for j in range(N_MELS):
        bank[j, 1 + j * width: 1 + (j + 1) * width] = 1.0 / width
    return bank


@functools.lru_cache(maxsize=16)
def _bank(linear: bool, device: torch.device) -> torch.Tensor:
    """Filter bank on ``device`` with the STFT's window-sum scaling folded in."""
    bank = linear_filter_bank() if linear else mel_filter_bank()
    window_sum = N_FFT / 2.0  # sum of a periodic Hann window
    return torch.as_tensor(bank / window_sum, dtype=torch.float32, device=device)


@functools.lru_cache(maxsize=16)
def _window(device: torch.device) -> torch.Tensor:
    return torch.hann_window(N_FFT, dtype=torch.float32, device=device)


def _as_batch(audio: np.ndarray | torch.Tensor, device: torch.device | str | None) -> torch.Tensor:
    """Validate and convert to a float32 (B, WINDOW) tensor: first WINDOW samples, zero-padded."""
    if isinstance(audio, np.ndarray):
        samples = torch.from_numpy(np.ascontiguousarray(audio[..., :WINDOW], dtype=np.float32))
    elif isinstance(audio, torch.Tensor):
        samples = audio[..., :WINDOW].detach().to(torch.float32)
    else:
        raise AudioError(f"audio must be a numpy array or torch tensor, got {type(audio).__name__}")
    if samples.ndim not in (1, 2):
        raise AudioError(f"audio must have shape (samples,) or (batch, samples), got {tuple(samples.shape)}")
    if samples.shape[-1] == 0:
        raise AudioError("audio is empty: expected at least one sample")
    samples = samples.reshape(-1, samples.shape[-1])
    if not bool(torch.isfinite(samples).all()):
        raise AudioError("audio contains NaN or infinite samples")
    device = torch.device(device) if device is not None else samples.device
    samples = samples.to(device)
    if samples.shape[-1] < WINDOW:
        samples = torch.nn.functional.pad(samples, (0, WINDOW - samples.shape[-1]))
    return samples


@torch.no_grad()
def _compressed(audio: np.ndarray | torch.Tensor, linear: bool, device: torch.device | str | None) -> torch.Tensor:
    """Band magnitudes ** COMPRESSION, shape (B, N_MELS, N_FRAMES), before standardization."""
    samples = _as_batch(audio, device)
    bank = _bank(linear, samples.device)
    window = _window(samples.device)
    out = torch.empty((samples.shape[0], N_MELS, N_FRAMES), dtype=torch.float32, device=samples.device)
    for start in range(0, samples.shape[0], _CHUNK):
        spectrum = torch.stft(samples[start: start + _CHUNK], N_FFT, HOP, window=window, center=True,
                              pad_mode="constant", return_complex=True)
        out[start: start + _CHUNK] = torch.matmul(bank, spectrum[..., :N_FRAMES].abs()).pow_(COMPRESSION)
    return out


def mel_features(audio: np.ndarray | torch.Tensor, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Standardized, compressed mel spectrogram of the analysis window of each signal.

    Parameters
    ----------
    audio : np.ndarray or torch.Tensor, shape (T,) or (B, T)
        Mono signal(s) at ``SAMPLE_RATE``; only the first ``WINDOW`` samples are used and
        shorter signals are zero-padded.
    device : torch device, optional
        Where to compute; default: the tensor's device, or the CPU for numpy input.

    Returns
    -------
    torch.Tensor, shape (B, N_MELS, N_FRAMES), float32
        Mel bands (low to high) by frames (hop 512 samples, 21.3 ms), no gradient.
    """
    return _compressed(audio, False, device).sub_(MEL_MEAN).div_(MEL_STD)


def linear_features(audio: np.ndarray | torch.Tensor, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Like ``mel_features`` with 256 linear-frequency bands (``linear_filter_bank``) instead of mel bands."""
    return _compressed(audio, True, device).sub_(LINEAR_MEAN).div_(LINEAR_STD)


def feature_stats(audio: np.ndarray | torch.Tensor, *, linear: bool = False) -> tuple[float, float]:
    """Mean and standard deviation of all compressed values before standardization.

    This is how ``MEL_MEAN``/``MEL_STD`` (``linear=False``) and ``LINEAR_MEAN``/``LINEAR_STD``
    were computed.
    """
    values = _compressed(audio, linear, None).double()
    return float(values.mean()), float(values.std())


TEXTURE_BANDS = 64
"""Bands the 256 mel bands are pooled into for the texture spectrum and band movement."""
TEXTURE_ENVELOPES = 8
"""Coarse bands whose envelopes' autocorrelation the texture statistics keep."""
TEXTURE_MAX_LAG = 47
"""Longest envelope autocorrelation lag in frames (1.0 s at hop 512, 24 kHz)."""


def texture_statistics(mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Long-term spectrum, band movement and envelope autocorrelation of feature images.

    Parameters
    ----------
    mel : torch.Tensor, shape (B, N_MELS, N_FRAMES)
        Output of :func:`mel_features`.

    Returns
    -------
    mean, std : (B, TEXTURE_BANDS) — per pooled band, mean and standard deviation over frames
        (feature units).
    autocorrelation : (B, TEXTURE_ENVELOPES * TEXTURE_MAX_LAG) — per coarse band, the mean-removed
        envelope's autocorrelation at lags 1 … TEXTURE_MAX_LAG frames divided by its energy.
    """
    bands = mel.reshape(mel.shape[0], TEXTURE_BANDS, N_MELS // TEXTURE_BANDS, -1).mean(2)
    envelopes = bands.reshape(mel.shape[0], TEXTURE_ENVELOPES, TEXTURE_BANDS // TEXTURE_ENVELOPES, -1).mean(2)
    envelopes = envelopes - envelopes.mean(-1, keepdim=True)
    energy = (envelopes**2).sum(-1) + 1e-6
    lags = [(envelopes[..., lag:] * envelopes[..., :-lag]).sum(-1) / energy
            for lag in range(1, TEXTURE_MAX_LAG + 1)]
    return bands.mean(-1), bands.std(-1), torch.stack(lags, -1).flatten(1)


def _long_term_spectrum(audio: np.ndarray, sr: float) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and the long-term power spectrum of each row, shape (B, N_FFT // 2 + 1)."""
    from scipy import signal

    samples = np.asarray(audio, dtype=np.float64)
    if samples.ndim not in (1, 2):
        raise AudioError(f"audio must have shape (samples,) or (batch, samples), got {samples.shape}")
    if samples.shape[-1] == 0:
        raise AudioError("audio is empty: expected at least one sample")
    if not np.isfinite(samples).all():
        raise AudioError("audio contains NaN or infinite samples")
    if not sr > 0:
        raise AudioError(f"sample rate must be positive, got {sr!r}")
    samples = samples.reshape(-1, samples.shape[-1])
    if samples.shape[-1] < N_FFT:
        samples = np.pad(samples, ((0, 0), (0, N_FFT - samples.shape[-1])))
    rows = max(1, _WELCH_CHUNK // samples.shape[-1])
    power = []
    for start in range(0, samples.shape[0], rows):
        freqs, psd = signal.welch(samples[start: start + rows], fs=sr, window="hann", nperseg=N_FFT,
                                  noverlap=N_FFT // 2, detrend=False, scaling="spectrum", axis=-1)
        power.append(psd)
    return freqs, np.concatenate(power)


def _shape_like(values: np.ndarray, audio: np.ndarray) -> Descriptor:
    return float(values[0]) if np.ndim(audio) == 1 else values


def _descriptors(audio: np.ndarray, sr: float) -> tuple[np.ndarray, np.ndarray]:
    """Brightness (Hz) and depth (dB) of each row."""
    freqs, power = _long_term_spectrum(audio, sr)
    total = power.sum(axis=-1)
    zeros = np.zeros_like(total)
    centroid = np.divide(power @ freqs, total, out=zeros.copy(), where=total > 0)
    share = np.divide(power[:, freqs < DEPTH_CUTOFF_HZ].sum(axis=-1), total, out=zeros, where=total > 0)
    floor = 10.0 ** (DEPTH_FLOOR_DB / 10.0)
    return centroid, 10.0 * np.log10(np.maximum(share, floor))


def brightness(audio: np.ndarray, sr: float = SAMPLE_RATE) -> Descriptor:
    """Spectral centroid (Hz) of the long-term power spectrum; 0 Hz for silence.

    ``audio`` of shape (T,) gives a float, (B, T) an array of B values.
    """
    return _shape_like(_descriptors(audio, sr)[0], audio)


def depth(audio: np.ndarray, sr: float = SAMPLE_RATE) -> Descriptor:
    """Low-end weight: 10·log10(energy below 200 Hz / total energy), in dB (<= 0).

    ``DEPTH_FLOOR_DB`` (-100 dB) for silence or no low end; (T,) gives a float, (B, T) an array.
    """
    return _shape_like(_descriptors(audio, sr)[1], audio)


def descriptor_changes(y: np.ndarray, x: np.ndarray, sr: float = SAMPLE_RATE) -> tuple[Descriptor, Descriptor]:
    """Brightness change (octaves) and depth change (dB) of ``y`` (T,) or (B, T) relative to ``x`` (T,).

    One spectrum pass for both; see ``brightness_change`` and ``depth_change``.
    """
    if np.ndim(x) != 1:
        raise AudioError(f"reference audio x must have shape (samples,), got {np.shape(x)}")
    y_bright, y_depth = _descriptors(y, sr)
    x_bright, x_depth = _descriptors(x, sr)
    octaves = np.log2(np.maximum(y_bright, F_MIN) / np.maximum(x_bright, F_MIN))
    return _shape_like(octaves, y), _shape_like(y_depth - x_depth, y)


def brightness_change(y: np.ndarray, x: np.ndarray, sr: float = SAMPLE_RATE) -> Descriptor:
    """log2(brightness(y) / brightness(x)) in octaves (brightnesses floored at ``F_MIN``, 20 Hz)."""
    return descriptor_changes(y, x, sr)[0]


def depth_change(y: np.ndarray, x: np.ndarray, sr: float = SAMPLE_RATE) -> Descriptor:
    """depth(y) - depth(x) in dB: positive when ``y`` carries more of its energy below 200 Hz."""
    return descriptor_changes(y, x, sr)[1]


def warm_up() -> None:
    """Pay one-time costs at start-up: filter banks, torch's first STFT, scipy's import."""
    tiny = np.zeros(N_FFT, dtype=np.float32)
    mel_features(tiny)
    linear_features(tiny)
    brightness(tiny)


ONSET_HOP = 48
"""Frame length and hop of the onset envelope in samples (2 ms at 24 kHz)."""


def onset_envelope(signals: np.ndarray, *, circular: bool = False) -> np.ndarray:
    """The rise of the log RMS (floored at -80 dBFS) of each signal over ``ONSET_HOP``-sample frames
    (zero where the level falls), shape (B, T // ONSET_HOP); ``circular`` takes the first frame's rise
    from the last frame, so that a circular shift of the signal by whole frames shifts the envelope."""
    signals = np.atleast_2d(np.asarray(signals, dtype=np.float64))
    frames = signals.shape[1] // ONSET_HOP
    power = (signals[:, : frames * ONSET_HOP].reshape(len(signals), frames, ONSET_HOP) ** 2).mean(-1)
    level = np.log(np.sqrt(power) + 1e-4)
    previous = np.roll(level, 1, axis=1) if circular else np.concatenate([level[:, :1], level[:, :-1]], axis=1)
    return np.maximum(level - previous, 0.0)


def onset_autocorrelation(signals: np.ndarray) -> np.ndarray:
    """Autocorrelation of the onset envelope (:func:`onset_envelope`) of each signal, divided by its
    value at lag 0.

    An echo repeats every onset after its delay, so it shows as a peak at that lag (to the 2 ms
    frame), whatever the notes played.

    Parameters
    ----------
    signals : np.ndarray, shape (T,) or (B, T)
        Mono signal(s) at ``SAMPLE_RATE``.

    Returns
    -------
    np.ndarray, shape (B, T // ONSET_HOP)
        Entry ``[b, i]`` is the autocorrelation at a lag of ``i * ONSET_HOP`` samples.
    """
    return autocorrelation(onset_envelope(signals))


WHITENING_BINS = 64
"""Width (bins of a twice-length FFT, about 0.09 Hz each for a window) of the running mean that
:func:`autocorrelation` divides the power spectrum by when ``whitened``."""


def autocorrelation(rows: np.ndarray, *, whitened: bool = False, circular: bool = False) -> np.ndarray:
    """Autocorrelation of each mean-removed row of ``rows`` (B, N) at lags 0 … N-1, divided by
    its value at lag 0 (computed with an FFT of twice the length, so without wrap-around; with
    ``circular``, of the row's own length, so a circular shift of a row leaves it unchanged).

    ``whitened`` divides each power spectrum by its own running mean over :data:`WHITENING_BINS`
    bins before the inverse FFT: what the notes and their timbre spread over many lags falls away,
    and a copy of the signal delayed by a fixed time (a reverb's first reflections, an echo) shows
    as a sharp peak at that lag.
    """
    rows = np.asarray(rows, dtype=np.float64)
    rows = rows - rows.mean(1, keepdims=True)
    size = rows.shape[1] if circular else 2 * rows.shape[1]
    power = np.abs(np.fft.rfft(rows, size, axis=1)) ** 2
    if whitened:
        floor = 1e-12 * np.maximum(power.max(1, keepdims=True), 1e-30)
        power /= scipy.ndimage.uniform_filter1d(power, WHITENING_BINS, axis=1) + floor
    result = np.fft.irfft(power, size, axis=1)[:, : rows.shape[1]]
    return result / np.maximum(result[:, :1], 1e-12)
