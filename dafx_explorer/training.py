"""Training the audio encoders and the per-effect controllers (``train-encoder``, ``train-controller``).

Encoder (β-VAE or VQ-VAE): every epoch renders a fresh set of analysis windows from the training
corpus (:mod:`dafx_explorer.corpus`; random gain and tilt, eight in nine through one of the eight
effects at random settings), in the background or on a Dask cluster while the previous set trains,
on the CPU or a CUDA GPU. Fresh windows keep the encoder from memorizing a fixed set. The β-VAE is
semi-supervised: a linear head on its posterior mean also tells which effect was applied and at
which settings, so the embedding keeps what an effect does where reconstruction would blur it.

Controller (one per effect): fitted by settings regression on pairs of two segments of one recording,
the input clean and the target through the effect at random settings. The effects are not
differentiable, so regression is the exact and cheap loss; ``evaluate`` turns its error into audio
distances. The measurements behind these choices are in docs/research-log.md.

Each run keeps a checkpoint per epoch and a CSV of losses under ``runs/NAME/`` (``--resume``), and
writes its weights (safetensors + JSON) to the models folder and an entry to the manifest.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import math
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pedalboard
import torch
from tqdm import tqdm

from dafx_explorer import cluster, corpus, effects, features, manifest, models
from dafx_explorer.errors import DafxError
from dafx_explorer.settings import SAMPLE_RATE, WINDOW, get_settings

EFFECT_CLASSES = ("clean", *effects.names())
"""Classes of the β-VAE's auxiliary head: clean or one of the eight effects."""
SETTINGS_OFFSETS = dict(zip(effects.names(), np.cumsum([0] + [effects.get(n).n_params for n in effects.names()]),
                            strict=False))
"""Where each effect's normalized settings start in the auxiliary head's settings block."""
N_SETTINGS = sum(effects.get(n).n_params for n in effects.names())
"""Normalized settings of all eight effects together: the auxiliary head's settings block."""
AUX_OUTPUTS = len(EFFECT_CLASSES) + N_SETTINGS
"""Outputs of the β-VAE's auxiliary head: one logit per effect class, then every effect's settings."""
TINY_VAE = models.VAEConfig(channels=(4, 8, 8, 8), latent_dim=128, aux_outputs=AUX_OUTPUTS, recon_pool=2)
"""The β-VAE of ``--tiny`` runs (tests and smoke runs): seconds to train."""
TINY_VQ = models.VQVAEConfig(channels=(4, 8, 8, 8), code_dim=32, n_codes=16, pool_size=2)
"""The VQ-VAE of ``--tiny`` runs."""
MIN_SEGMENT_GAP = SAMPLE_RATE
"""Input and target segments of a controller pair start at least this many samples apart."""


@dataclass(frozen=True)
class EncoderTrainingConfig:
    """Settings of ``train-encoder`` (β applies to the β-VAE only)."""

    kind: str = "vae"
    epochs: int = 24
    """Passes, each over a fresh set of windows; 24 fit the 30-minute budget on a 2-core CPU."""
    examples: int = 6000
    """Windows rendered for each epoch."""
    batch_size: int = 32
    """Windows per training step."""
    learning_rate: float = 1e-3
    """Adam's starting learning rate; it decays along a half cosine over the run."""
    beta_max: float = 1e-3
    """Largest weight of the KL term (β) in each annealing cycle."""
    beta_cycle_steps: int = 97
    """Length of one cyclical β cycle, in training steps (a prime, so cycles do not line up with epochs)."""
    clean_fraction: float = 1 / 9
    """Share of the windows left clean (the rest go through one of the eight effects)."""
    aux_class_weight: float = 2.0
    """Weight of the auxiliary effect classification (cross-entropy) in the β-VAE's loss."""
    aux_settings_weight: float = 10.0
    """Weight of the auxiliary settings regression (masked squared error, normalized settings)."""
    recon_pool: int = 4
    """The β-VAE reconstructs the mel image average-pooled by this factor (see ``VAEConfig``)."""
    seed: int = 0
    audio_dirs: tuple[str, ...] = ()
    use_system_audio: bool = True
    tiny: bool = False


@dataclass(frozen=True)
class ControllerTrainingConfig:
    """Settings of ``train-controller``."""

    effect: str
    pairs: int = 16000
    """(input, target) pairs rendered and embedded once, then cached per encoder."""
    epochs: int = 150
    """Passes over the pairs; the weights of the epoch with the best validation error are kept."""
    batch_size: int = 256
    """Pairs per training step."""
    learning_rate: float = 1e-3
    """AdamW's starting learning rate; cosine-annealed over the epochs."""
    weight_decay: float = 1e-4
    """AdamW's weight decay."""
    dropout: float = 0.3
    """Dropout after each hidden layer of the controller's MLP."""
    validation_fraction: float = 0.1
    """Share of the pairs held back to choose the best epoch."""
    seed: int = 0
    audio_dirs: tuple[str, ...] = ()
    use_system_audio: bool = True
    tiny: bool = False


def training_corpus(config, corpus_dir: str | Path | None = None) -> list[corpus.Recording]:
    """The training split of the corpus a config asks for (a small one for ``tiny`` runs), or
    the recordings exported to ``corpus_dir`` (:func:`dafx_explorer.corpus.export`)."""
    if corpus_dir is not None:
        return corpus.load_exported(corpus_dir)
    if config.tiny:
        return corpus.build("train", seed=config.seed, generated_per_kind=1, use_system_audio=False,
                            audio_dirs=config.audio_dirs)
    return corpus.build("train", seed=config.seed, audio_dirs=config.audio_dirs,
                        use_system_audio=config.use_system_audio)


def augment(segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random gain (±6 dB) and spectral tilt (opposite low/high shelves of ±4 dB) of a segment."""
    tilt = float(rng.uniform(-4.0, 4.0))
    board = pedalboard.Pedalboard([
        pedalboard.LowShelfFilter(cutoff_frequency_hz=250.0, gain_db=-tilt),
        pedalboard.HighShelfFilter(cutoff_frequency_hz=2500.0, gain_db=tilt),
        pedalboard.Gain(gain_db=float(rng.uniform(-6.0, 6.0))),
    ])
    return board(segment[None, :], SAMPLE_RATE)[0].astype(np.float32)


def random_segment(recording: corpus.Recording, rng: np.random.Generator, avoid: int | None = None) -> int:
    """Start (samples) of a random analysis window of a recording, at least 1 s from ``avoid``."""
    last = max(len(recording.samples) - WINDOW, 0)
    for _ in range(100):
        start = int(rng.integers(0, last + 1))
        if avoid is None or abs(start - avoid) >= MIN_SEGMENT_GAP or last < MIN_SEGMENT_GAP:
            return start
    return (avoid + MIN_SEGMENT_GAP) % (last + 1)


def window_at(recording: corpus.Recording, start: int) -> np.ndarray:
    """The analysis window of a recording starting at ``start`` (zero-padded at the end)."""
    window = recording.samples[start : start + WINDOW]
    return np.pad(window, (0, WINDOW - len(window)))


@dataclass(frozen=True)
class EncoderExamples:
    """Training windows of the encoder: mel features (N, 256, 256) float16, the effect class of
    each (index into :data:`EFFECT_CLASSES`), and its normalized settings in the auxiliary
    head's layout (N, N_SETTINGS) with a mask of the entries that apply."""

    mel: torch.Tensor
    classes: torch.Tensor
    settings: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return len(self.classes)

    def to(self, device: torch.device) -> EncoderExamples:
        """The same examples on ``device``."""
        return EncoderExamples(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self)))


def render_encoder_examples(recordings, count: int, rng: np.random.Generator, clean_fraction: float,
                            batch: int = 64, progress: bool = True) -> EncoderExamples:
    """``count`` random, augmented windows, eight in nine through a random effect at random settings."""
    names = effects.names()
    mel = torch.empty((count, features.N_MELS, features.N_FRAMES), dtype=torch.float16)
    classes = torch.zeros(count, dtype=torch.long)
    settings = torch.zeros((count, N_SETTINGS))
    for first in tqdm(range(0, count, batch), desc="rendering examples", unit="batch", leave=False,
                      disable=not progress):
        windows = []
        for index in range(first, min(first + batch, count)):
            recording = recordings[rng.integers(len(recordings))]
            x = augment(window_at(recording, random_segment(recording, rng)), rng)
            if rng.random() >= clean_fraction:
                effect = effects.get(names[rng.integers(len(names))])
                p = rng.random(effect.n_params)
                x = effect.render(x, SAMPLE_RATE, p)
                classes[index] = EFFECT_CLASSES.index(effect.name)
                offset = int(SETTINGS_OFFSETS[effect.name])
                settings[index, offset : offset + effect.n_params] = torch.as_tensor(p, dtype=torch.float32)
            windows.append(x)
        mel[first : first + len(windows)] = features.mel_features(np.stack(windows)).to(torch.float16)
    mask = torch.zeros((count, N_SETTINGS), dtype=torch.bool)
    for name in names:
        offset, n = int(SETTINGS_OFFSETS[name]), effects.get(name).n_params
        mask[classes == EFFECT_CLASSES.index(name), offset : offset + n] = True
    return EncoderExamples(mel, classes, settings, mask)


RENDER_CHUNK = 250
"""Windows per rendering task. Each chunk of an epoch has its own seeded generator, so an
epoch's windows are the same however many processes render them."""

def render_chunk(job: tuple[int, list[int], float], recordings) -> EncoderExamples:
    """One chunk ``(count, seed, clean fraction)`` of an epoch's windows (a Dask task)."""
    count, seed, clean_fraction = job
    return render_encoder_examples(recordings, count, np.random.default_rng(seed), clean_fraction, progress=False)


def render_epoch(recordings, config: EncoderTrainingConfig, epoch: int, client=None) -> EncoderExamples:
    """One epoch's ``config.examples`` windows, in chunks of :data:`RENDER_CHUNK` seeded by
    (seed, epoch, chunk); rendered on the Dask cluster of ``client`` (:func:`dafx_explorer.cluster.connect`;
    ``recordings`` may be the future :func:`dafx_explorer.cluster.share` made of them) or here."""
    jobs = [(min(RENDER_CHUNK, config.examples - first), [config.seed, epoch, number], config.clean_fraction)
            for number, first in enumerate(range(0, config.examples, RENDER_CHUNK))]
    parts = dict(cluster.run_chunks(render_chunk, jobs, client=client, shared=recordings, progress=False))
    return EncoderExamples(*(torch.cat([getattr(parts[i], f.name) for i in range(len(jobs))])
                             for f in dataclasses.fields(EncoderExamples)))


def training_device(name: str = "auto") -> torch.device:
    """The device to train on: "cpu", "cuda", or "auto" (a CUDA GPU where PyTorch sees one)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise DafxError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU on this machine; "
                        "train with --device cpu (or auto)")
    return torch.device(name)


def _run_dir(name: str) -> Path:
    folder = get_settings().runs_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _last_row(path: Path) -> dict[str, float]:
    """The loss columns of the last epoch logged in a losses CSV."""
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    return {k: float(v) for k, v in rows[-1].items() if k not in ("epoch", "step", "seconds")} if rows else {}


def _load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     device: torch.device | None = None) -> dict:
    state = torch.load(path, weights_only=True, map_location=device)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return state


def _encoder_step(model, data: EncoderExamples, index: torch.Tensor, step: int,
                  config: EncoderTrainingConfig) -> dict[str, torch.Tensor]:
    batch = data.mel[index].float()
    if isinstance(model, models.VQVAE):
        recon, commitment, _ = model(batch)
        total, recon_loss, commitment = model.loss(batch, recon, commitment)
        return {"total": total, "recon": recon_loss, "commitment": commitment}
    beta = models.cyclical_beta(step, cycle_length=config.beta_cycle_steps, beta_max=config.beta_max)
    recon, mu, logvar = model(batch)
    total, recon_loss, kl = model.loss(batch, recon, mu, logvar, beta)
    parts = {"recon": recon_loss, "kl": kl}
    if model.aux is not None:
        head = model.aux(mu)
        n_classes = len(EFFECT_CLASSES)
        parts["effect_ce"] = torch.nn.functional.cross_entropy(head[:, :n_classes], data.classes[index])
        mask = data.mask[index]
        error = (torch.sigmoid(head[:, n_classes:]) - data.settings[index]) ** 2
        parts["settings_mse"] = (error * mask).sum() / mask.sum().clamp(min=1)
        total = total + config.aux_class_weight * parts["effect_ce"] + config.aux_settings_weight * parts[
            "settings_mse"]
    return {"total": total, **parts}


def train_encoder(config: EncoderTrainingConfig, *, out_dir: str | Path | None = None, resume: bool = False,
                  device: str = "auto", workers: int | None = None, corpus_dir: str | Path | None = None,
                  scheduler: str | None = None) -> dict:
    """Train an encoder; write ``encoder_{kind}.safetensors`` (+ JSON) and a manifest entry.

    ``device`` is where the model trains (:func:`training_device`); the training windows are rendered
    on a Dask cluster while the previous epoch trains: ``scheduler``'s, else a local one of ``workers``
    processes (default one per core; 0, or a ``tiny`` config, renders in a background thread here; the
    windows are the same either way); ``corpus_dir`` trains on an exported corpus instead of building one.
    Returns a summary dict: path, epochs, final losses, wall seconds, corpus origins.
    """
    if config.kind not in ("vae", "vq"):
        raise ValueError(f"encoder kind must be 'vae' or 'vq', got {config.kind!r}")
    torch.manual_seed(config.seed)
    target = training_device(device)
    recordings = training_corpus(config, corpus_dir)
    out_dir = Path(out_dir) if out_dir else get_settings().models_dir
    run = _run_dir(f"encoder_{config.kind}{'_tiny' if config.tiny else ''}")
    if config.kind == "vae":
        model = models.BetaVAE(TINY_VAE if config.tiny else models.VAEConfig(aux_outputs=AUX_OUTPUTS,
                                                                             recon_pool=config.recon_pool))
    else:
        model = models.VQVAE(TINY_VQ if config.tiny else models.VQVAEConfig())
    model.to(target)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    checkpoint, losses_csv = run / "checkpoint.pt", run / "losses.csv"
    first_epoch, step, seconds = 0, 0, 0.0
    if resume and checkpoint.exists():
        state = _load_checkpoint(checkpoint, model, optimizer, target)
        first_epoch, step, seconds = int(state["epoch"]) + 1, int(state["step"]), float(state["seconds"])
    elif losses_csv.exists():
        losses_csv.unlink()
    history = _last_row(losses_csv) if first_epoch else {}
    with ThreadPoolExecutor(max_workers=1) as background, \
            cluster.connect(scheduler, workers=workers, tiny=config.tiny) as client:
        shared = cluster.share(client, recordings)
        upcoming = (background.submit(render_epoch, shared, config, first_epoch, client)
                    if first_epoch < config.epochs else None)
        for epoch in range(first_epoch, config.epochs):
            started = time.perf_counter()
            data = upcoming.result().to(target)
            if epoch + 1 < config.epochs:
                upcoming = background.submit(render_epoch, shared, config, epoch + 1, client)
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))
            order = torch.from_numpy(np.random.default_rng([config.seed, epoch]).permutation(len(data))).to(target)
            model.train()
            sums: dict[str, float] = {}
            batches = range(0, len(data), config.batch_size)
            for first in tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch"):
                index = order[first : first + config.batch_size]
                parts = _encoder_step(model, data, index, step, config)
                optimizer.zero_grad()
                parts["total"].backward()
                optimizer.step()
                step += 1
                for key, value in parts.items():
                    sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(index)
            seconds += time.perf_counter() - started
            history = {key: value / len(data) for key, value in sums.items()}
            _append_csv(losses_csv, {"epoch": epoch + 1, "step": step, **history, "seconds": round(seconds, 1)})
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                        "step": step, "seconds": seconds}, checkpoint)
    origins = corpus.origins(recordings)
    model.cpu()
    path = models.save_model(model, out_dir / models.ENCODER_FILES[config.kind], half=True, extra={
        "training": dataclasses.asdict(config), "sources": origins, "final_losses": history,
        "wall_seconds": round(seconds, 1), "steps": step,
    })
    manifest.record("models", path.stem, {
        "file": path.name, "sha256": manifest.file_sha256(path), "command": manifest.command_line(),
        "config": dataclasses.asdict(config), "sources": origins, "wall_seconds": round(seconds, 1),
        "machine": manifest.machine(target), "final_losses": history,
    }, path=out_dir.parent / "manifest.json")
    return {"path": str(path), "epochs": config.epochs, "steps": step, "losses": history,
            "wall_seconds": round(seconds, 1), "sources": origins}


def embed_windows(encoder: torch.nn.Module, windows: np.ndarray, batch: int = 64) -> torch.Tensor:
    """Encoder embeddings (N, D) of analysis windows (N, WINDOW), in batches."""
    out = [encoder.embed(features.mel_features(windows[i : i + batch])) for i in range(0, len(windows), batch)]
    return torch.cat(out) if out else torch.empty(0, encoder.embedding_dim)


def draw_pair(effect: effects.Effect, recordings, rng: np.random.Generator) -> tuple:
    """What one training pair is made of: (recording, input start, target start, augmentation
    seed, normalized settings), drawn from ``rng`` in a fixed order."""
    recording = recordings[rng.integers(len(recordings))]
    a = random_segment(recording, rng)
    b = random_segment(recording, rng, avoid=a)
    chain_seed = int(rng.integers(2**31))
    return recording, a, b, chain_seed, rng.random(effect.n_params)


PAIRS_CHUNK = 128
"""Controller training pairs per chunk of work (a multiple of the embedding batch of 64, so that a
chunked run embeds exactly the batches a run in one piece does)."""


def render_pairs_chunk(job: list[tuple], shared: tuple) -> dict[str, np.ndarray]:
    """Input and target embeddings of one chunk of drawn pairs (a Dask task).

    ``job`` holds :func:`draw_pair`'s draws with the recording replaced by its index; ``shared`` is
    ``(effect name, encoder, recordings)``. Returns ``z_in`` and ``z_target``, float32 (n, D).
    """
    name, encoder, recordings = shared
    effect = effects.get(name)
    inputs, targets = [], []
    for recording, a, b, chain_seed, p in job:
        recording = recordings[recording]
        inputs.append(augment(window_at(recording, a), np.random.default_rng(chain_seed)))
        y_clean = augment(window_at(recording, b), np.random.default_rng(chain_seed))
        targets.append(effect.render(y_clean, SAMPLE_RATE, p))
    with torch.no_grad():
        return {"z_in": embed_windows(encoder, np.stack(inputs)).numpy(),
                "z_target": embed_windows(encoder, np.stack(targets)).numpy()}


def controller_pairs(effect: effects.Effect, encoder: torch.nn.Module, recordings, count: int,
                     rng: np.random.Generator, *, client=None, chunks: Path | None = None,
                     resume: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``count`` training pairs: (input embeddings, target embeddings, true normalized settings).

    The input is an augmented segment of a recording; the target is the effect at random
    settings applied to a different segment of the same recording, with the same augmentation.
    The pairs are drawn here, in order, then rendered and embedded in chunks of :data:`PAIRS_CHUNK`
    on the Dask cluster of ``client`` (or here); with ``chunks`` a folder keeps each finished chunk
    and ``resume`` renders only those an interrupted run with the same draws did not finish.
    """
    position = {id(recording): index for index, recording in enumerate(recordings)}
    draws = [draw_pair(effect, recordings, rng) for _ in range(count)]
    jobs = [[(position[id(r)], a, b, seed, p) for r, a, b, seed, p in draws[start:stop]]
            for start, stop in cluster.chunk_bounds(count, PAIRS_CHUNK)]
    settings = torch.as_tensor(np.array([draw[4] for draw in draws]), dtype=torch.float32)
    job = {"effect": effect.name, "draws": hashlib.sha256(settings.numpy().tobytes()).hexdigest(),
           "recordings": [r.name for r in recordings], "count": count, "chunk": PAIRS_CHUNK}
    with tempfile.TemporaryDirectory() as scratch:
        store = cluster.ChunkStore(chunks or Path(scratch), job).open(resume and chunks is not None)
        cluster.stream_into(store, render_pairs_chunk, jobs, client=client,
                            shared=(effect.name, encoder, recordings), sizes=[len(j) for j in jobs],
                            desc=f"pairs for {effect.name}", progress=True)
        parts = [store.load(index) for index in range(len(jobs))]
        store.remove()
    z_in, z_target = (torch.from_numpy(np.concatenate([part[key] for part in parts])) for key in ("z_in", "z_target"))
    return z_in, z_target, settings


def pairs_generator(config: ControllerTrainingConfig) -> np.random.Generator:
    """The seeded generator that draws a controller's training pairs, one :func:`draw_pair` after another."""
    return np.random.default_rng([config.seed, 1 + effects.names().index(config.effect)])


def _pairs_cache_name(encoder_hash: str, count: int | str, seed: int) -> str:
    """File name of a cached pair set (``count`` "*" gives the glob pattern of every count)."""
    return f"pairs_{encoder_hash[:12]}_{count}_{seed}.pt"


def _largest_cached_pairs(run: Path, encoder_hash: str, seed: int) -> dict[str, torch.Tensor] | None:
    """The largest cached pair set of this encoder and seed in ``run`` (None when there is none)."""
    counts = {}
    for path in run.glob(_pairs_cache_name(encoder_hash, "*", seed)):
        count = path.stem.split("_")[2]
        if count.isdigit():
            counts[int(count)] = path
    return torch.load(counts[max(counts)], weights_only=True) if counts else None


def fit_controller(controller: models.Controller, z_in, z_target, settings, config: ControllerTrainingConfig,
                   log: Path | None = None) -> dict:
    """Fit a controller by settings regression; keep the weights of the best validation epoch."""
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(settings), generator=generator)
    n_val = max(1, int(len(settings) * config.validation_fraction))
    val, train = order[:n_val], order[n_val:]
    optimizer = torch.optim.AdamW(controller.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    best = (float("inf"), None, 0)
    first_loss = None
    for epoch in range(config.epochs):
        controller.train()
        shuffled = train[torch.randperm(len(train), generator=generator)]
        total = 0.0
        for first in range(0, len(shuffled), config.batch_size):
            idx = shuffled[first : first + config.batch_size]
            loss = torch.mean((controller(z_in[idx], z_target[idx]) - settings[idx]) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        schedule.step()
        controller.eval()
        with torch.no_grad():
            val_loss = float(torch.mean((controller(z_in[val], z_target[val]) - settings[val]) ** 2))
        train_loss = total / len(train)
        first_loss = first_loss if first_loss is not None else train_loss
        if log is not None:
            _append_csv(log, {"epoch": epoch + 1, "train_mse": train_loss, "val_mse": val_loss})
        if val_loss < best[0]:
            best = (val_loss, {k: v.clone() for k, v in controller.state_dict().items()}, epoch + 1)
    controller.load_state_dict(best[1])
    controller.eval()
    with torch.no_grad():
        val_mae = float(torch.mean(torch.abs(controller(z_in[val], z_target[val]) - settings[val])))
    return {"first_train_mse": first_loss, "best_val_mse": best[0], "best_epoch": best[2],
            "val_mae": val_mae}


def train_controller(config: ControllerTrainingConfig, *, out_dir: str | Path | None = None,
                     resume: bool = False, scheduler: str | None = None, workers: int | None = None) -> dict:
    """Train one effect's controller on the β-VAE embeddings; write ``controller_{effect}.safetensors``.

    ``resume`` reuses the training pairs cached by earlier runs with the same encoder and seed
    (rendering and embedding the pairs is most of the cost): a larger set gives its first
    ``config.pairs``, a smaller one is extended by rendering only the pairs it lacks (the same
    settings and audio as one run; embeddings equal up to float rounding of other batch sizes),
    and the chunks an interrupted rendering finished are kept. The pairs are rendered on a Dask
    cluster (``scheduler``, else a local one of ``workers`` processes; here for a ``tiny`` config).
    """
    effect = effects.get(config.effect)
    torch.manual_seed(config.seed)
    out_dir = Path(out_dir) if out_dir else get_settings().models_dir
    encoder, encoder_meta = models.load_encoder("vae", models_dir=out_dir)
    encoder_hash = manifest.file_sha256(out_dir / models.ENCODER_FILES["vae"])
    # built first, so that a bad architecture setting fails before minutes of rendering pairs
    controller = models.Controller(models.ControllerConfig(n_params=effect.n_params, dropout=config.dropout,
                                                           embedding_dim=encoder.embedding_dim))
    run = _run_dir(f"controller_{effect.name}{'_tiny' if config.tiny else ''}")
    started = time.perf_counter()
    recordings = training_corpus(config)
    # Pairs are drawn in sequence from one seeded generator, so the first n pairs of any cached
    # set are those a run of n pairs makes: --resume takes what it can and renders the rest.
    cached = _largest_cached_pairs(run, encoder_hash, config.seed) if resume else None
    have = min(len(cached["settings"]), config.pairs) if cached else 0
    pairs = {key: value[:have] for key, value in cached.items()} if cached else {}
    if have < config.pairs:
        rng = pairs_generator(config)
        for _ in range(have):
            draw_pair(effect, recordings, rng)
        with cluster.connect(scheduler, workers=workers, tiny=config.tiny) as client:
            rendered = controller_pairs(effect, encoder, recordings, config.pairs - have, rng, client=client,
                                        chunks=run / f"pairs_{encoder_hash[:12]}_{config.seed}.chunks",
                                        resume=resume)
        pairs = {key: torch.cat([pairs[key], part]) if have else part
                 for key, part in zip(("z_in", "z_target", "settings"), rendered, strict=True)}
        torch.save(pairs, run / _pairs_cache_name(encoder_hash, config.pairs, config.seed))
    z_in, z_target, settings = pairs["z_in"], pairs["z_target"], pairs["settings"]
    (run / "losses.csv").unlink(missing_ok=True)
    fit = fit_controller(controller, z_in, z_target, settings, config, log=run / "losses.csv")
    seconds = time.perf_counter() - started
    origins = corpus.origins(recordings)
    path = models.save_model(controller, out_dir / f"controller_{effect.name}.safetensors", half=True, extra={
        "effect": effect.name, "param_names": list(effect.param_names), "encoder_sha256": encoder_hash,
        "training": dataclasses.asdict(config), "sources": origins, "fit": fit, "wall_seconds": round(seconds, 1),
    })
    manifest.record("models", path.stem, {
        "file": path.name, "sha256": manifest.file_sha256(path), "command": manifest.command_line(),
        "config": dataclasses.asdict(config), "sources": origins, "wall_seconds": round(seconds, 1),
        "machine": manifest.machine(), "encoder_sha256": encoder_hash, "fit": fit,
        "encoder_training": encoder_meta["extra"].get("training"),
    }, path=out_dir.parent / "manifest.json")
    return {"path": str(path), "effect": effect.name, "wall_seconds": round(seconds, 1), **fit}
