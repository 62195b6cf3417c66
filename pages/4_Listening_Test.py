"""Listening Test (participant-facing): expert tests, MUSHRA and a questionnaire.

Every answer is saved the moment it is given and confirmed only once saved; the session
code in the URL (``?session=…``) resumes the session after a reload.
"""

import time
from datetime import UTC, datetime

import streamlit as st

from dafx_explorer import listening
from dafx_explorer.errors import DafxError
from dafx_explorer.listening_set import REFERENCE, load_listening_set, render_trial
from dafx_explorer.settings import SAMPLE_RATE, get_settings

st.set_page_config(page_title="Listening Test · DAFX Explorer", page_icon="🎧", layout="wide")

PARTS = {"expert1": "Expert test 1 · interpolation", "expert2": "Expert test 2 · semantic control",
         "mushra": "MUSHRA", "questionnaire": "Questionnaire"}
MUSHRA_SCALE = "0–20 bad · 20–40 poor · 40–60 fair · 60–80 good · 80–100 excellent"


@st.cache_resource
def get_store(path: str) -> listening.ListeningStore:
    return listening.ListeningStore(path)


@st.cache_resource
def get_listening_set(path: str, modified: float):
    return load_listening_set(path)


@st.cache_resource(max_entries=8)
def get_stimuli(path: str, modified: float, trial_id: str):
    return render_trial(get_listening_set(path, modified).trial(trial_id))


def save(store, session_id, test, trial_id, items, payload, what) -> None:
    """Record answers; confirm only after the commit, keep and report them when it fails."""
    try:
        store.record(session_id, test, trial_id, items, payload)
    except DafxError as error:
        st.session_state["unsaved"].append({"test": test, "trial_id": trial_id, "items": items, "payload": payload,
                                            "given_at": datetime.now(UTC).isoformat(timespec="seconds")})
        st.session_state["write_error"] = str(error)
    else:
        st.session_state["write_error"] = None
        st.session_state["confirmed"] = f"{what} saved."
    st.rerun()


def start_session(store) -> None:
    st.markdown("Thank you for taking part. Your answers are anonymous: you get a random session code, "
                "and nothing else about you is stored. Use headphones in a quiet room.")
    left, right = st.columns(2)
    if left.button("Start a new session", type="primary"):
        try:
            st.query_params["session"] = store.new_session(user_agent=st.context.headers.get("User-Agent"))
        except DafxError as error:
            st.error(f"Could not start a session: {error}")
            return
        st.rerun()
    code = right.text_input("…or resume with your session code")
    if code:
        if store.has_session(code.strip()):
            st.query_params["session"] = code.strip()
            st.rerun()
        st.error("No session with this code. Check it, or start a new session.")


def mushra_part(store, session_id, answers) -> None:
    path = get_settings().listening_set_path
    try:
        listening_set = get_listening_set(str(path), path.stat().st_mtime if path.exists() else 0.0)
    except DafxError as error:
        st.info(f"The MUSHRA test is not available here: {error}")
        return
    trial_ids = [t.id for t in listening_set.trials]
    trial_id = listening.next_trial(session_id, "mushra", trial_ids, answers)
    done = len(listening.completed_trials(answers, "mushra") & set(trial_ids))
    st.progress(done / len(trial_ids), text=f"MUSHRA: {done} of {len(trial_ids)} trials done")
    if trial_id is None:
        st.success("You have finished the MUSHRA test. Thank you!")
        return
    trial = listening_set.trial(trial_id)
    stimuli = get_stimuli(str(path), path.stat().st_mtime, trial_id)
    order = listening.seeded_order(session_id, trial_id, list(trial.rated))
    labels = {stimulus: chr(ord("A") + i) for i, stimulus in enumerate(order)}
    key = f"mushra:{trial_id}"
    started = st.session_state.setdefault(f"{key}:started", time.monotonic())
    played = st.session_state.setdefault(f"{key}:played", set())
    st.markdown(f"**Trial {done + 1}.** Rate how close each sound is to the reference (effect: "
                f"*{trial.effect}*). One of them is the reference itself. Play each sound before rating it; "
                "replay any sound as often as you like.")
    st.caption(MUSHRA_SCALE)
    st.markdown("**Reference**")
    st.audio(stimuli[REFERENCE], sample_rate=SAMPLE_RATE)
    for stimulus in order:
        label = labels[stimulus]
        play, sound, rating = st.columns([1, 3, 4], vertical_alignment="center")
        just_played = play.button(f"Play {label}", key=f"{key}:play:{label}")
        if just_played:
            played.add(stimulus)
        if stimulus in played:
            sound.audio(stimuli[stimulus], sample_rate=SAMPLE_RATE, autoplay=just_played)
        else:
            sound.caption("not played yet")
        rating.slider(f"Rating of {label}", 0, 100, 50, key=f"{key}:rate:{label}", disabled=stimulus not in played,
                      help="Play this sound first" if stimulus not in played else None)
    if st.button("Submit ratings", key=f"{key}:submit", type="primary"):
        ratings = {s: st.session_state[f"{key}:rate:{labels[s]}"] for s in order if s in played}
        try:
            checked = listening.check_mushra_ratings(ratings, played, trial.rated, labels)
        except DafxError as error:
            st.warning(str(error).capitalize())
            return
        payload = {"effect": trial.effect, "order": order, "played": sorted(played),
                   "trial_ms": round(1000 * (time.monotonic() - started))}
        save(store, session_id, "mushra", trial_id, checked, payload, f"Trial {done + 1}")


def questionnaire_part(store, session_id, answers) -> None:
    if listening.QUESTIONNAIRE_TRIAL in listening.completed_trials(answers, "questionnaire"):
        st.success("You have answered the questionnaire. Thank you!")
        return
    with st.form("questionnaire"):
        st.markdown("Rate each statement from 1 to 10.")
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
        save(store, session_id, "questionnaire", listening.QUESTIONNAIRE_TRIAL, items,
             {"comments": st.session_state["q:comments"]}, "Questionnaire")


st.title("Listening test")
store = get_store(str(get_settings().db_path))
for name, default in (("unsaved", []), ("write_error", None), ("confirmed", None), ("stored", None)):
    st.session_state.setdefault(name, default)

session_id = st.query_params.get("session")
try:
    if session_id and not store.has_session(session_id):
        st.error("This link's session code is unknown. Start a new session or enter your code.")
        session_id = None
    if not session_id:
        start_session(store)
        st.stop()
    answers = store.answers(session_id)
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
    mushra_part(store, session_id, answers)
elif part == "questionnaire":
    questionnaire_part(store, session_id, answers)
else:
    st.info("The expert tests need the precomputed maps; they are not available yet.")
