"""Audio effects driven by normalized settings.

An effect maps normalized settings ``p ∈ [0, 1]^n`` (in the order of ``effect.params``) to real values
(``Param.to_real``) and renders mono float32 audio with them. The eight built-in effects (``names()``)
are pedalboard's native processors and numpy, so they need no plugin files; a VST3 plugin loads with
``load_vst3(path)`` and is driven the same way. Rendering is deterministic (processors built anew, LFOs
and carriers from phase 0), the output has exactly the input's length (tails are trimmed) and is not
normalized. ``effect.snippet(p)`` is Python source of ``process(audio, sample_rate)`` that renders the
same samples, built from the very functions used here.

Every stage an effect adds around its core processor has an exact bypass inside its range
(``Param.bypass``), so plain pedalboard chains are special cases that ``from_pedalboard`` turns into
settings (equal after peak normalization):

  ========== ==================================================================
  overdrive  ``Distortion`` → ``LowpassFilter`` → ``Gain`` (any of them)
  delay      ``Delay`` (tone open)
  ambience   ``Reverb`` at width 1: ``mix = wet_level / (wet_level + 2 dry_level)``
             (its dry counts double), so its defaults are ``mix`` 0.33 / 1.13 ≈ 0.292
  flanger    ``Chorus``
  multiband  ``Gain`` (equal band gains, threshold 0 dB: compressors out)
  dynamics   ``Compressor`` → ``Gain``
  ringmod    none (numpy); ``mix`` 0 is the dry input
  combo      ``HighpassFilter`` → ``Distortion`` → ``Gain`` (cabinet open)
  ========== ==================================================================
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pedalboard

from dafx_explorer.errors import AudioError, EffectError

SCALES = ("linear", "log")
"""How a normalized setting maps to its real range: evenly, or evenly in ratio (frequencies, times)."""


def _finite_array(values, what: str) -> np.ndarray:
    """``values`` as a float64 array, or ``EffectError`` if any is not a finite number."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise EffectError(f"{what} must be numbers, got {values!r}") from None
    if not np.all(np.isfinite(array)):
        raise EffectError(f"{what} must be finite numbers, got {values!r}")
    return array


def _scalar_or_array(array: np.ndarray):
    return float(array) if array.ndim == 0 else array


@dataclass(frozen=True)
class Param:
    """One effect parameter: a real range with a unit, mapped from normalized values in [0, 1].

    Parameters
    ----------
    name : str
        Identifier in snake_case, with a unit suffix where useful (``drive_db``).
    minimum, maximum : float
        Real range, ``minimum < maximum``; on a log scale ``minimum > 0``.
    unit : str
        Unit of the real value ("dB", "s", "Hz", "ms", "" for plain ratios).
    scale : {"linear", "log"}
        How normalized values spread over the range: evenly, or evenly in ratio.
    default : float
        Default in real units, within the range.
    bypass : float, optional
        The real value at which this setting's stage is switched out, so the effect renders
        exactly as without that stage (a tone filter's open end, 0 dB, a pre-delay of 0 ms);
        ``None`` when the setting is part of the core processor.
    """

    name: str
    minimum: float
    maximum: float
    unit: str
    scale: str
    default: float
    bypass: float | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise EffectError(f"parameter name must be a non-empty string, got {self.name!r}")
        if not (math.isfinite(self.minimum) and math.isfinite(self.maximum) and self.minimum < self.maximum):
            raise EffectError(
                f"parameter {self.name}: need finite minimum < maximum, got {self.minimum}, {self.maximum}"
            )
        if self.scale not in SCALES:
            raise EffectError(f"parameter {self.name}: scale must be one of {SCALES}, got {self.scale!r}")
        if self.scale == "log" and self.minimum <= 0:
            raise EffectError(f"parameter {self.name}: a log scale needs minimum > 0, got {self.minimum}")
        if not self.minimum <= self.default <= self.maximum:
            raise EffectError(
                f"parameter {self.name}: default {self.default} outside [{self.minimum}, {self.maximum}]"
            )
        if self.bypass is not None and not self.minimum <= self.bypass <= self.maximum:
            raise EffectError(
                f"parameter {self.name}: bypass {self.bypass} outside [{self.minimum}, {self.maximum}]"
            )

    def to_real(self, x):
        """Real value(s) of normalized value(s) ``x`` (clipped to [0, 1]); a float for a scalar."""
        x = np.clip(_finite_array(x, f"normalized values of {self.name}"), 0.0, 1.0)
        if self.scale == "log":
            real = self.minimum ** (1.0 - x) * self.maximum**x
        else:
            real = (1.0 - x) * self.minimum + x * self.maximum
        return _scalar_or_array(np.clip(real, self.minimum, self.maximum))

    def to_normalized(self, value):
        """Normalized value(s) in [0, 1] of real value(s) (clipped to the range); a float for a scalar."""
        value = np.clip(_finite_array(value, f"values of {self.name}"), self.minimum, self.maximum)
        if self.scale == "log":
            x = np.log(value / self.minimum) / math.log(self.maximum / self.minimum)
        else:
            x = (value - self.minimum) / (self.maximum - self.minimum)
        return _scalar_or_array(np.clip(x, 0.0, 1.0))


class Effect:
    """An effect with named parameters, driven by normalized settings ``p ∈ [0, 1]^n``.

    Subclasses say how to process audio with real values (``_process``) and how to
    write that as a standalone script (``snippet``).
    """

    def __init__(self, name: str, params: Sequence[Param], description: str = ""):
        params = tuple(params)
        if not params:
            raise EffectError(f"effect {name!r} has no adjustable parameters")
        names = [param.name for param in params]
        if len(set(names)) != len(names):
            raise EffectError(f"effect {name!r} has duplicate parameter names: {names}")
        self.name = name
        self.params = params
        self.description = description

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, params={list(self.param_names)})"

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(param.name for param in self.params)

    @property
    def n_params(self) -> int:
        return len(self.params)

    def defaults(self) -> np.ndarray:
        """Normalized default settings, shape (n_params,)."""
        return np.array([param.to_normalized(param.default) for param in self.params])

    def normalize_settings(self, p) -> np.ndarray:
        """Settings as a float64 array in [0, 1] of shape (n_params,).

        Parameters
        ----------
        p : sequence of float or mapping of str to float
            Normalized values in parameter order, or ``{name: normalized}`` where
            missing names take their defaults. Values outside [0, 1] are clipped.
        """
        valid = ", ".join(self.param_names)
        if isinstance(p, Mapping):
            unknown = [key for key in p if key not in self.param_names]
            if unknown:
                raise EffectError(f"{self.name} has no parameter {unknown[0]!r}; valid names: {valid}")
            values = self.defaults()
            for i, param_name in enumerate(self.param_names):
                if param_name in p:
                    value = _finite_array(p[param_name], f"{self.name} setting {param_name!r}")
                    if value.ndim:
                        raise EffectError(f"{self.name} setting {param_name!r} must be one number, got {value}")
                    values[i] = value
        else:
            if isinstance(p, str | bytes):
                raise EffectError(f"{self.name} settings must be numbers or a dict, got {p!r}")
            values = _finite_array(p, f"{self.name} settings")
            if values.shape != (self.n_params,):
                raise EffectError(
                    f"{self.name} takes {self.n_params} settings ({valid}), got shape {values.shape}"
                )
        return np.clip(values, 0.0, 1.0)

    def real(self, p) -> dict[str, float]:
        """Real parameter values of settings ``p``: ``{name: value}`` in each parameter's unit."""
        x = self.normalize_settings(p)
        return {param.name: param.to_real(xi) for param, xi in zip(self.params, x, strict=True)}

    def describe(self, p) -> dict[str, dict]:
        """``{name: {"normalized", "value", "unit"}}`` for settings ``p`` (JSON-ready)."""
        x = self.normalize_settings(p)
        return {
            param.name: {"normalized": float(xi), "value": param.to_real(xi), "unit": param.unit}
            for param, xi in zip(self.params, x, strict=True)
        }

    def render(self, audio, sr: int, p) -> np.ndarray:
        """Apply the effect with settings ``p`` to mono ``audio`` at ``sr`` Hz.

        Returns
        -------
        np.ndarray
            float32, exactly ``len(audio)`` samples (tails past the input's end are trimmed).
        """
        samples = _mono_float32(audio)
        if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
            raise AudioError(f"sample rate must be a positive integer in Hz, got {sr!r}")
        values = self.real(p)
        if samples.size == 0:
            return samples.copy()
        return np.asarray(self._process(samples, int(sr), values), dtype=np.float32)

    def snippet(self, p) -> str:
        """Python source defining ``process(audio, sample_rate)`` that renders like ``render(..., p)``."""
        raise NotImplementedError

    def _process(self, audio: np.ndarray, sr: int, values: dict[str, float]) -> np.ndarray:
        raise NotImplementedError

    def _snippet_header(self, p) -> str:
        lines = [f"{name} = {item['value']:.6g} {item['unit']}".rstrip() for name, item in self.describe(p).items()]
        settings = "\n".join(f"    {line}" for line in lines)
        return (
            f'"""{self.name}: {self.description}, exported from DAFX Explorer.\n\n'
            f"Settings:\n{settings}\n\nCall process(audio, sample_rate) on mono float32 audio.\n"
            '"""\n\nimport numpy as np\nimport pedalboard\n\n\n'
        )


def _mono_float32(audio) -> np.ndarray:
    """``audio`` as a 1-D float32 array, or ``AudioError``."""
    samples = np.asarray(audio)
    if samples.ndim != 1 or not np.issubdtype(samples.dtype, np.floating):
        raise AudioError(f"audio must be a 1-D float array of mono samples, got {samples.dtype} {samples.shape}")
    samples = samples.astype(np.float32)
    if not np.all(np.isfinite(samples)):
        raise AudioError("audio contains NaN or infinite samples")
    return samples


# -- processing functions: used by render and copied verbatim into snippets -------------------------


def run_chain(plugins, audio, sample_rate):
    """Run pedalboard ``plugins`` in series over mono ``audio``; same length out (tails trimmed)."""
    return pedalboard.Pedalboard(plugins)(np.asarray(audio, dtype=np.float32), sample_rate)


def safe_cutoff(frequency_hz, sample_rate):
    """``frequency_hz`` kept below 45 % of ``sample_rate`` so filters stay stable at any rate."""
    return min(frequency_hz, 0.45 * sample_rate)


TONE_OPEN_HZ = 10_000.0
"""Top of the overdrive's and the delay's tone range (Hz): there the low-pass is switched out."""
HIGHPASS_OPEN_HZ = 20.0
"""Bottom of the combo's input high-pass range (Hz): there the high-pass is switched out."""
CABINET_OPEN_HZ = 8_000.0
"""Top of the combo's cabinet low-pass range (Hz): there the cabinet filter is switched out."""
COMPRESSOR_OFF_DB = 0.0
"""Top of the multiband's threshold range (dB): there the band compressors are switched out."""


def tone_filter(tone_hz, sample_rate):
    """A one-pole tone low-pass at ``tone_hz`` as a chain of one, or none at ``TONE_OPEN_HZ`` and up."""
    if tone_hz >= TONE_OPEN_HZ:
        return []
    return [pedalboard.LowpassFilter(cutoff_frequency_hz=safe_cutoff(tone_hz, sample_rate))]


def process_overdrive(audio, sample_rate, *, drive_db, tone_hz, level_db):
    """Overdrive: tanh distortion, a one-pole tone low-pass (none at ``TONE_OPEN_HZ``), output level."""
    return run_chain(
        [pedalboard.Distortion(drive_db=drive_db), *tone_filter(tone_hz, sample_rate),
         pedalboard.Gain(gain_db=level_db)],
        audio,
        sample_rate,
    )


def process_delay(audio, sample_rate, *, delay_seconds, feedback, mix, tone_hz):
    """Echo: a feedback delay whose repeats are low-passed at ``tone_hz`` (not at ``TONE_OPEN_HZ``),
    mixed with the dry signal (``mix`` 0: dry, 1: repeats only)."""
    dry = np.asarray(audio, dtype=np.float32)
    wet = run_chain(
        [pedalboard.Delay(delay_seconds=delay_seconds, feedback=feedback, mix=1.0),
         *tone_filter(tone_hz, sample_rate)],
        dry,
        sample_rate,
    )
    return (1.0 - mix) * dry + mix * wet


def process_ambience(audio, sample_rate, *, room_size, damping, mix, predelay_ms):
    """Room reverb (Freeverb) after a pre-delay (none at 0 ms), mixed with the dry signal (``mix`` 0: dry,
    1: the reverb alone)."""
    dry = np.asarray(audio, dtype=np.float32)
    wet = run_chain(
        [
            pedalboard.Delay(delay_seconds=predelay_ms / 1000.0, feedback=0.0, mix=1.0),
            pedalboard.Reverb(room_size=room_size, damping=damping, wet_level=1.0, dry_level=0.0),
        ],
        dry,
        sample_rate,
    )
    return (1.0 - mix) * dry + mix * wet


REVERB_ONSET_MS = 100.0
"""Length of :func:`reverb_onset` (ms)."""


@functools.lru_cache(maxsize=4)
def reverb_onset(sample_rate: int) -> np.ndarray:
    """The first :data:`REVERB_ONSET_MS` of the ambience's wet impulse response with no pre-delay
    (room size and damping 0.5). Its first reflections (from 25 ms on) arrive at the same times at
    every room size and damping, so a pre-delay shifts this pattern as a whole, which is how
    :func:`dafx_explorer.readings.predelay_times` finds it in a reference."""
    impulse = np.zeros(int(sample_rate * REVERB_ONSET_MS / 1000.0), dtype=np.float32)
    impulse[0] = 1.0
    return process_ambience(impulse, sample_rate, room_size=0.5, damping=0.5, mix=1.0,
                            predelay_ms=0.0).astype(np.float64)


def process_flanger(audio, sample_rate, *, rate_hz, depth, centre_delay_ms, feedback, mix):
    """Flanger: a short delay swept by a sine LFO (starting at phase 0), with feedback."""
    return run_chain(
        [
            pedalboard.Chorus(
                rate_hz=rate_hz, depth=depth, centre_delay_ms=centre_delay_ms, feedback=feedback, mix=mix
            )
        ],
        audio,
        sample_rate,
    )


def fft_size(n):
    """Smallest 2^k·m ≥ ``n`` with m in {1, 3, 5, 9, 15}: a length numpy's FFT handles fast."""
    return min(m << max(0, (-(-n // m) - 1).bit_length()) for m in (1, 3, 5, 9, 15))


def crossover_weight(frequencies_hz, cutoff_hz):
    """1 below ``cutoff_hz``/√2, 0 above ``cutoff_hz``·√2, a raised-cosine fade in log frequency between."""
    position = np.clip(np.log2(np.maximum(frequencies_hz, 1e-3) / cutoff_hz) + 0.5, 0.0, 1.0)
    return 0.5 + 0.5 * np.cos(np.pi * position)


def split_bands(audio, sample_rate, low_crossover_hz, high_crossover_hz):
    """Zero-phase split of mono ``audio`` into (low, mid, high) bands that sum exactly to it.

    The spectrum of the zero-padded input (100 ms of padding keeps the filters' ringing from
    wrapping around) is weighted by one-octave crossover fades; mid is what low and high leave.
    """
    x = np.asarray(audio, dtype=np.float32)
    size = fft_size(x.size + sample_rate // 10)
    spectrum = np.fft.rfft(x, size)
    frequencies = np.fft.rfftfreq(size, 1.0 / sample_rate)
    low = np.fft.irfft(spectrum * crossover_weight(frequencies, low_crossover_hz), size)[: x.size]
    high = np.fft.irfft(spectrum * (1.0 - crossover_weight(frequencies, high_crossover_hz)), size)[: x.size]
    low, high = low.astype(np.float32), high.astype(np.float32)
    return low, x - low - high, high


def process_multiband(
    audio, sample_rate, *, low_crossover_hz, high_crossover_hz, low_gain_db, mid_gain_db, high_gain_db,
    threshold_db,
):
    """Three-band compressor: each band compressed 3:1 above ``threshold_db`` (not at
    ``COMPRESSOR_OFF_DB``), then given its gain; the bands sum back to the input exactly."""
    bands = split_bands(audio, sample_rate, low_crossover_hz, high_crossover_hz)
    compressor = [] if threshold_db >= COMPRESSOR_OFF_DB else [
        pedalboard.Compressor(threshold_db=threshold_db, ratio=3.0, attack_ms=5.0, release_ms=100.0)
    ]
    out = np.zeros_like(bands[0])
    for band, gain_db in zip(bands, (low_gain_db, mid_gain_db, high_gain_db), strict=True):
        out += run_chain([*compressor, pedalboard.Gain(gain_db=gain_db)], band, sample_rate)
    return out


def process_dynamics(audio, sample_rate, *, threshold_db, ratio, attack_ms, release_ms, makeup_db):
    """Compressor with make-up gain."""
    return run_chain(
        [
            pedalboard.Compressor(threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms, release_ms=release_ms),
            pedalboard.Gain(gain_db=makeup_db),
        ],
        audio,
        sample_rate,
    )


def process_ringmod(audio, sample_rate, *, carrier_hz, mix):
    """Ring modulator: the input times a sine carrier (phase 0 at the first sample), mixed with the dry."""
    x = np.asarray(audio, dtype=np.float32)
    carrier = np.sin(2.0 * np.pi * carrier_hz * np.arange(x.size) / sample_rate).astype(np.float32)
    return (1.0 - mix) * x + mix * (x * carrier)


def process_combo(audio, sample_rate, *, input_highpass_hz, drive_db, cabinet_lowpass_hz, level_db):
    """Amp and cabinet: input high-pass (none at ``HIGHPASS_OPEN_HZ``), tanh drive, 24 dB/octave ladder
    low-pass cabinet (none at ``CABINET_OPEN_HZ``), level."""
    highpass = [] if input_highpass_hz <= HIGHPASS_OPEN_HZ else [
        pedalboard.HighpassFilter(cutoff_frequency_hz=safe_cutoff(input_highpass_hz, sample_rate))
    ]
    cabinet = [] if cabinet_lowpass_hz >= CABINET_OPEN_HZ else [
        pedalboard.LadderFilter(
            mode=pedalboard.LadderFilter.Mode.LPF24,
            cutoff_hz=safe_cutoff(cabinet_lowpass_hz, sample_rate),
            resonance=0.2,
            drive=1.0,
        )
    ]
    return run_chain(
        [*highpass, pedalboard.Distortion(drive_db=drive_db), *cabinet, pedalboard.Gain(gain_db=level_db)],
        audio,
        sample_rate,
    )


def process_plugin(plugin, audio, sample_rate, raw_values):
    """Run an external ``plugin`` (reset first) with its raw 0–1 parameter values over mono ``audio``,
    fed as two identical channels and averaged back to mono; same length out."""
    for name, raw in raw_values.items():
        plugin.parameters[name].raw_value = raw
    x = np.asarray(audio, dtype=np.float32)
    out = pedalboard.Pedalboard([plugin])(np.stack([x, x]), sample_rate, reset=True)
    return out.mean(axis=0, dtype=np.float32)


# -- effects ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlainStage:
    """A plain pedalboard processor that an effect contains, and which of the effect's settings its
    arguments are.

    ``arguments`` maps the processor's argument names (as in pedalboard) to the effect's parameters
    they set (one argument may set several, e.g. one ``Gain`` for every band); ``translate``, when
    given, computes those settings from the arguments (``Reverb``'s wet and dry levels make a mix).
    Its other arguments must keep pedalboard's defaults. A stage whose parameters all have a
    ``bypass`` may be left out of a chain.
    """

    processor: str
    arguments: Mapping[str, tuple[str, ...]]
    translate: Callable[[Mapping[str, float]], dict[str, float]] | None = None

    def settings(self, values: Mapping[str, float]) -> dict[str, float]:
        """The effect's real settings that reproduce this processor with argument ``values``."""
        if self.translate is not None:
            return self.translate(values)
        return {param: values[argument] for argument, params in self.arguments.items() for param in params}


def _reverb_settings(values: Mapping[str, float]) -> dict[str, float]:
    """The ambience's settings equal to ``Reverb(...)`` up to level: its ``dry_level`` counts double."""
    wet, dry = values["wet_level"], values["dry_level"]
    if wet + dry <= 0.0:
        raise EffectError("Reverb with wet_level 0 and dry_level 0 is silence; ambience cannot reproduce it")
    return {"room_size": values["room_size"], "damping": values["damping"], "mix": wet / (wet + 2.0 * dry)}


def _same(*names: str) -> dict[str, tuple[str, ...]]:
    """``arguments`` for a processor whose arguments are the effect's parameters of the same names."""
    return {name: (name,) for name in names}


class BuiltinEffect(Effect):
    """An effect rendered by one of this module's ``process_*`` functions.

    ``plain`` lists, in signal order, the plain pedalboard processors it contains
    (:func:`from_pedalboard`).
    """

    def __init__(self, name: str, params: Sequence[Param], description: str, function: Callable,
                 helpers: Sequence[Callable] = (run_chain, safe_cutoff), plain: Sequence[PlainStage] = ()):
        super().__init__(name, params, description)
        self.function = function
        self.helpers = tuple(helpers)
        self.plain = tuple(plain)

    def _process(self, audio, sr, values):
        return self.function(audio, sr, **values)

    def snippet(self, p) -> str:
        functions = (*self.helpers, self.function)
        used = sorted({name for f in functions for name in f.__code__.co_names if name in _BYPASS_CONSTANTS})
        constants = "".join(f"{name} = {_BYPASS_CONSTANTS[name]!r}\n" for name in used)
        sources = "\n\n".join(inspect.getsource(f) for f in functions)
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.real(p).items())
        return (
            self._snippet_header(p)
            + (constants + "\n\n" if constants else "")
            + sources
            + "\n\ndef process(audio: np.ndarray, sample_rate: int) -> np.ndarray:\n"
            + f"    return {self.function.__name__}(audio, sample_rate, {arguments})\n"
        )


_BYPASS_CONSTANTS = {"TONE_OPEN_HZ": TONE_OPEN_HZ, "HIGHPASS_OPEN_HZ": HIGHPASS_OPEN_HZ,
                     "CABINET_OPEN_HZ": CABINET_OPEN_HZ, "COMPRESSOR_OFF_DB": COMPRESSOR_OFF_DB}


def _builtin_effects() -> dict[str, BuiltinEffect]:
    gain_12 = {"minimum": -12.0, "maximum": 12.0, "unit": "dB", "scale": "linear", "default": 0.0, "bypass": 0.0}
    level = {"minimum": -18.0, "maximum": 6.0, "unit": "dB", "scale": "linear", "default": -6.0, "bypass": 0.0}
    tone_helpers = (run_chain, safe_cutoff, tone_filter)
    distortion = PlainStage("Distortion", _same("drive_db"))
    effects = [
        BuiltinEffect("overdrive", [
            Param("drive_db", 0.0, 45.0, "dB", "linear", 20.0),
            Param("tone_hz", 500.0, TONE_OPEN_HZ, "Hz", "log", 3000.0, bypass=TONE_OPEN_HZ),
            Param("level_db", **level),
        ], "drive, tone and output level", process_overdrive, tone_helpers, [
            distortion,
            PlainStage("LowpassFilter", {"cutoff_frequency_hz": ("tone_hz",)}),
            PlainStage("Gain", {"gain_db": ("level_db",)}),
        ]),
        BuiltinEffect("delay", [
            Param("delay_seconds", 0.05, 1.0, "s", "log", 0.25),
            Param("feedback", 0.0, 0.9, "", "linear", 0.4),
            Param("mix", 0.0, 1.0, "", "linear", 0.4),
            Param("tone_hz", 1000.0, TONE_OPEN_HZ, "Hz", "log", 4000.0, bypass=TONE_OPEN_HZ),
        ], "echo with feedback and darker repeats", process_delay, tone_helpers, [
            PlainStage("Delay", _same("delay_seconds", "feedback", "mix")),
        ]),
        BuiltinEffect("ambience", [
            Param("room_size", 0.05, 0.95, "", "linear", 0.5),
            Param("damping", 0.0, 1.0, "", "linear", 0.5),
            Param("mix", 0.0, 1.0, "", "linear", 0.3, bypass=1.0),
            Param("predelay_ms", 0.0, 100.0, "ms", "linear", 20.0, bypass=0.0),
        ], "room reverb", process_ambience, (run_chain,), [
            PlainStage("Reverb", {**_same("room_size", "damping"), "wet_level": ("mix",), "dry_level": ("mix",)},
                       _reverb_settings),
        ]),
        BuiltinEffect("flanger", [
            Param("rate_hz", 0.05, 5.0, "Hz", "log", 0.5),
            Param("depth", 0.0, 1.0, "", "linear", 0.5),
            Param("centre_delay_ms", 1.0, 10.0, "ms", "log", 3.0),
            Param("feedback", 0.0, 0.9, "", "linear", 0.5),
            Param("mix", 0.0, 1.0, "", "linear", 0.5),
        ], "swept short delay with feedback", process_flanger, (run_chain,), [
            PlainStage("Chorus", _same("rate_hz", "depth", "centre_delay_ms", "feedback", "mix")),
        ]),
        BuiltinEffect("multiband", [
            Param("low_crossover_hz", 60.0, 600.0, "Hz", "log", 200.0),
            Param("high_crossover_hz", 1200.0, 8000.0, "Hz", "log", 3000.0),
            Param("low_gain_db", **gain_12),
            Param("mid_gain_db", **gain_12),
            Param("high_gain_db", **gain_12),
            Param("threshold_db", -40.0, COMPRESSOR_OFF_DB, "dB", "linear", -20.0, bypass=COMPRESSOR_OFF_DB),
        ], "three-band compressor and tone", process_multiband,
           (run_chain, fft_size, crossover_weight, split_bands), [
            PlainStage("Gain", {"gain_db": ("low_gain_db", "mid_gain_db", "high_gain_db")}),
        ]),
        BuiltinEffect("dynamics", [
            Param("threshold_db", -48.0, 0.0, "dB", "linear", -24.0),
            Param("ratio", 1.0, 20.0, "", "log", 4.0),
            Param("attack_ms", 0.1, 100.0, "ms", "log", 5.0),
            Param("release_ms", 10.0, 1000.0, "ms", "log", 100.0),
            Param("makeup_db", 0.0, 18.0, "dB", "linear", 6.0, bypass=0.0),
        ], "compressor with make-up gain", process_dynamics, (run_chain,), [
            PlainStage("Compressor", _same("threshold_db", "ratio", "attack_ms", "release_ms")),
            PlainStage("Gain", {"gain_db": ("makeup_db",)}),
        ]),
        BuiltinEffect("ringmod", [
            Param("carrier_hz", 20.0, 2000.0, "Hz", "log", 200.0),
            Param("mix", 0.0, 1.0, "", "linear", 0.75),
        ], "ring modulator", process_ringmod, ()),
        BuiltinEffect("combo", [
            Param("input_highpass_hz", HIGHPASS_OPEN_HZ, 1000.0, "Hz", "log", 150.0, bypass=HIGHPASS_OPEN_HZ),
            Param("drive_db", 0.0, 40.0, "dB", "linear", 20.0),
            Param("cabinet_lowpass_hz", 800.0, CABINET_OPEN_HZ, "Hz", "log", 3000.0, bypass=CABINET_OPEN_HZ),
            Param("level_db", **level),
        ], "amp and cabinet", process_combo, (run_chain, safe_cutoff), [
            PlainStage("HighpassFilter", {"cutoff_frequency_hz": ("input_highpass_hz",)}),
            distortion,
            PlainStage("Gain", {"gain_db": ("level_db",)}),
        ]),
    ]
    return {effect.name: effect for effect in effects}


_BUILTIN = _builtin_effects()


def names() -> list[str]:
    """Names of the built-in effects, in DESIGN order."""
    return list(_BUILTIN)


def get(name: str) -> Effect:
    """The built-in effect called ``name``."""
    try:
        return _BUILTIN[name]
    except (KeyError, TypeError):
        raise EffectError(f"unknown effect {name!r}; valid names: {', '.join(_BUILTIN)}") from None


def _processor_defaults(processor: str) -> dict[str, float]:
    """The numeric arguments of ``pedalboard.<processor>`` with their default values."""
    instance = getattr(pedalboard, processor)()
    return {
        name: float(value) for name in dir(instance) if not name.startswith("_")
        and isinstance(value := getattr(instance, name), int | float) and not isinstance(value, bool)
    }


def _plain_chain(effect: BuiltinEffect) -> str:
    return " → ".join(stage.processor for stage in effect.plain)


def _match_stages(effect: BuiltinEffect, processors: Sequence[str]) -> list[PlainStage] | None:
    """The stages of ``effect`` that ``processors`` are, in order, or None where the chain does not fit
    (a processor out of order, or a stage left out that has no bypass)."""
    matched, position = [], 0
    for stage in effect.plain:
        if position < len(processors) and processors[position] == stage.processor:
            matched.append(stage)
            position += 1
        elif any(effect.params[effect.param_names.index(name)].bypass is None
                 for names in stage.arguments.values() for name in names):
            return None
    return matched if position == len(processors) else None


def from_pedalboard(chain, effect: Effect | None = None) -> tuple[BuiltinEffect, np.ndarray]:
    """The built-in effect and normalized settings that reproduce a chain of plain pedalboard processors.

    Parameters
    ----------
    chain : sequence of (str, mapping)
        ``(processor, {argument: value})`` in signal order, named as in pedalboard, e.g.
        ``[("Distortion", {"drive_db": 35.0})]``; missing arguments take pedalboard's defaults.
    effect : Effect, optional
        The effect to express it with; by default the first of :func:`names` that can.

    Returns
    -------
    (effect, settings)
        Rendering ``effect`` with ``settings`` equals the chain's output after peak normalization
        (stages it leaves out are at their ``bypass``, other settings at their defaults).
    """
    known = sorted({stage.processor for candidate in _BUILTIN.values() for stage in candidate.plain})
    if isinstance(chain, str | bytes) or not isinstance(chain, Sequence) or not chain:
        raise EffectError("a pedalboard chain must be a non-empty list of processors")
    values = []
    for processor, arguments in chain:
        if processor not in known:
            raise EffectError(f"cannot reproduce pedalboard processor {processor!r}; known: {', '.join(known)}")
        defaults = _processor_defaults(processor)
        unknown = sorted(set(arguments) - set(defaults))
        if unknown:
            raise EffectError(f"pedalboard.{processor} has no argument {unknown[0]!r}; its arguments: "
                              f"{', '.join(sorted(defaults))}")
        given = {name: float(_finite_array(value, f"pedalboard.{processor} {name}"))
                 for name, value in arguments.items()}
        try:
            instance = getattr(pedalboard, processor)(**given)
        except (TypeError, ValueError) as exc:
            raise EffectError(f"pedalboard.{processor}: {exc}") from None
        values.append({name: float(getattr(instance, name)) for name in defaults})
    processors = [processor for processor, _ in chain]
    candidates = [effect] if effect is not None else list(_BUILTIN.values())
    for candidate in candidates:
        stages = _match_stages(candidate, processors) if isinstance(candidate, BuiltinEffect) else None
        if stages is not None:
            return candidate, _plain_settings(candidate, stages, values)
    fits = "; ".join(f"{name}: {_plain_chain(e)}" for name, e in _BUILTIN.items() if e.plain)
    verdict = f"{effect.name} cannot reproduce" if effect is not None else "no built-in effect reproduces"
    raise EffectError(f"{verdict} {' → '.join(processors)}; each reproduces any of, in order: {fits}")


def _plain_settings(effect: BuiltinEffect, stages: Sequence[PlainStage], values) -> np.ndarray:
    """Normalized settings of ``effect`` from the matched ``stages`` and their processors' argument ``values``."""
    real = {param.name: param.default if param.bypass is None else param.bypass for param in effect.params}
    for stage, arguments in zip(stages, values, strict=True):
        defaults = _processor_defaults(stage.processor)
        for name, value in arguments.items():
            if name not in stage.arguments and not math.isclose(value, defaults[name], rel_tol=1e-6):
                raise EffectError(f"{effect.name} reproduces {stage.processor} only with {name}={defaults[name]:g}")
        for name, value in stage.settings(arguments).items():
            param = effect.params[effect.param_names.index(name)]
            tolerance = 1e-6 * (param.maximum - param.minimum)
            if not param.minimum - tolerance <= value <= param.maximum + tolerance:
                raise EffectError(f"{stage.processor}: {effect.name} {name} = {value:g} {param.unit} is outside "
                                  f"its range {param.minimum:g}–{param.maximum:g}".replace("  ", " "))
            real[name] = value
    return effect.normalize_settings({name: effect.params[i].to_normalized(value)
                                      for i, (name, value) in enumerate(real.items())})


class PluginEffect(Effect):
    """A loaded VST3 plugin driven by the raw 0–1 values of its adjustable parameters.

    Renders are serialized (one plugin instance holds the parameter values and state).
    """

    def __init__(self, path: Path, plugin_name: str | None, plugin, params: Sequence[Param]):
        super().__init__(plugin.name or path.stem, params, f"VST3 plugin {path.name}")
        self.path = path.resolve()
        self.plugin_name = plugin_name
        self.plugin = plugin
        self._lock = threading.Lock()

    def _process(self, audio, sr, values):
        with self._lock:
            return process_plugin(self.plugin, audio, sr, values)

    def snippet(self, p) -> str:
        return (
            self._snippet_header(p)
            + inspect.getsource(process_plugin)
            + "\n\ndef process(audio: np.ndarray, sample_rate: int) -> np.ndarray:\n"
            + f"    plugin = pedalboard.load_plugin({str(self.path)!r}, plugin_name={self.plugin_name!r})\n"
            + f"    return process_plugin(plugin, audio, sample_rate, {self.real(p)!r})\n"
        )


def load_vst3(path, *, plugin_name: str | None = None) -> PluginEffect:
    """Load a VST3 plugin as an effect.

    Each plugin parameter that takes more than two values (switches and fixed
    parameters are left as they are) becomes a ``Param`` over the plugin's raw value
    in [0, 1] (unit ""), with the plugin's initial value as default. Mono audio is fed
    to the plugin as two identical channels and its output averaged back to mono.

    Parameters
    ----------
    path : str or Path
        The ``.vst3`` bundle or file.
    plugin_name : str, optional
        Which plugin to load from a file that holds several.
    """
    path = Path(path)
    if not path.exists():
        raise EffectError(f"VST3 plugin not found: {path}")
    try:
        plugin = pedalboard.load_plugin(str(path), plugin_name=plugin_name)
    except Exception as exc:  # pedalboard raises ImportError, RuntimeError or ValueError
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise EffectError(f"cannot load VST3 plugin {path}: {reason}") from None
    if not plugin.is_effect:
        raise EffectError(f"VST3 plugin {path} is an instrument, not an audio effect")
    params = [
        Param(name, 0.0, 1.0, "", "linear", float(parameter.raw_value))
        for name, parameter in plugin.parameters.items()
        if len(parameter.valid_values) > 2  # one or two values: fixed, or an on/off switch
    ]
    if not params:
        raise EffectError(f"VST3 plugin {path} has no adjustable non-boolean parameters")
    return PluginEffect(path, plugin_name, plugin, params)
