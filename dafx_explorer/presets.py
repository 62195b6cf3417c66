"""Export chosen settings: a JSON preset and a Python snippet that rebuilds the effect chain.

Preset format (the same ``params`` as ``match --json``)::

    {"effect": "overdrive",
     "params": {"drive_db": {"normalized": 0.5, "value": 22.5, "unit": "dB"}, ...},
     "source": "dafx-explorer"}

:func:`read_preset` reads one back; the normalized values are authoritative (a parameter
given only by ``value`` is normalized from it; a missing one takes its default). It also reads
plain pedalboard settings, a chain of processors named and set as in pedalboard::

    {"pedalboard": [{"Distortion": {"drive_db": 35}}, {"Gain": {"gain_db": -6}}]}

which :func:`dafx_explorer.effects.from_pedalboard` turns into the effect that reproduces them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

import numpy as np

from dafx_explorer import effects
from dafx_explorer.errors import DataError, EffectError

SOURCE = "dafx-explorer"
"""The ``source`` field of every exported preset."""

_USAGE = '''

# Usage (mono float32 audio at any sample rate):
#     import soundfile as sf
#     audio, sample_rate = sf.read("input.wav", dtype="float32", always_2d=True)
#     sf.write("output.wav", process(audio.mean(axis=1), sample_rate), sample_rate)
'''


def preset(effect: effects.Effect, p) -> dict:
    """The preset of settings ``p`` (normalized, array or {name: value}) as a JSON-ready dict."""
    return {"effect": effect.name, "params": effect.describe(p), "source": SOURCE}


def preset_json(effect: effects.Effect, p) -> str:
    """:func:`preset` as indented JSON text."""
    return json.dumps(preset(effect, p), indent=2) + "\n"


def read_preset(data, effect: effects.Effect | None = None) -> tuple[effects.Effect, np.ndarray]:
    """Effect and normalized settings of a preset.

    Parameters
    ----------
    data : str, bytes or mapping
        The preset's JSON text, or the parsed dict: ours, or ``{"pedalboard": [...]}``.
    effect : effects.Effect, optional
        The effect the preset must be for (needed for VST3 plugins); by default the built-in
        effect named in the preset (or the first that reproduces a pedalboard chain).

    Returns
    -------
    (effect, settings)
        ``settings`` is a float64 array in [0, 1] in the order of ``effect.params``.
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"a preset must be JSON text ({exc})") from None
    if isinstance(data, Mapping) and "pedalboard" in data:
        return effects.from_pedalboard(_pedalboard_chain(data["pedalboard"]), effect)
    if not isinstance(data, Mapping) or not isinstance(data.get("params"), Mapping) or "effect" not in data:
        raise DataError('a preset must be a JSON object with "effect" and "params" (name → {"normalized", ...})')
    if effect is None:
        effect = effects.get(data["effect"])
    elif data["effect"] != effect.name:
        raise EffectError(f"the preset is for effect {data['effect']!r}, not {effect.name!r}")
    normalized = {}
    for name, item in data["params"].items():
        if not isinstance(item, Mapping) or not ("normalized" in item or "value" in item):
            raise DataError(f'preset parameter {name!r} must be an object with "normalized" or "value"')
        if "normalized" in item:
            normalized[name] = _number(item["normalized"], name)
        elif name in effect.param_names:
            normalized[name] = effect.params[effect.param_names.index(name)].to_normalized(_number(item["value"], name))
        else:
            normalized[name] = 0.0  # unknown name: normalize_settings reports it
    return effect, effect.normalize_settings(normalized)


def _pedalboard_chain(items) -> list[tuple[str, Mapping]]:
    """``[(processor, arguments), ...]`` of a preset's ``"pedalboard"`` list."""
    example = '{"pedalboard": [{"Distortion": {"drive_db": 35}}]}'
    if not isinstance(items, list) or not items:
        raise DataError(f'"pedalboard" must be a non-empty list of processors, e.g. {example}')
    chain = []
    for item in items:
        if not (isinstance(item, Mapping) and len(item) == 1 and isinstance(next(iter(item.values())), Mapping)):
            raise DataError(f'each "pedalboard" entry must be {{"Processor": {{argument: value}}}}, got {item!r}')
        chain.append(next(iter(item.items())))
    return chain


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"preset parameter {name!r} must hold a finite number, got {value!r}")
    return float(value)


def snippet(effect: effects.Effect, p) -> str:
    """Python source defining ``process(audio, sample_rate)`` that renders like ``effect.render(..., p)``,
    with a usage note."""
    return effect.snippet(p).rstrip("\n") + "\n" + _USAGE


def file_name(effect: effects.Effect, suffix: str) -> str:
    """A safe download name for an effect's preset: ``{effect}_preset{suffix}``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", effect.name) + f"_preset{suffix}"
