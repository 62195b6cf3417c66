"""Build the latent-controller datasets (DESIGN §3) that :mod:`dafx_explorer.store` reads.

For one effect and one clean clip: draw seeded uniform settings, render the clip's analysis
window with each, embed the renderings with each encoder, predict settings with the effect's
controller, measure brightness and depth change, and project the embeddings to 2-D with UMAP
(unsupervised and semi-supervised for each k). :func:`precompute_combined` projects all datasets
together for the Latent Space page.
"""

from __future__ import annotations

import hashlib
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

from dafx_explorer import audio, effects, features, manifest, models, projection, sources, store
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
    encoders = tuple(dict.fromkeys(encoders))
    unknown = [e for e in encoders if e not in ENCODERS]
    if unknown or "vae" not in encoders:
        raise DataError(f"encoders must include 'vae' (the controller's) and be among {list(ENCODERS)}, "
                        f"got {list(encoders)}")
    return int(points), tuple(sorted({int(k) for k in ks})), encoders


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


def _command(effect: effects.Effect, plugin: bool, points, source, ks, seed, store_audio, out) -> str:
    target = str(effect.path) if plugin else effect.name
    parts = ["python", "-m", "dafx_explorer", "precompute", "--effect", target, "--points", str(points),
             "--source", source, "--n-supervised", *map(str, ks), "--seed", str(seed)]
    if store_audio:
        parts.append("--store-audio")
    if out is not None:
        parts += ["--out", str(out)]
    return shlex.join(parts)


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
    """SHA-256 of each file of a dataset folder; stored audio gets one digest over all its files."""
    hashes = {path.name: manifest.file_sha256(path) for path in sorted(folder.iterdir()) if path.is_file()}
    audio_dir = folder / store.AUDIO_DIR
    if audio_dir.is_dir():
        digest = hashlib.sha256()
        for path in sorted(audio_dir.iterdir()):
            digest.update(f"{path.name} {manifest.file_sha256(path)}\n".encode())
        hashes[f"{store.AUDIO_DIR}/"] = digest.hexdigest()
    return hashes


def _record(folder: Path, entry: dict, home=None) -> None:
    """Add a dataset to the manifest of ``home`` (default: the data folder) if it lives in its ``datasets/``."""
    settings = store.settings_for(home)
    if folder.resolve().parent != settings.datasets_dir.resolve():
        return
    path = folder.resolve().relative_to(settings.home.resolve()).as_posix()
    manifest.record("datasets", folder.name, {**entry, "path": path, "files": _file_hashes(folder)},
                    path=settings.manifest_path)


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

    Returns
    -------
    Path
        The dataset folder.
    """
    effect = _resolve_effect(effect)
    points, ks, encoders = _check_arguments(points, n_supervised, encoders)
    plugin = isinstance(effect, effects.PluginEffect)
    if plugin and not store_audio:
        raise DataError(f"plugin effect {effect.name} needs --store-audio: the plugin may be absent where the "
                        f"app runs")
    default_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", effect.name)
    folder = Path(out) if out is not None else get_settings().datasets_dir / default_name
    _check_target(folder)
    encoder_models = {kind: models.load_encoder(kind)[0] for kind in encoders}
    controller = _load_controller(effect, plugin)
    window = _load_source(source)
    settings = np.random.default_rng(seed).random((points, effect.n_params)).astype(np.float32)
    command = _command(effect, plugin, points, source, ks, seed, store_audio, out)

    def fill(tmp: Path) -> None:
        audio.save(tmp / store.CLEAN, window)
        clean, _ = sf.read(tmp / store.CLEAN, dtype="float32")  # render from exactly what is stored
        clean_mel = features.mel_features(clean)
        z_clean = {kind: _embed(model, clean_mel) for kind, model in encoder_models.items()}
        embeddings = {kind: np.empty((points, z.shape[1]), np.float32) for kind, z in z_clean.items()}
        predicted = np.full((points, effect.n_params), np.nan, np.float32)
        brightness = np.empty(points)
        depth = np.empty(points)
        if store_audio:
            (tmp / store.AUDIO_DIR).mkdir()
        with tqdm(total=points, desc=f"{effect.name}: render and embed", unit="point", disable=not progress) as bar:
            for start in range(0, points, EMBED_BATCH):
                rows = slice(start, min(start + EMBED_BATCH, points))
                rendered = np.stack([effect.render(clean, SAMPLE_RATE, p) for p in settings[rows]])
                if store_audio:
                    for i, samples in zip(range(rows.start, rows.stop), rendered, strict=True):
                        audio.save(tmp / store.audio_file(i), samples)
                brightness[rows], depth[rows] = features.descriptor_changes(rendered, clean)
                mel = features.mel_features(rendered)
                for kind, model in encoder_models.items():
                    embeddings[kind][rows] = _embed(model, mel)
                if controller is not None:
                    z_target = torch.from_numpy(embeddings["vae"][rows])
                    with torch.no_grad():
                        predicted[rows] = controller(torch.from_numpy(z_clean["vae"]).expand_as(z_target),
                                                     z_target).numpy()
                bar.update(rows.stop - rows.start)
        table = {"id": np.arange(points, dtype=np.int64)}
        table.update({f"p_{name}": settings[:, j] for j, name in enumerate(effect.param_names)})
        table.update({f"pred_{name}": predicted[:, j] for j, name in enumerate(effect.param_names)})
        table["brightness_change"] = brightness.astype(np.float32)
        table["depth_change"] = depth.astype(np.float32)
        with tqdm(total=len(encoders) * len(ks), desc=f"{effect.name}: UMAP", unit="fit",
                  disable=not progress) as fits:
            for kind in encoders:
                for k in ks:
                    labels = projection.semi_supervised_labels(brightness, depth, k)
                    xy = projection.project(embeddings[kind], labels, seed=seed)
                    x_column, y_column = store.coordinate_columns(kind, k)
                    table[x_column], table[y_column] = xy[:, 0], xy[:, 1]
                    fits.update()
        pd.DataFrame(table).to_parquet(tmp / store.POINTS, index=False)
        for kind, z in embeddings.items():
            np.save(tmp / store.embeddings_file(kind), z.astype(np.float16))
        info = {
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
            "controller": controller is not None,
            "sample_rate": SAMPLE_RATE,
            "window": WINDOW,
            "clean_embeddings": {kind: z[0].tolist() for kind, z in z_clean.items()},
            "command": command,
            "libraries": manifest.library_versions(),
            "models": _model_hashes(encoders, effect.name, controller is not None),
        }
        (tmp / store.DATASET_INFO).write_text(json.dumps(info, indent=2, allow_nan=False) + "\n", encoding="utf-8")

    _write_atomically(folder, fill)
    config_keys = ("effect", "plugin", "params", "source", "points", "seed", "ks", "encoders", "store_audio",
                   "controller", "command", "models")
    info = json.loads((folder / store.DATASET_INFO).read_text(encoding="utf-8"))
    _record(folder, {key: info[key] for key in config_keys})
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
    encoders = tuple(dict.fromkeys(encoders))
    unknown = [e for e in encoders if e not in ENCODERS]
    if unknown or not encoders:
        raise DataError(f"encoders must be among {list(ENCODERS)}, got {list(encoders)}")
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
        table.to_parquet(tmp / store.POINTS, index=False)
        (tmp / COMBINED_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")

    _write_atomically(folder, fill)
    _record(folder, {key: info[key] for key in ("datasets", "encoders", "seed", "command")}, home)
    return folder
