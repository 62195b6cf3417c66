"""Latent Controller: click the map of an effect's settings and hear what the controller predicts.

A click on a point plays the settings the controller predicts for its embedding (and offers
its true rendering); a click on empty space interpolates an embedding there and renders the
controller's prediction live. Computation lives in :mod:`dafx_explorer.explorer`.
"""

import streamlit as st

from dafx_explorer import explorer, matching, presets, store, ui
from dafx_explorer.errors import DafxError
from dafx_explorer.settings import get_settings

st.set_page_config(page_title="Latent Controller · DAFX Explorer", page_icon="🎛️", layout="wide")


@st.cache_resource(show_spinner="Loading the dataset…")
def get_dataset(home: str, name: str) -> store.Dataset:
    return store.load_dataset(name, home)


@st.cache_resource(show_spinner="Loading the models…")
def get_controller(home: str, name: str) -> explorer.LatentController:
    dataset = get_dataset(home, name)
    bundle = matching.load_models(dataset.effect.name, str(store.settings_for(home).models_dir))
    return explorer.LatentController(dataset, bundle)


@st.cache_resource(max_entries=64)
def get_map(home: str, name: str, encoder: str, k: int):
    xy = get_dataset(home, name).projection(k, encoder)
    xy.flags.writeable = False
    return xy


@st.cache_resource(max_entries=16)
def get_map_figure(home: str, name: str, encoder: str, k: int, colour: str):
    dataset = get_dataset(home, name)
    title = f"{dataset.name} · {explorer.ENCODER_LABELS.get(encoder, encoder)} · k = {k}"
    return ui.latent_map_figure(get_map(home, name, encoder, k), explorer.colouring(dataset, colour), title=title)


st.title("Latent Controller")
home = str(get_settings().home)
names = store.list_datasets(home)
if not names:
    st.info("No precomputed datasets were found in the data folder. Build one with: "
            "`python -m dafx_explorer precompute --effect overdrive`")
    st.stop()

controls = st.columns([2, 1, 1, 2])
name = controls[0].selectbox("Effect (dataset)", names, key="latent:dataset")
try:
    dataset = get_dataset(home, name)
except DafxError as error:
    st.error(str(error))
    st.stop()
encoder = controls[1].radio("Encoder", dataset.encoders, key="latent:encoder", horizontal=True,
                            format_func=lambda e: explorer.ENCODER_LABELS.get(e, e))
k = controls[2].selectbox("Number of supervised points", dataset.ks, key="latent:k",
                          format_func=lambda v: f"{v} (unsupervised)" if v == 0 else str(v),
                          help="Points per extreme of brightness and depth change given a class label "
                               "when the map was projected (semi-supervised UMAP).")
colour = controls[3].selectbox("Colour by", explorer.colour_choices(dataset), key="latent:colour")

controller = None
if dataset.info.get("controller", True):
    try:
        controller = get_controller(home, name)
    except DafxError as error:
        st.warning(f"{error} — clicks on points play their settings, clicks on empty space the nearest point.")
else:
    st.info("This dataset has no controller: clicks on points play their true settings, clicks on empty space "
            "the nearest point.")

xy = get_map(home, name, encoder, k)
left, right = st.columns([3, 2])
with left:
    event = st.plotly_chart(get_map_figure(home, name, encoder, k, colour), on_select="rerun",
                            selection_mode="points", key="latent:map", config={"displaylogo": False})
    st.caption(f"{len(dataset)} settings of {dataset.effect.name}, placed by how they sound. Click a point, "
               f"or anywhere between points to hear the embedding interpolated there (inverse-distance weights "
               f"of the {explorer.NEIGHBOURS} nearest points).")

    with st.expander("Load a preset"):
        preset_file = st.file_uploader(
            "Preset (JSON)", type=["json"], key="latent:preset_file",
            help='A preset exported here or on Style Match, or plain pedalboard settings such as '
                 '{"pedalboard": [{"Distortion": {"drive_db": 35}}]}: hear it on this clip.')

try:
    choice = None
    if st.session_state.get("latent:last_click") != repr(event):  # a new click
        st.session_state["latent:last_click"] = repr(event)
        choice = explorer.resolve_click(dataset, event, xy, controller)
    if preset_file is not None and st.session_state.get("latent:preset_id") != preset_file.file_id:
        st.session_state["latent:preset_id"] = preset_file.file_id
        choice = explorer.choose_preset(dataset, preset_file.getvalue(), xy, name=preset_file.name)
except DafxError as error:
    st.error(str(error))
    choice = None
if choice is not None:
    st.session_state["latent:choice"] = (name, choice)
remembered = st.session_state.get("latent:choice")
choice = remembered[1] if remembered and remembered[0] == name else None

with right:
    st.subheader("Clean clip")
    st.audio(ui.wav_bytes(dataset.clean), format="audio/wav")
    if choice is None:
        st.info("Click the map to hear a setting.")
        st.stop()
    selection = choice.selection
    x, y = selection.position
    if choice.preset is not None:
        st.subheader(f"Preset {choice.preset}")
        st.caption(f"Nearest point on the map in settings: {selection.index}.")
        label = "Preset's settings"
    elif selection.on_point:
        st.subheader(f"Point {selection.index}")
        label = "Controller's prediction" if choice.predicted else "True settings (no prediction)"
    else:
        st.subheader(f"Empty space at ({x:.2f}, {y:.2f})")
        label = "Controller's prediction from the interpolated embedding"
    st.markdown(f"**{label}**")
    st.audio(ui.wav_bytes(choice.audio), format="audio/wav")
    if choice.true_audio is not None and choice.predicted:
        st.markdown("**True settings**")
        st.audio(ui.wav_bytes(choice.true_audio), format="audio/wav")
    if choice.predicted:
        columns = {"predicted": choice.settings, "true": choice.true_settings}
    else:
        columns = {"preset" if choice.preset is not None else "true": choice.settings}
    table = explorer.settings_table(dataset.effect, columns)
    number = st.column_config.NumberColumn(format="%.4g")
    st.dataframe(table, hide_index=True, width="stretch", column_config=dict.fromkeys(columns, number))
    if choice.neighbours is not None:
        st.caption("Interpolated from points " + ", ".join(
            f"{i} ({w:.0%})" for i, w in zip(choice.neighbours, choice.weights, strict=True)))

    st.subheader("Export")
    export = choice.settings
    if choice.true_settings is not None and choice.predicted:
        which = st.radio("Settings to export", ("predicted", "true"), horizontal=True, key="latent:export")
        export = choice.settings if which == "predicted" else choice.true_settings
    try:
        preset_text = presets.preset_json(dataset.effect, export)
        code = presets.snippet(dataset.effect, export)
    except DafxError as error:
        st.error(str(error))
        st.stop()
    buttons = st.columns(2)
    buttons[0].download_button("Preset (JSON)", preset_text, file_name=presets.file_name(dataset.effect, ".json"),
                               mime="application/json", key="latent:preset")
    buttons[1].download_button("Python snippet", code, file_name=presets.file_name(dataset.effect, ".py"),
                               mime="text/x-python", key="latent:snippet")
    with st.expander("Python snippet (rebuilds the pedalboard chain)"):
        st.code(code, language="python")
