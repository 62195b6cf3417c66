"""The Listening Test and Results pages, driven headless with Streamlit's AppTest."""

import base64
import json
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dafx_explorer import effects
from dafx_explorer.listening import QUESTIONNAIRE, ListeningStore
from dafx_explorer.settings import REPO_ROOT

LISTENING_PAGE = str(REPO_ROOT / "app_pages" / "4_Listening_Test.py")
RESULTS_PAGE = str(REPO_ROOT / "app_pages" / "5_Results.py")


BUILT_AT = "2026-11-27T03:00:00+00:00"


def _segment(offset):
    return {"kind": "drums", "seed": 1002, "recording_seconds": 3.0, "offset_seconds": offset, "seconds": 1.5}


def _trial(effect, true, anchor, model):
    names = effects.get(effect).param_names
    return {"id": f"{effect}-0", "effect": effect, "input": _segment(0.0), "reference_input": _segment(1.5),
            "reference": dict(zip(names, true, strict=True)),
            "conditions": {"anchor": dict(zip(names, anchor, strict=True)),
                           "model": dict(zip(names, model, strict=True))}}


@pytest.fixture
def env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    listening_set = {"version": 1, "created_at": BUILT_AT, "trials": [
        _trial("overdrive", [0.8, 0.3, 0.6], [0.0, 1.0, 0.2], [0.7, 0.35, 0.6]),
        _trial("ringmod", [0.4, 0.9], [0.95, 0.1], [0.45, 0.8]),
    ]}
    (home / "listening_set.json").write_text(json.dumps(listening_set))
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(home))
    monkeypatch.setenv("DAFX_EXPLORER_DB", str(tmp_path / "db" / "answers.sqlite"))
    monkeypatch.setenv("DAFX_EXPLORER_ADMIN_PASSWORD", "correct horse")
    return tmp_path


def _start(timeout=30):
    at = AppTest.from_file(LISTENING_PAGE, default_timeout=timeout).run()
    assert not at.exception
    start = next(b for b in at.button if b.label == "Start a new session")
    start.click().run()
    assert not at.exception
    session = at.query_params["session"]
    session = session[0] if isinstance(session, list) else session
    return at, session


def _texts(at):
    return " ".join(e.value for kind in ("success", "error", "warning", "info", "markdown", "caption")
                    for e in getattr(at, kind))


def test_mushra_trial_play_before_rate_then_saved_and_resumed(env):
    at, session = _start()
    store = ListeningStore(env / "db" / "answers.sqlite")
    assert store.has_session(session)
    at.radio(key="listening_part").set_value("mushra").run()
    assert not at.exception
    assert "0 of 2 trials done" in at.get("progress")[0].proto.text
    sliders = [s for s in at.slider if s.key and s.key.startswith("listening_mushra:")]
    assert len(sliders) == 3 and all(s.disabled for s in sliders)
    trial_key = sliders[0].key.rsplit(":", 2)[0]
    at.button(key=f"{trial_key}:submit").click().run()
    assert "play stimulus" in _texts(at).lower()
    assert store.answers(session).empty
    for label, rating in zip("ABC", (95, 30, 70), strict=True):
        at.button(key=f"{trial_key}:play:{label}").click().run()
        slider = at.slider(key=f"{trial_key}:rate:{label}")
        assert not slider.disabled
        slider.set_value(rating).run()
    assert len(at.get("audio")) == 4  # the reference and the three played stimuli
    at.button(key=f"{trial_key}:submit").click().run()
    assert not at.exception
    assert "Trial 1 saved." in _texts(at)
    stored = store.answers(session)
    assert len(stored) == 3 and set(stored["test"]) == {"mushra"}
    payload = stored["payload"][0]
    by_label = dict(zip("ABC", payload["order"], strict=True))
    assert dict(zip(stored["item"], stored["value"], strict=True)) == {
        by_label["A"]: 95.0, by_label["B"]: 30.0, by_label["C"]: 70.0}
    assert set(payload["order"]) == {"hidden_reference", "anchor", "model"}
    assert payload["trial_ms"] > 0 and payload["effect"] == trial_key.split(":")[1].split("-")[0]
    # The answer says which set and which stimuli it rates, so a rebuilt set cannot change its meaning.
    listening_set = json.loads((env / "home" / "listening_set.json").read_text())
    assert payload["listening_set"] == BUILT_AT
    assert payload["trial"] == next(t for t in listening_set["trials"] if t["id"] == trial_key.split(":")[1])
    assert "1 of 2 trials done" in at.get("progress")[0].proto.text

    # A reload (a fresh page with the code in the URL) resumes at the next trial.
    again = AppTest.from_file(LISTENING_PAGE, default_timeout=30)
    again.query_params["session"] = session
    again.run()
    again.radio(key="listening_part").set_value("mushra").run()
    assert not again.exception
    assert "1 of 2 trials done" in again.get("progress")[0].proto.text
    next_key = next(s.key for s in again.slider if s.key and s.key.startswith("listening_mushra:")).rsplit(":", 2)[0]
    assert next_key != trial_key


def test_questionnaire_saved_with_comments(env):
    at, session = _start()
    at.radio(key="listening_part").set_value("questionnaire").run()
    for n, question in enumerate(QUESTIONNAIRE):
        at.slider(key=f"listening_q:{question.key}").set_value(1 + n)
    at.text_area(key="listening_q:comments").input("The map felt smooth.")
    at.button[-1].click().run()
    assert not at.exception
    assert "Questionnaire saved." in _texts(at)
    stored = ListeningStore(env / "db" / "answers.sqlite").answers(session)
    values = dict(zip(stored["item"], stored["value"], strict=True))
    assert {q.key: values[q.key] for q in QUESTIONNAIRE} == {q.key: 1.0 + n for n, q in enumerate(QUESTIONNAIRE)}
    assert stored["payload"][0]["comments"] == "The map felt smooth."
    at.run()
    assert "You have answered the questionnaire" in _texts(at)


def test_failed_write_is_shown_with_a_download_of_the_answers(env):
    at, session = _start()
    at.radio(key="listening_part").set_value("questionnaire").run()
    database = env / "db"
    shutil.rmtree(database)
    (database / "answers.sqlite").mkdir(parents=True)  # the database path is now a folder
    at.button[-1].click().run()
    assert not at.exception
    text = _texts(at)
    assert "NOT saved" in text and "is a folder" in text
    assert "Questionnaire saved." not in text
    download = at.get("download_button")
    assert len(download) == 1


def test_unknown_session_code_in_the_url(env):
    at = AppTest.from_file(LISTENING_PAGE, default_timeout=30)
    at.query_params["session"] = "NotARealCode"
    at.run()
    assert not at.exception
    assert "session code is unknown" in _texts(at)
    assert any(b.label == "Start a new session" for b in at.button)


def _fill(db_path):
    store = ListeningStore(db_path)
    careful, careless = store.new_session(), store.new_session()
    for session, hidden in ((careful, 100), (careless, 40)):
        for effect in ("overdrive", "ringmod"):
            store.record(session, "mushra", f"{effect}-0", {"hidden_reference": hidden, "anchor": 10, "model": 65},
                         {"effect": effect, "trial_ms": 4000})
    store.record(careful, "questionnaire", "questionnaire", {"ease": 8, "comments": None}, {"comments": "Good."})
    return careful, careless


def _results(monkeypatch=None, password=None):
    at = AppTest.from_file(RESULTS_PAGE, default_timeout=30).run()
    if password is not None:
        at.text_input(key="admin_password").input(password).run()
    assert not at.exception
    return at


def _all_text(at):
    parts = [e.value for kind in ("success", "error", "warning", "info", "markdown", "caption", "text")
             for e in getattr(at, kind)]
    return " ".join(str(p) for p in parts)


def test_results_page_without_a_configured_password_shows_nothing(env, monkeypatch):
    monkeypatch.delenv("DAFX_EXPLORER_ADMIN_PASSWORD")
    _fill(env / "db" / "answers.sqlite")
    at = _results()
    assert "DAFX_EXPLORER_ADMIN_PASSWORD" in _all_text(at)
    assert len(at.dataframe) == 0 and len(at.text_input) == 0


def test_results_page_needs_the_password(env):
    _fill(env / "db" / "answers.sqlite")
    at = _results()
    assert len(at.dataframe) == 0
    assert at.text_input(key="admin_password").proto.type == at.text_input(key="admin_password").proto.PASSWORD
    at.text_input(key="admin_password").input("wrong horse").run()
    assert "Wrong password." in _all_text(at)
    assert len(at.dataframe) == 0 and len(at.get("plotly_chart")) == 0


def test_results_page_with_the_password_shows_every_table(env):
    careful, careless = _fill(env / "db" / "answers.sqlite")
    at = _results(password="correct horse")
    text = _all_text(at)
    assert "correct horse" not in text
    assert "No objective evaluation yet" in text and "evaluate" in text
    assert len(at.get("plotly_chart")) == 1
    frames = [f.value for f in at.dataframe]
    screening = next(f for f in frames if "flagged" in f.columns).set_index("session_id")
    assert screening["flagged"].to_dict() == {careful: False, careless: True}
    downloads = [b.proto.label for b in at.get("download_button")]
    assert len(downloads) == len(at.dataframe) >= 8
    assert "Download questionnaire comments (CSV)" in downloads
    at.checkbox(key="exclude_flagged").check().run()
    summary = next(f.value for f in at.dataframe if "ci95_low" in f.value.columns)
    assert (summary.query("condition == 'hidden_reference'")["mean"] == 100).all()


def _model_ratings_plotted(at):
    """The ratings of the "model" condition in the page's MUSHRA box plot (Plotly sends them base64-packed)."""
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    packed = [trace["y"] for trace in figure["data"] if trace["name"] == "model"]
    return [float(y) for ys in packed for y in np.frombuffer(base64.b64decode(ys["bdata"]), ys["dtype"])]


def test_results_page_keeps_rebuilt_listening_sets_apart(env):
    store = ListeningStore(env / "db" / "answers.sqlite")
    for built, model in (("2026-11-26T14:00:00+00:00", 30), (BUILT_AT, 80)):
        session = store.new_session()
        store.record(session, "mushra", "overdrive-0", {"hidden_reference": 100, "anchor": 10, "model": model},
                     {"effect": "overdrive", "trial_ms": 4000, "listening_set": built})
    at = _results(password="correct horse")
    choice = at.selectbox(key="mushra_set")
    assert choice.value == BUILT_AT and choice.options == [BUILT_AT, "2026-11-26T14:00:00+00:00"]
    assert _model_ratings_plotted(at) == [80]
    summary = next(f.value for f in at.dataframe if "ci95_low" in f.value.columns)
    assert sorted(summary.query("condition == 'model'")["mean"]) == [30, 80]  # one row per set, not pooled
    choice.set_value("2026-11-26T14:00:00+00:00").run()
    assert _model_ratings_plotted(at) == [30]


def test_mushra_plays_conditions_with_the_same_settings_once_and_keeps_the_rating_for_each(env):
    trial = _trial("ringmod", [0.4, 0.9], [0.95, 0.1], [0.45, 0.8])
    trial["conditions"]["refined"] = dict(trial["conditions"]["model"])  # the search kept the prediction
    (env / "home" / "listening_set.json").write_text(json.dumps({"version": 1, "created_at": BUILT_AT,
                                                                 "trials": [trial]}))
    at, session = _start()
    at.radio(key="listening_part").set_value("mushra").run()
    sliders = [s for s in at.slider if s.key and s.key.startswith("listening_mushra:")]
    assert len(sliders) == 3  # hidden reference, anchor, and model and refined as one sound
    for label, rating in zip("ABC", (90, 20, 65), strict=True):
        at.button(key=f"listening_mushra:ringmod-0:play:{label}").click().run()
        at.slider(key=f"listening_mushra:ringmod-0:rate:{label}").set_value(rating).run()
    at.button(key="listening_mushra:ringmod-0:submit").click().run()
    assert not at.exception and "Trial 1 saved." in _texts(at)
    stored = ListeningStore(env / "db" / "answers.sqlite").answers(session)
    ratings = dict(zip(stored["item"], stored["value"], strict=True))
    payload = stored["payload"][0]
    assert set(ratings) == {"hidden_reference", "anchor", "model", "refined"} and ratings["model"] == ratings["refined"]
    assert payload["merged"] == [["model", "refined"]] and len(payload["order"]) == 3
    shown = dict(zip(payload["order"], "ABC", strict=True))
    assert ratings["model"] == {"A": 90, "B": 20, "C": 65}[shown["model"]]


def test_results_page_shows_the_objective_evaluation(env):
    report = {"effects": {"delay": {"mrstft": {"model": 1.2, "random": 3.4},
                                    "param_mae": {"model": 0.1, "random": 0.33}}},
              "latent": {"knn_effect_accuracy": 0.6, "probe_r2": {"delay": {"mix": 0.7, "feedback": 0.5}},
                         "one_window": {"knn_effect_accuracy": 0.9, "probe_r2": {"delay": {"mix": 0.95}}}}}
    (env / "home" / "evaluation.json").write_text(json.dumps(report))
    at = _results(password="correct horse")
    frames = [f.value for f in at.dataframe]
    per_effect = next(f for f in frames if "mrstft.model" in f.columns)
    assert per_effect.loc[0, "effect"] == "delay" and per_effect.loc[0, "param_mae.random"] == 0.33
    latent = next(f for f in frames if "figure" in f.columns)
    assert latent["value"].tolist() == [0.6, 0.7, 0.5, 0.9, 0.95]
    assert latent["figure"].tolist()[3:] == ["knn_effect_accuracy within one window", "probe_r2 within one window"]


def test_results_page_shows_the_shipped_evaluation_with_its_intervals(env):
    shipped = json.loads((REPO_ROOT / "precomputed" / "evaluation.json").read_text())
    (env / "home" / "evaluation.json").write_text(json.dumps(shipped))
    at = _results(password="correct horse")
    assert not at.exception
    per_effect = next(f.value for f in at.dataframe if "mrstft.model" in f.value.columns).set_index("effect")
    assert list(per_effect.index) == effects.names()
    assert per_effect.loc["delay", "ratio_to_random.model.ratio"] == shipped["effects"]["delay"][
        "ratio_to_random"]["model"]["ratio"]
    assert not any("per_pair" in column for column in per_effect.columns)


def test_results_page_shows_the_across_recordings_evaluation_beside_the_other(env):
    for name in ("evaluation.json", "evaluation_across.json"):
        (env / "home" / name).write_text((REPO_ROOT / "precomputed" / name).read_text())
    across = json.loads((REPO_ROOT / "precomputed" / "evaluation_across.json").read_text())
    at = _results(password="correct horse")
    assert not at.exception
    per_effect = [f.value.set_index("effect") for f in at.dataframe if "mrstft.model" in f.value.columns]
    assert len(per_effect) == 2
    assert per_effect[1].loc["dynamics", "mrstft.refined"] == across["effects"]["dynamics"]["mrstft"]["refined"]
    assert sum("figure" in f.value.columns for f in at.dataframe) == 1  # latent figures shown once
    assert any(button.label == "Download evaluation across per effect (CSV)" for button in at.download_button)
    (env / "home" / "evaluation_across.json").write_text("{not json")
    at = _results(password="correct horse")
    assert not at.exception
    assert any("evaluation_across.json" in error.value for error in at.error)
    assert len([f for f in at.dataframe if "mrstft.model" in f.value.columns]) == 1


def _widgets(node):
    """Every widget under an AppTest node: elements whose message has a tooltip and a form field."""
    proto = getattr(node, "proto", None)
    fields = proto.DESCRIPTOR.fields_by_name if proto is not None and hasattr(proto, "DESCRIPTOR") else {}
    if "help" in fields and "form_id" in fields:
        yield node
    for child in getattr(node, "children", {}).values():
        yield from _widgets(child)


def test_every_control_of_the_listening_page_has_a_tooltip(env):
    at = AppTest.from_file(LISTENING_PAGE, default_timeout=30).run()
    seen = list(_widgets(at._tree))
    at, _ = _start()
    for part in ("mushra", "questionnaire"):
        at.radio(key="listening_part").set_value(part).run()
        assert not at.exception
        seen += list(_widgets(at._tree))
    labels = {w.proto.label for w in seen}
    assert {"Start a new session", "Part", "Play A", "Rating of A", "Submit ratings", "Submit questionnaire",
            "Comments (optional)"} <= labels
    assert [w.proto.label for w in seen if not w.proto.help.strip()] == []
    assert "About this page" in [e.proto.label for e in at.get("expander")]


def test_listening_page_stays_short_and_draws_its_parts_from_the_package():
    """The page is the top-level flow; the parts live in ``dafx_explorer.listening_parts`` (issue 23)."""
    page = (REPO_ROOT / "app_pages" / "4_Listening_Test.py").read_text()
    assert len(page.splitlines()) <= 150
    assert "listening_parts" in page
