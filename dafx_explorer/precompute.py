"""Build the latent-controller datasets (DESIGN §3) that :mod:`dafx_explorer.store` reads.

For one effect and one clean clip: draw seeded uniform settings, render the clip's analysis
window with each, embed the renderings with each encoder, predict settings with the effect's
controller, measure brightness and depth change, and project the embeddings to 2-D with UMAP
(unsupervised and semi-supervised for each k). :func:`precompute_combined` projects all datasets
together for the Latent Space page.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from tqdm.auto import tqdm

from dafx_explorer import audio, cluster, effects, features, inference, manifest, models, projection, sources, store
from dafx_explorer.errors import DataError, ModelError
from dafx_explorer.settings import SAMPLE_RATE, WINDOW, get_settings

EMBED_BATCH = 64
"""Windows rendered, featurized and embedded at a time."""

DEFAULT_KS = (0, 5, 10, 25, 100)
ENCODERS = tuple(models.ENCODER_FILES)
COMBINED_INFO = "combined.json"


def _resolve_effect(effect) -> effects.Effect:
    if isinstance(effect, effects.Effect):
        return effect
    if isinstance(effect, str | os.PathLike) and str(effect).endswith(".vst3"):
        return effects.load_vst3(effect)
    return effects.get(effect)


def _check_arguments(points, ks, encoders) -> tuple[int, tuple[int, ...], tuple[str, ...]]:
    if isinstance(points, bool) or not isinstance(points, int | np.integer) or points < projection.MIN_POINTS:
        raise DataError(f"points must be an integer >= {projection.MIN_POINTS}, got {points!r}")
    ks = tuple(ks)
    if not ks or any(isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0 for k in ks):
        raise DataError(f"n_supervised must be non-negative integers (0 = unsupervised), got {list(ks)}")
    return int(points), tuple(sorted({int(k) for k in ks})), _check_encoders(encoders, need_vae=True)


def _check_encoders(encoders, *, need_vae: bool) -> tuple[str, ...]:
    """The encoders named, each once in order; DataError unless all are known (with ``need_vae``: and "vae" is one)."""
    encoders = tuple(dict.fromkeys(encoders))
    unknown = [e for e in encoders if e not in ENCODERS]
    if need_vae and (unknown or "vae" not in encoders):
        raise DataError(f"encoders must include 'vae' (the controller's) and be among {list(ENCODERS)}, "
                        f"got {list(encoders)}")
    if unknown or not encoders:
        raise DataError(f"encoders must be among {list(ENCODERS)}, got {list(encoders)}")
    return encoders


def _check_plugin(effect: effects.Effect, store_audio: bool) -> bool:
    """Whether the effect is a VST3 plugin; DataError for a plugin without ``store_audio``."""
    plugin = isinstance(effect, effects.PluginEffect)
    if plugin and not store_audio:
        raise DataError(f"plugin effect {effect.name} needs --store-audio: the plugin may be absent where the "
                        f"app runs")
    return plugin


def _effect_target(effect: effects.Effect, plugin: bool) -> str:
    """How the command line names the effect: a plugin's path or a built-in effect's name."""
    return str(effect.path) if plugin else effect.name


def _load_source(source: str) -> np.ndarray:
    """The clean analysis window of a built-in clip (by name) or of an audio file."""
    if source in sources.builtin_clips():
        samples = sources.load_clip(source)
    elif Path(source).is_file():
        samples = audio.load(source)
    else:
        raise DataError(f"source {source!r} is neither a built-in clip ({', '.join(sources.builtin_clips())}) "
                        f"nor an audio file")
    return audio.analysis_window(samples)


def _target_folder(effect: effects.Effect, out) -> Path:
    """The dataset folder: ``out``, else ``datasets/`` + the effect's name made safe for a path."""
    if out is not None:
        return Path(out)
    return get_settings().datasets_dir / re.sub(r"[^A-Za-z0-9_.-]+", "_", effect.name)


def _check_target(folder: Path) -> None:
    """Refuse to replace a folder that holds anything but a dataset."""
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir())
                                                    and not (folder / store.DATASET_INFO).is_file())):
        raise DataError(f"{folder} exists and is not a dataset folder; choose an empty or new folder for --out")


def _load_controller(effect: effects.Effect, plugin: bool) -> models.Controller | None:
    """The effect's controller; None for a plugin without one (its predictions are NaN)."""
    try:
        controller, _ = models.load_controller(effect.name)
    except ModelError:
        if plugin:
            return None
        raise
    if controller.config.n_params != effect.n_params:
        raise ModelError(f"controller of {effect.name} predicts {controller.config.n_params} settings but the "
                         f"effect has {effect.n_params}; rebuild it with: "
                         f"{models.TRAIN_CONTROLLER_COMMAND.format(effect=effect.name)}")
    return controller


def _model_hashes(encoders: Iterable[str], effect_name: str, with_controller: bool) -> dict[str, str]:
    folder = get_settings().models_dir
    files = [models.ENCODER_FILES[kind] for kind in encoders]
    if with_controller:
        files.append(f"controller_{effect_name}.safetensors")
    return {name: manifest.file_sha256(folder / name) for name in files}


def _embed(model, mel: torch.Tensor) -> np.ndarray:
    """Embeddings of mel features (B, 256, 256), rounded to float16 as stored, held as float32."""
    with torch.no_grad():
        z = model.embed(mel)
    return z.numpy().astype(np.float16).astype(np.float32)


def _stored_clean(window: np.ndarray) -> np.ndarray:
    """The clean window as its clip file stores it (24-bit), so that the points render from exactly that."""
    with tempfile.TemporaryDirectory() as scratch:
        audio.save(Path(scratch) / "clean.flac", window)
        clean, _ = sf.read(Path(scratch) / "clean.flac", dtype="float32")
    return clean


def _command(effect: effects.Effect, plugin: bool, points, source, ks, seed, store_audio, out) -> str:
    """The command line that rebuilds the dataset."""
    parts = ["python", "-m", "dafx_explorer", "precompute", "--effect", _effect_target(effect, plugin),
             "--points", str(points),
             "--source", source, "--n-supervised", *map(str, ks), "--seed", str(seed)]
    if store_audio:
        parts.append("--store-audio")
    if out is not None:
        parts += ["--out", str(out)]
    return shlex.join(parts)


def _write_clip(folder: Path, window: np.ndarray, info: dict) -> None:
    """Write the clean clip of the dataset ``folder`` where :func:`store.clean_path` finds it, unless a
    dataset already did."""
    path = store.clean_path(folder, info)
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        audio.save(Path(scratch) / path.name, window)
        os.replace(Path(scratch) / path.name, path)


def _write_atomically(folder: Path, fill) -> None:
    """Call ``fill(tmp)`` on a fresh folder beside ``folder``, then put it in ``folder``'s place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        fill(tmp)
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
            os.replace(folder, old / folder.name)
            os.replace(tmp, folder)
            shutil.rmtree(old)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _file_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of each file of a dataset folder; each subfolder (stored audio, a partitioned
    ``points.parquet``) gets one digest over all its files."""
    hashes = {}
    for path in sorted(folder.iterdir()):
        if path.is_file():
            hashes[path.name] = manifest.file_sha256(path)
        elif path.is_dir():
            digest = hashlib.sha256()
            for member in sorted(path.iterdir()):
                digest.update(f"{member.name} {manifest.file_sha256(member)}\n".encode())
            hashes[f"{path.name}/"] = digest.hexdigest()
    return hashes


def _record(folder: Path, entry: dict, home=None) -> None:
    """Add a dataset to the manifest of ``home`` (default: the data folder) if it lives in its ``datasets/``."""
    settings = store.settings_for(home)
    if folder.resolve().parent != settings.datasets_dir.resolve():
        return
    path = folder.resolve().relative_to(settings.home.resolve()).as_posix()
    manifest.record("datasets", folder.name, {**entry, "path": path, "files": _file_hashes(folder)},
                    path=settings.manifest_path)


CHUNK_POINTS = 256
"""Points per chunk of work (a multiple of ``EMBED_BATCH``): the unit that is retried, saved and resumed."""
CLUSTER_PROJECTION_POINTS = 5000
"""From this many points the UMAP fits (one per encoder and k) run on the cluster too; below, here
(each worker would first spend seconds compiling UMAP's numba code)."""


@dataclasses.dataclass(frozen=True)
class ChunkContext:
    """What every chunk of one dataset needs, sent to each worker once.

    ``effect`` is a built-in effect's name, a plugin's path (loaded on the worker) or an effect
    object; ``encoders`` and ``controller`` are the loaded models.
    """

    effect: object
    plugin_name: str | None
    clean: np.ndarray
    encoders: dict
    controller: models.Controller | None
    store_audio: bool


@functools.cache
def _worker_plugin(path: str, plugin_name: str | None) -> effects.Effect:
    """A plugin effect, loaded once per worker process."""
    return effects.load_vst3(path, plugin_name=plugin_name)


def _context_effect(context: ChunkContext) -> effects.Effect:
    if isinstance(context.effect, effects.Effect):
        return context.effect
    if str(context.effect).endswith(".vst3"):
        return _worker_plugin(str(context.effect), context.plugin_name)
    return effects.get(context.effect)


def _flac_bytes(samples: np.ndarray) -> bytes:
    """The FLAC file :func:`audio.save` writes for ``samples`` (24-bit, clipped to ±1), as bytes."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(samples, -1.0, 1.0), SAMPLE_RATE, format="FLAC", subtype="PCM_24")
    return buffer.getvalue()


def render_chunk(job: tuple[int, np.ndarray], context: ChunkContext) -> dict[str, np.ndarray]:
    """Render, describe, embed and predict one chunk of points (the work a Dask worker does).

    Parameters
    ----------
    job : (int, np.ndarray)
        Id of the chunk's first point and its normalized settings, shape (n, n_params).
    context : ChunkContext

    Returns
    -------
    dict of np.ndarray
        ``embeddings_{encoder}`` (n, D) float32 rounded to float16, ``predicted`` (n, n_params)
        (NaN without a controller), ``brightness`` (octaves) and ``depth`` (dB) changes; with
        ``store_audio`` also ``flac`` (the files' bytes, concatenated) and ``flac_sizes``.
    """
    _, settings = job
    effect = _context_effect(context)
    n = len(settings)
    z_clean = _embed(context.encoders["vae"], features.mel_features(context.clean))
    out = {f"embeddings_{kind}": np.empty((n, model.embedding_dim), np.float32)
           for kind, model in context.encoders.items()}
    out.update(predicted=np.full((n, effect.n_params), np.nan, np.float32), brightness=np.empty(n),
               depth=np.empty(n))
    files = []
    for start in range(0, n, EMBED_BATCH):
        rows = slice(start, min(start + EMBED_BATCH, n))
        rendered = np.stack([effect.render(context.clean, SAMPLE_RATE, p) for p in settings[rows]])
        if context.store_audio:
            files += [_flac_bytes(samples) for samples in rendered]
        out["brightness"][rows], out["depth"][rows] = features.descriptor_changes(rendered, context.clean)
        mel = features.mel_features(rendered)
        for kind, model in context.encoders.items():
            out[f"embeddings_{kind}"][rows] = _embed(model, mel)
        if context.controller is not None:
            z_target = torch.from_numpy(out["embeddings_vae"][rows])
            out["predicted"][rows] = inference.controller_settings(
                context.controller, torch.from_numpy(z_clean).expand_as(z_target), z_target)
    if context.store_audio:
        out["flac"] = np.frombuffer(b"".join(files), dtype=np.uint8)
        out["flac_sizes"] = np.array([len(f) for f in files], dtype=np.int64)
    return out


def project_task(job: tuple[str, int], context: dict) -> np.ndarray:
    """UMAP coordinates (N, 2) of one encoder's embeddings with ``k`` supervised points (a Dask task)."""
    kind, k = job
    labels = projection.semi_supervised_labels(context["brightness"], context["depth"], k)
    return projection.project(context["embeddings"][kind], labels, seed=context["seed"])


def chunk_folder(folder: Path) -> Path:
    """Where the finished chunks of an unfinished build of ``folder`` wait (beside it, hidden)."""
    return folder.parent / f".{folder.name}.chunks"


def _chunk_context(effect: effects.Effect, plugin: bool, clean: np.ndarray, encoder_models: dict,
                   controller: models.Controller | None, store_audio: bool) -> ChunkContext:
    """What the workers need: a plugin by path and a registered built-in effect by name, else the effect itself."""
    builtin = effect.name in effects.names() and effect is effects.get(effect.name)
    return ChunkContext(_effect_target(effect, plugin) if plugin or builtin else effect,
                        effect.plugin_name if plugin else None, clean, encoder_models, controller, bool(store_audio))


def _joined(parts: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
    """One result of every chunk (:func:`render_chunk`), joined in point order."""
    return np.concatenate([part[key] for part in parts])


def _render_and_project(chunks: cluster.ChunkStore, bounds, settings: np.ndarray, context: ChunkContext,
                        fits: list[tuple[str, int]], seed: int, *, name: str, scheduler, workers,
                        progress: bool) -> tuple[list[dict], dict[str, np.ndarray], dict[int, np.ndarray]]:
    """Render, embed and predict the chunks not yet done, then fit a UMAP map per (encoder, k) of ``fits``.

    Returns every chunk's results in point order, each encoder's embeddings (N, D) and the map
    coordinates (N, 2) of each fit, by its index in ``fits``.
    """
    missing = len(bounds) - len(chunks.done())
    with cluster.connect(scheduler, workers=workers, tiny=missing <= 1) as client:
        cluster.stream_into(chunks, render_chunk, [(a, settings[a:b]) for a, b in bounds], client=client,
                            shared=context, sizes=[b - a for a, b in bounds],
                            desc=f"{name}: render and embed", progress=progress)
        parts = [chunks.load(index) for index in range(len(bounds))]
        embeddings = {kind: _joined(parts, f"embeddings_{kind}") for kind in context.encoders}
        fit_data = {"embeddings": embeddings, "brightness": _joined(parts, "brightness"),
                    "depth": _joined(parts, "depth"), "seed": seed}
        coordinates = dict(cluster.run_chunks(
            project_task, fits, client=client if len(settings) >= CLUSTER_PROJECTION_POINTS else None,
            shared=fit_data, desc=f"{name}: UMAP", unit="fit", progress=progress))
    return parts, embeddings, coordinates


def _points_table(effect: effects.Effect, settings: np.ndarray, parts: list[dict[str, np.ndarray]],
                  fits: list[tuple[str, int]], coordinates: dict[int, np.ndarray]) -> pd.DataFrame:
    """The ``points.parquet`` table: id, settings, predicted settings, brightness (octaves) and depth (dB)
    changes, and the map coordinates of each fit."""
    table = {"id": np.arange(len(settings), dtype=np.int64)}
    table.update(zip(store.settings_columns(effect.param_names), settings.T, strict=True))
    table.update(zip(store.settings_columns(effect.param_names, predicted=True), _joined(parts, "predicted").T,
                     strict=True))
    table["brightness_change"] = _joined(parts, "brightness").astype(np.float32)
    table["depth_change"] = _joined(parts, "depth").astype(np.float32)
    for index, (kind, k) in enumerate(fits):
        x_column, y_column = store.coordinate_columns(kind, k)
        table[x_column], table[y_column] = coordinates[index][:, 0], coordinates[index][:, 1]
    return pd.DataFrame(table)


def _clean_embeddings(encoder_models: dict, clean: np.ndarray) -> dict[str, list[float]]:
    """Each encoder's embedding of the clean clip, as ``dataset.json`` lists it."""
    return {kind: _embed(model, features.mel_features(clean))[0].tolist() for kind, model in encoder_models.items()}


def _dataset_info(effect: effects.Effect, plugin: bool, *, source: str, points: int, seed: int, ks, encoders,
                  store_audio: bool, controller: bool, clean: str, clean_embeddings: dict, command: str,
                  model_hashes: dict[str, str]) -> dict:
    """The ``dataset.json`` of a dataset (``controller``: whether it has one)."""
    return {
        "format": 1,
        "effect": effect.name,
        "plugin": {"path": str(effect.path), "plugin_name": effect.plugin_name} if plugin else None,
        "params": [{"name": p.name, "minimum": p.minimum, "maximum": p.maximum, "unit": p.unit,
                    "scale": p.scale, "default": p.default} for p in effect.params],
        "source": source,
        "points": points,
        "seed": seed,
        "ks": list(ks),
        "encoders": list(encoders),
        "store_audio": bool(store_audio),
        "controller": controller,
        "sample_rate": SAMPLE_RATE,
        "window": WINDOW,
        "clean": clean,
        "clean_embeddings": clean_embeddings,
        "command": command,
        "libraries": manifest.library_versions(),
        "models": model_hashes,
    }


def _write_dataset(tmp: Path, bounds, parts: list[dict[str, np.ndarray]], table: pd.DataFrame,
                   embeddings: dict[str, np.ndarray], info: dict) -> None:
    """Write a dataset's files into the folder ``tmp``: stored audio, points, embeddings, info."""
    if info["store_audio"]:
        (tmp / store.AUDIO_DIR).mkdir()
        for (first, _), part in zip(bounds, parts, strict=True):
            blobs = np.split(part["flac"], np.cumsum(part["flac_sizes"])[:-1])
            for i, blob in enumerate(blobs, start=first):
                (tmp / store.audio_file(i)).write_bytes(blob.tobytes())
    store.write_points(table, tmp / store.POINTS)
    for kind, z in embeddings.items():
        np.save(tmp / store.embeddings_file(kind), z.astype(np.float16))
    (tmp / store.DATASET_INFO).write_text(json.dumps(info, indent=2, allow_nan=False) + "\n", encoding="utf-8")


_MANIFEST_KEYS = ("effect", "plugin", "params", "source", "points", "seed", "ks", "encoders", "store_audio",
                 "controller", "clean", "command", "models")
"""The keys of ``dataset.json`` that a dataset's manifest entry repeats."""


def precompute(
    effect,
    *,
    points: int = 1000,
    source: str = "guitar",
    n_supervised: Iterable[int] = DEFAULT_KS,
    store_audio: bool = False,
    out=None,
    seed: int = 0,
    encoders: Iterable[str] = ENCODERS,
    progress: bool = True,
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    chunk_points: int = CHUNK_POINTS,
) -> Path:
    """Build the dataset of one effect and write it to ``out`` (default ``datasets/EFFECT``).

    Parameters
    ----------
    effect : str, Path or effects.Effect
        Built-in effect name, a ``.vst3`` path, or an effect object.
    points : int
        Number of random settings (uniform in [0, 1]^n, drawn with ``seed``).
    source : str
        Built-in clip name (``sources.builtin_clips()``) or an audio file; its first ``WINDOW``
        samples (zero-padded) are the clean clip.
    n_supervised : iterable of int
        Supervised points per extreme for which a projection is made (0 = unsupervised).
    store_audio : bool
        Also write every point's audio (``audio/{id:05d}.flac``, 24-bit, clipped to ±1);
        required for VST3 plugins, which may be absent where the app runs.
    out : path, optional
        Dataset folder; replaced if it holds a dataset. Only datasets in the data folder's
        ``datasets/`` are recorded in the manifest.
    seed : int
        Seed of the settings and of UMAP.
    encoders : iterable of {"vae", "vq"}
        Encoders to embed with; "vae" is required (the controller reads β-VAE embeddings).
    progress : bool
        Show tqdm progress bars.
    scheduler : str, optional
        Dask scheduler address (default ``$DAFX_EXPLORER_SCHEDULER``); else a local cluster
        (:func:`dafx_explorer.cluster.connect`), or this process for a single chunk.
    workers : int, optional
        Worker processes of the local cluster (default: one per core; 0: this process).
    resume : bool
        Keep the chunks an interrupted run with the same settings finished, compute the rest.
    chunk_points : int
        Points per chunk. The results do not depend on how many workers run the chunks.

    Returns
    -------
    Path
        The dataset folder.
    """
    effect = _resolve_effect(effect)
    points, ks, encoders = _check_arguments(points, n_supervised, encoders)
    plugin = _check_plugin(effect, store_audio)
    folder = _target_folder(effect, out)
    _check_target(folder)
    encoder_models = {kind: models.load_encoder(kind)[0] for kind in encoders}
    controller = _load_controller(effect, plugin)
    window = _load_source(source)
    settings = np.random.default_rng(seed).random((points, effect.n_params)).astype(np.float32)
    command = _command(effect, plugin, points, source, ks, seed, store_audio, out)
    model_hashes = _model_hashes(encoders, effect.name, controller is not None)
    clean = _stored_clean(window)
    bounds = cluster.chunk_bounds(points, chunk_points)
    chunks = cluster.ChunkStore(chunk_folder(folder), {
        "effect": _effect_target(effect, plugin), "points": points, "seed": seed,
        "clean_sha256": hashlib.sha256(clean.tobytes()).hexdigest(), "encoders": list(encoders),
        "store_audio": bool(store_audio), "chunk_points": chunk_points, "models": model_hashes,
    }).open(resume)
    context = _chunk_context(effect, plugin, clean, encoder_models, controller, store_audio)
    fits = [(kind, k) for kind in encoders for k in ks]
    parts, embeddings, coordinates = _render_and_project(chunks, bounds, settings, context, fits, seed,
                                                         name=effect.name, scheduler=scheduler, workers=workers,
                                                         progress=progress)
    table = _points_table(effect, settings, parts, fits, coordinates)
    info = _dataset_info(effect, plugin, source=source, points=points, seed=seed, ks=ks, encoders=encoders,
                         store_audio=store_audio, controller=controller is not None,
                         clean=store.clip_name(clean), clean_embeddings=_clean_embeddings(encoder_models, clean),
                         command=command,
                         model_hashes=model_hashes)
    _write_clip(folder, window, info)
    _write_atomically(folder, lambda tmp: _write_dataset(tmp, bounds, parts, table, embeddings, info))
    chunks.remove()
    info = json.loads((folder / store.DATASET_INFO).read_text(encoding="utf-8"))
    _record(folder, {key: info[key] for key in _MANIFEST_KEYS})
    return folder


def precompute_combined(*, encoders: Iterable[str] = ENCODERS, home=None, seed: int = 0,
                        progress: bool = True) -> Path:
    """Project the embeddings of all datasets together, per encoder (the Latent Space page's map).

    Writes ``datasets/_combined/points.parquet`` with columns ``dataset``, ``effect``, ``id``,
    ``x_{encoder}``, ``y_{encoder}`` (NaN for datasets without that encoder's embeddings) and
    ``combined.json``.

    Returns
    -------
    Path
        The ``_combined`` folder.
    """
    encoders = _check_encoders(encoders, need_vae=False)
    names = store.list_datasets(home)
    if not names:
        raise DataError("there are no datasets to combine; build some first with: "
                        "python -m dafx_explorer precompute --effect E")
    datasets = [store.load_dataset(name, home) for name in names]
    table = pd.DataFrame({
        "dataset": np.concatenate([[d.name] * len(d) for d in datasets]),
        "effect": np.concatenate([[d.effect.name] * len(d) for d in datasets]),
        "id": np.concatenate([d.points["id"].to_numpy(np.int64) for d in datasets]),
    })
    offsets = np.cumsum([0] + [len(d) for d in datasets])
    for kind in tqdm(encoders, desc="combined UMAP", unit="fit", disable=not progress):
        xy = np.full((len(table), 2), np.nan, np.float32)
        having = [j for j, d in enumerate(datasets) if kind in d.encoders]
        if having:
            rows = np.concatenate([np.arange(offsets[j], offsets[j + 1]) for j in having])
            xy[rows] = projection.project(np.concatenate([datasets[j].embeddings_for(kind) for j in having]),
                                          seed=seed)
        table[f"x_{kind}"], table[f"y_{kind}"] = xy[:, 0], xy[:, 1]
    folder = store.settings_for(home).datasets_dir / store.COMBINED
    info = {"datasets": names, "encoders": list(encoders), "seed": seed,
            "command": store.COMBINED_COMMAND, "libraries": manifest.library_versions()}

    def fill(tmp: Path) -> None:
        table.to_parquet(tmp / store.POINTS, index=False, compression=store.PARQUET_COMPRESSION)
        (tmp / COMBINED_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")

    _write_atomically(folder, fill)
    _record(folder, {key: info[key] for key in ("datasets", "encoders", "seed", "command")}, home)
    return folder
