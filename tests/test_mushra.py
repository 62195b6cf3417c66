"""MUSHRA: listening-set format, loudness-matched stimuli, builder, post-screening and summaries."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from dafx_explorer import effects, real_clips, sources
from dafx_explorer.errors import DataError
from dafx_explorer.listening import ListeningStore
from dafx_explorer.listening_analysis import (
    UNRECORDED_SET,
    latest,
    mushra_ratings,
    mushra_summary,
    post_screening,
)
from dafx_explorer.mushra_set import (
    HIDDEN_REFERENCE,
    PEAK_LIMIT,
    REFERENCE,
    STIMULUS_SECONDS,
    TARGET_RMS_DB,
    build_listening_set,
    listening_set_from_json,
    load_listening_set,
    render_stimulus,
    render_trial,
)
from dafx_explorer.settings import REPO_ROOT, SAMPLE_RATE


def _segment(offset, seconds=2.0):
    return {"kind": "guitar", "seed": 1001, "recording_seconds": 4.0, "offset_seconds": offset,
            "seconds": seconds}


def _trial_json(effect="overdrive", trial_id="overdrive-0"):
    names = effects.get(effect).param_names
    return {"id": trial_id, "effect": effect, "input": _segment(0.0), "reference_input": _segment(2.0),
            "reference": dict.fromkeys(names, 0.7),
            "conditions": {"anchor": dict.fromkeys(names, 0.05), "model": dict.fromkeys(names, 0.6),
                           "refined": dict.fromkeys(names, 0.68)}}


def _set_json(*trials):
    return {"version": 1, "seed": 0, "trials": list(trials) or [_trial_json()]}


def test_stimuli_are_the_effect_on_the_input_segment_loudness_matched():
    trial = listening_set_from_json(_set_json()).trials[0]
    stimuli = render_trial(trial)
    assert set(stimuli) == {REFERENCE, HIDDEN_REFERENCE, "anchor", "model", "refined"}
    assert trial.rated == (HIDDEN_REFERENCE, "anchor", "model", "refined")
    for audio in stimuli.values():
        assert audio.dtype == np.float32 and audio.shape == (int(2.0 * SAMPLE_RATE),)
        assert np.max(np.abs(audio)) <= PEAK_LIMIT + 1e-6
    levels = [20 * np.log10(np.sqrt(np.mean(a.astype(float) ** 2))) for a in stimuli.values()]
    assert max(levels) - min(levels) < 0.01
    assert max(levels) <= TARGET_RMS_DB + 0.01
    np.testing.assert_array_equal(stimuli[REFERENCE], stimuli[HIDDEN_REFERENCE])
    # The anchor's settings differ from the reference's, and so does its sound (shape, not level).
    corr = np.corrcoef(stimuli[REFERENCE], stimuli["anchor"])[0, 1]
    assert corr < 0.95
    # The same trial renders the same samples; one stimulus on its own matches the full set.
    np.testing.assert_array_equal(render_stimulus(trial, "model"), stimuli["model"])
    # The reference is overdrive with the true settings on the first segment of the recording.
    effect = effects.get("overdrive")
    clean = sources.generate("guitar", seed=1001, seconds=4.0)[: 2 * SAMPLE_RATE]
    direct = effect.render(clean, SAMPLE_RATE, np.full(effect.n_params, 0.7))
    assert np.corrcoef(direct, stimuli[REFERENCE])[0, 1] > 0.9999
    with pytest.raises(DataError, match="no stimulus 'clean'"):
        render_stimulus(trial, "clean")


def test_stimuli_with_the_same_settings_are_one_sound_rated_once():
    data = _set_json()
    conditions = data["trials"][0]["conditions"]
    assert listening_set_from_json(data).trials[0].distinct_stimuli == (
        (HIDDEN_REFERENCE,), ("anchor",), ("model",), ("refined",))
    conditions["refined"] = dict(conditions["model"])  # the search kept the prediction
    trial = listening_set_from_json(data).trials[0]
    assert trial.distinct_stimuli == ((HIDDEN_REFERENCE,), ("anchor",), ("model", "refined"))
    stimuli = render_trial(trial)
    np.testing.assert_array_equal(stimuli["model"], stimuli["refined"])  # why one rating may stand for both
    conditions["refined"] = dict(data["trials"][0]["reference"])  # a condition as good as it gets
    assert listening_set_from_json(data).trials[0].distinct_stimuli == (
        (HIDDEN_REFERENCE, "refined"), ("anchor",), ("model",))


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(version=2), "version 1"),
    (lambda d: d.update(trials=[]), "no trials"),
    (lambda d: d["trials"][0].update(effect="wahwah"), "trial 0: .*wahwah"),
    (lambda d: d["trials"][0]["reference"].pop("drive_db"), "trial 0 reference: expected normalized settings"),
    (lambda d: d["trials"][0]["conditions"]["model"].update(drive_db=1.5), "drive_db must be a number in"),
    (lambda d: d["trials"][0]["conditions"].update(hidden_reference={}), "without 'reference'"),
    (lambda d: d["trials"][0]["input"].update(offset_seconds=3.0), "does not lie within the 4 s recording"),
    (lambda d: d["trials"][0]["input"].pop("seed"), "trial 0 input: expected kind, seed"),
    (lambda d: d["trials"].append(d["trials"][0]), "repeated trial ids"),
])
def test_bad_listening_sets_are_clear_errors(tmp_path, change, message):
    data = _set_json()
    change(data)
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=message):
        load_listening_set(path)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(DataError, match="no listening set at .*listening-set"):
        load_listening_set(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(DataError, match="cannot read listening set"):
        load_listening_set(tmp_path / "broken.json")


def test_default_path_is_under_the_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    (tmp_path / "listening_set.json").write_text(json.dumps(_set_json()))
    assert load_listening_set().trials[0].id == "overdrive-0"


def middle_settings_match(effect, input_audio, reference_audio, *, refine_seconds=0):
    """The all-0.5 baseline of `evaluate`, in the shape of matching.match's result."""
    assert len(input_audio) == len(reference_audio) == int(STIMULUS_SECONDS * SAMPLE_RATE)
    middle = np.full(effect.n_params, 0.5)
    return SimpleNamespace(params=middle, unrefined_params=middle + 0.05,
                           refined_params=middle + 0.1 if refine_seconds else None,
                           audio=effect.render(input_audio, SAMPLE_RATE, middle), seconds=0.0)


def test_builder_writes_a_small_valid_reproducible_set(tmp_path):
    out = build_listening_set(["ringmod", "delay"], 2, 7, 1.0, tmp_path / "a" / "set.json",
                              match=middle_settings_match)
    again = build_listening_set(["ringmod", "delay"], 2, 7, 1.0, tmp_path / "b.json",
                                match=middle_settings_match)
    first, second = json.loads(out.read_text()), json.loads(again.read_text())
    assert first["trials"] == second["trials"]
    assert out.stat().st_size < 10_000
    listening = load_listening_set(out)
    assert [t.id for t in listening.trials] == ["ringmod-0", "ringmod-1", "delay-0", "delay-1"]
    for trial in listening.trials:
        assert set(trial.conditions) == {"anchor", "model", "measured", "refined"}  # both effects measure one
        assert trial.conditions["model"] == dict.fromkeys(effects.get(trial.effect).param_names, 0.5)
        assert trial.conditions["measured"] == dict.fromkeys(effects.get(trial.effect).param_names, 0.55)
        assert trial.input.kind in real_clips.held_out_names() and trial.input.kind == trial.reference_input.kind
        assert trial.input.offset_seconds + trial.input.seconds <= trial.reference_input.offset_seconds
    assert {t.input.kind for t in listening.trials} == set(real_clips.held_out_names())  # each real clip in turn
    no_refine = load_listening_set(build_listening_set(["ringmod"], 1, 7, 0.0, tmp_path / "c.json",
                                                       match=middle_settings_match))
    assert set(no_refine.trials[0].conditions) == {"anchor", "model", "measured"}
    nothing_measured = load_listening_set(build_listening_set(["overdrive"], 1, 7, 1.0, tmp_path / "d.json",
                                                              match=middle_settings_match))
    assert set(nothing_measured.trials[0].conditions) == {"anchor", "model", "refined"}


def test_builder_refuses_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="positive integer"):
        build_listening_set(["delay"], 0, 0, 0.0, tmp_path / "x.json", match=middle_settings_match)
    with pytest.raises(DataError, match="refine seconds"):
        build_listening_set(["delay"], 1, 0, -1.0, tmp_path / "x.json", match=middle_settings_match)


def _answer_mushra(store, session, hidden_ratings, effect="delay"):
    for i, hidden in enumerate(hidden_ratings):
        store.record(session, "mushra", f"{effect}-{i}",
                     {"hidden_reference": hidden, "anchor": 10 + i, "model": 60, "refined": 70},
                     {"effect": effect, "trial_ms": 1000 * (i + 1)})


def test_post_screening_flags_more_than_15_percent_below_90(tmp_path):
    store = ListeningStore(tmp_path / "a.sqlite")
    good, boundary, careless = store.new_session(), store.new_session(), store.new_session()
    _answer_mushra(store, good, [100] * 19 + [80])            # 5 %
    _answer_mushra(store, boundary, [100] * 17 + [89.9] * 3)  # exactly 15 %: not more than 15 %
    _answer_mushra(store, careless, [100] * 16 + [50] * 4)    # 20 %
    ratings = mushra_ratings(store.answers())
    assert len(ratings) == 3 * 20 * 4
    screened = post_screening(ratings).set_index("session_id")
    assert screened.loc[good, "hidden_reference_below"] == 1
    assert screened.loc[boundary, "fraction_below"] == pytest.approx(0.15)
    assert screened["flagged"].to_dict() == {good: False, boundary: False, careless: True}
    assert screened.loc[good, "anchor_mean"] == pytest.approx(np.mean(np.arange(10, 30)))
    # A re-rated trial counts once, with its latest answers.
    store.record(careless, "mushra", "delay-19", {"hidden_reference": 100}, {"effect": "delay"})
    store.record(careless, "mushra", "delay-18", {"hidden_reference": 95}, {"effect": "delay"})
    rescreened = post_screening(mushra_ratings(store.answers())).set_index("session_id")
    assert rescreened.loc[careless, "trials"] == 20
    assert rescreened.loc[careless, "hidden_reference_below"] == 2
    assert not rescreened.loc[careless, "flagged"]


def test_mushra_summary_per_effect_and_condition(tmp_path):
    store = ListeningStore(tmp_path / "a.sqlite")
    sessions = [store.new_session() for _ in range(3)]
    for n, session in enumerate(sessions):
        store.record(session, "mushra", "delay-0", {"hidden_reference": 100, "model": 40 + 10 * n},
                     {"effect": "delay", "trial_ms": 2000})
        store.record(session, "mushra", "ringmod-0", {"hidden_reference": 90 + n, "model": 20},
                     {"effect": "ringmod", "trial_ms": 3000})
    ratings = mushra_ratings(store.answers())
    assert set(ratings["trial_ms"]) == {2000.0, 3000.0}
    summary = mushra_summary(ratings).set_index(["effect", "condition"])
    delay_model = summary.loc[("delay", "model")]
    assert delay_model["n"] == 3 and delay_model["mean"] == pytest.approx(50)
    assert delay_model["std"] == pytest.approx(10)
    half = 4.302653 * 10 / np.sqrt(3)   # t(0.975, 2) · s / √n
    assert delay_model["ci95_low"] == pytest.approx(50 - half, rel=1e-5)
    assert summary.loc[("ringmod", "hidden_reference"), "median"] == 91
    without = mushra_summary(ratings, exclude_sessions=[sessions[2]]).set_index(["effect", "condition"])
    assert without.loc[("delay", "model"), "mean"] == pytest.approx(45)
    assert set(ratings["listening_set"]) == {UNRECORDED_SET}  # these answers did not say which set


def test_mushra_summary_keeps_listening_sets_apart(tmp_path):
    store = ListeningStore(tmp_path / "a.sqlite")
    for built, model in (("2026-11-26T14:00:00+00:00", 30), ("2026-11-27T03:00:00+00:00", 80)):
        store.record(store.new_session(), "mushra", "delay-0", {"hidden_reference": 100, "model": model},
                     {"effect": "delay", "trial_ms": 2000, "listening_set": built})
    summary = mushra_summary(mushra_ratings(store.answers())).set_index(["listening_set", "effect", "condition"])
    assert summary.loc[("2026-11-26T14:00:00+00:00", "delay", "model"), "mean"] == 30
    assert summary.loc[("2026-11-27T03:00:00+00:00", "delay", "model"), "mean"] == 80
    assert (summary["n"] == 1).all()


def test_latest_refuses_a_table_without_answer_columns():
    import pandas as pd

    with pytest.raises(ValueError, match="lacks columns"):
        latest(pd.DataFrame({"id": [1]}))


def test_the_shipped_set_is_built_from_held_out_real_recordings():
    shipped = load_listening_set(REPO_ROOT / "precomputed" / "listening_set.json")
    kinds = {segment.kind for trial in shipped.trials for segment in (trial.input, trial.reference_input)}
    assert kinds == set(real_clips.held_out_names())
    assert {trial.effect for trial in shipped.trials} == set(effects.names())
