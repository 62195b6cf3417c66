"""Clean recordings for training and evaluation, and where each came from.

The models need many kinds of material, so the corpus gathers: ``generated`` (the project's own
synthetic clips, :mod:`dafx_explorer.sources`), ``sonic-pi`` (Debian's recorded loops, and one-shots
arranged into rhythm patterns), ``wesnoth`` (recorded game music), ``speech`` (``espeak-ng`` with many
voices), ``fluidsynth`` (random General-MIDI phrases), ``asterisk`` (studio voice prompts of five
speakers; the Italian one is held out entirely), ``lincity`` (recorded music, held out entirely) and
``folder`` (the user's files). Each recording keeps its origin, and the manifest lists what a model saw.

Everything is split once into training and held-out material by a stable hash of each name (one in
five held out; generated clips by seed), so ``evaluate`` never hears what training heard. :func:`real`
is the recorded-only split of the settings estimator and ``evaluate --real``. A built split can be
written to a folder and read back (:func:`export`, :func:`load_exported`, ``corpus-export``), for a
machine without the Debian packages.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from dafx_explorer import audio, sources
from dafx_explorer.errors import DataError
from dafx_explorer.settings import SAMPLE_RATE

RECORDING_SECONDS = 12.0
"""Length of every corpus recording (s): long enough for two different analysis windows."""

SONIC_PI_DIR = Path("/usr/share/sonic-pi/samples")
"""Debian's ``sonic-pi-samples``: loops and one-shots."""
WESNOTH_DIR = Path("/usr/share/games/wesnoth/1.16/data/core/music")
"""Debian's ``wesnoth-1.16-music``: recorded acoustic and orchestral tracks."""
SILENCE_RMS = 1e-3
"""Recordings quieter than this RMS (-60 dBFS) before normalization are left out: raised to
speech level, a noise floor would train as content."""
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
"""Debian's ``fluid-soundfont-gm``, the instruments of the fluidsynth renders."""
ASTERISK_DIR = Path("/usr/share/asterisk/sounds")
"""Debian's ``asterisk-core-sounds-*-g722``: studio voice prompts, one folder per speaker."""
ASTERISK_SPEAKERS = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June",
                     "it": "it_IT_m_Carlo", "ru": "ru_RU_f_IvrvoiceRU"}
"""Language → folder of each asterisk speaker (Allison speaks both English and Spanish)."""
ASTERISK_HELD_OUT = "it"
"""The language whose speaker (the only male one) no model trains on."""
LINCITY_DIR = Path("/usr/share/games/lincity-ng/music/default")
"""Debian's ``lincity-ng-data`` music: three recorded tracks, all held out."""
G722_BYTES_PER_SECOND = 8000
"""Bytes per second of a G.722 file (64 kbit/s), to find a prompt's length without decoding it."""
PROMPT_GAP_SECONDS = 0.25
"""Silence between the voice prompts joined into one speech recording (s)."""
LICENCES = {
    "generated": "DAFX Explorer's own code (this repository)",
    "sonic-pi": "Debian sonic-pi-samples: CC0 / public domain (see /usr/share/doc/sonic-pi-samples/copyright)",
    "wesnoth": "Debian wesnoth-1.16-music: GPL-2+",
    "speech": "espeak-ng synthesis (GPL-3+ software; the output is free of restrictions)",
    "fluidsynth": "fluidsynth renders with Debian fluid-soundfont-gm (MIT)",
    "asterisk": "Debian asterisk-core-sounds-{en,es,fr,it,ru}-g722: CC-BY-SA-3.0 (Allison Smith, June Wallack; "
                "Digium, Inc.) and CC-BY-3.0 (Carlo Flora, Maxim Topal)",
    "lincity": "Debian lincity-ng-data music: GPL-2+ (pronobozo, Robert van Herk)",
    "folder": "the user's own files",
}
"""Where each origin comes from and under which licence (recorded in the manifest)."""
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
"""File endings read from a user's folder."""

SENTENCES = (
    "The tape machine hummed quietly while the band tuned their instruments.",
    "Please bring the red folder to the second floor before noon.",
    "A gentle breeze moved across the harbour as the boats came home.",
    "Turn the dial slowly until the needle rests in the middle.",
    "We measured the echo of the hall with a single handclap.",
    "Every morning she walks along the river with her old dog.",
    "The recipe asks for two cups of flour and a pinch of salt.",
    "Listen carefully to the difference between these two recordings.",
    "He played the same chord again, louder, and the room rang with it.",
    "Numbers such as seventeen and forty two are easy to remember.",
    "The train to the coast leaves at half past seven tonight.",
    "Quiet voices carried through the empty corridor of the museum.",
    "Could you describe the sound you hear in a few simple words?",
    "Bright cymbals and a deep bass drum opened the second song.",
    "The weather report promised rain, but the sky stayed clear.",
    "Our neighbour fixed the broken fence with three new boards.",
    "Many listeners prefer a warm tone with a little distortion.",
    "At the end of the day the market square was finally silent.",
    "Write your answer on the card and hand it to the person beside you.",
    "The old radio crackled before the announcer began to speak.",
    "Strong coffee and fresh bread make a fine breakfast.",
    "Walk three blocks north, then take the first street on the left.",
    "The choir rehearsed the final chorus until it sounded right.",
    "Children laughed as the kite climbed higher into the wind.",
    "Keep the microphone a hand's width away from your mouth.",
    "This sentence was spoken by a machine for testing audio effects.",
    "Thunder rolled over the hills long after the lightning faded.",
    "She counted the steps from the door to the window: twenty one.",
    "Sharp consonants and long vowels reveal the character of a room.",
    "The engineer raised the fader and the vocals filled the mix.",
)
"""English sentences of the espeak-ng speech (three per utterance); some are held out by hash."""
VOICES = ("en", "en-us", "en-gb-scotland", "de", "fr", "es", "it", "nl", "pt", "sv")
"""espeak-ng languages the speech is spoken in."""
VARIANTS = ("m1", "m3", "m5", "m7", "f1", "f2", "f3", "f4", "klatt", "klatt3", "whisper", "croak")
"""espeak-ng voice variants (male, female, formant-synthesis, whisper and croak voices)."""
GM_PROGRAMS = (0, 4, 11, 19, 24, 25, 27, 29, 32, 33, 40, 42, 48, 56, 61, 65, 71, 73, 80, 88)
"""General-MIDI programs: pianos, organ, guitars, basses, strings, brass, reeds, flute, synths."""


@dataclass(frozen=True)
class Recording:
    """One clean recording: a unique name, where it came from, and its samples (24 kHz mono)."""

    name: str
    origin: str
    samples: np.ndarray


def same_work(a: Recording, b: Recording) -> bool:
    """Whether two recordings were cut from one work (the segments of one Wesnoth or lincity-ng track are)."""
    if a.origin == b.origin and a.origin in ("wesnoth", "lincity"):
        return a.name.rsplit(":", 1)[0] == b.name.rsplit(":", 1)[0]
    return a.name == b.name


def is_held_out(name: str) -> bool:
    """Whether a recording belongs to the held-out split (stable: one in five names)."""
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 5 == 0


def fit_length(samples: np.ndarray, n: int) -> np.ndarray:
    """Loop (or cut) a signal to exactly ``n`` samples."""
    if len(samples) >= n:
        return samples[:n].astype(np.float32)
    return np.resize(samples, n).astype(np.float32)


def _rms(samples: np.ndarray) -> float:
    """Root-mean-square level of a signal (full scale 1.0)."""
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def loudness_normalize(samples: np.ndarray, rms_db: float = -20.0) -> np.ndarray:
    """Scale to a given RMS level (dBFS), keeping the peak at or below 0.99; a signal quieter
    than :data:`SILENCE_RMS` is left as it is (and :func:`build` leaves it out)."""
    rms = _rms(samples)
    if rms < SILENCE_RMS:
        return samples
    gain = min(10 ** (rms_db / 20) / rms, 0.99 / max(float(np.max(np.abs(samples))), 1e-9))
    return (samples * gain).astype(np.float32)


def read_trusted(path: Path, *, start_seconds: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """Read (part of) a file from a trusted system package, as 24 kHz mono."""
    info = sf.info(str(path))
    start = int(start_seconds * info.samplerate)
    frames = -1 if seconds is None else int(seconds * info.samplerate)
    data, sr = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    return audio.to_mono_24k(data, sr)


def is_audible(recording: Recording) -> bool:
    """Whether a recording is louder than :data:`SILENCE_RMS` (quieter ones are left out of every corpus)."""
    return _rms(recording.samples) >= SILENCE_RMS


def _make(name: str, origin: str, samples: np.ndarray) -> Recording:
    n = int(RECORDING_SECONDS * SAMPLE_RATE)
    return Recording(name, origin, loudness_normalize(fit_length(samples, n)))


def generated(split: str, count: int) -> list[Recording]:
    """The project's synthetic clips, ``count`` per kind, seeds of the split."""
    first = sources.EVAL_SEED_START if split == "eval" else 1
    out = []
    for kind in sources.KINDS:
        for seed in range(first, first + count):
            samples = sources.generate(kind, seed=seed, seconds=RECORDING_SECONDS)
            out.append(_make(f"generated:{kind}:{seed}", "generated", samples))
    return out


def sonic_pi(split: str, rng: np.random.Generator, patterns: int = 40) -> list[Recording]:
    """Debian's sonic-pi loops as they are, and its one-shots arranged into rhythm patterns."""
    if not SONIC_PI_DIR.is_dir():
        return []
    files = sorted(SONIC_PI_DIR.glob("*.flac"))
    loops = [f for f in files if f.stem.startswith(("loop_", "ambi_", "guit_", "bass_"))]
    shots = [f for f in files if f.stem.startswith(("bd_", "sn_", "drum_", "elec_", "tabla_", "perc_"))]
    want = split == "eval"
    out = [_make(f"sonic-pi:{f.stem}", "sonic-pi", read_trusted(f)) for f in loops if is_held_out(f.stem) == want]
    pool = [read_trusted(f) for f in shots if is_held_out(f.stem) == want]
    n = int(RECORDING_SECONDS * SAMPLE_RATE)
    for index in range(patterns if pool else 0):
        pattern = np.zeros(n + SAMPLE_RATE, dtype=np.float32)
        step = int(SAMPLE_RATE * 60 / rng.uniform(80, 160) / 4)
        chosen = [pool[i] for i in rng.choice(len(pool), size=min(4, len(pool)), replace=False)]
        for start in range(0, n, step):
            if rng.random() < 0.45:
                shot = chosen[rng.integers(len(chosen))][: SAMPLE_RATE]
                pattern[start : start + len(shot)] += shot * rng.uniform(0.4, 1.0)
        out.append(_make(f"sonic-pi-pattern:{split}:{index}", "sonic-pi", pattern[:n]))
    return out


def wesnoth(split: str, rng: np.random.Generator, per_track: int = 3) -> list[Recording]:
    """Segments of Debian's recorded Wesnoth soundtrack (acoustic and orchestral music)."""
    if not WESNOTH_DIR.is_dir():
        return []
    out = []
    for path in sorted(WESNOTH_DIR.glob("*.ogg")):
        if is_held_out(path.stem) != (split == "eval"):
            continue
        duration = sf.info(str(path)).duration
        slack = max(duration - RECORDING_SECONDS, 0.0)
        margin = min(5.0, slack / 2)  # skip up to 5 s of intro and outro, as far as the track allows
        for index in range(per_track):
            # one draw per segment whatever the track's length, so later tracks and sources keep theirs
            start = float(rng.uniform(margin, max(slack - margin, margin)))
            samples = read_trusted(path, start_seconds=start, seconds=RECORDING_SECONDS)
            out.append(_make(f"wesnoth:{path.stem}:{index}", "wesnoth", samples))
    return out


def speech(split: str, rng: np.random.Generator, count: int = 60) -> list[Recording]:
    """Sentences spoken by espeak-ng with varied voices, rates and pitches."""
    if shutil.which("espeak-ng") is None:
        return []
    sentences = [i for i in range(len(SENTENCES)) if is_held_out(f"sentence:{i}") == (split == "eval")]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(count):
            voice = f"{VOICES[rng.integers(len(VOICES))]}+{VARIANTS[rng.integers(len(VARIANTS))]}"
            text = " ".join(SENTENCES[i] for i in rng.choice(sentences, size=min(3, len(sentences)), replace=False))
            wav = Path(tmp) / f"{index}.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", str(int(rng.uniform(120, 190))), "-p", str(int(rng.uniform(20, 80))),
                 "-w", str(wav), text],
                check=True, capture_output=True, timeout=30,
            )
            out.append(_make(f"speech:{split}:{index}", "speech", read_trusted(wav)))
    return out


def midi_file(notes: list[tuple[int, int, int, int]], program: int, ticks_per_beat: int = 480) -> bytes:
    """A one-track Standard MIDI File; ``notes`` are (start tick, length ticks, pitch, velocity)."""
    events = []
    for start, length, pitch, velocity in notes:
        events.append((start, 1, bytes([0x90, pitch, velocity])))
        events.append((start + length, 0, bytes([0x80, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    track, now = bytearray(bytes([0x00, 0xC0, program])), 0
    for tick, _, message in events:
        delta, now = tick - now, tick
        encoded = [delta & 0x7F]
        while delta > 0x7F:
            delta >>= 7
            encoded.insert(0, (delta & 0x7F) | 0x80)
        track += bytes(encoded) + message
    track += bytes([0x00, 0xFF, 0x2F, 0x00])
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_beat)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def fluidsynth(split: str, rng: np.random.Generator, count: int = 40) -> list[Recording]:
    """Random melodic and chordal phrases on General-MIDI instruments, rendered by fluidsynth."""
    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        return []
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(count):
            name = f"fluidsynth:{split}:{index}"
            program = int(GM_PROGRAMS[rng.integers(len(GM_PROGRAMS))])
            root, notes, tick = int(rng.integers(40, 64)), [], 0
            scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
            while tick < 480 * 2 * 14:  # about 14 s at 120 bpm
                length = int(rng.choice([240, 480, 960]))
                chord = rng.random() < 0.3
                for offset in ([0, 4, 7] if chord else [int(rng.choice(scale))]):
                    notes.append((tick, length, root + offset, int(rng.integers(60, 120))))
                tick += length
            midi, wav = Path(tmp) / f"{index}.mid", Path(tmp) / f"{index}.wav"
            midi.write_bytes(midi_file(notes, program))
            subprocess.run(
                ["fluidsynth", "-ni", "-g", "0.6", "-r", str(SAMPLE_RATE), "-F", str(wav), str(SOUNDFONT), str(midi)],
                check=True, capture_output=True, timeout=60,
            )
            out.append(_make(name, "fluidsynth", read_trusted(wav)))
    return out


def decode_g722(files: list[Path]) -> np.ndarray:
    """The G.722 files one after another as 24 kHz mono (one ffmpeg call; their byte stream is continuous)."""
    stream = b"".join(file.read_bytes() for file in files)
    done = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "g722", "-i", "-", "-ar",
                           str(SAMPLE_RATE), "-ac", "1", "-f", "f32le", "-"], input=stream, capture_output=True,
                          check=True, timeout=300)
    return np.frombuffer(done.stdout, dtype=np.float32)


def asterisk(split: str, rng: np.random.Generator) -> list[Recording]:
    """Real studio speech: each speaker's voice prompts, in a random order, joined with short gaps into
    recordings; the :data:`ASTERISK_HELD_OUT` speaker is the held-out split, the others train."""
    if shutil.which("ffmpeg") is None:
        return []
    out = []
    for language, speaker in ASTERISK_SPEAKERS.items():
        files = sorted((ASTERISK_DIR / speaker).rglob("*.g722"))
        if not files or (language == ASTERISK_HELD_OUT) != (split == "eval"):
            continue
        files = [files[i] for i in rng.permutation(len(files))]
        speech_audio = decode_g722(files)
        ends = np.cumsum([file.stat().st_size * SAMPLE_RATE // G722_BYTES_PER_SECOND for file in files])
        gap = np.zeros(int(PROMPT_GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
        n, pieces, length = int(RECORDING_SECONDS * SAMPLE_RATE), [], 0
        for start, end in zip([0, *ends[:-1]], ends, strict=True):
            pieces += [speech_audio[start:end], gap]
            length += end - start + len(gap)
            if length >= n:
                out.append(_make(f"asterisk:{language}:{len(out)}", "asterisk", np.concatenate(pieces)))
                pieces, length = [], 0
    return out


def lincity(split: str, rng: np.random.Generator, per_track: int = 8) -> list[Recording]:
    """Segments of lincity-ng's recorded music: all held out (none for training)."""
    if split != "eval" or not LINCITY_DIR.is_dir():
        return []
    out = []
    for path in sorted(LINCITY_DIR.glob("*.ogg")):
        duration = sf.info(str(path)).duration
        for index in range(per_track):
            start = float(rng.uniform(0.0, max(duration - RECORDING_SECONDS, 0.0)))
            samples = read_trusted(path, start_seconds=start, seconds=RECORDING_SECONDS)
            out.append(_make(f"lincity:{path.stem}:{index}", "lincity", samples))
    return out


def real(split: str, *, seed: int = 0, scale: float = 1.0) -> list[Recording]:
    """Recorded material only: for ``"train"`` the asterisk speakers but one, sonic-pi, Wesnoth and
    fluidsynth renders; for ``"eval"`` the held-out asterisk speaker and lincity-ng's music, which
    nothing trains on. ``scale`` shrinks the music parts."""
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
    rng = np.random.default_rng([seed, split == "eval", 7])
    recordings = asterisk(split, rng)
    if split == "eval":
        recordings += lincity(split, rng, per_track=max(1, int(8 * scale)))
    else:
        recordings += sonic_pi(split, rng, patterns=max(1, int(40 * scale)))
        recordings += wesnoth(split, rng, per_track=max(1, int(3 * scale)))
        recordings += fluidsynth(split, rng, count=max(1, int(40 * scale)))
    return [r for r in recordings if is_audible(r)]


def folder(path: Path | str, split: str | None) -> list[Recording]:
    """The audio files under a user's folder (validated like any upload): those of one split (by
    file name), or with ``split`` None every one of them. A missing folder is an error, not an empty one."""
    if not Path(path).is_dir():
        raise DataError(f"--audio-dir {path}: no such folder")
    out = []
    for file in sorted(Path(path).rglob("*")):
        if file.suffix.lower() in AUDIO_SUFFIXES and (split is None or is_held_out(file.name) == (split == "eval")):
            out.append(_make(f"folder:{file}", "folder", audio.load(file)))
    return out


def build(split: str, *, seed: int = 0, generated_per_kind: int = 12, audio_dirs: tuple = (),
          use_system_audio: bool = True, scale: float = 1.0) -> list[Recording]:
    """All recordings of one split (``"train"`` or ``"eval"``); ``scale`` shrinks the system-audio parts."""
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
    rng = np.random.default_rng([seed, split == "eval"])
    recordings = generated(split, generated_per_kind)
    if use_system_audio:
        recordings += sonic_pi(split, rng, patterns=max(1, int(40 * scale)))
        recordings += wesnoth(split, rng, per_track=max(1, int(3 * scale)))
        recordings += speech(split, rng, count=max(1, int(60 * scale)))
        recordings += fluidsynth(split, rng, count=max(1, int(40 * scale)))
    for path in audio_dirs:
        recordings += folder(path, split)
    return [r for r in recordings if is_audible(r)]


def origins(recordings: list[Recording]) -> dict[str, int]:
    """How many recordings came from each origin (for the manifest)."""
    counts: dict[str, int] = {}
    for recording in recordings:
        counts[recording.origin] = counts.get(recording.origin, 0) + 1
    return counts


EXPORT_INDEX = "index.json"
"""The file in an exported corpus folder that lists each recording's name, origin and file."""


def export(recordings: list[Recording], folder: Path | str, *, lossy: bool = False) -> Path:
    """Write recordings to ``folder``: one 24 kHz file each (FLAC, 24-bit; ``lossy``: Ogg
    Vorbis, about a sixth of the size) and :data:`EXPORT_INDEX`. Returns the index path."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot export the corpus to {folder}: {exc}") from exc
    index = []
    for number, recording in enumerate(recordings):
        file = f"{number:05d}.{'ogg' if lossy else 'flac'}"
        if lossy:
            sf.write(folder / file, recording.samples, SAMPLE_RATE, format="OGG", subtype="VORBIS",
                     compression_level=0.3)
        else:
            sf.write(folder / file, recording.samples, SAMPLE_RATE, format="FLAC", subtype="PCM_24")
        index.append({"name": recording.name, "origin": recording.origin, "file": file})
    path = folder / EXPORT_INDEX
    path.write_text(json.dumps(index, indent=1))
    return path


def load_exported(folder: Path | str) -> list[Recording]:
    """The recordings of a folder written by :func:`export`, in its order."""
    path = Path(folder) / EXPORT_INDEX
    if not path.is_file():
        raise DataError(f"{folder} is not an exported corpus: it has no {EXPORT_INDEX} "
                        "(write one with python -m dafx_explorer corpus-export)")
    try:
        index = [(item["name"], item["origin"], item["file"]) for item in json.loads(path.read_text())]
    except (ValueError, TypeError, KeyError) as exc:
        raise DataError(f"{path} is not a corpus index (a JSON list of name, origin and file): {exc}") from exc
    if not index:
        raise DataError(f"the exported corpus {folder} holds no recordings")
    recordings = []
    for name, origin, file in index:
        try:
            samples, sr = sf.read(Path(folder) / file, dtype="float32")
        except (sf.LibsndfileError, OSError) as exc:
            raise DataError(f"cannot read {file} of the exported corpus {folder}: {exc}") from exc
        if sr != SAMPLE_RATE or samples.ndim != 1:
            raise DataError(f"{file} in {folder} is not {SAMPLE_RATE} Hz mono")
        recordings.append(Recording(name, origin, samples))
    return recordings
