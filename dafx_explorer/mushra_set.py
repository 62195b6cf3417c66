"""MUSHRA listening sets: the file format, the loudness-matched stimuli, and the builder.

A set stores, per trial, where its audio comes from (a source and a segment of it) and the
normalized settings of each condition (ITU-R BS.1534-3: the hidden reference, an anchor with
random settings, and the model's answers). Audio is rendered on demand, never stored, so a set
is a few kilobytes and can be checked into ``precomputed/``. The protocol and the file format
are described in ``docs/listening-tests.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DafxError, DataError
from .settings import SAMPLE_RATE, get_settings

FORMAT_VERSION = 1
"""Version of the listening-set file format this module reads and writes."""

REFERENCE = "reference"
"""The open reference: the effect with the true settings."""

HIDDEN_REFERENCE = "hidden_reference"
"""The reference again, hidden among the conditions."""

ANCHOR = "anchor"
"""The anchor: the effect with random settings."""

STIMULUS_SECONDS = 5.0
"""Length of each stimulus (s)."""

TARGET_RMS_DB = -20.0
"""RMS level every stimulus of a trial is brought to (dBFS), unless peaks need less."""

PEAK_LIMIT = 0.98
"""Highest absolute sample value of a loudness-matched stimulus."""


@dataclass(frozen=True)
class Segment:
    """A segment of a recording: a generated one (``sources.generate``) or a shipped real clip.

    Attributes
    ----------
    kind : str
        A generated kind (one of ``sources.KINDS``) or a real clip's name (``real_clips.CLIPS``).
    seed : int
        Seed of a generated recording (evaluation seeds are ≥ 1000); 0 for a real clip.
    recording_seconds : float
        Length of the whole recording (s).
    offset_seconds, seconds : float
        Start and length of the segment within the recording (s).
    """

    kind: str
    seed: int
    recording_seconds: float
    offset_seconds: float
    seconds: float

    def audio(self) -> np.ndarray:
        """The segment's samples (mono float32 at ``SAMPLE_RATE``)."""
        from . import corpus, real_clips, sources

        if self.kind in real_clips.CLIPS:
            length = int(round(self.recording_seconds * SAMPLE_RATE))
            recording = corpus.fit_length(sources.load_clip(self.kind), length)
        else:
            recording = sources.generate(self.kind, seed=self.seed, seconds=self.recording_seconds)
        start = int(round(self.offset_seconds * SAMPLE_RATE))
        return np.asarray(recording[start:start + int(round(self.seconds * SAMPLE_RATE))], dtype=np.float32)


@dataclass(frozen=True)
class MushraTrial:
    """One MUSHRA trial: an effect, the input and reference segments, and settings per condition.

    ``reference`` and every entry of ``conditions`` map each parameter name to its
    normalized value in [0, 1].
    """

    id: str
    effect: str
    input: Segment
    reference_input: Segment
    reference: dict[str, float]
    conditions: dict[str, dict[str, float]]

    @property
    def rated(self) -> tuple[str, ...]:
        """The stimuli the participant rates: the hidden reference and every condition."""
        return (HIDDEN_REFERENCE, *self.conditions)

    @property
    def distinct_stimuli(self) -> tuple[tuple[str, ...], ...]:
        """The rated stimuli grouped by settings, in :attr:`rated` order: stimuli with the same
        settings sound the same (rendering is deterministic), such as the refined model where the
        search kept the prediction, so the participant plays and rates each group once and its
        rating stands for every member."""
        groups: dict[tuple, list[str]] = {}
        for stimulus in self.rated:
            groups.setdefault(tuple(sorted(self.settings(stimulus).items())), []).append(stimulus)
        return tuple(tuple(group) for group in groups.values())

    def settings(self, stimulus: str) -> dict[str, float]:
        """Normalized settings of a stimulus (``reference``, ``hidden_reference`` or a condition)."""
        if stimulus in (REFERENCE, HIDDEN_REFERENCE):
            return self.reference
        if stimulus not in self.conditions:
            raise DataError(f"trial {self.id} has no stimulus {stimulus!r}; "
                            f"expected one of {', '.join((REFERENCE, *self.rated))}")
        return self.conditions[stimulus]

    def to_json(self) -> dict[str, Any]:
        """The trial as an object of the file format's ``trials`` list."""
        return {"id": self.id, "effect": self.effect, "input": vars(self.input),
                "reference_input": vars(self.reference_input), "reference": self.reference,
                "conditions": self.conditions}


@dataclass(frozen=True)
class ListeningSet:
    """The trials of a MUSHRA test and how they were made."""

    trials: tuple[MushraTrial, ...]
    info: dict[str, Any]

    def trial(self, trial_id: str) -> MushraTrial:
        """The trial with this id."""
        for trial in self.trials:
            if trial.id == trial_id:
                return trial
        raise DataError(f"listening set has no trial {trial_id!r}")

    def to_json(self) -> dict[str, Any]:
        """The set as the JSON object of the file format."""
        return {"version": FORMAT_VERSION, **self.info, "trials": [t.to_json() for t in self.trials]}

    @property
    def created_at(self) -> str:
        """When the set was built (ISO 8601, from the file), which tells rebuilt sets apart; "" if unrecorded."""
        return str(self.info.get("created_at", ""))


# -- reading and checking ----------------------------------------------------------------


def _segment(data: Any, where: str) -> Segment:
    try:
        segment = Segment(kind=str(data["kind"]), seed=int(data["seed"]),
                          recording_seconds=float(data["recording_seconds"]),
                          offset_seconds=float(data["offset_seconds"]), seconds=float(data["seconds"]))
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(f"{where}: expected kind, seed, recording_seconds, offset_seconds, seconds "
                        f"({error!r})") from None
    from . import real_clips, sources

    if segment.kind not in (*sources.KINDS, *real_clips.CLIPS):
        raise DataError(f"{where}: unknown recording {segment.kind!r}; expected one of "
                        f"{', '.join((*sources.KINDS, *real_clips.CLIPS))}")
    if not (segment.seconds > 0 and segment.offset_seconds >= 0
            and segment.offset_seconds + segment.seconds <= segment.recording_seconds):
        raise DataError(f"{where}: segment {segment.offset_seconds:g}+{segment.seconds:g} s does not lie "
                        f"within the {segment.recording_seconds:g} s recording")
    return segment


def _settings(data: Any, names: Sequence[str], where: str) -> dict[str, float]:
    if not isinstance(data, Mapping) or set(data) != set(names):
        got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        raise DataError(f"{where}: expected normalized settings for {', '.join(names)}, got {got}")
    values = {}
    for name in names:
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise DataError(f"{where}: {name} must be a number in [0, 1], got {value!r}")
        values[name] = float(value)
    return values


def _trial(data: Any, index: int) -> MushraTrial:
    from . import effects

    where = f"trial {index}"
    if not isinstance(data, Mapping):
        raise DataError(f"{where}: expected an object")
    try:
        effect = effects.get(str(data.get("effect")))
    except DafxError as error:
        raise DataError(f"{where}: {error}") from None
    conditions = data.get("conditions")
    if not isinstance(conditions, Mapping) or not conditions or {REFERENCE, HIDDEN_REFERENCE} & set(conditions):
        raise DataError(f"{where}: conditions must be a non-empty object without "
                        f"{REFERENCE!r} or {HIDDEN_REFERENCE!r}")
    names = [p.name for p in effect.params]
    return MushraTrial(
        id=str(data.get("id") or f"{effect.name}-{index}"), effect=effect.name,
        input=_segment(data.get("input"), f"{where} input"),
        reference_input=_segment(data.get("reference_input"), f"{where} reference_input"),
        reference=_settings(data.get("reference"), names, f"{where} reference"),
        conditions={str(c): _settings(s, names, f"{where} condition {c}") for c, s in conditions.items()},
    )


def listening_set_from_json(data: Any) -> ListeningSet:
    """Check a listening set's JSON object and return it as a :class:`ListeningSet`.

    Raises
    ------
    DataError
        Wrong version, unknown effect, settings that are missing, unknown or outside [0, 1],
        segments outside their recording, or repeated trial ids.
    """
    if not isinstance(data, Mapping) or data.get("version") != FORMAT_VERSION:
        raise DataError(f"listening set must be a JSON object with version {FORMAT_VERSION}")
    raw = data.get("trials")
    if not isinstance(raw, list) or not raw:
        raise DataError("listening set has no trials; expected a non-empty list 'trials'")
    trials = tuple(_trial(item, i) for i, item in enumerate(raw))
    ids = [t.id for t in trials]
    if len(set(ids)) != len(ids):
        raise DataError("listening set has repeated trial ids")
    info = {k: v for k, v in data.items() if k not in ("version", "trials")}
    return ListeningSet(trials=trials, info=info)


def load_listening_set(path: str | Path | None = None) -> ListeningSet:
    """Read a listening set (default: ``settings.get_settings().listening_set_path``).

    Raises
    ------
    DataError
        The file is missing, is not JSON, or is not a valid listening set.
    """
    path = Path(path) if path is not None else get_settings().listening_set_path
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"no listening set at {path}; build one with "
                        "`python -m dafx_explorer listening-set`") from None
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read listening set {path}: {error}") from None
    try:
        return listening_set_from_json(data)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def save_listening_set(listening_set: ListeningSet, path: str | Path) -> Path:
    """Write a listening set as indented JSON (parent folders are created); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(listening_set.to_json(), indent=1) + "\n")
    return path


# -- stimuli -----------------------------------------------------------------------------


def render_trial(trial: MushraTrial) -> dict[str, np.ndarray]:
    """Render every stimulus of a trial, loudness-matched.

    Each stimulus is the trial's effect applied to its input segment with that stimulus's
    settings. The stimuli are loudness-matched by RMS: each is scaled to the same RMS level
    (:data:`TARGET_RMS_DB` dBFS), then all by one common gain so that no sample exceeds
    :data:`PEAK_LIMIT`; so within a trial every stimulus has the same RMS, and louder or
    quieter settings cannot win or lose a rating by level alone. Digital silence stays silent.

    Returns
    -------
    dict of str to numpy.ndarray
        ``reference``, ``hidden_reference`` and each condition: mono float32 at
        ``SAMPLE_RATE``, all as long as the input segment.
    """
    from . import effects

    effect = effects.get(trial.effect)
    clean = trial.input.audio()
    rendered = {}
    for name in (REFERENCE, *trial.conditions):
        p = np.array([trial.settings(name)[param.name] for param in effect.params], dtype=np.float64)
        rendered[name] = np.asarray(effect.render(clean, SAMPLE_RATE, p), dtype=np.float64)
    target = 10 ** (TARGET_RMS_DB / 20)
    for name, audio in rendered.items():
        rms = float(np.sqrt(np.mean(audio**2)))
        if rms > 1e-9:
            rendered[name] = audio * (target / rms)
    peak = max(float(np.max(np.abs(audio))) for audio in rendered.values())
    common = min(1.0, PEAK_LIMIT / peak) if peak > 0 else 1.0
    stimuli = {name: (audio * common).astype(np.float32) for name, audio in rendered.items()}
    stimuli[HIDDEN_REFERENCE] = stimuli[REFERENCE]
    return stimuli


def render_stimulus(trial: MushraTrial, condition: str) -> np.ndarray:
    """One loudness-matched stimulus of a trial (see :func:`render_trial`).

    Parameters
    ----------
    trial : MushraTrial
    condition : str
        ``reference``, ``hidden_reference`` or one of ``trial.conditions``.
    """
    trial.settings(condition)
    return render_trial(trial)[condition]


# -- building ----------------------------------------------------------------------------


def _named(names: Sequence[str], p: Any) -> dict[str, float]:
    """Normalized settings as {name: value}, clipped to [0, 1] and rounded to 6 decimals."""
    values = np.asarray(p, dtype=np.float64).ravel()
    if values.shape != (len(names),):
        raise DataError(f"expected {len(names)} settings ({', '.join(names)}), got {values.size}")
    return {n: round(float(np.clip(v, 0, 1)), 6) for n, v in zip(names, values, strict=True)}


def build_listening_set(effects: Sequence[str] | None = None, examples_per_effect: int = 3, seed: int = 0,
                        refine_seconds: float = 5.0, out_path: str | Path | None = None, *,
                        match: Callable[..., Any] | None = None) -> Path:
    """Build a MUSHRA listening set from the shipped models and the built-in sources.

    For each effect and example: one of the shipped real clips that no model trained on
    (:func:`dafx_explorer.real_clips.held_out_names`, in turn), of twice :data:`STIMULUS_SECONDS`;
    the input is its first half and the reference input its second half; true settings and anchor
    settings are drawn uniformly in [0, 1]; the model is given the input and the effect applied to the reference input
    with the true settings, and its prediction (and refined prediction, when
    ``refine_seconds`` > 0) become the conditions ``model`` and ``refined``; for an effect with a
    setting measured off the reference (:func:`dafx_explorer.readings.measured_parameters`), the
    prediction with those settings measured, what ``match`` returns without refinement, is the
    condition ``measured``.

    Parameters
    ----------
    effects : sequence of str, optional
        Effect names (default: all built-in effects).
    examples_per_effect : int
        Trials per effect (≥ 1).
    seed : int
        Seed of every random draw; the same seed gives the same set.
    refine_seconds : float
        Refinement budget per example (s); 0 leaves out the ``refined`` condition.
    out_path : str or Path, optional
        Where to write (default: ``settings.get_settings().listening_set_path``).
    match : callable, optional
        The style-match function (default: :func:`dafx_explorer.matching.match`).

    Returns
    -------
    Path
        The file written.
    """
    from . import effects as effects_module
    from . import real_clips
    from .readings import measured_parameters

    if match is None:
        from .matching import match
    if isinstance(examples_per_effect, bool) or not isinstance(examples_per_effect, int) \
            or examples_per_effect < 1:
        raise DataError(f"examples per effect must be a positive integer, got {examples_per_effect!r}")
    if not math.isfinite(refine_seconds) or refine_seconds < 0:
        raise DataError(f"refine seconds must be a finite number ≥ 0, got {refine_seconds!r}")
    names = list(effects) if effects else list(effects_module.names())
    chosen = [effects_module.get(name) for name in names]
    clips = real_clips.held_out_names()
    rng = np.random.default_rng(seed)
    trials = []
    for number, effect in enumerate(chosen):
        param_names = [p.name for p in effect.params]
        for example in range(examples_per_effect):
            kind = clips[(number * examples_per_effect + example) % len(clips)]
            recording = dict(kind=kind, seed=0, recording_seconds=2 * STIMULUS_SECONDS, seconds=STIMULUS_SECONDS)
            clean = Segment(offset_seconds=0.0, **recording)
            other = Segment(offset_seconds=STIMULUS_SECONDS, **recording)
            true_p = rng.uniform(0, 1, len(param_names))
            anchor_p = rng.uniform(0, 1, len(param_names))
            reference_audio = effect.render(other.audio(), SAMPLE_RATE, true_p)
            result = match(effect, clean.audio(), reference_audio, refine_seconds=refine_seconds)
            found = {ANCHOR: anchor_p, "model": result.params}
            if measured_parameters(effect):
                found["measured"] = result.unrefined_params
            if refine_seconds > 0 and result.refined_params is not None:
                found["refined"] = result.refined_params
            trials.append(MushraTrial(id=f"{effect.name}-{example}", effect=effect.name, input=clean,
                                      reference_input=other, reference=_named(param_names, true_p),
                                      conditions={c: _named(param_names, p) for c, p in found.items()}))
    info = {"seed": seed, "refine_seconds": refine_seconds, "stimulus_seconds": STIMULUS_SECONDS,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    out = Path(out_path) if out_path is not None else get_settings().listening_set_path
    return save_listening_set(ListeningSet(trials=tuple(trials), info=info), out)
