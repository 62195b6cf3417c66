"""Audio input and output: decode any supported file into 24 kHz mono float32, validate it, save it.

Files come from users, so they are untrusted. :func:`load` checks the file size before
reading anything, then decodes in a separate Python process under a time limit and an
address-space limit. That process reads the header first and refuses implausible or
over-long audio before decoding a single sample, then decodes in blocks, mixing down and
resampling as it goes, so its memory stays near the size of the 24 kHz result whatever the
header claims. A hang is killed at the time limit, and a crash of the decoder becomes an
:class:`~dafx_explorer.errors.AudioError` like every other problem with the file.

Decoding uses libsndfile through ``soundfile`` only (WAV, FLAC, OGG Vorbis/Opus, MP3 and the
other formats libsndfile reads); resampling uses soxr.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from dafx_explorer.errors import AudioError
from dafx_explorer.settings import SAMPLE_RATE, WINDOW, get_settings

MIN_SAMPLE_RATE = 8_000
"""Lowest sample rate accepted (Hz)."""

MAX_SAMPLE_RATE = 192_000
"""Highest sample rate accepted (Hz)."""

MAX_CHANNELS = 8
"""Most channels accepted in a file or an array."""

SILENCE_DBFS = -100.0
"""Audio whose peak is below this level (dB relative to full scale) counts as silent."""

QUIET_WINDOW_DB = 30.0
"""A window more than this many dB quieter (RMS) than a clip's loudest is not analysed."""

_BLOCK_FRAMES = 65_536
"""Frames the decoder reads at a time."""

_DECODER_BASE_BYTES = 1 << 30
"""Address space the decoder process may use besides its result: interpreter, libraries, one block."""

_SAVE_SUBTYPES = {".wav": "FLOAT", ".flac": "PCM_24"}
"""Suffix → libsndfile subtype that :func:`save` writes."""

_DECODER_COMMAND = "from dafx_explorer.audio import _decoder_main; _decoder_main()"
_AUDIO_ERROR_STATUS = 2
"""Exit status of the decoder process when the file is unusable (its message is on stdout)."""


def load(
    path: str | os.PathLike,
    *,
    max_seconds: float | None = None,
    max_bytes: int | None = None,
    timeout: float = 30.0,
) -> np.ndarray:
    """Load an audio file as validated mono float32 at ``SAMPLE_RATE`` (24 kHz).

    Any sample rate from 8 to 192 kHz, any bit depth and up to 8 channels are accepted;
    channels are averaged. Samples above full scale (float files) are kept as they are.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file: WAV, FLAC, OGG, MP3 or another format libsndfile reads.
    max_seconds : float, optional
        Longest accepted duration in seconds (default: ``settings.max_audio_seconds``).
    max_bytes : int, optional
        Largest accepted file size in bytes (default: ``settings.max_file_bytes``).
    timeout : float
        Seconds the decoder may take before it is killed.

    Returns
    -------
    np.ndarray
        Mono float32 samples at 24 kHz, shape ``(n,)``.

    Raises
    ------
    AudioError
        The file is missing, too large, not audio, damaged, implausible, too long, empty,
        silent, contains NaN or infinity, or decoding took longer than ``timeout``.
    """
    path = Path(path)
    name = path.name
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise AudioError(f"{name}: file not found") from None
    except OSError as error:
        raise AudioError(f"{name}: cannot open the file ({error.strerror})") from None
    if not path.is_file():
        raise AudioError(f"{name}: not a regular file")
    _check_file_size(name, stat.st_size, max_bytes)
    with tempfile.TemporaryDirectory(prefix="dafx-audio-") as folder:
        return _decode(path, name, Path(folder), max_seconds, timeout)


def load_bytes(
    data: bytes,
    *,
    name: str = "upload",
    max_seconds: float | None = None,
    max_bytes: int | None = None,
    timeout: float = 30.0,
) -> np.ndarray:
    """Load audio from the bytes of a file (an upload) like :func:`load`.

    Parameters
    ----------
    data : bytes
        Content of an audio file.
    name : str
        Name shown in error messages; its suffix hints the format.
    max_seconds, max_bytes, timeout
        As in :func:`load`.

    Returns
    -------
    np.ndarray
        Mono float32 samples at 24 kHz, shape ``(n,)``.
    """
    _check_file_size(name, len(data), max_bytes)
    with tempfile.TemporaryDirectory(prefix="dafx-audio-") as folder:
        folder = Path(folder)
        path = folder / f"input{Path(name).suffix}"
        path.write_bytes(data)
        return _decode(path, name, folder, max_seconds, timeout)


def save(path: str | os.PathLike, samples: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write audio to a file whose format follows the suffix.

    ``.wav`` stores 32-bit float (exact, values beyond ±1 kept); ``.flac`` stores 24-bit
    PCM at FLAC's highest compression, so samples are clipped to [-1, 1].

    Parameters
    ----------
    path : str or os.PathLike
        Destination ending in ``.wav`` or ``.flac``.
    samples : np.ndarray
        Float samples, shape ``(n,)`` or channels-last ``(n, channels)``.
    sr : int
        Sample rate in Hz.
    """
    path = Path(path)
    subtype = _SAVE_SUBTYPES.get(path.suffix.lower())
    if subtype is None:
        raise AudioError(f"cannot save {path.name}: the name must end in .wav or .flac")
    audio = _as_signal(samples)
    _check_sample_rate(sr)
    _check_finite(audio)
    if subtype != "FLOAT":
        audio = np.clip(audio, -1.0, 1.0)
    try:
        sf.write(path, audio, sr, subtype=subtype, compression_level=None if subtype == "FLOAT" else 1.0)
    except (OSError, sf.LibsndfileError) as error:
        reason = error.strerror if isinstance(error, OSError) else _libsndfile_reason(error)
        raise AudioError(f"cannot write {path}: {reason}") from None


def validate(samples: np.ndarray, sr: int = SAMPLE_RATE, *, max_seconds: float | None = None) -> None:
    """Check that samples are usable audio, raising :class:`AudioError` if not.

    Parameters
    ----------
    samples : np.ndarray
        Float samples, shape ``(n,)`` or channels-last ``(n, channels)`` with at most 8 channels.
    sr : int
        Sample rate in Hz, 8 000 to 192 000.
    max_seconds : float, optional
        Longest accepted duration in seconds (default: ``settings.max_audio_seconds``).

    Raises
    ------
    AudioError
        No samples, longer than ``max_seconds``, NaN or infinite samples, or digital silence
        (peak below ``SILENCE_DBFS``).
    """
    audio = _as_signal(samples)
    _check_sample_rate(sr)
    if len(audio) == 0:
        raise AudioError("the audio contains no samples")
    _check_duration(len(audio) / sr, max_seconds)
    _check_finite(audio)
    peak = float(np.max(np.abs(audio)))
    if peak == 0.0:
        raise AudioError("the audio is digitally silent (every sample is 0)")
    if peak < 10.0 ** (SILENCE_DBFS / 20.0):
        raise AudioError(
            f"the audio is silent: its peak is {20.0 * math.log10(peak):.0f} dBFS, below {SILENCE_DBFS:.0f} dBFS"
        )


def to_mono_24k(samples: np.ndarray, sr: int) -> np.ndarray:
    """Average the channels and resample to ``SAMPLE_RATE`` (24 kHz) with soxr.

    Parameters
    ----------
    samples : np.ndarray
        Float samples, shape ``(n,)`` or channels-last ``(n, channels)`` with at most 8 channels.
    sr : int
        Sample rate of ``samples`` in Hz, 8 000 to 192 000.

    Returns
    -------
    np.ndarray
        Mono float32 samples at 24 kHz, about ``n * 24000 / sr`` of them.
    """
    audio = _as_signal(samples)
    _check_sample_rate(sr)
    return _MonoResampler(sr)(audio.reshape(len(audio), -1), last=True)


def analysis_window(samples: np.ndarray) -> np.ndarray:
    """The window of a clip that features and models read (``WINDOW`` samples, 5.46 s at 24 kHz).

    Audio shorter than two windows gives its first ``WINDOW`` samples, zero-padded if shorter.
    A longer clip is cut into consecutive windows and gives the first that is at most
    ``QUIET_WINDOW_DB`` quieter (RMS) than its loudest, so that a silent or quiet opening is
    never what is analysed.

    Parameters
    ----------
    samples : np.ndarray
        Mono float samples, shape ``(n,)``.

    Returns
    -------
    np.ndarray
        Float32 array of shape ``(WINDOW,)``.
    """
    audio = _as_signal(samples)
    if audio.ndim != 1:
        raise AudioError(f"expected mono samples of shape (n,), got shape {audio.shape}")
    count = len(audio) // WINDOW
    if count >= 2:
        windows = audio[: count * WINDOW].reshape(count, WINDOW)  # a view: no copy of a long clip
        energy = np.einsum("ij,ij->i", windows, windows)
        audible = np.flatnonzero(energy >= energy.max() * 10.0 ** (-QUIET_WINDOW_DB / 10.0))
        return windows[audible[0] if len(audible) else 0].astype(np.float32)  # none: NaN samples
    window = np.zeros(WINDOW, dtype=np.float32)
    head = audio[:WINDOW]
    window[: len(head)] = head
    return window


class _MonoResampler:
    """Mix blocks of ``(frames, channels)`` down to mono and resample them to 24 kHz (streaming)."""

    def __init__(self, sr: float) -> None:
        self._stream = None if sr == SAMPLE_RATE else soxr.ResampleStream(sr, SAMPLE_RATE, 1, dtype="float32")

    def __call__(self, block: np.ndarray, *, last: bool) -> np.ndarray:
        mono = np.ascontiguousarray(block.mean(axis=1, dtype=np.float32))
        if self._stream is None:
            return mono
        return self._stream.resample_chunk(mono, last=last)


def _as_signal(samples: np.ndarray) -> np.ndarray:
    """Float32 view of ``samples``, shape ``(n,)`` or ``(n, channels ≤ 8)``, or :class:`AudioError`."""
    array = np.asarray(samples)
    if not np.issubdtype(array.dtype, np.floating):
        raise AudioError(f"expected floating-point samples, got dtype {array.dtype}")
    if array.ndim == 2:
        if not 1 <= array.shape[1] <= MAX_CHANNELS:
            raise AudioError(
                f"expected channels-last samples (frames, channels) with 1 to {MAX_CHANNELS} channels, "
                f"got shape {array.shape}"
            )
    elif array.ndim != 1:
        raise AudioError(f"expected samples of shape (n,) or (n, channels), got shape {array.shape}")
    return array.astype(np.float32, copy=False)


def _check_sample_rate(sr: float) -> None:
    if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise AudioError(f"sample rate {sr:g} Hz is outside {MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz")


def _check_duration(seconds: float, max_seconds: float | None) -> None:
    limit = get_settings().max_audio_seconds if max_seconds is None else max_seconds
    if seconds > limit:
        raise AudioError(f"the audio is {_format_seconds(seconds)} long, longer than the {limit:g} s limit")


def _check_finite(audio: np.ndarray) -> None:
    if not np.all(np.isfinite(audio)):
        raise AudioError("the audio contains NaN or infinite samples")


def _check_file_size(name: str, size: int, max_bytes: int | None) -> None:
    limit = get_settings().max_file_bytes if max_bytes is None else max_bytes
    if size == 0:
        raise AudioError(f"{name}: the file is empty (0 bytes)")
    if size > limit:
        raise AudioError(f"{name}: the file is {_format_bytes(size)}, larger than the {_format_bytes(limit)} limit")


def _format_seconds(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.2f} s"


def _format_bytes(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def _libsndfile_reason(error: sf.LibsndfileError) -> str:
    reason = error.error_string.strip().removeprefix("Error : ").rstrip(".")
    return reason or f"libsndfile error {error.code}"


def _decode(path: Path, name: str, folder: Path, max_seconds: float | None, timeout: float) -> np.ndarray:
    """Decode ``path`` in a child process (see :func:`_decoder_main`) and validate the result."""
    limit = get_settings().max_audio_seconds if max_seconds is None else max_seconds
    output = folder / "decoded.npy"
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-P", "-c", _DECODER_COMMAND, str(path), str(output), repr(float(limit))]
    try:
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        raise AudioError(f"{name}: decoding took longer than {timeout:g} s; the file may be damaged") from None
    if result.returncode != 0:
        raise AudioError(f"{name}: {_decoder_failure(result.returncode, result.stdout, result.stderr)}")
    samples = np.load(output, allow_pickle=False)
    try:
        # The decoder enforced the duration limit on the exact frame count of the file.
        validate(samples, SAMPLE_RATE, max_seconds=math.inf)
    except AudioError as error:
        raise AudioError(f"{name}: {error}") from None
    return samples


def _decoder_failure(returncode: int, stdout: str, stderr: str) -> str:
    """One-line reason for a decoder process that exited with ``returncode``."""
    if returncode == _AUDIO_ERROR_STATUS and stdout.strip():
        return stdout.strip()
    if returncode < 0:
        try:
            signal_name = signal.Signals(-returncode).name
        except ValueError:
            signal_name = f"signal {-returncode}"
        return f"the decoder crashed ({signal_name}); the file may be damaged"
    lines = stderr.strip().splitlines()
    detail = f": {lines[-1]}" if lines else ""
    return f"the decoder failed with exit status {returncode}{detail}"


def _decoder_main() -> None:
    """Entry point of the decoder process: ``SOURCE OUTPUT.npy MAX_SECONDS`` in ``sys.argv``.

    Writes mono float32 samples at 24 kHz to ``OUTPUT.npy`` and exits 0, or prints a
    one-line reason on stdout and exits with status 2.
    """
    source, output, max_seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    _limit_address_space(_DECODER_BASE_BYTES + 2 * 4 * math.ceil(max_seconds * SAMPLE_RATE))
    try:
        samples = _decode_blocks(source, max_seconds)
    except AudioError as error:
        print(error)
        sys.exit(_AUDIO_ERROR_STATUS)
    except MemoryError:
        print("decoding needs more memory than the file's duration justifies; the file may be damaged")
        sys.exit(_AUDIO_ERROR_STATUS)
    np.save(output, samples)


def _limit_address_space(size: int) -> None:
    """Cap this process's address space at ``size`` bytes where the platform allows it."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (size, resource.getrlimit(resource.RLIMIT_AS)[1]))
    except (ImportError, ValueError, OSError):
        pass  # no such limit on this platform; the block-wise decoder still bounds memory


def _decode_blocks(source: str, max_seconds: float) -> np.ndarray:
    """Check the header of ``source``, then decode it block by block into 24 kHz mono float32."""
    try:
        file = sf.SoundFile(source)
    except sf.LibsndfileError as error:
        raise AudioError(f"not a readable audio file ({_libsndfile_reason(error)})") from None
    with file:
        _check_sample_rate(file.samplerate)
        if file.channels > MAX_CHANNELS:
            raise AudioError(f"the file has {file.channels} channels; at most {MAX_CHANNELS} are supported")
        _check_duration(file.frames / file.samplerate, max_seconds)
        resampler = _MonoResampler(file.samplerate)
        parts = []
        try:
            while len(block := file.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)):
                parts.append(resampler(block, last=False))
        except sf.LibsndfileError as error:
            raise AudioError(
                f"the file is damaged or truncated: decoding failed at {file.tell() / file.samplerate:.2f} s "
                f"of {file.frames / file.samplerate:.2f} s ({_libsndfile_reason(error)})"
            ) from None
        parts.append(resampler(np.zeros((0, file.channels), dtype=np.float32), last=True))
    return np.concatenate(parts)
