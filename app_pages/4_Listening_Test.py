"""Listening Test (participant-facing): expert tests, MUSHRA and a questionnaire.

Every answer is saved the moment it is given and confirmed only once saved; the session
code in the URL (``?session=…``) resumes the session after a reload.
"""

import time
from datetime import UTC, datetime

import streamlit as st

from dafx_explorer import listening, store, ui
from dafx_explorer import listening_set as material
from dafx_explorer.errors import DafxError
from dafx_explorer.settings import get_settings

st.set_page_config(page_title="Listening Test · DAFX Explorer", page_icon="🎧", layout="wide")

PARTS = {"expert1": "Expert test 1 · interpolation", "expert2": "Expert test 2 · semantic control",
         "mushra": "MUSHRA", "questionnaire": "Questionnaire"}
MUSHRA_SCALE = "0–20 bad · 20–40 poor · 40–60 fair · 60–80 good · 80–100 excellent"


@st.cache_resource
def get_answers_store(path: str) -> listening.ListeningStore:
    return listening.ListeningStore(path)


@st.cache_resource
def get_listening_set(path: str, modified: float) -> material.ListeningSet:
    return material.load_listening_set(path)


@st.cache_resource(max_entries=8)
def get_stimuli(path: str, modified: float, trial_id: str):
    return material.render_trial(get_listening_set(path, modified).trial(trial_id))


@st.cache_resource
def get_dataset(home: str, name: str):
    return store.load_dataset(name, home=home)


@st.cache_resource
def get_expert_trials(home: str, modified: float) -> dict:
    """Every dataset's expert trials: {"expert1": {id: trial}, "expert2": {id: trial}}."""
    trials = {"expert1": {}, "expert2": {}}
    for name in store.list_datasets(home):
        dataset = get_dataset(home, name)
        trials["expert1"].update({t.id: t for t in material.interpolation_trials(dataset)})
        trials["expert2"].update({t.id: t for t in material.semantic_trials(dataset)})
    return trials


def save(db, session_id, test, trial_id, items, payload, what) -> None:
    """Record answers; confirm only after the commit, keep and report them when it fails."""
    try:
        db.record(session_id, test, trial_id, items, payload)
    except DafxError as error:
        st.session_state["unsaved"].append({"test": test, "trial_id": trial_id, "items": items, "payload": payload,
                                            "given_at": datetime.now(UTC).isoformat(timespec="seconds")})
        st.session_state["write_error"] = str(error)
    else:
        st.session_state["write_error"] = None
        st.session_state["confirmed"] = f"{what} saved."
    st.rerun()


def progress(session_id, answers, test, trial_ids, limit, name) -> tuple[str | None, int]:
    """Show how far the session is in ``test``; return its next trial (None when done) and trials done."""
    mine = listening.session_trials(session_id, test, trial_ids, limit)
    done = len(listening.completed_trials(answers, test) & set(mine))
    st.progress(done / len(mine), text=f"{name}: {done} of {len(mine)} trials done")
    trial_id = listening.next_trial(session_id, test, trial_ids, answers, limit)
    if trial_id is None:
        st.success(f"You have finished {name}. Thank you!")
    return trial_id, done


def elapsed_ms(key: str) -> int:
    return round(1000 * (time.monotonic() - st.session_state[f"{key}:started"]))


def expert1_part(db, session_id, answers, trials) -> None:
    trial_id, done = progress(session_id, answers, "expert1", list(trials), material.EXPERT1_TRIALS,
                              "expert test 1")
    if trial_id is None:
        return
    trial = trials[trial_id]
    dataset = get_dataset(str(get_settings().home), trial.dataset)
    coords, _ = material.map_coordinates(dataset, trial.k)
    key = f"expert1:{trial_id}"
    st.session_state.setdefault(f"{key}:started", time.monotonic())
    heard_c = st.session_state.setdefault(f"{key}:heard_c", False)
    st.markdown(f"**Effect: {dataset.effect.name}.** A and B are two settings at the ends of the dashed line. "
                "Listen to A, B and the clean sound as often as you like, and imagine the sound halfway "
                "between them. Then play C, the setting nearest the middle of the line, and rate how well it "
                "matched what you expected.")
    just_played = st.session_state.pop(f"{key}:just_played", False)
    marks = {"A": trial.a, "B": trial.b, **({"C": trial.c} if heard_c else {})}
    st.plotly_chart(material.map_figure(coords, marks, line=(trial.a, trial.b)), key=f"{key}:map")
    sounds = [("A", dataset.audio(trial.a.index)[0]), ("B", dataset.audio(trial.b.index)[0]),
              ("Clean (no effect)", dataset.clean)]
    if heard_c:
        sounds.append(("C", dataset.audio(trial.c.index)[0]))
    for column, (label, samples) in zip(st.columns(4), sounds, strict=False):
        column.markdown(f"**{label}**")
        column.audio(ui.wav_bytes(samples), format="audio/wav", autoplay=just_played and label == "C")
    st.button("Play C", key=f"{key}:play_c",
              on_click=st.session_state.update, kwargs={f"{key}:heard_c": True, f"{key}:just_played": True})
    st.slider("How well did C match what you expected?", 1, 10, 5, key=f"{key}:rating", disabled=not heard_c,
              help="1 = not at all, 10 = exactly. Play C first.")
    if st.button("Submit rating", key=f"{key}:submit", type="primary", disabled=not heard_c):
        payload = {"dataset": trial.dataset, "along": trial.along, "k": trial.k, "a": trial.a.to_json(),
                   "b": trial.b.to_json(), "c": trial.c.to_json(), "trial_ms": elapsed_ms(key)}
        save(db, session_id, "expert1", trial_id, {"rating": st.session_state[f"{key}:rating"]}, payload,
             f"Expert test 1, trial {done + 1}")


def expert2_part(db, session_id, answers, trials) -> None:
    trial_id, done = progress(session_id, answers, "expert2", list(trials), material.EXPERT2_TRIALS,
                              "expert test 2")
    if trial_id is None:
        return
    trial = trials[trial_id]
    dataset = get_dataset(str(get_settings().home), trial.dataset)
    coords, _ = material.map_coordinates(dataset, trial.k)
    start = material.start_point(dataset, session_id, trial_id, k=trial.k)
    key = f"expert2:{trial_id}"
    st.session_state.setdefault(f"{key}:started", time.monotonic())
    tried = answers[(answers["test"] == "expert2") & (answers["trial_id"] == trial_id)
                    & (answers["item"] == listening.ATTEMPT)]
    attempts = [material.MapPoint(**payload["point"]) for payload in tried["payload"]]
    st.markdown(f"**Effect: {dataset.effect.name}.** Start from X. **{trial.prompt}** Click the map to try a "
                "setting (every click counts as an attempt); stop when you are satisfied and rate how easy it was.")
    marks = {"X": start, **({str(len(attempts)): attempts[-1]} if attempts else {})}
    # A new key after each attempt gives a fresh chart, so one click is recorded once.
    event = st.plotly_chart(material.map_figure(coords, marks), key=f"{key}:map:{len(attempts)}",
                            on_select="rerun", selection_mode="points")
    clicked = material.selected_point(event.selection if event else None, coords)
    with st.expander("Cannot click the map? Type coordinates instead"):
        x = st.number_input("map x", value=start.x, key=f"{key}:x")
        y = st.number_input("map y", value=start.y, key=f"{key}:y")
        if st.button("Try this point", key=f"{key}:try"):
            clicked = material.map_point(coords, material.nearest_point(coords, (x, y)))
    if clicked is not None:
        st.session_state[f"{key}:fresh"] = len(attempts) + 1
        payload = {"dataset": trial.dataset, "prompt": trial.prompt, "k": trial.k, "start": start.to_json(),
                   "point": clicked.to_json(), "attempt": len(attempts) + 1}
        save(db, session_id, "expert2", trial_id, {listening.ATTEMPT: None}, payload, f"Attempt {len(attempts) + 1}")
    start_column, attempt_column = st.columns(2)
    start_column.markdown("**X (start)**")
    start_column.audio(ui.wav_bytes(dataset.audio(start.index)[0]), format="audio/wav")
    if attempts:
        attempt_column.markdown(f"**Attempt {len(attempts)}**")
        attempt_column.audio(ui.wav_bytes(dataset.audio(attempts[-1].index)[0]), format="audio/wav",
                             autoplay=st.session_state.get(f"{key}:fresh") == len(attempts))
    st.slider("How easy was it to get there?", 1, 10, 5, key=f"{key}:rating", disabled=not attempts,
              help="1 = very hard, 10 = very easy. Try at least one point first.")
    if st.button("I am satisfied: submit", key=f"{key}:submit", type="primary", disabled=not attempts):
        payload = {"dataset": trial.dataset, "prompt": trial.prompt, "k": trial.k, "start": start.to_json(),
                   "point": attempts[-1].to_json(), "attempts": [p.to_json() for p in attempts],
                   "trial_ms": elapsed_ms(key)}
        save(db, session_id, "expert2", trial_id, {"rating": st.session_state[f"{key}:rating"]}, payload,
             f"Expert test 2, task {done + 1}")


def mushra_part(db, session_id, answers) -> None:
    path = get_settings().listening_set_path
    try:
        listening_set = get_listening_set(str(path), path.stat().st_mtime if path.exists() else 0.0)
    except DafxError as error:
        st.info(f"The MUSHRA test is not available here: {error}")
        return
    trial_id, done = progress(session_id, answers, "mushra", [t.id for t in listening_set.trials], None, "MUSHRA")
    if trial_id is None:
        return
    trial = listening_set.trial(trial_id)
    stimuli = get_stimuli(str(path), path.stat().st_mtime, trial_id)
    members = {group[0]: group for group in trial.distinct_stimuli}  # one sound, rated once, for each group
    order = listening.seeded_order(session_id, trial_id, list(members))
    labels = {stimulus: chr(ord("A") + i) for i, stimulus in enumerate(order)}
    key = f"mushra:{trial_id}"
    st.session_state.setdefault(f"{key}:started", time.monotonic())
    played = st.session_state.setdefault(f"{key}:played", set())
    st.markdown(f"**Trial {done + 1}.** Rate how close each sound is to the reference (effect: "
                f"*{trial.effect}*). One of them is the reference itself. Play each sound before rating it; "
                "replay any sound as often as you like.")
    st.caption(MUSHRA_SCALE)
    st.markdown("**Reference**")
    st.audio(ui.wav_bytes(stimuli[material.REFERENCE]), format="audio/wav")
    for stimulus in order:
        label = labels[stimulus]
        play, sound, rating = st.columns([1, 3, 4], vertical_alignment="center")
        just_played = play.button(f"Play {label}", key=f"{key}:play:{label}")
        if just_played:
            played.add(stimulus)
        if stimulus in played:
            sound.audio(ui.wav_bytes(stimuli[stimulus]), format="audio/wav", autoplay=just_played)
        else:
            sound.caption("not played yet")
        rating.slider(f"Rating of {label}", 0, 100, 50, key=f"{key}:rate:{label}", disabled=stimulus not in played,
                      help=None if stimulus in played else "Play this sound first.")
    if st.button("Submit ratings", key=f"{key}:submit", type="primary"):
        ratings = {member: st.session_state[f"{key}:rate:{labels[s]}"] for s in order if s in played
                   for member in members[s]}
        heard = {member for s in played for member in members[s]}
        named = {member: labels[s] for s in order for member in members[s]}
        try:
            checked = listening.check_mushra_ratings(ratings, heard, trial.rated, named)
        except DafxError as error:
            st.warning(str(error).capitalize())
            return
        # The set and the trial as heard go with the ratings: a rebuilt set may reuse this trial id.
        payload = {"effect": trial.effect, "order": order, "played": sorted(played), "trial_ms": elapsed_ms(key),
                   "listening_set": listening_set.created_at, "trial": trial.to_json(),
                   "merged": [list(group) for group in members.values() if len(group) > 1]}
        save(db, session_id, "mushra", trial_id, checked, payload, f"Trial {done + 1}")


def questionnaire_part(db, session_id, answers) -> None:
    if listening.QUESTIONNAIRE_TRIAL in listening.completed_trials(answers, "questionnaire"):
        st.success("You have answered the questionnaire. Thank you!")
        return
    with st.form("questionnaire"):
        st.markdown("Rate each question from 1 to 10.")
        for group in ("usability", "efficiency"):
            st.markdown(f"**{group.capitalize()}**")
            for question in (q for q in listening.QUESTIONNAIRE if q.group == group):
                st.slider(question.text, 1, 10, 5, key=f"q:{question.key}",
                          help=f"1 = {question.low}, 10 = {question.high}")
        st.text_area("Comments (optional)", key="q:comments")
        submitted = st.form_submit_button("Submit questionnaire", type="primary")
    if submitted:
        items = {q.key: st.session_state[f"q:{q.key}"] for q in listening.QUESTIONNAIRE}
        items[listening.COMMENTS] = None
        save(db, session_id, "questionnaire", listening.QUESTIONNAIRE_TRIAL, items,
             {"comments": st.session_state["q:comments"]}, "Questionnaire")


def start_session(db) -> None:
    st.markdown("Thank you for taking part. Your answers are anonymous: you get a random session code, "
                "and nothing else about you is stored. Use headphones in a quiet room.")
    left, right = st.columns(2)
    if left.button("Start a new session", type="primary"):
        try:
            st.query_params["session"] = db.new_session(user_agent=st.context.headers.get("User-Agent"))
        except DafxError as error:
            st.error(f"Could not start a session: {error}")
            return
        st.rerun()
    code = right.text_input("…or resume with your session code").strip()
    if code:
        if db.has_session(code):
            st.query_params["session"] = code
            st.rerun()
        st.error("No session with this code. Check it, or start a new session.")


st.title("Listening test")
db = get_answers_store(str(get_settings().db_path))
for name, default in (("unsaved", []), ("write_error", None), ("confirmed", None), ("stored", None)):
    st.session_state.setdefault(name, default)

session_id = st.query_params.get("session")
try:
    if session_id and not db.has_session(session_id):
        st.error("This link's session code is unknown. Start a new session or enter your code.")
        session_id = None
    if not session_id:
        start_session(db)
        st.stop()
    answers = db.answers(session_id)
    st.session_state["stored"] = (session_id, answers)
except DafxError as error:
    st.error(f"The answers database cannot be read: {error}")
    if st.session_state["stored"] is None or st.session_state["stored"][0] != session_id:
        st.stop()
    answers = st.session_state["stored"][1]

st.caption(f"Session code **{session_id}**: keep it (or bookmark this page) to resume later.")
if st.session_state["write_error"]:
    st.error(f"Your last answer was NOT saved: {st.session_state['write_error']}. Try again, or download your "
             "answers and send the file to the experimenter.")
if st.session_state["write_error"] or st.session_state["unsaved"]:
    st.download_button("Download my answers (JSON)", key="download_answers",
                       data=listening.answers_json(session_id, answers, st.session_state["unsaved"]),
                       file_name=f"listening-{session_id}.json", mime="application/json")
if st.session_state["confirmed"]:
    st.success(st.session_state["confirmed"])
    st.session_state["confirmed"] = None

part = st.radio("Part", list(PARTS), format_func=PARTS.get, horizontal=True, key="part")
if part == "mushra":
    mushra_part(db, session_id, answers)
elif part == "questionnaire":
    questionnaire_part(db, session_id, answers)
else:
    try:
        datasets_dir = get_settings().datasets_dir
        modified = datasets_dir.stat().st_mtime if datasets_dir.is_dir() else 0.0
        expert_trials = get_expert_trials(str(get_settings().home), modified)[part]
    except DafxError as error:
        st.error(f"The expert tests cannot load their maps: {error}")
    else:
        if not expert_trials:
            st.info("The expert tests need the precomputed maps (`python -m dafx_explorer precompute`); "
                    "none are installed here.")
        elif part == "expert1":
            expert1_part(db, session_id, answers, expert_trials)
        else:
            expert2_part(db, session_id, answers, expert_trials)
