"""Listening Test (for participants): two expert tests on the map, MUSHRA and a questionnaire.

Each answer is written when it is given and confirmed only once written; ``?session=…`` in the URL
resumes a session. Session keys start with ``listening_``. Protocol: docs/listening-tests.md.
The parts themselves are drawn by :mod:`dafx_explorer.listening_parts`.
"""

import streamlit as st

from dafx_explorer import listening
from dafx_explorer import listening_parts as parts
from dafx_explorer.errors import DafxError
from dafx_explorer.settings import get_settings

st.set_page_config(page_title="Listening Test · DAFX Explorer", page_icon="🎧", layout="wide")
S, TEXT, HELP = st.session_state, listening.INSTRUCTIONS, listening.HELP
answers_store = st.cache_resource(listening.ListeningStore)


def start_session() -> None:
    """Start a new session, or resume one by its code (the code goes into the URL)."""
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
context = parts.Context(db, session_id, answers, state)
if part == "mushra":
    parts.mushra_part(context)
elif part == "questionnaire":
    parts.questionnaire_part(context)
else:
    parts.expert_part(context, part)
