"""Home page: what the app is, which data and models are loaded, and every effect's parameters."""

import streamlit as st

from dafx_explorer import home

st.set_page_config(page_title="DAFX Explorer", page_icon="🎛️", layout="wide")

st.title("DAFX Explorer")
st.markdown(
    "Explore an audio effect by ear: thousands of its settings are laid out on a map where settings that "
    "**sound** alike sit together. Click the map to hear them, find the settings that make your recording "
    "sound like a reference, or take part in a listening test."
)

st.subheader("Where to go")
for script, title, icon, summary in home.PAGES:
    st.page_link(script, label=f"**{title}** — {summary}", icon=icon, help=f"Open the {title} page.")

st.subheader("Loaded data")
st.markdown(home.markdown_table(home.data_status_table()))

st.subheader("Effects")
for name, table in home.effects_tables():
    with st.expander(name, expanded=False):
        st.markdown(home.markdown_table(table))
