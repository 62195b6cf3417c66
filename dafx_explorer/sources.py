"""Clean, musical source clips generated deterministically from a seed.

Five kinds of clip (``KINDS``) are synthesized with numpy/scipy only: plucked-string
guitar phrases (Karplus–Strong), a drum groove, a bass line, chords/pads (detuned saws)
and a voice-like formant source. A seed fixes one "song": tempo, key, mode and chord
progression are drawn first, so the five kinds of one seed play together; the notes,
rhythm and sound details follow.

Every clip is mono float32 at ``SAMPLE_RATE`` with the same loudness: RMS ``TARGET_RMS_DB``
(-20 dBFS), lowered where needed so that the peak stays at most ``PEAK_LIMIT`` (0.9).

Seeds below ``EVAL_SEED_START`` are for training (``TRAIN_SEEDS``); seeds from
``EVAL_SEED_START`` on are held out for evaluation. The shipped generated
clips (``precomputed/sources/KIND.flac``) are seed ``BUILTIN_SEED``, ``BUILTIN_SECONDS`` long; the real
recordings shipped beside them are :mod:`dafx_explorer.real_clips`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from dafx_explorer.errors import DataError
from dafx_explorer.settings import SAMPLE_RATE, get_settings

KINDS = ("guitar", "drums", "bass", "chords", "voice")
"""Kinds of generated clip; each is also the name of one shipped clip."""

TRAIN_SEEDS = range(0, 1000)
"""Seeds that training may use."""

EVAL_SEED_START = 1000
"""First seed reserved for held-out evaluation (seeds >= this never appear in training)."""

BUILTIN_SEED = 0
"""Seed of the shipped clips (``precomputed/sources/KIND.flac``)."""
BUILTIN_SECONDS = 8.0
"""Length of the shipped clips (s)."""
TARGET_RMS_DB = -20.0
"""Loudness of every generated clip: RMS in dBFS."""
PEAK_LIMIT = 0.9
"""Highest peak a generated clip may reach (full scale 1.0); the RMS is lowered to keep it."""
MAX_SECONDS = 600.0
"""Longest clip :func:`generate` makes (s)."""
REBUILD_COMMAND = "python -m dafx_explorer sources"
"""The command that writes the shipped clips again, suggested when one is missing."""

_SR = SAMPLE_RATE
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# Chord progressions as 0-based diatonic degrees (I V vi IV, i VI III VII, ...).
_PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (5, 3, 0, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4)),
}
# Vowel formants (Hz) and bandwidths (Hz), after Peterson & Barney (1952) averages.
_VOWELS = {
    "a": ((730, 1090, 2440, 3400), (90, 110, 160, 250)),
    "e": ((530, 1840, 2480, 3500), (60, 100, 150, 250)),
    "i": ((270, 2290, 3010, 3700), (50, 100, 170, 250)),
    "o": ((570, 840, 2410, 3300), (70, 80, 150, 250)),
    "u": ((300, 870, 2240, 3300), (50, 80, 140, 250)),
}


@dataclass(frozen=True)
class _Song:
    """What the kinds of one seed share: tempo (BPM), key (pitch class), mode, progression."""

    tempo: float
    key: int
    mode: str
    progression: tuple[int, ...]

    @property
    def beat(self) -> float:
        return 60.0 / self.tempo

    @property
    def scale(self) -> tuple[int, ...]:
        return _MAJOR if self.mode == "major" else _MINOR

    def pitch(self, degree: int, base: int) -> int:
        """MIDI note of a diatonic scale degree (any integer) above the MIDI note ``base``."""
        octave, step = divmod(degree, 7)
        return base + 12 * octave + self.scale[step]

    def chord_degree(self, time: float) -> int:
        """Root degree of the chord playing at ``time`` seconds (one chord per 4-beat bar)."""
        bar = int(time // (4 * self.beat))
        return self.progression[bar % len(self.progression)]


def _song(rng: np.random.Generator) -> _Song:
    mode = "major" if rng.random() < 0.5 else "minor"
    choices = _PROGRESSIONS[mode]
    return _Song(
        tempo=float(rng.uniform(80.0, 140.0)),
        key=int(rng.integers(12)),
        mode=mode,
        progression=choices[int(rng.integers(len(choices)))],
    )


def _hz(midi: float | np.ndarray) -> float | np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _add(out: np.ndarray, sound: np.ndarray, start: int) -> None:
    """Mix ``sound`` into ``out`` from sample ``start`` on, cut at the end of ``out``."""
    if start >= len(out):
        return
    end = min(len(out), start + len(sound))
    out[start:end] += sound[: end - start]


def _envelope(n: int, attack: float, release: float) -> np.ndarray:
    """Linear attack and release ramps (seconds) over ``n`` samples."""
    t = np.arange(n) / _SR
    rise = np.minimum(1.0, t / max(attack, 1e-4))
    fall = np.minimum(1.0, (n / _SR - t) / max(release, 1e-4))
    return np.clip(np.minimum(rise, fall), 0.0, 1.0)


def _saw(freq: float, n: int, phase: float = 0.0) -> np.ndarray:
    """Band-limited sawtooth (PolyBLEP) in [-1, 1] at ``freq`` Hz, starting at ``phase`` (cycles)."""
    dt = freq / _SR
    t = (phase + dt * np.arange(n)) % 1.0
    out = 2.0 * t - 1.0
    lo = t < dt
    x = t[lo] / dt
    out[lo] -= 2.0 * x - x * x - 1.0
    hi = t > 1.0 - dt
    x = (t[hi] - 1.0) / dt
    out[hi] -= x * x + 2.0 * x + 1.0
    return out


def _pluck(rng: np.random.Generator, freq: float, seconds: float, velocity: float) -> np.ndarray:
    """One Karplus–Strong plucked string: noise burst into a damped, tuned feedback loop.

    The loop is z^-N, a two-point average and a first-order all-pass for the fractional
    part of the period, so the pitch is exact; one filter runs it with scipy.
    """
    period = _SR / freq
    n_int = int(np.floor(period - 0.6))
    frac = period - 0.5 - n_int  # delay the all-pass must add, in [0.1, 1.1)
    c = (1.0 - frac) / (1.0 + frac)
    t60 = float(np.clip(rng.uniform(1.5, 3.0) * (220.0 / freq) ** 0.5, 0.6, 5.0))
    g = 10.0 ** (-3.0 * (period / _SR) / t60)
    burst = rng.uniform(-1.0, 1.0, n_int + 1)
    softness = 0.2 + 0.6 * (1.0 - velocity) + rng.uniform(0.0, 0.2)
    burst = signal.lfilter([1.0 - softness], [1.0, -softness], burst)
    pick = max(1, int(rng.uniform(0.1, 0.3) * n_int))
    burst[pick:] -= burst[:-pick].copy()
    burst -= burst.mean()
    n = int(seconds * _SR)
    x = np.zeros(n)
    x[: min(n, len(burst))] = burst[:n]
    a = np.zeros(n_int + 3)
    a[0], a[1] = 1.0, c
    a[n_int] -= 0.5 * g * c
    a[n_int + 1] -= 0.5 * g * (1.0 + c)
    a[n_int + 2] -= 0.5 * g
    y = signal.lfilter([1.0, c], a, x)
    return velocity * y * _envelope(n, 0.0, 0.08)


def _guitar(rng: np.random.Generator, song: _Song, n: int) -> np.ndarray:
    out = np.zeros(n)
    base = 48 + song.key  # C3..B3: the phrase wanders about an octave either side
    degree = int(rng.integers(0, 7))
    durations = np.array([0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0])
    time = float(rng.uniform(0.0, 0.1))
    while time < n / _SR:
        length = float(rng.choice(durations)) * song.beat
        if time > 0.1 and rng.random() < 0.12:  # rest (never first)
            time += length
            continue
        chord = song.chord_degree(time)
        if rng.random() < 0.35:  # land on a chord tone
            degree = chord + int(rng.choice([0, 2, 4, 7]))
        else:
            degree += int(rng.choice([-3, -2, -1, 1, 2, 3]))
        degree = int(np.clip(degree, -5, 12))
        degrees = [degree]
        if rng.random() < 0.2:  # strum a chord
            degrees = [chord + d for d in (-7, -3, 0, 2, 4)]
        on_beat = abs(time / song.beat - round(time / song.beat)) < 0.05
        velocity = float(np.clip(rng.uniform(0.55, 0.9) + (0.1 if on_beat else 0.0), 0.0, 1.0))
        ring = length + rng.uniform(0.2, 0.6)
        for i, d in enumerate(degrees):
            start = time + i * rng.uniform(0.012, 0.03)
            note = _pluck(rng, float(_hz(song.pitch(d, base))), ring, velocity * (1.0 if i == 0 else 0.7))
            _add(out, note, int(start * _SR))
        time += length
    return signal.sosfilt(signal.butter(2, [70.0, 7000.0], btype="bandpass", fs=_SR, output="sos"), out)


def _kick(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.4 * _SR)) / _SR
    f_end = rng.uniform(45.0, 60.0)
    freq = f_end + rng.uniform(70.0, 130.0) * np.exp(-t / rng.uniform(0.025, 0.05))
    body = np.sin(2.0 * np.pi * np.cumsum(freq) / _SR) * np.exp(-t / rng.uniform(0.15, 0.3))
    click = rng.uniform(-1.0, 1.0, len(t)) * np.exp(-t / 0.002)
    return body + 0.3 * signal.lfilter([0.5], [1.0, -0.5], click)


def _snare(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.3 * _SR)) / _SR
    tone = rng.uniform(170.0, 220.0)
    body = (np.sin(2 * np.pi * tone * t) + 0.5 * np.sin(2 * np.pi * 1.7 * tone * t)) * np.exp(-t / 0.04)
    sos = signal.butter(2, [rng.uniform(1200.0, 2000.0), 9000.0], btype="bandpass", fs=_SR, output="sos")
    wires = signal.sosfilt(sos, rng.standard_normal(len(t))) * np.exp(-t / rng.uniform(0.08, 0.15))
    return 0.6 * body + 1.2 * wires


def _tom(pitch: float) -> np.ndarray:
    t = np.arange(int(0.35 * _SR)) / _SR
    freq = pitch * (1.0 + 0.4 * np.exp(-t / 0.03))
    return np.sin(2 * np.pi * np.cumsum(freq) / _SR) * np.exp(-t / 0.12) * 0.8


def _hat(rng: np.random.Generator, open_: bool) -> np.ndarray:
    """Hi-hat: six detuned square waves (the classic analog recipe) plus noise, high-passed."""
    t = np.arange(int((0.45 if open_ else 0.12) * _SR)) / _SR
    metal = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in np.array([205.3, 304.4, 369.6, 522.7, 540.0, 800.0])
                * rng.uniform(0.97, 1.03))
    tone = 0.3 * metal + rng.standard_normal(len(t))
    sos = signal.butter(4, 7000.0, btype="highpass", fs=_SR, output="sos")
    return 0.5 * signal.sosfilt(sos, tone) * np.exp(-t / (rng.uniform(0.12, 0.2) if open_ else 0.025))


def _drums(rng: np.random.Generator, song: _Song, n: int) -> np.ndarray:
    out = np.zeros(n)
    step = song.beat / 4.0
    swing = rng.uniform(0.0, 0.15) * step
    sixteenth_hats = rng.random() < 0.4
    kick_extra = rng.choice([6, 8, 10, 11, 14], size=int(rng.integers(1, 3)), replace=False)
    bars = int(np.ceil(n / _SR / (16 * step)))
    toms = (rng.uniform(90.0, 110.0), rng.uniform(130.0, 160.0))
    for bar in range(bars):
        fill = bar == bars - 1 or (bar % 4 == 3 and rng.random() < 0.5)
        for s in range(16):
            hits = []
            if s == 0 or s in kick_extra or (rng.random() < 0.06 and s % 2 == 1):
                hits.append((_kick(rng), rng.uniform(0.85, 1.0)))
            if s in (4, 12):
                hits.append((_snare(rng), rng.uniform(0.85, 1.0)))
            elif fill and s >= 12 and rng.random() < 0.6:
                hits.append((_tom(toms[s % 2]) if rng.random() < 0.5 else _snare(rng), 0.7))
            elif rng.random() < 0.08:  # ghost note
                hits.append((_snare(rng), rng.uniform(0.15, 0.3)))
            if sixteenth_hats or s % 2 == 0:
                open_hat = s == 14 and rng.random() < 0.4
                accent = 1.0 if s % 4 == 0 else 0.6
                hits.append((_hat(rng, open_hat), accent * rng.uniform(0.7, 1.0)))
            time = (bar * 16 + s) * step + (swing if s % 2 else 0.0) + rng.normal(0.0, 0.002)
            for sound, velocity in hits:
                _add(out, velocity * sound, max(0, int(time * _SR)))
    return out


def _bass(rng: np.random.Generator, song: _Song, n: int) -> np.ndarray:
    out = np.zeros(n)
    base = 28 + (song.key - 4) % 12  # roots from E1 (41 Hz) to D#2 (78 Hz)
    # Bar patterns: (start beat, length in beats, interval above the root in semitones).
    patterns = (
        ((0, 1, 0), (1, 1, 0), (2, 1, 7), (3, 1, 12)),
        ((0, 1.5, 0), (1.5, 0.5, 0), (2, 1.5, 7), (3.5, 0.5, 10)),
        ((0, 0.5, 0), (0.5, 0.5, 0), (1, 0.5, 12), (1.5, 0.5, 0), (2, 0.5, 7), (2.5, 0.5, 0), (3, 1, 5)),
        ((0, 2, 0), (2, 1, 0), (3, 1, 7)),
    )
    cutoff = rng.uniform(300.0, 700.0)
    sos = signal.butter(2, cutoff, fs=_SR, output="sos")
    staccato = rng.uniform(0.6, 0.95)
    bar_length = 4 * song.beat
    for bar in range(int(np.ceil(n / _SR / bar_length))):
        root = song.pitch(song.progression[bar % len(song.progression)], base)
        for beat, length, interval in patterns[int(rng.integers(len(patterns)))]:
            freq = float(_hz(root + interval))
            m = int(length * song.beat * staccato * _SR)
            tone = 0.6 * _saw(freq, m, rng.random()) + np.sin(2 * np.pi * freq * np.arange(m) / _SR)
            env = _envelope(m, 0.005, 0.03) * (0.5 + 0.5 * np.exp(-np.arange(m) / (0.25 * _SR)))
            start = bar * bar_length + beat * song.beat
            _add(out, rng.uniform(0.75, 1.0) * signal.sosfilt(sos, tone * env), int(start * _SR))
    return out


def _chords(rng: np.random.Generator, song: _Song, n: int) -> np.ndarray:
    out = np.zeros(n)
    base = 55 + (song.key - 7) % 12  # voicings from G3 up
    detune = rng.uniform(5.0, 12.0)  # cents
    pulse = rng.random() < 0.4  # rhythmic stabs instead of a held pad
    seventh = rng.random() < 0.5
    bar_length = 4 * song.beat
    for bar in range(int(np.ceil(n / _SR / bar_length))):
        root = song.progression[bar % len(song.progression)]
        degrees = (root, root + 2, root + 4) + ((root + 6,) if seventh else ())
        hits = [(b * song.beat, 0.8 * song.beat) for b in (0, 1, 2, 2.5, 3)] if pulse else [(0.0, bar_length)]
        for offset, length in hits:
            m = int((length + 0.3) * _SR)
            tone = np.zeros(m)
            for d in degrees:
                midi = song.pitch(d, base)
                for cents in (-detune, 0.0, detune):
                    tone += _saw(float(_hz(midi + cents / 100.0)), m, rng.random())
            attack = 0.01 if pulse else rng.uniform(0.08, 0.3)
            _add(out, tone * _envelope(m, attack, 0.3), int((bar * bar_length + offset) * _SR))
    # Slow filter movement: cross-fade a dark and a bright low-passed copy with an LFO.
    cutoff = rng.uniform(1200.0, 2500.0)
    dark = signal.sosfilt(signal.butter(4, cutoff, fs=_SR, output="sos"), out)
    bright = signal.sosfilt(signal.butter(4, min(3.0 * cutoff, 10000.0), fs=_SR, output="sos"), out)
    lfo = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / _SR / (rng.uniform(2.0, 4.0) * bar_length))
    return dark + 0.5 * lfo * (bright - dark)


def _glottal(phase: np.ndarray) -> np.ndarray:
    """Derivative (per period) of a Rosenberg glottal pulse, lip radiation included, at phase in [0, 1)."""
    opening, closing = 0.4, 0.16
    out = np.where(phase < opening, 0.5 * np.pi / opening * np.sin(np.pi * phase / opening), 0.0)
    shut = (phase >= opening) & (phase < opening + closing)
    out[shut] = -0.5 * np.pi / closing * np.sin(0.5 * np.pi * (phase[shut] - opening) / closing)
    return out


def _formants(source: np.ndarray, freqs: np.ndarray, widths: np.ndarray, block: int) -> np.ndarray:
    """Cascade of Klatt resonators (unity gain at DC) whose frequencies change every ``block`` samples.

    ``freqs`` and ``widths`` have one row per block and one column per formant (Hz).
    """
    out = source.copy()
    for k in range(freqs.shape[1]):
        r = np.exp(-np.pi * widths[:, k] / _SR)
        b1 = 2.0 * r * np.cos(2.0 * np.pi * freqs[:, k] / _SR)
        b2 = -(r**2)
        state = np.zeros(2)
        for i in range(freqs.shape[0]):
            seg = slice(i * block, (i + 1) * block)
            a = [1.0, -b1[i], -b2[i]]
            out[seg], state = signal.lfilter([1.0 - b1[i] - b2[i]], a, out[seg], zi=state)
    return out


def _voice(rng: np.random.Generator, song: _Song, n: int) -> np.ndarray:
    """Sung syllables: glottal pulses with glides, vibrato and jitter through vowel formants."""
    block = 120  # formants change every 5 ms
    n_blocks = -(-n // block)
    lowest = 45 if rng.random() < 0.5 else 54  # A2 or F#3: a low or a high voice
    base = lowest + (song.key - lowest) % 12
    penta = (0, 2, 4, 7, 9) if song.mode == "major" else (0, 3, 5, 7, 10)
    pitch = np.full(n, float(base))  # MIDI, held between syllables
    amp = np.zeros(n)
    since_onset = np.zeros(n)  # seconds since the syllable began
    vowels = np.empty((n_blocks, 2, 4))
    vowels[:] = _VOWELS["a"]
    consonants = np.zeros(n)
    names = sorted(_VOWELS)
    degree = int(rng.integers(0, 5))
    time = first = float(rng.uniform(0.02, 0.15))
    while time < n / _SR:
        length = float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0])) * song.beat
        start, stop = int(time * _SR), min(n, int((time + length * rng.uniform(0.8, 0.95)) * _SR))
        time += length
        if start > first * _SR and rng.random() < 0.15:  # a breath (never first)
            continue
        degree = int(np.clip(degree + rng.choice([-2, -1, 0, 1, 2]), -3, 8))
        octave, step = divmod(degree, 5)
        pitch[start:] = base + 12 * octave + penta[step]
        amp[start:stop] = _envelope(stop - start, 0.03, 0.08) * rng.uniform(0.7, 1.0)
        since_onset[start:stop] = np.arange(stop - start) / _SR
        vowels[start // block:] = _VOWELS[names[int(rng.integers(len(names)))]]
        if rng.random() < 0.5:  # a consonant leading into the vowel: s, sh or t
            kind = int(rng.integers(3))
            band = ((4500.0, 11000.0), (1800.0, 5000.0), (1500.0, 10000.0))[kind]
            sos = signal.butter(2, band, btype="bandpass", fs=_SR, output="sos")
            noise = signal.sosfilt(sos, rng.standard_normal(int((0.08, 0.07, 0.012)[kind] * _SR)))
            _add(consonants, 0.25 * noise * _envelope(len(noise), 0.01, 0.02), max(0, start - len(noise) // 2))
    # Pitch glides over ~30 ms; vibrato fades in 0.1-0.3 s after each onset; jitter wanders slowly.
    glide = np.exp(-1.0 / (0.03 * _SR))
    pitch = signal.lfilter([1.0 - glide], [1.0, -glide], pitch, zi=[pitch[0] * glide])[0]
    t = np.arange(n) / _SR
    vibrato = rng.uniform(0.3, 0.7) * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t)
    pitch += vibrato * np.clip((since_onset - 0.1) / 0.2, 0.0, 1.0)
    knots = int(t[-1] / 0.05) + 2
    pitch += np.interp(t, 0.05 * np.arange(knots), rng.normal(0.0, 0.08, knots))
    f0 = _hz(pitch)
    phase = np.cumsum(f0 / _SR) % 1.0
    aspiration = signal.butter(2, 1500.0, btype="highpass", fs=_SR, output="sos")
    breath = 0.15 * signal.sosfilt(aspiration, rng.standard_normal(n)) * (phase < 0.5)
    source = np.concatenate([(_glottal(phase) + breath) * amp, np.zeros(n_blocks * block - n)])
    # Formants glide from vowel to vowel over about 40 ms.
    smooth = np.exp(-block / (0.04 * _SR))
    tracks = signal.lfilter([1.0 - smooth], [1.0, -smooth], vowels, axis=0, zi=vowels[:1] * smooth)[0]
    return _formants(source, tracks[:, 0], tracks[:, 1], block)[:n] + consonants


_GENERATORS = {"guitar": _guitar, "drums": _drums, "bass": _bass, "chords": _chords, "voice": _voice}


def _loudness(y: np.ndarray) -> np.ndarray:
    """Remove DC, fade the ends (5 ms) and scale to RMS ``TARGET_RMS_DB``, peak at most ``PEAK_LIMIT``."""
    y = y - y.mean()
    y *= _envelope(len(y), 0.005, 0.005)
    rms = np.sqrt(np.mean(y**2))
    if rms == 0.0:  # a clip too short to reach its first note
        return y.astype(np.float32)
    gain = min(10.0 ** (TARGET_RMS_DB / 20.0) / rms, PEAK_LIMIT / np.max(np.abs(y)))
    return (gain * y).astype(np.float32)


def generate(kind: str, *, seed: int = 0, seconds: float = BUILTIN_SECONDS) -> np.ndarray:
    """Synthesize a clean source clip.

    Parameters
    ----------
    kind : str
        One of ``KINDS``.
    seed : int >= 0
        Fixes the phrase: tempo, key, notes, rhythm and sound details. Seeds of
        ``TRAIN_SEEDS`` are for training, seeds >= ``EVAL_SEED_START`` for evaluation.
    seconds : float
        Length in seconds, in (0, ``MAX_SECONDS``].

    Returns
    -------
    np.ndarray
        Mono float32 samples at ``SAMPLE_RATE``, RMS -20 dBFS (less where the peak would
        pass 0.9), the same for the same arguments on every run.
    """
    if kind not in _GENERATORS:
        raise DataError(f"unknown source kind {kind!r}; expected one of {', '.join(KINDS)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DataError(f"source seed must be a non-negative integer, got {seed!r}")
    if not 0.0 < seconds <= MAX_SECONDS:
        raise DataError(f"source length must be in (0, {MAX_SECONDS:g}] seconds, got {seconds!r}")
    rng = np.random.default_rng(int(seed))
    n = max(1, int(round(seconds * _SR)))
    return _loudness(_GENERATORS[kind](rng, _song(rng), n))


def builtin_clips() -> list[str]:
    """Names of the shipped clips: one generated clip per kind (seed ``BUILTIN_SEED``, ``BUILTIN_SECONDS``
    long), then the real recordings the data folder's catalogue lists (:mod:`dafx_explorer.real_clips`)."""
    from dafx_explorer import real_clips

    return [*KINDS, *(name for name in real_clips.CLIPS if name in real_clips.catalogue())]


def load_clip(name: str) -> np.ndarray:
    """Read the clip ``NAME.flac`` from the data folder's ``sources/`` as mono float32 at 24 kHz.

    Raises
    ------
    DataError
        If the file is missing, unreadable, or not mono at ``SAMPLE_RATE``.
    """
    if not name or Path(name).name != name:
        raise DataError(f"clip name must be a plain file name without folders, got {name!r}")
    from dafx_explorer import real_clips

    path = get_settings().sources_dir / f"{name}.flac"
    command = real_clips.REBUILD_COMMAND if name in real_clips.CLIPS else REBUILD_COMMAND
    if not path.is_file():
        raise DataError(f"source clip {path} is missing; rebuild the built-in clips with: {command}")
    try:
        samples, sr = sf.read(path, dtype="float32", always_2d=False)
    except sf.SoundFileError as exc:
        raise DataError(f"source clip {path} is unreadable ({exc}); rebuild it with: {command}") from exc
    if sr != SAMPLE_RATE or samples.ndim != 1:
        raise DataError(f"source clip {path} must be mono at {SAMPLE_RATE} Hz, got {sr} Hz, shape {samples.shape}")
    return samples


def write_builtin_clips(folder: str | Path) -> list[Path]:
    """Generate the shipped generated clips (one per kind) and write them to ``folder`` as 24-bit FLAC;
    return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in KINDS:
        path = folder / f"{name}.flac"
        samples = generate(name, seed=BUILTIN_SEED, seconds=BUILTIN_SECONDS)
        sf.write(path, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_24")
        paths.append(path)
    return paths
