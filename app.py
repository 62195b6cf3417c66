"""DAFX Explorer home page: ``streamlit run app.py``."""

import streamlit as st

from dafx_explorer import ui

st.set_page_config(page_title="DAFX Explorer", page_icon="🎛️", layout="wide")
ui.warm_up()

st.title("DAFX Explorer")
st.markdown(
    "Explore and control digital audio effects through a learned latent space. "
    "Thousands of settings of each effect are laid out on a 2-D map organised by how they "
    "**sound**: click anywhere on the map to hear it, compare the settings a neural controller "
    "predicts with the true ones, match the style of a reference recording, and run listening tests."
)

st.subheader("Where to go")
st.markdown(
    "- **Latent Controller** — click the map of an effect's settings and hear the result.\n"
    "- **Latent Space** — all effects in one map, and domain-colouring views of each.\n"
    "- **Style Match** — bring an input and a reference; get the settings, the audio and a preset.\n"
    "- **Listening Test** — expert tests and MUSHRA for participants.\n"
    "- **Results** — listening-test results and objective evaluation (admin password)."
)

st.subheader("Loaded data")
st.dataframe(ui.data_status_table(), hide_index=True, width="stretch")

st.subheader("Effects")
for name, table in ui.effects_tables():
    with st.expander(name, expanded=False):
        st.dataframe(table, hide_index=True, width="stretch")
