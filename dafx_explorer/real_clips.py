"""The shipped real recordings: a few short clips cut from Debian's sound packages, with their credits.

Each clip in :data:`CLIPS` names the package files it is cut from, who recorded them and the
licence. ``python -m dafx_explorer sources --real`` writes them to the data folder's ``sources/``
as ``NAME.flac`` (mono, 24 kHz, RMS -20 dBFS, :data:`CLIP_SECONDS` long) beside ``sources.json``,
the catalogue the app reads to credit them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from dafx_explorer import corpus, manifest
from dafx_explorer.errors import DataError
from dafx_explorer.settings import SAMPLE_RATE, get_settings

CLIP_SECONDS = 10.0
"""Length of every real clip (s): two 5 s MUSHRA stimuli, one after the other."""
FADE_SECONDS = 0.02
"""Fade-out at each clip's cut end (s), so the cut does not click."""
CATALOGUE = "sources.json"
"""File beside the clips that lists each one's origin, licence and credit."""


@dataclass(frozen=True)
class RealClip:
    """One real clip: what it is, the package files it is cut from, and its credit and licence."""

    title: str
    origin: str
    package: str
    files: tuple[str, ...]
    licence: str
    credit: str

    @property
    def held_out(self) -> bool:
        """Whether no model trained on this material (the corpus's held-out split)."""
        if self.origin == "asterisk":
            return Path(self.files[0]).parent.name == corpus.ASTERISK_SPEAKERS[corpus.ASTERISK_HELD_OUT]
        return corpus.is_held_out(Path(self.files[0]).stem)


def _prompts(speaker: str, *names: str) -> tuple[str, ...]:
    return tuple(str(corpus.ASTERISK_DIR / speaker / f"{name}.g722") for name in names)


_PROMPTS = ("conf-onlyperson", "cannot-complete-as-dialed", "check-number-dial-again", "conf-waitforleader")
CLIPS = {
    "voice_en": RealClip("English speech (female voice prompts)", "asterisk", "asterisk-core-sounds-en-g722",
                         _prompts(corpus.ASTERISK_SPEAKERS["en"], *_PROMPTS), "CC-BY-SA-3.0",
                         "Allison Smith (theivrvoice.com), Digium, Inc."),
    "voice_it": RealClip("Italian speech (male voice prompts)", "asterisk", "asterisk-core-sounds-it-g722",
                         _prompts(corpus.ASTERISK_SPEAKERS["it"], *_PROMPTS), "CC-BY-3.0",
                         "Carlo Flora (carloflora.com)"),
    "guitar_em9": RealClip("Acoustic guitar, an E minor 9 chord", "sonic-pi", "sonic-pi-samples",
                           (str(corpus.SONIC_PI_DIR / "guit_em9.flac"),), "CC0-1.0", "Sub-d (freesound.org/s/46992)"),
    "tabla": RealClip("Tabla loop", "sonic-pi", "sonic-pi-samples", (str(corpus.SONIC_PI_DIR / "loop_tabla.flac"),),
                      "CC0-1.0", "lezaarth (freesound.org/s/242591)"),
}
"""The real clips by name (also their file names in ``sources/``)."""
REBUILD_COMMAND = "python -m dafx_explorer sources --real"
"""The command that writes the real clips again."""


def _decode(clip: RealClip) -> np.ndarray:
    """The clip's package files as one 24 kHz mono signal, looped or cut to :data:`CLIP_SECONDS`."""
    missing = [f for f in clip.files if not Path(f).is_file()]
    if missing:
        raise DataError(f"{missing[0]} is missing; install the Debian package {clip.package}")
    if clip.origin == "asterisk":
        if shutil.which("ffmpeg") is None:
            raise DataError("ffmpeg is needed to decode the voice prompts; install the Debian package ffmpeg")
        gap = np.zeros(int(corpus.PROMPT_GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
        samples = np.concatenate([piece for f in clip.files for piece in (corpus.decode_g722([Path(f)]), gap)])
    else:
        samples = corpus.read_trusted(Path(clip.files[0]))
    samples = corpus.fit_length(samples, int(CLIP_SECONDS * SAMPLE_RATE))
    fade = int(FADE_SECONDS * SAMPLE_RATE)
    samples[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return corpus.loudness_normalize(samples)


def held_out_names() -> list[str]:
    """Names of the real clips that no model trained on (what the MUSHRA set is built from)."""
    return [name for name, clip in CLIPS.items() if clip.held_out]


def write_real_clips(folder: str | Path, names=None) -> list[Path]:
    """Cut the real clips (default: all of :data:`CLIPS`) from their packages into ``folder`` as 16-bit
    FLAC, update the catalogue there, and return the clips' paths.

    Raises
    ------
    DataError
        If a package file or ffmpeg is missing, or a name is unknown.
    """
    folder = Path(folder)
    unknown = sorted(set(names or ()) - set(CLIPS))
    if unknown:
        raise DataError(f"no real clip {unknown[0]!r}; real clips are {', '.join(CLIPS)}")
    folder.mkdir(parents=True, exist_ok=True)
    entries, paths = _read_catalogue(folder / CATALOGUE), []
    for name in names or CLIPS:
        clip = CLIPS[name]
        path = folder / f"{name}.flac"
        sf.write(path, _decode(clip), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        entries[name] = {**asdict(clip), "held_out": clip.held_out, "seconds": CLIP_SECONDS,
                         "sha256": manifest.file_sha256(path)}
        paths.append(path)
    (folder / CATALOGUE).write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")
    return paths


def _read_catalogue(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{path} is unreadable ({error}); write it again with: {REBUILD_COMMAND}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} must hold a JSON object; write it again with: {REBUILD_COMMAND}")
    return data


def catalogue() -> dict[str, dict]:
    """The shipped real clips' catalogue (``sources/sources.json``) by name; empty where none is shipped."""
    return _read_catalogue(get_settings().sources_dir / CATALOGUE)


def credit(name: str) -> str | None:
    """One line crediting a shipped real clip ("title: credit, licence"), or None for a generated clip."""
    entry = catalogue().get(name)
    if entry is None:
        return None
    return f"{entry['title']}: {entry['credit']}, {entry['licence']} (Debian {entry['package']})"
