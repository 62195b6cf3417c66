"""Home page: what the app is, which data and models are loaded, and every effect's parameters."""

import streamlit as st

from dafx_explorer import ui

st.set_page_config(page_title="DAFX Explorer", page_icon="🎛️", layout="wide")

st.title("DAFX Explorer")
st.markdown(
    "Explore and control digital audio effects through a learned latent space. "
    "Thousands of settings of each effect are laid out on a 2-D map organised by how they "
    "**sound**: click anywhere on the map to hear it, compare the settings a neural controller "
    "predicts with the true ones, match the style of a reference recording, and run listening tests."
)

st.subheader("Where to go")
for script, title, icon, summary in ui.PAGES:
    st.page_link(script, label=f"**{title}** — {summary}", icon=icon)

st.subheader("Loaded data")
st.dataframe(ui.data_status_table(), hide_index=True, width="stretch")

st.subheader("Effects")
for name, table in ui.effects_tables():
    with st.expander(name, expanded=False):
        st.dataframe(table, hide_index=True, width="stretch")
