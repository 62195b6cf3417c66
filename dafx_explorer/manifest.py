"""``manifest.json``: how every shipped model and dataset was made (command, config, sources,
library versions, content hashes). Entries are merged, never clobbered, and written atomically;
a lock file beside the manifest lets several training or precompute processes record at once."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shlex
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from dafx_explorer.settings import get_settings

LIBRARIES = ("torch", "numpy", "pedalboard", "librosa", "umap-learn", "streamlit", "soundfile")
"""Libraries whose versions each manifest entry records."""


def file_sha256(path: Path | str) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape the results."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine(device=None) -> str:
    """A one-line description of this machine (processor, cores, and the GPU when ``device``,
    a ``torch.device``, is a CUDA one)."""
    text = f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} cores"
    if device is not None and device.type == "cuda":
        import torch

        text += f", {torch.cuda.get_device_name(device)}"
    return text


def command_line() -> str:
    """The command that is running, as typed (``python -m dafx_explorer …``)."""
    return shlex.join(["python", *sys.orig_argv[1:]])


def read(path: Path | None = None) -> dict:
    """The manifest as a dict with "models" and "datasets" sections (empty if there is none)."""
    path = path or get_settings().manifest_path
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("models", {})
    data.setdefault("datasets", {})
    return data


def record(section: str, name: str, entry: dict, path: Path | None = None) -> None:
    """Add or replace one entry of ``section`` ("models" or "datasets"), stamped with time and versions."""
    path = path or get_settings().manifest_path
    stamped = {**entry, "created": datetime.now(UTC).isoformat(timespec="seconds"), "libraries": library_versions()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        data = read(path)
        data.setdefault(section, {})[name] = stamped
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
            json.dump(data, tmp, indent=2, sort_keys=True)
        os.replace(tmp.name, path)
