"""Uploads and CLI inputs are checked before anything runs: each bad file gets its own one-line error."""

import io
import os
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import soundfile as sf
from bad_audio import BAD_FILES, tone, wav_bytes

from dafx_explorer import audio, cli, style_match
from dafx_explorer.errors import AudioError
from dafx_explorer.settings import REPO_ROOT, SAMPLE_RATE, get_settings

FORMATS = {"wav": ("WAV", "PCM_24"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"),
           "mp3": ("MP3", "MPEG_LAYER_III"), "aiff": ("AIFF", "PCM_16"), "aif": ("AIFF", "PCM_32")}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_load_bytes_refuses_each_bad_upload(case):
    bad = BAD_FILES[case]
    with pytest.raises(AudioError) as caught:
        audio.load_bytes(bad.data(), name=bad.name)
    message = str(caught.value)
    assert bad.expected in message
    assert message.startswith(bad.name)
    assert "\n" not in message


def test_every_upload_type_decodes_to_24k_mono():
    assert set(style_match.UPLOAD_TYPES) == set(FORMATS)
    for suffix, (kind, subtype) in FORMATS.items():
        buffer = io.BytesIO()
        sf.write(buffer, tone(1.0, sr=44_100, channels=2), 44_100, format=kind, subtype=subtype)
        samples = audio.load_bytes(buffer.getvalue(), name=f"stereo.{suffix}")
        assert samples.dtype == np.float32 and samples.ndim == 1
        assert abs(len(samples) - SAMPLE_RATE) <= 0.1 * SAMPLE_RATE, suffix
        assert 0.3 < np.max(np.abs(samples)) < 0.7, suffix


def test_streamlit_upload_limit_matches_the_audio_limit():
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 1024 * 1024 == get_settings().max_file_bytes


def _write(folder, bad):
    path = folder / bad.name
    path.write_bytes(bad.data())
    return path


def _match_args(input_path, reference_path, output):
    return ["match", "--effect", "overdrive", "--input", str(input_path), "--reference", str(reference_path),
            "--output", str(output)]


@pytest.mark.parametrize("role", ["input", "reference"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_cli_match_refuses_each_bad_file(case, role, tmp_path, capsys):
    bad_path = _write(tmp_path, BAD_FILES[case])
    good_path = tmp_path / "good.wav"
    good_path.write_bytes(wav_bytes(tone(1.0)))
    paths = (bad_path, good_path) if role == "input" else (good_path, bad_path)
    output = tmp_path / "out.wav"
    status = cli.main(_match_args(*paths, output))
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {bad_path.name}") and BAD_FILES[case].expected in lines[0]
    assert not output.exists()


def test_cli_match_bad_file_in_a_subprocess_is_one_line_without_traceback(tmp_path):
    bad_path = _write(tmp_path, BAD_FILES["NaN"])
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    command = [sys.executable, "-m", "dafx_explorer", *_match_args(bad_path, bad_path, tmp_path / "o.wav")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: nan.wav: the audio contains NaN or infinite samples"
    assert "Traceback" not in result.stderr


def test_cli_match_accepts_a_valid_file_of_another_rate(tiny_home, tmp_path, capsys):
    input_path = tmp_path / "stereo.flac"
    sf.write(input_path, tone(2.0, sr=44_100, channels=2), 44_100)
    reference = tmp_path / "reference.wav"
    reference.write_bytes(wav_bytes(np.tanh(4 * tone(2.0))))
    output = tmp_path / "out.wav"
    assert cli.main(_match_args(input_path, reference, output)) == 0
    assert "drive_db" in capsys.readouterr().out
    assert len(audio.load(output)) == pytest.approx(2 * SAMPLE_RATE, abs=SAMPLE_RATE // 100)
