"""Read the precomputed latent-controller datasets (DESIGN §3) written by :mod:`dafx_explorer.precompute`.

A dataset is a folder ``datasets/NAME/`` holding

- ``dataset.json``: effect, parameters, source, points, seed, ks, encoders, command, versions;
- ``points.parquet``: one row per point: ``id``, ``p_{param}`` (true normalized settings),
  ``pred_{param}`` (the controller's prediction), ``brightness_change`` (octaves),
  ``depth_change`` (dB) and ``x_{encoder}_k{k}``, ``y_{encoder}_k{k}`` (UMAP coordinates);
  above :data:`PARTITION_ROWS` points a folder of partitions ``part-{n:05d}.parquet`` in row order;
- ``embeddings_{encoder}.npy``: float16, one row per point;
- ``audio/{id:05d}.flac`` (optional): each point's rendered audio.

Beside the datasets, ``_clips/{name}.flac`` holds the clean analysis window that every point was
rendered from, named in ``dataset.json`` (``clean``) by its samples' hash, so that datasets made from
one source share one file.

Loading reads numpy, pandas and soundfile only: no UMAP, no training code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from dafx_explorer import effects
from dafx_explorer.errors import DataError, EffectError
from dafx_explorer.settings import SAMPLE_RATE, WINDOW, Settings, get_settings

COMBINED = "_combined"
"""Folder (under ``datasets/``) of the projection of all datasets together."""

DATASET_INFO = "dataset.json"
POINTS = "points.parquet"
CLIPS = "_clips"
"""Folder (under ``datasets/``) of the clean clips (:func:`clip_name`)."""
PARQUET_COMPRESSION = "zstd"
"""Codec of the points tables (lossless; about 8 % smaller than pandas' default snappy)."""
AUDIO_DIR = "audio"
COMBINED_COMMAND = "python -m dafx_explorer precompute --combined"

AUDIO_CACHE_SIZE = 32
"""Rendered signals kept per dataset (about 0.5 MB each)."""

SETTINGS_DECIMALS = 6
"""Settings that agree to this many decimals share a cache entry in :meth:`Dataset.render`."""

PARTITION_ROWS = 25_000
"""Rows per partition of a large dataset's ``points.parquet`` folder; smaller tables are one file."""


def embeddings_file(encoder: str) -> str:
    """File name of a dataset's embeddings for ``encoder``."""
    return f"embeddings_{encoder}.npy"


def clip_name(clean: np.ndarray) -> str:
    """File name, under :data:`CLIPS`, of a clean clip: the first 16 hex digits of its float32 samples' SHA-256."""
    return hashlib.sha256(np.asarray(clean, dtype=np.float32).tobytes()).hexdigest()[:16] + ".flac"


def clean_path(folder: Path, info: dict) -> Path:
    """The clean clip of the dataset in ``folder`` (``../_clips/{info['clean']}``)."""
    return folder.parent / CLIPS / info["clean"]


def audio_file(point_id: int) -> str:
    """Path, relative to the dataset folder, of a point's stored audio."""
    return f"{AUDIO_DIR}/{point_id:05d}.flac"


def coordinate_columns(encoder: str, k: int) -> tuple[str, str]:
    """Names of the x and y columns of the projection with ``k`` supervised points."""
    return f"x_{encoder}_k{k}", f"y_{encoder}_k{k}"


def rebuild_command(effect: str, *, plugin: bool = False) -> str:
    """The command that rebuilds the dataset of ``effect`` (a name, or a plugin path)."""
    return f"python -m dafx_explorer precompute --effect {effect}" + (" --store-audio" if plugin else "")


def settings_for(home=None) -> Settings:
    """The settings, with the data folder replaced by ``home`` when given."""
    settings = get_settings()
    return settings if home is None else dataclasses.replace(settings, home=Path(home))


def _datasets_dir(home) -> Path:
    return settings_for(home).datasets_dir


def _read_info(folder: Path) -> dict:
    """``dataset.json`` of ``folder``, checked for the keys the store needs."""
    path = folder / DATASET_INFO
    command = rebuild_command(folder.name)
    if not path.is_file():
        raise DataError(f"dataset {folder.name}: {path} is missing; rebuild it with: {command}")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"dataset {folder.name}: {path} is not valid JSON ({exc}); rebuild it with: {command}"
        ) from None
    required = ("effect", "params", "points", "ks", "encoders", "store_audio", "clean", "clean_embeddings")
    missing = [key for key in required if not isinstance(info, dict) or key not in info]
    if missing:
        raise DataError(f"dataset {folder.name}: {path} lacks {', '.join(missing)}; rebuild it with: {command}")
    if not isinstance(info["clean"], str) or Path(info["clean"]).name != info["clean"] or not info["clean"]:
        raise DataError(f"dataset {folder.name}: {path} names its clean clip {info['clean']!r}, not a file name "
                        f"in {CLIPS}/; rebuild it with: {command}")
    return info


def _complete(folder: Path, info: dict) -> bool:
    """Whether the dataset in ``folder`` has its points, embeddings and clean clip."""
    files = [folder / POINTS, *(folder / embeddings_file(encoder) for encoder in info["encoders"])]
    return files[0].exists() and all(path.is_file() for path in files[1:]) and clean_path(folder, info).is_file()


def write_points(table: pd.DataFrame, path: Path, *, partition_rows: int | None = None) -> None:
    """Write a points table (:data:`PARQUET_COMPRESSION`): one Parquet file, or above ``partition_rows`` rows
    (default :data:`PARTITION_ROWS`) a folder of partitions ``part-00000.parquet``, … of consecutive rows."""
    partition_rows = partition_rows or PARTITION_ROWS
    if len(table) <= partition_rows:
        table.to_parquet(path, index=False, compression=PARQUET_COMPRESSION)
        return
    path.mkdir()
    for number, start in enumerate(range(0, len(table), partition_rows)):
        table.iloc[start : start + partition_rows].to_parquet(path / f"part-{number:05d}.parquet", index=False,
                                                              compression=PARQUET_COMPRESSION)


def list_datasets(home=None) -> list[str]:
    """Sorted names of the complete datasets under the data folder's ``datasets/``.

    Parameters
    ----------
    home : path, optional
        Data folder (default: ``settings.get_settings().home``).
    """
    root = _datasets_dir(home)
    if not root.is_dir():
        return []
    names = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(("_", ".")) or not folder.is_dir():
            continue
        try:
            info = _read_info(folder)
        except DataError:
            continue
        if _complete(folder, info):
            names.append(folder.name)
    return names


class StoredPluginEffect(effects.Effect):
    """A VST3 plugin effect described by a dataset: its parameters, and its file where it may be.

    Settings, descriptions and real values work without the plugin; rendering loads it on first
    use and raises ``EffectError`` if it is absent.
    """

    def __init__(self, name: str, params, path: str, plugin_name: str | None):
        super().__init__(name, params, f"VST3 plugin {Path(path).name}")
        self.path = Path(path)
        self.plugin_name = plugin_name
        self._plugin_effect = None

    def _loaded(self) -> effects.Effect:
        if self._plugin_effect is None:
            self._plugin_effect = effects.load_vst3(self.path, plugin_name=self.plugin_name)
        return self._plugin_effect

    def render(self, audio, sr: int, p) -> np.ndarray:
        """Render with the plugin (loaded on first use); ``EffectError`` if it is absent."""
        return self._loaded().render(audio, sr, p)

    def snippet(self, p) -> str:
        return self._loaded().snippet(p)


def _effect_from_info(info: dict) -> effects.Effect:
    plugin = info.get("plugin")
    if not plugin:
        return effects.get(info["effect"])
    params = [
        effects.Param(item["name"], item["minimum"], item["maximum"], item["unit"], item["scale"], item["default"])
        for item in info["params"]
    ]
    return StoredPluginEffect(info["effect"], params, plugin["path"], plugin.get("plugin_name"))


def settings_columns(param_names, *, predicted: bool = False) -> list[str]:
    """Names of the points table's settings columns: ``p_NAME`` (true) or ``pred_NAME`` (predicted)."""
    return [f"{'pred_' if predicted else 'p_'}{name}" for name in param_names]


class Dataset:
    """One precomputed dataset: points, embeddings, projections, the clean clip and audio on demand.

    Use :func:`load_dataset` to make one. Point ``i`` is row ``i`` of :attr:`points` (its ``id``).

    Attributes
    ----------
    name : str
    folder : Path
    info : dict
        The content of ``dataset.json``.
    effect : effects.Effect
        The built-in effect, or a :class:`StoredPluginEffect` for a VST3 plugin.
    points : pandas.DataFrame
    ks : tuple of int
        Numbers of supervised points with a projection (0 = unsupervised).
    encoders : tuple of str
        Encoders with embeddings and projections ("vae", "vq").
    clean : np.ndarray
        The clean window (float32, ``WINDOW`` samples at ``SAMPLE_RATE``).
    """

    def __init__(self, name: str, folder: Path, info: dict, effect: effects.Effect, points: pd.DataFrame,
                 embeddings: dict[str, np.ndarray], clean: np.ndarray):
        self.name = name
        self.folder = folder
        self.info = info
        self.effect = effect
        self.points = points
        self.ks = tuple(int(k) for k in info["ks"])
        self.encoders = tuple(info["encoders"])
        self.clean = clean
        self.sample_rate = SAMPLE_RATE
        self._embeddings = embeddings
        self._true = points[settings_columns(self.param_names)].to_numpy(np.float64)
        self._predicted = points[settings_columns(self.param_names, predicted=True)].to_numpy(np.float64)
        self._cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, effect={self.effect.name!r}, points={len(self)})"

    def __len__(self) -> int:
        return len(self.points)

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.effect.param_names

    @property
    def embeddings(self) -> np.ndarray:
        """β-VAE embeddings, float32 of shape (N, 128) (the first encoder if there is no β-VAE)."""
        return self.embeddings_for("vae" if "vae" in self.encoders else self.encoders[0])

    def clean_embedding(self, encoder: str = "vae") -> np.ndarray:
        """Embedding of the clean clip from ``encoder``, float32 of shape (D,) (the controller's input)."""
        self._check_encoder(encoder)
        return np.asarray(self.info["clean_embeddings"][encoder], dtype=np.float32)

    def embeddings_for(self, encoder: str) -> np.ndarray:
        """Embeddings from ``encoder`` ("vae" or "vq"), float32 of shape (N, D)."""
        self._check_encoder(encoder)
        return self._embeddings[encoder]

    def projection(self, k: int = 0, encoder: str = "vae") -> np.ndarray:
        """UMAP coordinates with ``k`` supervised points per extreme, float64 of shape (N, 2)."""
        self._check_encoder(encoder)
        if k not in self.ks:
            raise DataError(f"dataset {self.name} has no projection for k={k!r}; available: {list(self.ks)}")
        return self.points[list(coordinate_columns(encoder, k))].to_numpy(np.float64)

    def settings_matrix(self, *, predicted: bool = False) -> np.ndarray:
        """Normalized settings of every point (N, n_params): true, or the controller's prediction."""
        return (self._predicted if predicted else self._true).copy()

    def true_settings(self, i: int) -> np.ndarray:
        """Normalized settings point ``i`` was rendered with, shape (n_params,)."""
        return self._true[self._check_index(i)].copy()

    def predicted_settings(self, i: int) -> np.ndarray:
        """Normalized settings the controller predicts for point ``i`` (NaN where there is no controller)."""
        return self._predicted[self._check_index(i)].copy()

    def audio(self, i: int) -> tuple[np.ndarray, int]:
        """Audio of point ``i``: ``(samples, sample_rate)``, read-only float32 samples.

        Stored audio (``audio/{id:05d}.flac``) when the dataset has it, else the effect
        rendered live on the clean clip with the point's true settings. Both are cached.
        """
        i = self._check_index(i)
        if not self.info["store_audio"]:
            return self.render(self._true[i]), self.sample_rate
        key = ("stored", i)
        cached = self._cached(key)
        if cached is None:
            cached = self._remember(key, self._read_stored_audio(i))
        return cached, self.sample_rate

    def render(self, p) -> np.ndarray:
        """The effect with normalized settings ``p`` (array or {name: value}) on the clean clip.

        Returns read-only float32 samples at ``SAMPLE_RATE``; settings that agree to
        ``SETTINGS_DECIMALS`` decimals share a cached rendering.
        """
        settings = self.effect.normalize_settings(p)
        key = ("render", *np.round(settings, SETTINGS_DECIMALS).tolist())
        cached = self._cached(key)
        if cached is None:
            cached = self._remember(key, self.effect.render(self.clean, self.sample_rate, settings))
        return cached

    def _cached(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def _remember(self, key: tuple, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32)
        samples.flags.writeable = False
        with self._lock:
            self._cache[key] = samples
            while len(self._cache) > AUDIO_CACHE_SIZE:
                self._cache.popitem(last=False)
        return samples

    def _read_stored_audio(self, i: int) -> np.ndarray:
        path = self.folder / audio_file(int(self.points["id"].iat[i]))
        if not path.is_file():
            raise DataError(f"dataset {self.name}: {path} is missing; rebuild it with: {self.info['command']}")
        return _read_flac(path, self.name, self.info["command"])

    def _check_encoder(self, encoder: str) -> None:
        if encoder not in self.encoders:
            raise DataError(f"dataset {self.name} has no {encoder!r} embeddings; available: {list(self.encoders)}")

    def _check_index(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < len(self):
            raise DataError(f"dataset {self.name} has points 0 to {len(self) - 1}, got {i!r}")
        return int(i)


def _read_flac(path: Path, name: str, command: str) -> np.ndarray:
    try:
        samples, sr = sf.read(path, dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DataError(f"dataset {name}: {path} is unreadable ({exc}); rebuild it with: {command}") from None
    if sr != SAMPLE_RATE or samples.ndim != 1:
        raise DataError(f"dataset {name}: {path} must be mono at {SAMPLE_RATE} Hz, got {sr} Hz, "
                        f"shape {samples.shape}; rebuild it with: {command}")
    return samples


def _read_points(path: Path, name: str, command: str) -> pd.DataFrame:
    """A points table: one Parquet file or a folder of partitions (:func:`write_points`)."""
    parts = sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]
    if not path.exists() or not parts:
        raise DataError(f"dataset {name}: {path} is missing; rebuild it with: {command}")
    try:
        tables = [pd.read_parquet(part) for part in parts]
        return tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
    except (OSError, ValueError) as exc:
        raise DataError(f"dataset {name}: {path} is unreadable ({exc}); rebuild it with: {command}") from None


def _read_embeddings(path: Path, name: str, command: str, rows: int) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"dataset {name}: {path} is missing; rebuild it with: {command}")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"dataset {name}: {path} is unreadable ({exc}); rebuild it with: {command}") from None
    if array.ndim != 2 or array.shape[0] != rows:
        raise DataError(f"dataset {name}: {path} has shape {array.shape} but {POINTS} has {rows} rows; "
                        f"rebuild it with: {command}")
    return array.astype(np.float32)


def load_dataset(name: str, home=None) -> Dataset:
    """Load the dataset ``name`` from the data folder's ``datasets/``.

    Parameters
    ----------
    name : str
        Dataset (folder) name, e.g. ``"overdrive"``; see :func:`list_datasets`.
    home : path, optional
        Data folder (default: ``settings.get_settings().home``).

    Raises
    ------
    DataError
        A missing or inconsistent file; the one-line message names the file and the command
        that rebuilds the dataset.
    """
    if not isinstance(name, str) or not name or Path(name).name != name or name.startswith(("_", ".")):
        raise DataError(f"dataset name must be a plain folder name, got {name!r}")
    folder = _datasets_dir(home) / name
    if not folder.is_dir():
        available = ", ".join(list_datasets(home)) or "none"
        raise DataError(f"no dataset {name!r} in {folder.parent} (available: {available}); "
                        f"build it with: {rebuild_command(name)}")
    info = _read_info(folder)
    command = info.get("command") or rebuild_command(info["effect"])
    points_path = folder / POINTS
    points = _read_points(points_path, name, command)
    if len(points) != info["points"]:
        raise DataError(f"dataset {name}: {points_path} has {len(points)} rows but {DATASET_INFO} says "
                        f"{info['points']}; rebuild it with: {command}")
    param_names = [item["name"] for item in info["params"]]
    wanted = ["id", "brightness_change", "depth_change"]
    wanted += [f"{prefix}_{param}" for prefix in ("p", "pred") for param in param_names]
    wanted += [column for encoder in info["encoders"] for k in info["ks"] for column in coordinate_columns(encoder, k)]
    missing = [column for column in wanted if column not in points.columns]
    if missing:
        raise DataError(f"dataset {name}: {points_path} lacks column(s) {', '.join(missing[:4])}"
                        f"{' …' if len(missing) > 4 else ''}; rebuild it with: {command}")
    embeddings = {
        encoder: _read_embeddings(folder / embeddings_file(encoder), name, command, len(points))
        for encoder in info["encoders"]
    }
    clip = clean_path(folder, info)
    if not clip.is_file():
        raise DataError(f"dataset {name}: its clean clip {clip} is missing; rebuild it with: {command}")
    clean = _read_flac(clip, name, command)
    if len(clean) != WINDOW:
        raise DataError(f"dataset {name}: {clip} has {len(clean)} samples, expected {WINDOW}; "
                        f"rebuild it with: {command}")
    try:
        effect = _effect_from_info(info)
    except (EffectError, KeyError, TypeError) as exc:
        raise DataError(f"dataset {name}: {folder / DATASET_INFO} describes no usable effect ({exc}); "
                        f"rebuild it with: {command}") from None
    if list(effect.param_names) != param_names:
        raise DataError(f"dataset {name}: {folder / DATASET_INFO} lists parameters {param_names} but effect "
                        f"{effect.name} has {list(effect.param_names)}; rebuild it with: {command}")
    return Dataset(name, folder, info, effect, points, embeddings, clean)


def load_combined(encoder: str = "vae", home=None) -> pd.DataFrame:
    """The projection of all datasets' embeddings together, for one encoder.

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset``, ``effect``, ``id`` (point of that dataset), ``x``, ``y``; one row per
        point of each dataset that has the encoder's embeddings.

    Raises
    ------
    DataError
        If ``datasets/_combined/points.parquet`` is missing or lacks the encoder's columns.
    """
    path = _datasets_dir(home) / COMBINED / POINTS
    table = _read_points(path, COMBINED, COMBINED_COMMAND)
    columns = ["dataset", "effect", "id", f"x_{encoder}", f"y_{encoder}"]
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise DataError(f"dataset {COMBINED}: {path} lacks column(s) {', '.join(missing)}; "
                        f"rebuild it with: {COMBINED_COMMAND}")
    table = table.loc[table[f"x_{encoder}"].notna(), columns]  # datasets without this encoder have NaN
    return table.rename(columns={f"x_{encoder}": "x", f"y_{encoder}": "y"}).reset_index(drop=True)
