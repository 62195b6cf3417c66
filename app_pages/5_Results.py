"""Results (admin): objective evaluation and listening-test results, with CSV export of every table."""

import json

import streamlit as st

from dafx_explorer import listening_analysis as analysis
from dafx_explorer import store
from dafx_explorer.errors import DafxError
from dafx_explorer.listening import ListeningStore
from dafx_explorer.settings import get_settings

st.set_page_config(page_title="Results · DAFX Explorer", page_icon="📊", layout="wide")
st.title("Results")
st.markdown("The listening-test answers and the objective evaluation, for whoever runs the study. Every table "
            "can be downloaded as CSV.")

settings = get_settings()
if not settings.admin_password:
    st.warning("This page is locked and no admin password is set. Set the environment variable "
               "`DAFX_EXPLORER_ADMIN_PASSWORD` before starting the app, e.g. "
               "`DAFX_EXPLORER_ADMIN_PASSWORD='…' streamlit run app.py`.")
    st.stop()
entered = st.text_input("Admin password", type="password", key="admin_password",
                        help="The password set in DAFX_EXPLORER_ADMIN_PASSWORD when the app was started. "
                             "Participants never need it.")
if not analysis.password_matches(entered, settings.admin_password):
    if entered:
        st.error("Wrong password.")
    st.stop()
with st.expander("About this page"):
    st.markdown(
        "*Objective evaluation* is the report `python -m dafx_explorer evaluate` writes: for held-out pairs, "
        "the distance between the model's result and the true target next to random settings, the clean input "
        "and the refined result (docs/results.md explains every column). *MUSHRA* shows the 0–100 ratings of "
        "each condition per effect; post-screening (ITU-R BS.1534-3) flags listeners who rated the hidden "
        "reference low too often. *Expert tests* and *Questionnaire* summarize the other tasks, and *All "
        "answers* is every stored answer as it was saved. The protocol is in docs/listening-tests.md."
    )


@st.cache_resource
def get_dataset(home: str, name: str):
    return store.load_dataset(name, home=home)


def table(frame, name: str) -> None:
    """Show a table with a CSV download button."""
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(f"Download {name} (CSV)", frame.to_csv(index=False), key=f"csv:{name}",
                       file_name=f"{name.replace(' ', '_')}.csv", mime="text/csv",
                       help="This table as a CSV file, for a spreadsheet or your own analysis.")


def show_evaluation(path, key: str, caption: str, *, if_missing: str = "", leave_out: tuple[str, ...] = ()) -> None:
    """Show an ``evaluate`` report's tables (CSV names start with ``key``), or why it cannot be shown."""
    try:
        tables = analysis.evaluation_tables(json.loads(path.read_text()))
    except FileNotFoundError:
        if if_missing:
            st.info(if_missing)
        return
    except (OSError, ValueError) as error:
        st.error(f"Cannot read the objective evaluation {path}: {error}")
        return
    st.caption(caption)
    for name, frame in tables.items():
        if name not in leave_out:
            st.markdown(f"**{name.capitalize()}**")
            table(frame, f"{key} {name}")


evaluation_tab, mushra_tab, expert_tab, questionnaire_tab, answers_tab = st.tabs(
    ["Objective evaluation", "MUSHRA", "Expert tests", "Questionnaire", "All answers"])

with evaluation_tab:
    path = settings.home / "evaluation.json"
    show_evaluation(path, "evaluation", "Multi-resolution STFT distance to the true target (lower is better) and "
                    "mean absolute error of the normalized settings, per effect and condition.",
                    if_missing=f"No objective evaluation yet ({path} is missing). Run `python -m dafx_explorer "
                               "evaluate` to write it.")
    across_path = settings.home / "evaluation_across.json"
    if across_path.exists():
        st.subheader("Inputs from other recordings than the reference")
        show_evaluation(across_path, "evaluation across", "The same figures, each input taken from another "
                        "recording than its reference (`evaluate --across`), as a user's own reference usually is.",
                        leave_out=("latent",))  # the latent figures do not depend on the pairing

try:
    answers = ListeningStore(settings.db_path).answers()
except DafxError as error:
    st.error(f"Cannot read the listening-test answers: {error}")
    st.stop()

with mushra_tab:
    ratings = analysis.mushra_ratings(answers)
    if ratings.empty:
        st.info("No MUSHRA answers yet.")
    else:
        screening = analysis.post_screening(ratings)
        flagged = screening.loc[screening["flagged"], "session_id"].tolist()
        exclude = st.checkbox(f"Leave out the {len(flagged)} assessor(s) flagged by post-screening",
                              value=False, key="exclude_flagged", disabled=not flagged,
                              help="Post-screening flags listeners who often rated the hidden reference (the "
                                   "original itself) low, a sign they were not listening closely. Tick to leave "
                                   "their ratings out of the plot and the summary.")
        kept = ratings[~ratings["session_id"].isin(flagged)] if exclude else ratings
        sets = sorted(set(ratings["listening_set"]), reverse=True)  # ISO times: newest first
        if len(sets) > 1:  # a rebuilt set reuses trial ids with other stimuli: plot one set at a time
            shown = st.selectbox("Listening set (when it was built)", sets, key="mushra_set",
                                 help="Rebuilding the listening set changes the sounds behind each trial, so "
                                      "ratings are shown one set at a time, newest first.")
            kept = kept[kept["listening_set"] == shown]
        st.plotly_chart(analysis.mushra_figure(kept), key="mushra_box")
        st.markdown("**Summary per listening set, effect and condition**")
        table(analysis.mushra_summary(ratings, exclude_sessions=flagged if exclude else ()), "mushra summary")
        st.markdown(f"**Post-screening** (ITU-R BS.1534-3): flagged when the hidden reference is rated below "
                    f"{analysis.HIDDEN_REFERENCE_MIN:g} in more than {analysis.MAX_FRACTION_BELOW:.0%} of trials")
        table(screening, "mushra post-screening")
        st.markdown("**Ratings**")
        table(ratings, "mushra ratings")

with expert_tab:
    st.markdown("**Expert test 1 · interpolation** (how well C matched what was expected, 1–10)")
    table(analysis.expert1_summary(answers), "expert1 summary")
    st.markdown("**Expert test 2 · semantic control** (how easy it was, 1–10; attempts = map clicks)")
    table(analysis.expert2_summary(answers), "expert2 summary")
    positions = analysis.expert_positions(answers)
    st.markdown("**Answers on the map** (C: the rated midpoints of test 1; attempts and final points of test 2)")
    for (name, k), rows in positions.groupby(["dataset", "k"]):
        try:
            coords = get_dataset(str(settings.home), name).projection(int(k))
        except DafxError as error:
            st.warning(f"Cannot draw the answers on the map of {name}: {error}")
            continue
        st.plotly_chart(analysis.answers_map_figure(coords, rows, title=f"{name} (k = {k})"), key=f"map:{name}:{k}")
    table(positions, "expert answer positions")

with questionnaire_tab:
    table(analysis.questionnaire_summary(answers), "questionnaire summary")
    st.markdown("**Comments**")
    table(analysis.questionnaire_comments(answers), "questionnaire comments")

with answers_tab:
    table(answers.assign(payload=answers["payload"].map(json.dumps)), "all answers")
