"""The shipped real recordings: cut from Debian's packages, credited, and read as segments and clips."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dafx_explorer import corpus, manifest, real_clips, sources
from dafx_explorer.errors import DataError
from dafx_explorer.mushra_set import Segment
from dafx_explorer.settings import REPO_ROOT, SAMPLE_RATE

SHIPPED = REPO_ROOT / "precomputed" / "sources"
PACKAGES_PRESENT = shutil.which("ffmpeg") is not None and all(
    all(Path(f).is_file() for f in clip.files) for clip in real_clips.CLIPS.values())


def test_shipped_clips_are_catalogued_with_licence_credit_and_hash():
    catalogue = json.loads((SHIPPED / real_clips.CATALOGUE).read_text())
    assert list(catalogue) == sorted(real_clips.CLIPS)
    for name, entry in catalogue.items():
        path = SHIPPED / f"{name}.flac"
        assert entry["sha256"] == manifest.file_sha256(path), name
        assert entry["licence"] in ("CC0-1.0", "CC-BY-3.0", "CC-BY-SA-3.0") and entry["credit"] and entry["package"]
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.duration) == (SAMPLE_RATE, 1, real_clips.CLIP_SECONDS)
    assert manifest.read(REPO_ROOT / "precomputed" / "manifest.json")["sources"].keys() == catalogue.keys()


def test_held_out_clips_belong_to_the_corpus_held_out_split():
    assert real_clips.held_out_names() == ["voice_it", "tabla"]
    assert real_clips.CLIPS["voice_it"].files[0].split("/")[-2] == corpus.ASTERISK_SPEAKERS[corpus.ASTERISK_HELD_OUT]
    assert corpus.is_held_out("loop_tabla") and not corpus.is_held_out("guit_em9")


def test_credit_names_the_recording_its_author_and_licence(monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(REPO_ROOT / "precomputed"))
    assert real_clips.credit("voice_it") == ("Italian speech (male voice prompts): Carlo Flora (carloflora.com), "
                                             "CC-BY-3.0 (Debian asterisk-core-sounds-it-g722)")
    assert real_clips.credit("guitar") is None  # a generated clip needs no credit


@pytest.mark.skipif(not PACKAGES_PRESENT, reason="needs ffmpeg, asterisk-core-sounds-{en,it}-g722, sonic-pi-samples")
def test_written_clips_are_level_matched_and_equal_the_shipped_ones(tmp_path):
    paths = real_clips.write_real_clips(tmp_path)
    assert [p.stem for p in paths] == list(real_clips.CLIPS)
    for path in paths:
        samples, sr = sf.read(path, dtype="float32")
        assert sr == SAMPLE_RATE and samples.shape == (int(real_clips.CLIP_SECONDS * SAMPLE_RATE),)
        assert 20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) == pytest.approx(-20, abs=0.1)
        assert abs(samples[-1]) < 1e-3  # faded out at the cut
        shipped, _ = sf.read(SHIPPED / path.name, dtype="float32")
        assert np.max(np.abs(samples - shipped)) < 1e-3, path.name
    written = json.loads((tmp_path / real_clips.CATALOGUE).read_text())
    assert {n: {k: v for k, v in e.items() if k != "sha256"} for n, e in written.items()} == {
        n: {k: v for k, v in e.items() if k != "sha256"}
        for n, e in json.loads((SHIPPED / real_clips.CATALOGUE).read_text()).items()}


def test_missing_package_unknown_name_and_broken_catalogue_are_clear_errors(tmp_path, monkeypatch):
    absent = real_clips.RealClip("Nothing", "sonic-pi", "sonic-pi-samples", ("/nonexistent/loop_x.flac",),
                                 "CC0-1.0", "nobody")
    monkeypatch.setitem(real_clips.CLIPS, "absent", absent)
    with pytest.raises(DataError, match="loop_x.flac is missing; install the Debian package sonic-pi-samples"):
        real_clips.write_real_clips(tmp_path, ["absent"])
    with pytest.raises(DataError, match="no real clip 'piano'"):
        real_clips.write_real_clips(tmp_path, ["piano"])
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / real_clips.CATALOGUE).write_text("{not json")
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    with pytest.raises(DataError, match="sources.json is unreadable.*sources --real"):
        real_clips.catalogue()
    (tmp_path / "sources" / real_clips.CATALOGUE).unlink()
    with pytest.raises(DataError, match=r"voice_it\.flac is missing.*sources --real"):
        sources.load_clip("voice_it")


def test_a_listening_segment_of_a_real_clip_is_that_part_of_the_clip(monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(REPO_ROOT / "precomputed"))
    segment = Segment(kind="tabla", seed=0, recording_seconds=10.0, offset_seconds=5.0, seconds=5.0)
    clip = sources.load_clip("tabla")
    np.testing.assert_array_equal(segment.audio(), clip[5 * SAMPLE_RATE:])


@pytest.mark.skipif(not PACKAGES_PRESENT, reason="needs ffmpeg, asterisk-core-sounds-{en,it}-g722, sonic-pi-samples")
def test_sources_real_command_writes_every_clip_and_records_them_in_the_manifest(tmp_path, monkeypatch):
    from dafx_explorer.cli import main

    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    assert main(["sources", "--real"]) == 0
    assert sources.builtin_clips() == [*sources.KINDS, *real_clips.CLIPS]
    recorded = manifest.read(tmp_path / "manifest.json")["sources"]
    assert recorded.keys() == set(real_clips.CLIPS)
    assert recorded["tabla"]["path"] == "sources/tabla.flac" and recorded["tabla"]["held_out"] is True
    assert recorded["voice_en"]["sha256"] == manifest.file_sha256(tmp_path / "sources" / "voice_en.flac")


def test_shipped_data_folder_stays_under_25_mb():
    """Everything under precomputed/ that a clone carries (training runs are git-ignored)."""
    shipped = [p for p in (REPO_ROOT / "precomputed").rglob("*") if p.is_file() and "runs" not in p.parts]
    size = sum(p.stat().st_size for p in shipped)
    assert size < 25_000_000, f"precomputed/ holds {size / 1e6:.1f} MB"
