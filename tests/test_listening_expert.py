"""Expert tests on a really precomputed map (tiny trained models), and the builder with the real matcher."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dafx_explorer import listening_analysis as analysis
from dafx_explorer import matching, precompute, store
from dafx_explorer.expert_trials import (
    EXPERT_K,
    MapPoint,
    interpolation_trials,
    map_coordinates,
    nearest_point,
    selected_point,
    semantic_trials,
    start_point,
)
from dafx_explorer.listening import ATTEMPT, ListeningStore
from dafx_explorer.mushra_set import build_listening_set, load_listening_set, render_trial
from dafx_explorer.settings import REPO_ROOT

pytestmark = pytest.mark.slow

LISTENING_PAGE = str(REPO_ROOT / "app_pages" / "4_Listening_Test.py")
RESULTS_PAGE = str(REPO_ROOT / "app_pages" / "5_Results.py")


@pytest.fixture(scope="module")
def expert_home(tiny_home, tmp_path_factory):
    """A data folder holding one real precomputed overdrive map (40 points, unsupervised UMAP)."""
    home = tmp_path_factory.mktemp("expert_home")
    precompute.precompute("overdrive", points=40, n_supervised=(EXPERT_K,), encoders=("vae",),
                          out=home / "datasets" / "overdrive", progress=False)
    return home


@pytest.fixture(scope="module")
def dataset(expert_home):
    return store.load_dataset("overdrive", home=expert_home)


@pytest.fixture
def env(expert_home, tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(expert_home))
    monkeypatch.setenv("DAFX_EXPLORER_DB", str(tmp_path / "answers.sqlite"))
    monkeypatch.setenv("DAFX_EXPLORER_ADMIN_PASSWORD", "s3cret")
    return tmp_path


def test_interpolation_trials_span_the_map_and_each_parameter(dataset):
    coords, k = map_coordinates(dataset)
    assert k == EXPERT_K and coords.shape == (40, 2)
    trials = {t.along: t for t in interpolation_trials(dataset)}
    assert set(trials) == {"x", "y", "drive_db", "tone_hz", "level_db"}
    assert all(t.id == f"overdrive:{t.along}" for t in trials.values())
    x_trial = trials["x"]
    assert x_trial.b.x - x_trial.a.x > 0.5 * np.ptp(coords[:, 0])
    assert trials["y"].b.y - trials["y"].a.y > 0.5 * np.ptp(coords[:, 1])
    for trial in trials.values():
        assert len({trial.a.index, trial.b.index, trial.c.index}) == 3
        middle = np.array([(trial.a.x + trial.b.x) / 2, (trial.a.y + trial.b.y) / 2])
        distances = np.linalg.norm(coords - middle, axis=1)
        distances[[trial.a.index, trial.b.index]] = np.inf
        assert trial.c.index == int(np.argmin(distances))
        assert (trial.c.x, trial.c.y) == tuple(coords[trial.c.index])
    drive = dataset.points["p_drive_db"].to_numpy()
    assert drive[trials["drive_db"].a.index] < 0.3 < 0.7 < drive[trials["drive_db"].b.index]


def test_semantic_trials_and_start_points(dataset):
    trials = semantic_trials(dataset)
    assert [t.prompt for t in trials] == ["Make it twice as distorted.", "Make it much darker."]
    settings = dataset.points[["p_drive_db", "p_tone_hz", "p_level_db"]].to_numpy()
    starts = {start_point(dataset, f"session{i}", trials[0].id).index for i in range(30)}
    assert start_point(dataset, "session0", trials[0].id) == start_point(dataset, "session0", trials[0].id)
    assert len(starts) > 1
    central = np.sort(np.abs(settings - 0.5).max(axis=1))[len(settings) // 10 - 1]
    assert all(np.abs(settings[i] - 0.5).max() <= central for i in starts)


def test_selection_events_become_map_points():
    coords = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    assert selected_point({"points": [{"customdata": 2, "x": 9, "y": 9}]}, coords) == MapPoint(2, 2.0, 0.0)
    assert selected_point({"points": [{"customdata": [1]}]}, coords) == MapPoint(1, 1.0, 1.0)
    assert selected_point({"points": [{"x": 0.9, "y": 0.8}]}, coords) == MapPoint(1, 1.0, 1.0)
    assert selected_point({"points": []}, coords) is None and selected_point(None, coords) is None
    assert nearest_point(coords, (0.1, 0.0), exclude=[0]) == 1


def test_builder_with_the_real_matcher(tiny_home, tmp_path):
    out = build_listening_set(["overdrive", "delay"], 1, 3, 0.5, tmp_path / "set.json", match=matching.match)
    listening = load_listening_set(out)
    assert [t.id for t in listening.trials] == ["overdrive-0", "delay-0"]
    for trial in listening.trials:
        measured = {"measured"} if trial.effect == "delay" else set()  # the echo time, read off the reference
        assert set(trial.conditions) == {"anchor", "model", "refined"} | measured
        stimuli = render_trial(trial)
        assert set(stimuli) == {"reference", "hidden_reference", "anchor", "model", "refined"} | measured


def _session(page=LISTENING_PAGE):
    at = AppTest.from_file(page, default_timeout=30).run()
    next(b for b in at.button if b.label == "Start a new session").click().run()
    assert not at.exception
    session = at.query_params["session"]
    return at, session[0] if isinstance(session, list) else session


def _texts(at):
    return " ".join(str(e.value) for kind in ("success", "error", "warning", "info", "markdown")
                    for e in getattr(at, kind))


def test_expert_test_1_trial(env):
    at, session = _session()
    at.radio(key="listening_part").set_value("expert1").run()
    assert not at.exception
    rating = next(s for s in at.slider if s.key.startswith("listening_expert1:"))
    key = rating.key.rsplit(":", 1)[0]
    assert rating.disabled and at.button(key=f"{key}:submit").disabled
    assert len(at.get("audio")) == 3  # A, B and clean; C only after "Play C"
    at.button(key=f"{key}:play_c").click().run()
    assert len(at.get("audio")) == 4 and not at.slider(key=f"{key}:rating").disabled
    at.slider(key=f"{key}:rating").set_value(8).run()
    at.button(key=f"{key}:submit").click().run()
    assert not at.exception and "Expert test 1, trial 1 saved." in _texts(at)
    stored = ListeningStore(env / "answers.sqlite").answers(session)
    assert stored["item"].tolist() == ["rating"] and stored["value"].tolist() == [8.0]
    payload = stored["payload"][0]
    trial_id = stored["trial_id"][0]
    assert payload["dataset"] == "overdrive" and trial_id == f"overdrive:{payload['along']}"
    assert payload["c"]["index"] not in (payload["a"]["index"], payload["b"]["index"])
    assert "1 of 5 trials done" in at.get("progress")[0].proto.text


def test_expert_test_2_attempts_then_rating(env, dataset):
    at, session = _session()
    at.radio(key="listening_part").set_value("expert2").run()
    assert not at.exception
    key = next(s for s in at.slider if s.key.startswith("listening_expert2:")).key.rsplit(":", 1)[0]
    assert at.slider(key=f"{key}:rating").disabled
    coords, _ = map_coordinates(dataset)
    targets = [coords[3], coords[17]]
    for x, y in targets:
        at.number_input(key=f"{key}:x").set_value(float(x))
        at.number_input(key=f"{key}:y").set_value(float(y))
        at.button(key=f"{key}:try").click().run()
        assert not at.exception
    assert "Attempt 2 saved." in _texts(at)
    assert not at.slider(key=f"{key}:rating").disabled
    at.slider(key=f"{key}:rating").set_value(3).run()
    at.button(key=f"{key}:submit").click().run()
    assert not at.exception and "Expert test 2, task 1 saved." in _texts(at)
    stored = ListeningStore(env / "answers.sqlite").answers(session)
    assert stored["item"].tolist() == [ATTEMPT, ATTEMPT, "rating"]
    final = stored["payload"][2]
    assert [p["index"] for p in final["attempts"]] == [3, 17] and final["point"]["index"] == 17
    assert final["prompt"] in ("Make it twice as distorted.", "Make it much darker.")
    positions = analysis.expert_positions(stored)
    assert positions["role"].tolist() == ["attempt", "attempt", "final"]
    summary = analysis.expert2_summary(stored)
    assert summary["mean_attempts"].tolist() == [2.0] and summary["mean"].tolist() == [3.0]

    # The Results page draws these answers on the overdrive map.
    results = AppTest.from_file(RESULTS_PAGE, default_timeout=30).run()
    results.text_input(key="admin_password").input("s3cret").run()
    assert not results.exception
    charts = results.get("plotly_chart")
    assert len(charts) == 1  # no MUSHRA answers: only the map of the expert answers
    assert "answers on the map" in _texts(results).lower()
