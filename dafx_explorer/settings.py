"""Constants and the one settings object every path in the package comes from.

Environment variables
---------------------
DAFX_EXPLORER_HOME
    Folder of the precomputed data: models, datasets, source clips, manifest
    (default: ``precomputed/`` in the repository).
DAFX_EXPLORER_DB
    SQLite file for listening-test answers (default: ``data/listening.sqlite`` in the
    repository; a folder meant to be a volume in Docker).
DAFX_EXPLORER_ADMIN_PASSWORD
    Password of the Results page; unset means the page shows nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 24_000
"""Every signal inside the package is mono float32 at this rate (Hz)."""

WINDOW = 131_072
"""Analysis window in samples (5.46 s at 24 kHz)."""

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository (or installed tree) root: ``precomputed/`` and ``data/`` are found from it."""


@dataclass(frozen=True)
class Settings:
    """Where data lives and the limits applied to user audio."""

    home: Path
    db_path: Path
    max_audio_seconds: float = 600.0
    max_file_bytes: int = 100 * 1024 * 1024
    admin_password: str | None = None

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def sources_dir(self) -> Path:
        return self.home / "sources"

    @property
    def runs_dir(self) -> Path:
        """Checkpoints, loss logs and cached training pairs (not shipped)."""
        return self.home / "runs"

    @property
    def manifest_path(self) -> Path:
        return self.home / "manifest.json"

    @property
    def listening_set_path(self) -> Path:
        return self.home / "listening_set.json"


def get_settings() -> Settings:
    """Read the settings from the environment (cheap; call it where needed)."""
    home = Path(os.environ.get("DAFX_EXPLORER_HOME") or REPO_ROOT / "precomputed")
    db = Path(os.environ.get("DAFX_EXPLORER_DB") or REPO_ROOT / "data" / "listening.sqlite")
    return Settings(
        home=home,
        db_path=db,
        admin_password=os.environ.get("DAFX_EXPLORER_ADMIN_PASSWORD") or None,
    )
