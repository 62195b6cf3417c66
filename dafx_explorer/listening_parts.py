"""The parts of the Listening Test page, drawn with Streamlit: the two expert tests on the map, MUSHRA and the
questionnaire.

Each part takes a :class:`Context` (the answers store, the session, its answers and the page's bookkeeping)
and saves through it; the page (``app_pages/4_Listening_Test.py``) starts the session and picks the part.
The cached loaders are module-level, so Streamlit keeps them between runs; session keys start with
``listening_``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from dafx_explorer import expert_trials as expert
from dafx_explorer import listening, mushra_set, store, ui
from dafx_explorer.errors import DafxError
from dafx_explorer.settings import get_settings

S, TEXT, HELP = st.session_state, listening.INSTRUCTIONS, listening.HELP


@st.cache_resource
def mushra_trials(path: str, modified: float) -> mushra_set.ListeningSet:
    """The MUSHRA set at ``path`` (``modified``, its file's time, renews the cache when it changes)."""
    return mushra_set.load_listening_set(path)


@st.cache_resource(max_entries=8)
def mushra_stimuli(path: str, modified: float, trial_id: str) -> dict[str, np.ndarray]:
    """The rendered stimuli of one MUSHRA trial."""
    return mushra_set.render_trial(mushra_trials(path, modified).trial(trial_id))


@st.cache_resource
def dataset(home: str, name: str) -> store.Dataset:
    """The dataset ``name`` under ``home``."""
    return store.load_dataset(name, home=home)


@st.cache_resource
def every_expert_trial(home: str, modified: float):
    """Every expert trial by test, from every dataset under ``home`` (``modified``: the datasets folder's time)."""
    return expert.trials_by_test([dataset(home, name) for name in store.list_datasets(home)])


@dataclass(frozen=True)
class Context:
    """What a part needs: the answers store, the session code, its answers and the page's bookkeeping."""

    db: listening.ListeningStore
    session_id: str
    answers: pd.DataFrame
    state: listening.PageState

    def save(self, test, trial_id, answer: listening.Answer, what) -> None:
        """Record an answer; confirm it only once written, else keep it for the download and say so."""
        self.state.save(self.db, self.session_id, test, trial_id, *answer, what)
        st.rerun()

    def trial_to_do(self, test, trial_ids, limit, name) -> tuple[str | None, int, str]:
        """Show the progress in ``test``; return its next trial (None when done), the trials done and its key."""
        trial_id, done, total = listening.progress(self.session_id, test, trial_ids, self.answers, limit)
        st.progress(done / total, text=f"{name}: {done} of {total} trials done")
        key = f"listening_{test}:{trial_id}"
        if trial_id is None:
            st.success(f"You have finished {name}. Thank you!")
        else:
            self.state.start_trial(key)
        return trial_id, done, key


def players(sounds, autoplay: str | None = None) -> None:
    """One audio player per ``(label, samples)``, side by side; the one labelled ``autoplay`` starts playing."""
    for column, (label, samples) in zip(st.columns(4), sounds, strict=False):
        column.markdown(f"**{label}**")
        column.audio(ui.wav_bytes(samples), format="audio/wav", autoplay=label == autoplay)


def expert_part(ctx: Context, part: str) -> None:
    """Expert test 1 or 2 (``part``): the progress, then the next trial on its dataset's map."""
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
    trial_id, done, key = ctx.trial_to_do(part, list(trials), limit, f"expert test {part[-1]}")
    if trial_id is not None:
        data = dataset(str(get_settings().home), trials[trial_id].dataset)
        coords, _ = expert.map_coordinates(data, trials[trial_id].k)
        (expert1_part if part == "expert1" else expert2_part)(ctx, trials[trial_id], data, coords, key, done)


def expert1_part(ctx: Context, trial, data, coords, key, done) -> None:
    """Expert test 1: play A, B and the clean sound, then C, and rate how well C matched."""
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
        ctx.save("expert1", trial.id, listening.expert1_answer(trial, S[f"{key}:rating"], ctx.state.elapsed_ms(key)),
                 f"Expert test 1, trial {done + 1}")


def expert2_part(ctx: Context, trial, data, coords, key, done) -> None:
    """Expert test 2: from the start X, click the map until the sound fits the prompt, then rate how easy it was."""
    start = expert.start_point(data, ctx.session_id, trial.id, k=trial.k)
    tried = [expert.MapPoint(**point) for point in listening.attempted_points(ctx.answers, trial.id)]
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
        ctx.save("expert2", trial.id, listening.expert2_attempt(trial, start, clicked, len(tried) + 1),
                 f"Attempt {len(tried) + 1}")
    players([("X (start)", data.audio(start.index)[0])]
            + ([(f"Attempt {len(tried)}", data.audio(tried[-1].index)[0])] if tried else []),
            autoplay=f"Attempt {len(tried)}" if S.get(f"{key}:fresh") == len(tried) else None)
    st.slider("How easy was it to get there?", 1, 10, 5, key=f"{key}:rating", disabled=not tried,
              help=HELP["expert2_rating"])
    if st.button("I am satisfied: submit", key=f"{key}:submit", type="primary", disabled=not tried,
                 help=HELP["expert2_submit"]):
        answer = listening.expert2_answer(trial, start, tried, S[f"{key}:rating"], ctx.state.elapsed_ms(key))
        ctx.save("expert2", trial.id, answer, f"Expert test 2, task {done + 1}")


def mushra_part(ctx: Context) -> None:
    """MUSHRA: the progress, then the next trial's reference and its sounds to play and rate."""
    path = get_settings().listening_set_path
    modified = path.stat().st_mtime if path.exists() else 0.0
    try:
        trials = mushra_trials(str(path), modified)
    except DafxError as error:
        st.info(f"The MUSHRA test is not available here: {error}")
        return
    trial_id, done, key = ctx.trial_to_do("mushra", [t.id for t in trials.trials], None, "MUSHRA")
    if trial_id is None:
        return
    trial, stimuli = trials.trial(trial_id), mushra_stimuli(str(path), modified, trial_id)
    order, played = listening.mushra_order(ctx.session_id, trial), S.setdefault(f"{key}:played", set())
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
            answer = listening.mushra_answer(trial, order, played, ratings, trials.created_at,
                                             ctx.state.elapsed_ms(key))
        except DafxError as error:
            st.warning(str(error).capitalize())
            return
        ctx.save("mushra", trial_id, answer, f"Trial {done + 1}")


def questionnaire_part(ctx: Context) -> None:
    """The questionnaire: a 1–10 slider per question, by group, and optional comments, in one form."""
    if listening.QUESTIONNAIRE_TRIAL in listening.completed_trials(ctx.answers, "questionnaire"):
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
        ctx.save("questionnaire", listening.QUESTIONNAIRE_TRIAL,
                 listening.questionnaire_answer(ratings, S["listening_q:comments"]), "Questionnaire")
