"""Participant protocol and result summaries, on answers really stored in SQLite."""

import json
import time

import pytest

from dafx_explorer import listening_analysis as analysis
from dafx_explorer.errors import DataError
from dafx_explorer.expert_trials import InterpolationTrial, MapPoint, SemanticTrial
from dafx_explorer.listening import (
    ATTEMPT,
    COMMENTS,
    QUESTIONNAIRE,
    QUESTIONNAIRE_TRIAL,
    ListeningStore,
    PageState,
    answers_json,
    attempted_points,
    check_mushra_ratings,
    completed_trials,
    expert1_answer,
    expert2_answer,
    expert2_attempt,
    mushra_labels,
    next_trial,
    questionnaire_answer,
    session_trials,
)


@pytest.fixture
def db(tmp_path):
    return ListeningStore(tmp_path / "answers.sqlite")


def test_next_trial_walks_the_sessions_own_order_and_resumes(db):
    session = db.new_session()
    trials = [f"t{i}" for i in range(6)]
    mine = session_trials(session, "expert1", trials, limit=4)
    assert len(mine) == 4 and set(mine) < set(trials)
    seen = []
    for _ in range(4):
        trial = next_trial(session, "expert1", trials, db.answers(session), limit=4)
        seen.append(trial)
        db.record(session, "expert1", trial, {"rating": 5})
    assert seen == mine
    assert next_trial(session, "expert1", trials, db.answers(session), limit=4) is None
    assert completed_trials(db.answers(session), "expert1") == set(mine)


def test_attempts_do_not_finish_a_trial(db):
    session = db.new_session()
    db.record(session, "expert2", "delay:0", {ATTEMPT: None}, {"point": {"index": 1, "x": 0.0, "y": 0.0}})
    assert completed_trials(db.answers(session), "expert2") == set()
    db.record(session, "expert2", "delay:0", {"rating": 7})
    assert completed_trials(db.answers(session), "expert2") == {"delay:0"}


def test_mushra_ratings_are_checked_before_storing():
    rated = ("hidden_reference", "anchor", "model")
    labels = {"hidden_reference": "B", "anchor": "A", "model": "C"}
    ratings = {"hidden_reference": 100, "anchor": 5, "model": 60}
    assert check_mushra_ratings(ratings, rated, rated) == {"hidden_reference": 100.0, "anchor": 5.0, "model": 60.0}
    with pytest.raises(DataError, match="play stimulus C before rating it"):
        check_mushra_ratings(ratings, ["hidden_reference", "anchor"], rated, labels)
    with pytest.raises(DataError, match="rate stimulus A"):
        check_mushra_ratings({"hidden_reference": 100, "model": 60}, rated, rated, labels)
    with pytest.raises(DataError, match="between 0 and 100"):
        check_mushra_ratings({**ratings, "model": 120}, rated, rated, labels)
    with pytest.raises(DataError, match="unknown stimuli"):
        check_mushra_ratings({**ratings, "clean": 50}, rated, rated, labels)


def test_answers_json_holds_saved_and_unsaved_answers(db):
    session = db.new_session()
    db.record(session, "questionnaire", "questionnaire", {"ease": 7, "comments": None}, {"comments": "ok"})
    unsaved = [{"test": "mushra", "trial_id": "delay-0", "items": {"anchor": 10}, "payload": {},
                "given_at": "2026-01-01T00:00:00+00:00"}]
    data = json.loads(answers_json(session, db.answers(session), unsaved))
    assert data["session_id"] == session
    assert [(a["item"], a["value"]) for a in data["saved"]] == [("ease", 7.0), ("comments", None)]
    assert data["saved"][0]["payload"] == {"comments": "ok"}
    assert data["unsaved"] == unsaved


def test_page_state_confirms_what_is_written_and_keeps_what_is_not(db, tmp_path):
    state = {"listening_unsaved": ["kept from before"], "other": 1}
    page = PageState(state)
    assert state == {"listening_unsaved": ["kept from before"], "listening_write_error": None,
                     "listening_confirmed": None, "listening_stored": None, "other": 1}
    state["listening_unsaved"].clear()
    session = db.new_session()
    page.save(db, session, "expert1", "delay:x", {"rating": 7}, {"k": 0}, "Expert test 1, trial 1")
    assert page.write_error is None and page.unsaved == []
    assert page.take_confirmation() == "Expert test 1, trial 1 saved." and page.take_confirmation() is None
    assert page.read_answers(db, session)["value"].tolist() == [7.0]
    assert page.last_answers(session)["value"].tolist() == [7.0] and page.last_answers("other") is None
    (tmp_path / "answers.sqlite").unlink()
    (tmp_path / "answers.sqlite").mkdir()  # the database is now a folder: the write fails
    page.save(db, session, "expert1", "delay:y", {"rating": 3}, {"k": 0}, "Expert test 1, trial 2")
    assert "is a folder" in page.write_error and page.take_confirmation() is None
    assert [(a["trial_id"], a["items"]) for a in page.unsaved] == [("delay:y", {"rating": 3})]
    page.save(db, session, "expert1", "delay:y", {"rating": 3}, {"k": 0}, "Expert test 1, trial 2")
    assert len(page.unsaved) == 2  # each failed write is kept for the download


def test_page_state_times_each_trial_from_when_it_was_first_shown():
    page = PageState({})
    page.start_trial("listening_mushra:delay-0")
    time.sleep(0.05)
    page.start_trial("listening_mushra:delay-0")  # a rerun keeps the first time
    page.start_trial("listening_mushra:delay-1")
    assert page.elapsed_ms("listening_mushra:delay-0") >= 50 > page.elapsed_ms("listening_mushra:delay-1")


def test_expert_and_questionnaire_answers_are_recorded_as_the_analysis_reads_them(db):
    session = db.new_session()
    a, b, c = MapPoint(1, 0.0, 0.0), MapPoint(2, 4.0, 2.0), MapPoint(3, 2.0, 1.0)
    line = InterpolationTrial("delay:mix", "delay", "mix", 0, a, b, c)
    items, payload = expert1_answer(line, 8, 1200)
    assert items == {"rating": 8} and payload == {**line.payload(), "trial_ms": 1200}
    task, start = SemanticTrial("delay:darker", "delay", "Make it much darker.", 0), MapPoint(0, -1.0, -1.0)
    for number, point in enumerate((b, c), start=1):
        db.record(session, "expert2", task.id, *expert2_attempt(task, start, point, number))
    assert completed_trials(db.answers(session), "expert2") == set()
    assert attempted_points(db.answers(session), task.id) == [b.to_json(), c.to_json()]
    assert db.answers(session)["payload"][1]["attempt"] == 2
    items, payload = expert2_answer(task, start, [b, c], 4, 3000)
    assert items == {"rating": 4} and payload["point"] == c.to_json() and payload["start"] == start.to_json()
    assert payload["attempts"] == [b.to_json(), c.to_json()] and payload["trial_ms"] == 3000
    db.record(session, "expert2", task.id, items, payload)
    assert completed_trials(db.answers(session), "expert2") == {task.id}
    ratings = {q.key: 1 + n for n, q in enumerate(QUESTIONNAIRE)}
    items, payload = questionnaire_answer({**ratings, "not_a_question": 5}, "Nice.")
    assert items == {**ratings, COMMENTS: None} and payload == {"comments": "Nice."}
    db.record(session, "questionnaire", QUESTIONNAIRE_TRIAL, items, payload)
    assert completed_trials(db.answers(session), "questionnaire") == {QUESTIONNAIRE_TRIAL}


def test_mushra_sounds_are_labelled_in_the_order_heard():
    assert mushra_labels(["model", "anchor", "hidden_reference"]) == {"model": "A", "anchor": "B",
                                                                      "hidden_reference": "C"}
    assert mushra_labels([]) == {}


def test_expert_and_questionnaire_summaries(db):
    one, two = db.new_session(), db.new_session()
    c = {"index": 4, "x": 1.5, "y": -2.0}
    for session, rating in ((one, 8), (two, 4)):
        db.record(session, "expert1", "delay:x", {"rating": rating}, {"dataset": "delay", "k": 0, "c": c})
    db.record(one, "expert1", "delay:x", {"rating": 9}, {"dataset": "delay", "k": 0, "c": c})  # changed mind
    for n in range(3):
        db.record(one, "expert2", "delay:1", {ATTEMPT: None},
                  {"dataset": "delay", "prompt": "Quieter.", "k": 0, "point": {"index": n, "x": n, "y": 0.0}})
    db.record(one, "expert2", "delay:1", {"rating": 6},
              {"dataset": "delay", "prompt": "Quieter.", "k": 0, "point": {"index": 2, "x": 2.0, "y": 0.0}})
    db.record(two, "expert2", "delay:1", {ATTEMPT: None},
              {"dataset": "delay", "prompt": "Quieter.", "k": 0, "point": {"index": 9, "x": 9.0, "y": 1.0}})
    db.record(two, "expert2", "delay:1", {"rating": 2},
              {"dataset": "delay", "prompt": "Quieter.", "k": 0, "point": {"index": 9, "x": 9.0, "y": 1.0}})
    for session, ease, text in ((one, 9, "Fun."), (two, 5, "  ")):
        items = {q.key: ease for q in QUESTIONNAIRE} | {"comments": None}
        db.record(session, "questionnaire", "questionnaire", items, {"comments": text})
    answers = db.answers()

    expert1 = analysis.expert1_summary(answers)
    assert expert1.to_dict("records") == [{"dataset": "delay", "trial_id": "delay:x", "n": 2, "mean": 6.5,
                                           "median": 6.5, "std": pytest.approx(3.5355339)}]
    expert2 = analysis.expert2_summary(answers)
    assert expert2[["prompt", "n", "mean", "mean_attempts"]].to_dict("records") == [
        {"prompt": "Quieter.", "n": 2, "mean": 4.0, "mean_attempts": 2.0}]
    positions = analysis.expert_positions(answers)
    assert positions.groupby("role").size().to_dict() == {"C": 2, "attempt": 4, "final": 2}
    assert positions.query("role == 'C'")[["x", "y"]].drop_duplicates().values.tolist() == [[1.5, -2.0]]

    questionnaire = analysis.questionnaire_summary(answers).set_index("item")
    assert set(questionnaire.index) == {q.key for q in QUESTIONNAIRE}
    assert questionnaire.loc["ease", "mean"] == 7.0 and questionnaire.loc["ease", "n"] == 2
    assert analysis.questionnaire_comments(answers).to_dict("records") == [{"session_id": one, "comment": "Fun."}]


def test_password_is_compared_exactly():
    assert analysis.password_matches("s3cret", "s3cret")
    assert not analysis.password_matches("s3cret ", "s3cret")
    assert not analysis.password_matches("", "s3cret") and not analysis.password_matches("x", None)
    assert analysis.password_matches("pässwörd", "pässwörd")


def test_evaluation_tables_need_figures_per_effect():
    with pytest.raises(ValueError, match="'effects' object"):
        analysis.evaluation_tables({"pairs": 16})
    tables = analysis.evaluation_tables({"effects": {"ringmod": {"mrstft": {"model": 0.5}}}})
    assert list(tables) == ["per effect"]
    assert tables["per effect"].to_dict("records") == [{"effect": "ringmod", "mrstft.model": 0.5}]


def test_evaluation_tables_give_the_model_with_one_setting_true_its_own_table():
    report = {"effects": {"ringmod": {"mrstft": {"model": 0.5}, "model_one_true": {"carrier_hz": 0.2, "mix": 0.45}},
                          "overdrive": {"mrstft": {"model": 0.3}}}}
    tables = analysis.evaluation_tables(report)
    assert list(tables["per effect"].columns) == ["effect", "mrstft.model"]
    assert tables["model with one setting true"].to_dict("records") == [
        {"effect": "ringmod", "parameter": "carrier_hz", "mrstft": 0.2},
        {"effect": "ringmod", "parameter": "mix", "mrstft": 0.45}]
