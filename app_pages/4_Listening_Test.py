"""Listening Test (for participants): two expert tests on the map, MUSHRA and a questionnaire.

Each answer is written when it is given and confirmed only once written; ``?session=…`` in the URL
resumes a session. Session keys start with ``listening_``. Protocol: docs/listening-tests.md.
"""

import streamlit as st

from dafx_explorer import expert_trials as expert
from dafx_explorer import listening, mushra_set, store, ui
from dafx_explorer.errors import DafxError
from dafx_explorer.settings import get_settings

st.set_page_config(page_title="Listening Test · DAFX Explorer", page_icon="🎧", layout="wide")
S, TEXT, HELP = st.session_state, listening.INSTRUCTIONS, listening.HELP
answers_store = st.cache_resource(listening.ListeningStore)
mushra_trials = st.cache_resource(lambda path, modified: mushra_set.load_listening_set(path))
mushra_stimuli = st.cache_resource(max_entries=8)(
    lambda path, modified, trial_id: mushra_set.render_trial(mushra_trials(path, modified).trial(trial_id)))
dataset = st.cache_resource(lambda home, name: store.load_dataset(name, home=home))
every_expert_trial = st.cache_resource(
    lambda home, modified: expert.trials_by_test([dataset(home, name) for name in store.list_datasets(home)]))


def save(test, trial_id, answer: listening.Answer, what) -> None:
    """Record an answer; confirm it only once written, else keep it for the download and say so."""
    state.save(db, session_id, test, trial_id, *answer, what)
    st.rerun()


def trial_to_do(test, trial_ids, limit, name) -> tuple[str | None, int, str]:
    """Show the progress in ``test``; return its next trial (None when done), the trials done and the trial's key."""
    trial_id, done, total = listening.progress(session_id, test, trial_ids, answers, limit)
    st.progress(done / total, text=f"{name}: {done} of {total} trials done")
    key = f"listening_{test}:{trial_id}"
    if trial_id is None:
        st.success(f"You have finished {name}. Thank you!")
    else:
        state.start_trial(key)
    return trial_id, done, key


def players(sounds, autoplay: str | None = None) -> None:
    for column, (label, samples) in zip(st.columns(4), sounds, strict=False):
        column.markdown(f"**{label}**")
        column.audio(ui.wav_bytes(samples), format="audio/wav", autoplay=label == autoplay)


def expert1_part(trial, data, coords, key, done) -> None:
    heard_c = S.setdefault(f"{key}:heard_c", False)
    st.markdown(TEXT["expert1"].format(effect=data.effect.name))
    shown = {"A": trial.a, "B": trial.b, **({"C": trial.c} if heard_c else {})}
    st.plotly_chart(expert.map_figure(coords, shown, line=(trial.a, trial.b)), key=f"{key}:map")
    sounds = [(label, data.audio(point.index)[0]) for label, point in shown.items()]
    players(sounds[:2] + [("Clean (no effect)", data.clean)] + sounds[2:],
            autoplay="C" if S.pop(f"{key}:just_played", False) else None)
    st.button("Play C", key=f"{key}:play_c", help=HELP["play_c"], on_click=S.update,
              kwargs={f"{key}:heard_c": True, f"{key}:just_played": True})
    st.slider("How well did C match what you expected?", 1, 10, 5, key=f"{key}:rating", disabled=not heard_c,
              help=HELP["expert1_rating"])
    if st.button("Submit rating", key=f"{key}:submit", type="primary", disabled=not heard_c,
                 help=HELP["expert1_submit"]):
        save("expert1", trial.id, listening.expert1_answer(trial, S[f"{key}:rating"], state.elapsed_ms(key)),
             f"Expert test 1, trial {done + 1}")


def expert2_part(trial, data, coords, key, done) -> None:
    start = expert.start_point(data, session_id, trial.id, k=trial.k)
    tried = [expert.MapPoint(**point) for point in listening.attempted_points(answers, trial.id)]
    st.markdown(TEXT["expert2"].format(effect=data.effect.name, prompt=trial.prompt))
    # A new key after each attempt gives a fresh chart, so one click is recorded once.
    event = st.plotly_chart(expert.map_figure(coords, {"X": start, **({str(len(tried)): tried[-1]} if tried else {})}),
                            key=f"{key}:map:{len(tried)}", on_select="rerun", selection_mode="points")
    clicked = expert.selected_point(event.selection if event else None, coords)
    with st.expander("Cannot click the map? Type coordinates instead"):
        x = st.number_input("map x", value=start.x, key=f"{key}:x", help=HELP["map_x"])
        y = st.number_input("map y", value=start.y, key=f"{key}:y", help=HELP["map_y"])
        if st.button("Try this point", key=f"{key}:try", help=HELP["try"]):
            clicked = expert.map_point(coords, expert.nearest_point(coords, (x, y)))
    if clicked is not None:
        S[f"{key}:fresh"] = len(tried) + 1
        save("expert2", trial.id, listening.expert2_attempt(trial, start, clicked, len(tried) + 1),
             f"Attempt {len(tried) + 1}")
    players([("X (start)", data.audio(start.index)[0])]
            + ([(f"Attempt {len(tried)}", data.audio(tried[-1].index)[0])] if tried else []),
            autoplay=f"Attempt {len(tried)}" if S.get(f"{key}:fresh") == len(tried) else None)
    st.slider("How easy was it to get there?", 1, 10, 5, key=f"{key}:rating", disabled=not tried,
              help=HELP["expert2_rating"])
    if st.button("I am satisfied: submit", key=f"{key}:submit", type="primary", disabled=not tried,
                 help=HELP["expert2_submit"]):
        answer = listening.expert2_answer(trial, start, tried, S[f"{key}:rating"], state.elapsed_ms(key))
        save("expert2", trial.id, answer, f"Expert test 2, task {done + 1}")


def mushra_part() -> None:
    path = get_settings().listening_set_path
    modified = path.stat().st_mtime if path.exists() else 0.0
    try:
        trials = mushra_trials(str(path), modified)
    except DafxError as error:
        st.info(f"The MUSHRA test is not available here: {error}")
        return
    trial_id, done, key = trial_to_do("mushra", [t.id for t in trials.trials], None, "MUSHRA")
    if trial_id is None:
        return
    trial, stimuli = trials.trial(trial_id), mushra_stimuli(str(path), modified, trial_id)
    order, played = listening.mushra_order(session_id, trial), S.setdefault(f"{key}:played", set())
    labels = listening.mushra_labels(order)
    st.markdown(TEXT["mushra"].format(number=done + 1, effect=trial.effect))
    st.caption(listening.MUSHRA_SCALE)
    st.markdown("**Reference**")
    st.audio(ui.wav_bytes(stimuli[mushra_set.REFERENCE]), format="audio/wav")
    for sound, label in labels.items():
        play, player, rating = st.columns([1, 3, 4], vertical_alignment="center")
        if just_played := play.button(f"Play {label}", key=f"{key}:play:{label}", help=HELP["play"]):
            played.add(sound)
        if sound in played:
            player.audio(ui.wav_bytes(stimuli[sound]), format="audio/wav", autoplay=just_played)
        else:
            player.caption("not played yet")
        rating.slider(f"Rating of {label}", 0, 100, 50, key=f"{key}:rate:{label}", disabled=sound not in played,
                      help=HELP["mushra_rating"])
    if st.button("Submit ratings", key=f"{key}:submit", type="primary", help=HELP["mushra_submit"]):
        ratings = {sound: S[f"{key}:rate:{label}"] for sound, label in labels.items()}
        try:
            answer = listening.mushra_answer(trial, order, played, ratings, trials.created_at, state.elapsed_ms(key))
        except DafxError as error:
            st.warning(str(error).capitalize())
            return
        save("mushra", trial_id, answer, f"Trial {done + 1}")


def questionnaire_part() -> None:
    if listening.QUESTIONNAIRE_TRIAL in listening.completed_trials(answers, "questionnaire"):
        st.success("You have answered the questionnaire. Thank you!")
        return
    with st.form("listening_questionnaire"):
        st.markdown("Rate each question from 1 to 10.")
        for group in ("usability", "efficiency"):
            st.markdown(f"**{group.capitalize()}**")
            for question in (q for q in listening.QUESTIONNAIRE if q.group == group):
                st.slider(question.text, 1, 10, 5, key=f"listening_q:{question.key}",
                          help=f"1 = {question.low}, 10 = {question.high}")
        st.text_area("Comments (optional)", key="listening_q:comments", help=HELP["comments"])
        submitted = st.form_submit_button("Submit questionnaire", type="primary", help=HELP["questionnaire_submit"])
    if submitted:
        ratings = {q.key: S[f"listening_q:{q.key}"] for q in listening.QUESTIONNAIRE}
        save("questionnaire", listening.QUESTIONNAIRE_TRIAL,
             listening.questionnaire_answer(ratings, S["listening_q:comments"]), "Questionnaire")


def start_session() -> None:
    st.markdown(TEXT["start"])
    left, right = st.columns(2)
    if left.button("Start a new session", type="primary", help=HELP["start"]):
        try:
            st.query_params["session"] = db.new_session(user_agent=st.context.headers.get("User-Agent"))
        except DafxError as error:
            st.error(f"Could not start a session: {error}")
            return
        st.rerun()
    code = right.text_input("…or resume with your session code", key="listening_resume", help=HELP["resume"]).strip()
    if code:
        if db.has_session(code):
            st.query_params["session"] = code
            st.rerun()
        st.error("No session with this code. Check it, or start a new session.")


st.title("Listening test")
st.markdown("You will listen to short sounds made with audio effects and rate them. "
            "Each answer is saved as soon as you give it, and your session code lets you stop and come back later.")
st.expander("About this page").markdown(listening.ABOUT)
db, state = answers_store(str(get_settings().db_path)), listening.PageState(S)
session_id = st.query_params.get("session")
try:
    if session_id and not db.has_session(session_id):
        st.error("This link's session code is unknown. Start a new session or enter your code.")
        session_id = None
    if not session_id:
        start_session()
        st.stop()
    answers = state.read_answers(db, session_id)
except DafxError as error:
    st.error(f"The answers database cannot be read: {error}")
    if (answers := state.last_answers(session_id)) is None:
        st.stop()

st.caption(f"Session code **{session_id}**: keep it (or bookmark this page) to resume later.")
if state.write_error:
    st.error(f"Your last answer was NOT saved: {state.write_error}. Try again, or download your answers and "
             "send the file to the experimenter.")
if state.write_error or state.unsaved:
    st.download_button("Download my answers (JSON)", key="listening_download", mime="application/json",
                       data=listening.answers_json(session_id, answers, state.unsaved),
                       file_name=f"listening-{session_id}.json", help=HELP["download"])
if confirmed := state.take_confirmation():
    st.success(confirmed)
part = st.radio("Part", list(listening.PARTS), format_func=listening.PARTS.get, horizontal=True, key="listening_part",
                help=HELP["part"])
if part == "mushra":
    mushra_part()
elif part == "questionnaire":
    questionnaire_part()
else:
    try:
        folder = get_settings().datasets_dir
        trials = every_expert_trial(str(get_settings().home), folder.stat().st_mtime if folder.is_dir() else 0.0)[part]
    except DafxError as error:
        st.error(f"The expert tests cannot load their maps: {error}")
        st.stop()
    if not trials:
        st.info("The expert tests need the precomputed maps (`python -m dafx_explorer precompute`); none are here.")
        st.stop()
    limit = expert.EXPERT1_TRIALS if part == "expert1" else expert.EXPERT2_TRIALS
    trial_id, done, key = trial_to_do(part, list(trials), limit, f"expert test {part[-1]}")
    if trial_id is not None:
        data = dataset(str(get_settings().home), trials[trial_id].dataset)
        coords, _ = expert.map_coordinates(data, trials[trial_id].k)
        (expert1_part if part == "expert1" else expert2_part)(trials[trial_id], data, coords, key, done)
