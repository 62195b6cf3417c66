"""The style-match settings estimator: an effect's settings from an input and a reference recording.

Each recording is read at full detail: its log-mel frames (``N_MELS`` bands, hop ``HOP``; for the
:data:`CEPSTRUM_EFFECTS` followed by :func:`cepstral_frames`) and the autocorrelation of its onset
envelope (``N_LAGS`` lags of 2 ms), all circular so that a recording
shifted by whole frames gives the same features shifted (:func:`recording_features`). The network
(:class:`dafx_explorer.models.SettingsEstimator`) pools them over time, so its answer does not
depend on where the notes fall.

Training (:func:`train_estimator`, ``train-estimator --effect E``) renders new pairs every step
(:func:`draw_pairs`): two segments of real recordings (:func:`dafx_explorer.corpus.real`), the second
through the effect at random settings (each bypassable setting at its bypass one time in
:data:`BYPASS_SHARE`, so that plain processors are in range), and regresses the settings (L1).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from dafx_explorer import audio, effects, features, manifest, models
from dafx_explorer.errors import ModelError
from dafx_explorer.settings import SAMPLE_RATE, get_settings

N_FFT = 1024
HOP = 512
"""STFT size and hop of the estimator's log-mel frames (samples; 21.3 ms hop at 24 kHz)."""
FRAME_LCM = math.lcm(HOP, features.ONSET_HOP)
"""Samples in a whole number of both the log-mel and the onset-envelope frames (1536)."""
N_MELS = 96
N_LAGS = 512
"""Onset-envelope lags read (2 ms each: echoes up to 1.02 s)."""
CEPSTRUM_EFFECTS = ("flanger",)
"""Effects whose estimator also reads :func:`cepstral_frames` (a short swept delay's trajectory)."""
QUEFRENCY_EDGES = np.unique(np.round(np.geomspace(24, N_FFT // 2, 49)).astype(int))
"""Edges (samples; 1–21.3 ms) of the log-spaced quefrency bands of :func:`cepstral_frames`."""
CEPSTRUM_SCALE = 10.0
"""Factor that brings cepstral peaks (about 0.1) near ±1."""
QUANTILE_EFFECTS = ("dynamics",)
"""Effects whose estimators also pool the quantiles :data:`POOLED_QUANTILES` of their features over time."""
POOLED_QUANTILES = (0.1, 0.5, 0.9, 0.98)
"""Quantiles (0–1) of the frame features over time; level-dependent effects read loud and quiet passages apart."""
TRAIN_WINDOW = 65_536
"""Samples of each recording a training pair reads (2.73 s); a match reads the analysis window."""
LOG_FLOOR = 1e-8
LOG_CENTRE, LOG_SPREAD = -9.0, 4.0
"""Rough centre and spread of log-mel power values (natural log), so the network sees values near ±1."""
BYPASS_SHARE = 0.15
"""How often training sets a setting that has a bypass to that bypass."""
NOISE_SHARE, NOISE_DB = 0.5, (-80.0, -55.0)
"""How often a training pair gets a noise floor, and its level range (dBFS RMS)."""
ACROSS_SHARE = 0.5
"""How often a training pair's input comes from another work than its reference (with its own gain and tilt)."""
LOADER_WORKERS = 2
"""Processes that draw and analyse the next steps' pairs while the network trains on this one's."""
TRAIN_ESTIMATOR_COMMAND = "python -m dafx_explorer train-estimator --effect {effect}"
TINY_ESTIMATOR = {"channels": 8, "dilations": (1, 2), "lag_features": 8, "hidden": (16,)}


@functools.cache
def _mel_bank() -> torch.Tensor:
    import librosa

    bank = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=20.0, fmax=12_000.0)
    return torch.as_tensor(bank, dtype=torch.float32)


def cepstral_frames(power: torch.Tensor) -> torch.Tensor:
    """Per frame, the largest real-cepstrum value in each quefrency band (B, len(QUEFRENCY_EDGES) - 1, T) of
    STFT power (B, N_FFT // 2 + 1, T): a delay of d samples added to the signal peaks at quefrency d."""
    cepstrum = torch.fft.irfft(torch.log(power + LOG_FLOOR), n=N_FFT, dim=1)
    bands = zip(QUEFRENCY_EDGES[:-1], QUEFRENCY_EDGES[1:], strict=True)
    return CEPSTRUM_SCALE * torch.stack([cepstrum[:, a:b].amax(1) for a, b in bands], dim=1)


def reads_cepstrum(estimator: models.SettingsEstimator) -> bool:
    """Whether an estimator's frames hold :func:`cepstral_frames` after the log-mel bands."""
    return estimator.config.n_mels == N_MELS + len(QUEFRENCY_EDGES) - 1


def recording_features(signals: np.ndarray, cepstrum: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel frames (B, N_MELS, T // HOP), with ``cepstrum`` followed by :func:`cepstral_frames`, and
    onset autocorrelations (B, N_LAGS) of signals (B, T).

    Both read the first whole number of :data:`FRAME_LCM` samples and are circular: the STFT wraps the
    signal around, and the autocorrelation is the circular one, so rolling a signal by a multiple of
    ``FRAME_LCM`` rolls the frames and leaves the autocorrelation as it was.
    """
    signals = np.atleast_2d(np.asarray(signals, dtype=np.float32))
    usable = signals.shape[1] // FRAME_LCM * FRAME_LCM
    signals = signals[:, :usable]
    if usable < N_FFT or usable // features.ONSET_HOP <= N_LAGS:
        raise ModelError(f"the estimator needs at least {(N_LAGS + 1) * features.ONSET_HOP} samples per "
                         f"recording, got {signals.shape[1]}")
    x = torch.from_numpy(np.ascontiguousarray(signals[:, :usable]))
    wrapped = torch.cat([x[:, -N_FFT // 2:], x, x[:, : N_FFT // 2]], dim=1)
    spectrum = torch.stft(wrapped, N_FFT, HOP, window=torch.hann_window(N_FFT), center=False,
                          return_complex=True)[..., : usable // HOP]
    power = spectrum.abs().square()
    frames = (torch.log(torch.matmul(_mel_bank(), power) + LOG_FLOOR) - LOG_CENTRE) / LOG_SPREAD
    if cepstrum:
        frames = torch.cat([frames, cepstral_frames(power)], dim=1)
    envelope = features.onset_envelope(signals, circular=True)
    lags = features.autocorrelation(envelope, circular=True)[:, 1: N_LAGS + 1]
    return frames, torch.as_tensor(lags, dtype=torch.float32)


def predict(estimator: models.SettingsEstimator, input_audio: np.ndarray, reference_audio: np.ndarray) -> np.ndarray:
    """Normalized settings (n_params,) the estimator gives for (input, reference), each read on its
    analysis window (:func:`dafx_explorer.audio.analysis_window`)."""
    frames, lags = recording_features(np.stack([audio.analysis_window(input_audio),
                                                audio.analysis_window(reference_audio)]), reads_cepstrum(estimator))
    with torch.no_grad():
        return estimator(frames[:1], lags[:1], frames[1:], lags[1:]).numpy()[0].astype(np.float64)


def load_estimator(effect_name: str, models_dir: str | Path | None = None) -> tuple[models.SettingsEstimator, dict]:
    """Load the shipped estimator of an effect (``estimator_{effect_name}.safetensors``)."""
    folder = Path(models_dir) if models_dir is not None else get_settings().models_dir
    path = folder / f"estimator_{effect_name}.safetensors"
    hint = TRAIN_ESTIMATOR_COMMAND.format(effect=effect_name)
    model, meta = models.load_model(path, rebuild_hint=hint)
    if not isinstance(model, models.SettingsEstimator) or meta["extra"].get("effect") != effect_name:
        raise ModelError(f"cannot load model {path}: it is not the estimator of {effect_name}; rebuild it with: {hint}")
    return model, meta


def random_settings(effect: effects.Effect, rng: np.random.Generator) -> np.ndarray:
    """Uniform normalized settings, each setting with a bypass at it one time in :data:`BYPASS_SHARE`."""
    p = rng.random(effect.n_params)
    for j, param in enumerate(effect.params):
        if param.bypass is not None and rng.random() < BYPASS_SHARE:
            p[j] = param.to_normalized(param.bypass)
    return p


def _segment_starts(length: int, window: int, rng: np.random.Generator) -> tuple[int, int]:
    """Two window starts in a recording of ``length`` samples, at least 1 s apart where it allows."""
    last = max(length - window, 0)
    a = int(rng.integers(0, last + 1))
    far = [b for b in rng.integers(0, last + 1, size=16) if abs(int(b) - a) >= SAMPLE_RATE]
    return a, int(far[0]) if far else int((a + last // 2) % (last + 1))


def draw_pairs(effect: effects.Effect, recordings, count: int, rng: np.random.Generator,
               window: int = TRAIN_WINDOW, across_share: float = ACROSS_SHARE
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` new training pairs: inputs (count, window), references (count, window), settings.

    Input and reference are two segments of one recording with the same gain and tilt
    (:func:`dafx_explorer.training.augment`), or, with probability ``across_share``, the input is a
    segment of another work (:func:`dafx_explorer.corpus.same_work`) with a gain and tilt of its own;
    one time in two both get noise floors of one level. The reference is then the effect at
    :func:`random_settings`.
    """
    from dafx_explorer import corpus, training  # not imported when serving

    def padded(recording) -> np.ndarray:
        return np.pad(recording.samples, (0, max(window - len(recording.samples), 0)))

    inputs, references, settings = [], [], []
    for _ in range(count):
        recording = recordings[rng.integers(len(recordings))]
        samples = padded(recording)
        a, b = _segment_starts(len(samples), window, rng)
        chain_seed, p = int(rng.integers(2**31)), random_settings(effect, rng)
        noise_db = float(rng.uniform(*NOISE_DB)) if rng.random() < NOISE_SHARE else None
        sources, seeds = [(samples, a), (samples, b)], [chain_seed, chain_seed]
        others = [r for r in recordings if not corpus.same_work(r, recording)] if across_share > 0 else []
        if others and rng.random() < across_share:  # at share 0 no draw, so the pairs are those of one work
            other = padded(others[rng.integers(len(others))])
            sources[0], seeds[0] = (other, int(rng.integers(0, len(other) - window + 1))), int(rng.integers(2**31))
        pair = []
        for (source, start), seed in zip(sources, seeds, strict=True):
            segment = training.augment(source[start: start + window], np.random.default_rng(seed))
            if noise_db is not None:
                segment = segment + (10 ** (noise_db / 20) * rng.standard_normal(window)).astype(np.float32)
            pair.append(segment)
        inputs.append(pair[0])
        references.append(effect.render(pair[1], SAMPLE_RATE, p))
        settings.append(p)
    return np.stack(inputs), np.stack(references), np.array(settings)


@dataclass(frozen=True)
class EstimatorTrainingConfig:
    """Settings of ``train-estimator``: steps of ``batch_size`` new pairs each, AdamW with a cosine
    learning-rate decay; ``tiny`` trains a tiny network on generated clips (tests)."""

    effect: str
    steps: int = 2500
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    validation_pairs: int = 256
    validate_every: int = 100
    across_share: float = ACROSS_SHARE
    seed: int = 0
    tiny: bool = False


def training_recordings(seed: int, tiny: bool = False) -> list:
    """The recordings training pairs are drawn from: the real training corpus, or (``tiny``) generated clips."""
    from dafx_explorer import corpus

    if tiny:
        return corpus.build("train", seed=seed, generated_per_kind=1, use_system_audio=False)
    return corpus.real("train", seed=seed)


def _analysed(pairs: tuple[np.ndarray, np.ndarray, np.ndarray], cepstrum: bool) -> tuple[torch.Tensor, ...]:
    """Pairs from :func:`draw_pairs` as the network reads them: (input frames, input lags, reference
    frames, reference lags, settings)."""
    inputs, references, settings = pairs
    return (*recording_features(inputs, cepstrum), *recording_features(references, cepstrum),
            torch.as_tensor(settings, dtype=torch.float32))


class _StepBatches(torch.utils.data.Dataset):
    """Step ``s``'s training batch, analysed (:func:`_analysed`): new pairs from a generator seeded by
    ``s``, so a batch is the same whichever process draws it."""

    def __init__(self, effect: effects.Effect, recordings: list, config: EstimatorTrainingConfig, cepstrum: bool):
        self.effect, self.recordings, self.config, self.cepstrum = effect, recordings, config, cepstrum

    def __len__(self) -> int:
        return self.config.steps

    def __getitem__(self, step: int) -> tuple[torch.Tensor, ...]:
        pairs = draw_pairs(self.effect, self.recordings, self.config.batch_size,
                           np.random.default_rng([self.config.seed, 2, step]), across_share=self.config.across_share)
        return _analysed(pairs, self.cepstrum)


def _loss(estimator, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Mean absolute error (normalized settings) of the estimator on an analysed batch."""
    *analysed, settings = batch
    return torch.mean(torch.abs(estimator(*analysed) - settings))


def train_estimator(config: EstimatorTrainingConfig, *, out_dir: str | Path | None = None,
                    resume: bool = False, workers: int = LOADER_WORKERS) -> dict:
    """Train one effect's estimator; write ``estimator_{effect}.safetensors`` (the best validation step).

    A checkpoint is written at every validation, and ``resume`` continues from it; each step's pairs
    come from a generator seeded by the step, so a resumed run draws what one run would, and so does
    any number of ``workers`` (processes that prepare the batches ahead; 0: the training process).
    """
    from dafx_explorer import training

    effect = effects.get(config.effect)
    torch.manual_seed(config.seed)
    out_dir = Path(out_dir) if out_dir else get_settings().models_dir
    shape = TINY_ESTIMATOR if config.tiny else {}
    n_frame_features = N_MELS + (len(QUEFRENCY_EDGES) - 1) * (effect.name in CEPSTRUM_EFFECTS)
    quantiles = POOLED_QUANTILES if effect.name in QUANTILE_EFFECTS else ()
    estimator = models.SettingsEstimator(models.EstimatorConfig(n_params=effect.n_params, n_mels=n_frame_features,
                                                                n_lags=N_LAGS, quantiles=quantiles, **shape))
    optimizer = torch.optim.AdamW(estimator.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps)
    run = training._run_dir(f"estimator_{effect.name}{'_tiny' if config.tiny else ''}")
    checkpoint, log = run / "checkpoint.pt", run / "losses.csv"
    recordings = training_recordings(config.seed, config.tiny)
    cepstrum = reads_cepstrum(estimator)
    drawn = draw_pairs(effect, recordings, config.validation_pairs, np.random.default_rng([config.seed, 1]),
                       across_share=config.across_share)
    validation = _analysed(drawn, cepstrum)
    step, best, seconds = 0, {"val_l1": float("inf"), "step": 0, "state": None}, 0.0
    if resume and checkpoint.exists():
        state = training._load_checkpoint(checkpoint, estimator, optimizer)
        schedule.load_state_dict(state["schedule"])
        step, seconds = int(state["step"]), float(state["seconds"])
        best = {"val_l1": float(state["best_val_l1"]), "step": int(state["best_step"]), "state": state["best"]}
    else:
        log.unlink(missing_ok=True)
    def validation_l1() -> float:
        estimator.eval()
        with torch.no_grad():
            return float(np.mean([float(_loss(estimator, tuple(part[i: i + 64] for part in validation)))
                                  for i in range(0, config.validation_pairs, 64)]))

    initial = float(np.mean(np.abs(drawn[2] - 0.5)))  # the untrained estimator predicts 0.5 everywhere
    began = time.perf_counter() - seconds
    steps = range(step, config.steps)
    batches = torch.utils.data.DataLoader(_StepBatches(effect, recordings, config, cepstrum), batch_size=None,
                                          sampler=steps, num_workers=workers,
                                          generator=torch.Generator())  # leaves the global seed to training
    progress = tqdm(zip(steps, batches, strict=True), total=len(steps), desc=f"estimator {effect.name}",
                    unit="step", leave=False)
    for step, batch in progress:
        estimator.train()
        loss = _loss(estimator, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if (step + 1) % config.validate_every == 0 or step + 1 == config.steps:
            val = validation_l1()
            if val < best["val_l1"]:
                best = {"val_l1": val, "step": step + 1,
                        "state": {k: v.clone() for k, v in estimator.state_dict().items()}}
            training._append_csv(log, {"step": step + 1, "train_l1": float(loss.detach()), "val_l1": val,
                                       "seconds": round(time.perf_counter() - began, 1)})
            progress.set_postfix(val_l1=f"{val:.4f}")
            torch.save({"model": estimator.state_dict(), "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(), "step": step + 1,
                        "seconds": time.perf_counter() - began, "best": best["state"],
                        "best_val_l1": best["val_l1"], "best_step": best["step"]}, checkpoint)
    if best["state"] is not None:
        estimator.load_state_dict(best["state"])
    estimator.eval()
    seconds = time.perf_counter() - began
    fit = {"initial_val_l1": initial, "best_val_l1": best["val_l1"], "best_step": best["step"]}
    return save_trained(estimator, out_dir / f"estimator_{effect.name}.safetensors", config=config,
                        recordings=recordings, fit=fit, seconds=seconds, half=True,
                        extra={"param_names": list(effect.param_names)})


def save_trained(model: torch.nn.Module, path: Path, *, config, recordings: list, fit: dict, seconds: float,
                 half: bool = False, extra: dict | None = None, provenance: dict | None = None) -> dict:
    """Write a trained model of ``config.effect`` with its training record (config, sources, fit, wall
    seconds) in its sidecar and in the manifest beside its models folder (with ``provenance``: the
    files it was trained on); the summary ``train-*`` prints."""
    from dafx_explorer import corpus

    origins = corpus.origins(recordings)
    path = models.save_model(model, path, half=half, extra={
        "effect": config.effect, **(extra or {}), "training": dataclasses.asdict(config), "sources": origins,
        "fit": fit, "wall_seconds": round(seconds, 1),
    })
    manifest.record("models", path.stem, {
        "file": path.name, "sha256": manifest.file_sha256(path), "command": manifest.command_line(),
        "config": dataclasses.asdict(config), "sources": origins,
        "licences": {origin: corpus.LICENCES[origin] for origin in origins}, "wall_seconds": round(seconds, 1),
        "machine": manifest.machine(), "fit": fit, **(provenance or {}),
    }, path=path.parent.parent / "manifest.json")
    return {"path": str(path), "effect": config.effect, "wall_seconds": round(seconds, 1), **fit}
