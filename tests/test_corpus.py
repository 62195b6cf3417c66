"""The training corpus: a stable held-out split, recordings of one length and level, user folders."""

import numpy as np
import pytest
import soundfile as sf

from dafx_explorer import audio, corpus, sources
from dafx_explorer.errors import DataError
from dafx_explorer.settings import SAMPLE_RATE

LENGTH = int(corpus.RECORDING_SECONDS * SAMPLE_RATE)


def test_held_out_split_is_stable_and_about_one_in_five():
    names = [f"clip-{i}" for i in range(2000)]
    held = [corpus.is_held_out(n) for n in names]
    assert held == [corpus.is_held_out(n) for n in names]
    assert 0.17 < np.mean(held) < 0.23


def test_segments_of_one_wesnoth_track_are_one_work():
    def recording(name, origin):
        return corpus.Recording(name, origin, np.zeros(4, dtype=np.float32))

    first, second = recording("wesnoth:suspense:0", "wesnoth"), recording("wesnoth:suspense:2", "wesnoth")
    assert corpus.same_work(first, second)
    assert not corpus.same_work(first, recording("wesnoth:journeys_end:0", "wesnoth"))
    assert not corpus.same_work(recording("speech:eval:1", "speech"), recording("speech:eval:2", "speech"))
    assert corpus.same_work(recording("speech:eval:1", "speech"), recording("speech:eval:1", "speech"))


def test_generated_splits_use_disjoint_seeds():
    train = {r.name for r in corpus.generated("train", 2)}
    held = {r.name for r in corpus.generated("eval", 2)}
    assert not train & held
    assert all(int(n.rsplit(":", 1)[1]) >= sources.EVAL_SEED_START for n in held)
    assert all(int(n.rsplit(":", 1)[1]) < sources.EVAL_SEED_START for n in train)


def test_recordings_have_one_length_and_level():
    for recording in corpus.generated("train", 1):
        assert recording.samples.shape == (LENGTH,) and recording.samples.dtype == np.float32
        assert np.max(np.abs(recording.samples)) <= 0.99 + 1e-6
        rms_db = 20 * np.log10(np.sqrt(np.mean(recording.samples.astype(np.float64) ** 2)))
        assert -26 < rms_db <= -19.9


def test_user_folder_is_split_by_file_name(tmp_path):
    for i in range(12):
        audio.save(tmp_path / f"take{i}.wav", sources.generate("bass", seed=i, seconds=2.0))
    (tmp_path / "notes.txt").write_text("not audio")
    train, held = corpus.folder(tmp_path, "train"), corpus.folder(tmp_path, "eval")
    assert len(train) + len(held) == 12  # the text file is not audio by suffix and is left out
    assert {r.name for r in held} == {f"folder:{tmp_path / f'take{i}.wav'}" for i in range(12)
                                      if corpus.is_held_out(f"take{i}.wav")}
    assert all(r.samples.shape == (LENGTH,) for r in train + held)  # short takes are looped


def test_build_without_system_audio_and_bad_split():
    recordings = corpus.build("eval", generated_per_kind=1, use_system_audio=False)
    assert corpus.origins(recordings) == {"generated": len(sources.KINDS)}
    with pytest.raises(ValueError, match="split"):
        corpus.build("test")


def test_midi_file_writes_a_standard_midi_file():
    data = corpus.midi_file([(0, 480, 60, 100), (480, 480, 64, 90)], program=24)
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    assert data.endswith(bytes([0x00, 0xFF, 0x2F, 0x00]))  # end of track


def test_wesnoth_segments_of_short_and_long_tracks(tmp_path, monkeypatch):
    import soundfile as sf

    names = iter(n for n in (f"track{i}" for i in range(100)) if not corpus.is_held_out(n))
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 60 * SAMPLE_RATE).astype(np.float32)
    noise[: 5 * SAMPLE_RATE] = noise[-5 * SAMPLE_RATE :] = 0.0  # a silent intro and outro of 5 s
    long_track = next(names)
    sf.write(tmp_path / f"{long_track}.ogg", noise, SAMPLE_RATE)
    for seconds in (3, 14):  # shorter than a recording; longer, but without 5 s to spare at each end
        sf.write(tmp_path / f"{next(names)}.ogg", noise[5 * SAMPLE_RATE : (5 + seconds) * SAMPLE_RATE], SAMPLE_RATE)
    monkeypatch.setattr(corpus, "WESNOTH_DIR", tmp_path)
    for seed in range(20):
        recordings = corpus.wesnoth("train", np.random.default_rng(seed), per_track=3)
        assert len(recordings) == 9
        for recording in recordings:
            assert recording.samples.shape == (LENGTH,)
            if long_track in recording.name:  # the silent intro and outro are skipped
                blocks = recording.samples.reshape(-1, SAMPLE_RATE // 4)
                assert np.sqrt(np.mean(blocks**2, axis=1)).min() > 0.01


def test_build_leaves_out_recordings_that_are_only_a_noise_floor(tmp_path):
    names = [n for n in (f"take{i}.wav" for i in range(40)) if not corpus.is_held_out(n)][:2]
    audio.save(tmp_path / names[0], sources.generate("bass", seed=1, seconds=2.0))
    hiss = np.random.default_rng(0).uniform(-1.0, 1.0, 2 * SAMPLE_RATE) * 3e-5  # about -95 dBFS RMS
    audio.save(tmp_path / names[1], hiss.astype(np.float32))
    recordings = corpus.build("train", generated_per_kind=1, use_system_audio=False, audio_dirs=(tmp_path,))
    folder = [r.name for r in recordings if r.origin == "folder"]
    assert folder == [f"folder:{tmp_path / names[0]}"]  # the hiss is not raised to speech level and trained on


def test_a_missing_audio_folder_is_an_error_for_training_too(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        corpus.build("train", generated_per_kind=1, use_system_audio=False, audio_dirs=(tmp_path / "typo",))


def test_export_and_load_keep_names_origins_and_samples(tmp_path):
    recordings = corpus.build("eval", generated_per_kind=1, use_system_audio=False)
    corpus.export(recordings, tmp_path / "flac")
    loaded = corpus.load_exported(tmp_path / "flac")
    assert [(r.name, r.origin) for r in loaded] == [(r.name, r.origin) for r in recordings]
    for original, copy in zip(recordings, loaded, strict=True):
        assert copy.samples.dtype == np.float32
        np.testing.assert_allclose(copy.samples, original.samples, atol=2e-7)  # 24-bit FLAC
    corpus.export(recordings[:2], tmp_path / "ogg", lossy=True)
    lossy = corpus.load_exported(tmp_path / "ogg")
    assert sorted(p.suffix for p in (tmp_path / "ogg").iterdir()) == [".json", ".ogg", ".ogg"]
    assert [r.name for r in lossy] == [r.name for r in recordings[:2]]
    assert lossy[0].samples.shape == recordings[0].samples.shape
    assert corpus._rms(lossy[0].samples - recordings[0].samples) < 0.3 * corpus._rms(recordings[0].samples)


def test_loading_a_folder_that_is_not_an_exported_corpus_says_so(tmp_path):
    with pytest.raises(DataError, match="not an exported corpus.*corpus-export"):
        corpus.load_exported(tmp_path)
    corpus.export(corpus.generated("eval", 1)[:1], tmp_path)
    (tmp_path / "00000.flac").write_bytes(b"")
    with pytest.raises(DataError, match="cannot read 00000.flac"):
        corpus.load_exported(tmp_path)
    sf.write(tmp_path / "00000.flac", np.zeros((100, 2)), 44100)
    with pytest.raises(DataError, match="not 24000 Hz mono"):
        corpus.load_exported(tmp_path)
    for broken in ("{not json", '{"name": "x"}', '[{"name": "x"}]'):
        (tmp_path / corpus.EXPORT_INDEX).write_text(broken)
        with pytest.raises(DataError, match="not a corpus index"):
            corpus.load_exported(tmp_path)
    (tmp_path / corpus.EXPORT_INDEX).write_text("[]")
    with pytest.raises(DataError, match="holds no recordings"):
        corpus.load_exported(tmp_path)
    with pytest.raises(DataError, match="cannot export the corpus"):
        corpus.export([], tmp_path / corpus.EXPORT_INDEX)  # a file, not a folder
