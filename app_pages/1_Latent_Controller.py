"""Latent Controller: click the map of an effect's settings and hear what the controller predicts.

A click on a point plays the settings the controller predicts for its embedding (and offers
its true rendering); a click on empty space interpolates an embedding there and renders the
controller's prediction live. A lasso drawn across the map is a route: the settings move along
it over the clip (:mod:`dafx_explorer.automation`). Computation lives in :mod:`dafx_explorer.latent_map`.
"""

import streamlit as st

from dafx_explorer import automation, inference, latent_map, presets, real_clips, store, ui
from dafx_explorer.errors import DafxError
from dafx_explorer.settings import get_settings

st.set_page_config(page_title="Latent Controller · DAFX Explorer", page_icon="🎛️", layout="wide")


@st.cache_resource(show_spinner="Loading the dataset…")
def get_dataset(home: str, name: str) -> store.Dataset:
    return store.load_dataset(name, home)


@st.cache_resource(show_spinner="Loading the models…")
def get_controller(home: str, name: str) -> latent_map.LatentController:
    dataset = get_dataset(home, name)
    bundle = inference.load_models(dataset.effect.name, str(store.settings_for(home).models_dir))
    return latent_map.LatentController(dataset, bundle)


@st.cache_resource(max_entries=64)
def get_map(home: str, name: str, encoder: str, k: int):
    xy = get_dataset(home, name).projection(k, encoder)
    xy.flags.writeable = False
    return xy


@st.cache_resource(max_entries=16)
def get_map_figure(home: str, name: str, encoder: str, k: int, colour: str):
    dataset = get_dataset(home, name)
    title = f"{dataset.name} · {latent_map.ENCODER_LABELS.get(encoder, encoder)} · k = {k}"
    return ui.latent_map_figure(get_map(home, name, encoder, k), latent_map.colouring(dataset, colour), title=title)


@st.cache_resource(max_entries=16)
def get_route_figure(home: str, name: str, encoder: str, k: int, colour: str, route: tuple | None, drawing: bool):
    return ui.route_map_figure(get_map_figure(home, name, encoder, k, colour), route, drawing=drawing)


@st.cache_resource(max_entries=8, show_spinner="Rendering the route…")
def get_route_render(home: str, name: str, encoder: str, k: int, route: tuple, duration: float,
                     _controller: latent_map.LatentController | None):
    dataset = get_dataset(home, name)
    result = automation.automate(dataset, _controller, route, duration=duration, encoder=encoder, k=k)
    return result, automation.render(result, dataset.clean, dataset.sample_rate)


st.title("Latent Controller")
st.markdown("Each dot is one setting of an effect, placed so that settings that sound alike sit close together. "
            "Click a dot, or the space between dots, to hear it on the clip.")
home = str(get_settings().home)
names = store.list_datasets(home)
if not names:
    st.info("No precomputed datasets were found in the data folder. Build one with: "
            "`python -m dafx_explorer precompute --effect overdrive`")
    st.stop()

controls = st.columns([2, 1, 1, 2])
name = controls[0].selectbox("Effect (dataset)", names, key="latent:dataset",
                             help="Which effect's map to explore; maps named after a recording (a real voice, a "
                                  "real guitar) play that recording, the others a generated clip.")
try:
    dataset = get_dataset(home, name)
except DafxError as error:
    st.error(str(error))
    st.stop()
encoder = controls[1].radio("Encoder", dataset.encoders, key="latent:encoder", horizontal=True,
                            format_func=lambda e: latent_map.ENCODER_LABELS.get(e, e),
                            help="Which learned audio model placed the dots: the β-VAE (smooth, what the "
                                 "controller reads) or the VQ-VAE (discrete codes).")
k = controls[2].selectbox("Number of supervised points", dataset.ks, key="latent:k",
                          format_func=lambda v: f"{v} (unsupervised)" if v == 0 else str(v),
                          help="Points per extreme of brightness and depth change given a class label "
                               "when the map was projected (semi-supervised UMAP).")
colour = controls[3].selectbox("Colour by", latent_map.colour_choices(dataset), key="latent:colour",
                               help="Colour the dots by one setting, by a sound descriptor such as brightness, "
                                    "or by two settings at once (hue and lightness).")

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
stored_route = st.session_state.get("latent:route")
route = stored_route[1] if stored_route and stored_route[0] == (name, encoder, k) else None
with left:
    drawing = st.toggle("Draw a route", key="latent:drawing",
                        help="While on, drag across the map to draw a route (Plotly's lasso, in the direction "
                             "you drag); the effect's settings then move along it over the clip. Turn it off to "
                             "click points again.")
    figure = get_route_figure(home, name, encoder, k, colour, route, drawing) if route or drawing \
        else get_map_figure(home, name, encoder, k, colour)
    event = st.plotly_chart(figure, on_select="rerun", selection_mode=("points", "lasso"), key="latent:map",
                            config={"displaylogo": False})
    st.caption(f"{len(dataset)} settings of {dataset.effect.name}, placed by how they sound.")
    with st.expander("About this page"):
        st.markdown(
            f"**The map.** Every setting was rendered on the clip and encoded by the audio model; UMAP placed the "
            f"embeddings in two dimensions (with *supervised points*, a few labelled extremes pull the layout). "
            f"A click on a dot plays what the controller network predicts from that dot's embedding, beside the "
            f"true settings; a click between dots interpolates an embedding from the {latent_map.NEIGHBOURS} "
            f"nearest dots (inverse-distance weights) and plays the controller's prediction for it.\n\n"
            f"**Routes.** Turn on *Draw a route* and drag across the map: the drag is a lasso, whose path Plotly "
            f"reports in the order you drew it, so one gesture gives the whole route and its direction (a "
            f"sequence of clicks would need a rerun per click and a way to say where the route ends). The route "
            f"is simplified to its bends; at each bend the embedding is interpolated from the nearest points as "
            f"for a click, and between bends it moves in a straight line in latent space. The route is travelled "
            f"at constant speed, one step every {automation.STEP_SECONDS:g} s; the controller predicts each "
            f"step's settings, and between two bends every setting moves monotonically from one bend's "
            f"prediction to the next. The clip is rendered at each step's fixed settings and the renders are "
            f"crossfaded sample by sample (the ring modulator's carrier and mix are ramped per sample), so "
            f"nothing clicks. A route longer than the clip loops it; after a shorter one the last setting holds. "
            f"Details: docs/latent-paths.md.")

    lasso = drawn = None
    try:
        lasso = automation.parse_route(event)
        if lasso is not None:
            drawn = tuple(map(tuple, automation.check_route(lasso, xy).tolist()))
    except DafxError as error:
        st.error(str(error))
    if drawn is not None and drawn != route:
        st.session_state["latent:route"] = ((name, encoder, k), drawn)
        st.rerun()  # draw the map again, with the new route on it
    if route is not None:
        st.subheader("Route")
        length = st.columns(2)
        choice_of_length = length[0].radio(
            "Route length", ("the clip's length", "seconds"), horizontal=True, key="latent:route_length",
            help="How long the route takes: the clip's own length, or a duration of your own (a longer route "
                 "loops the clip; after a shorter one the last setting holds).")
        seconds = length[1].number_input(
            "Seconds", min_value=0.5, max_value=60.0, value=10.0, step=0.5, key="latent:route_seconds",
            disabled=choice_of_length != "seconds", help="Duration of the route when Route length is seconds.")
        duration = len(dataset.clean) / dataset.sample_rate if choice_of_length != "seconds" else float(seconds)
        try:
            path, path_audio = get_route_render(home, name, encoder, k, route, duration, controller)
        except DafxError as error:
            st.error(str(error))
        else:
            st.audio(ui.wav_bytes(path_audio), format="audio/wav")
            st.plotly_chart(ui.automation_figure(path), key="latent:route_plot", config={"displaylogo": False})
            buttons = st.columns(4)
            buttons[0].download_button("Audio (WAV)", ui.wav_bytes(path_audio), mime="audio/wav",
                                       file_name=automation.file_name(path, ".wav"), key="latent:route_wav",
                                       help="The clip rendered along the route (16-bit WAV).")
            buttons[1].download_button("Automation (CSV)", automation.automation_csv(path), mime="text/csv",
                                       file_name=automation.file_name(path, ".csv"), key="latent:route_csv",
                                       help="One row per step: time, map position, settings in real units.")
            buttons[2].download_button("Automation (JSON)", automation.automation_json(path),
                                       mime="application/json", file_name=automation.file_name(path, ".json"),
                                       key="latent:route_json",
                                       help="The route and every step's settings; `python -m dafx_explorer "
                                            "automate --route FILE` renders it again.")
            try:
                buttons[3].download_button("Python snippet", automation.snippet(path), mime="text/x-python",
                                           file_name=automation.file_name(path, ".py"), key="latent:route_snippet",
                                           help="A script that renders the same samples with numpy and pedalboard.")
            except DafxError as error:
                buttons[3].caption(str(error))

    with st.expander("Load a preset"):
        preset_file = st.file_uploader(
            "Preset (JSON)", type=["json"], key="latent:preset_file",
            help='A preset exported here or on Style Match, or plain pedalboard settings such as '
                 '{"pedalboard": [{"Distortion": {"drive_db": 35}}]}: hear it on this clip.')

try:
    choice = None
    if lasso is None and st.session_state.get("latent:last_click") != repr(event):  # a new click
        st.session_state["latent:last_click"] = repr(event)
        choice = latent_map.resolve_click(dataset, event, xy, controller)
    if preset_file is not None and st.session_state.get("latent:preset_id") != preset_file.file_id:
        st.session_state["latent:preset_id"] = preset_file.file_id
        choice = latent_map.choose_preset(dataset, preset_file.getvalue(), xy, name=preset_file.name)
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
    clip_credit = real_clips.credit(str(dataset.info.get("source", "")))
    if clip_credit:
        st.caption(f"Recording: {clip_credit}.")
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
    table = latent_map.settings_table(dataset.effect, columns)
    number = st.column_config.NumberColumn(format="%.4g")
    st.dataframe(table, hide_index=True, width="stretch", column_config=dict.fromkeys(columns, number))
    if choice.neighbours is not None:
        st.caption("Interpolated from points " + ", ".join(
            f"{i} ({w:.0%})" for i, w in zip(choice.neighbours, choice.weights, strict=True)))

    st.subheader("Export")
    export = choice.settings
    if choice.true_settings is not None and choice.predicted:
        which = st.radio("Settings to export", ("predicted", "true"), horizontal=True, key="latent:export",
                         help="Export the controller's prediction or the point's true settings.")
        export = choice.settings if which == "predicted" else choice.true_settings
    try:
        preset_text = presets.preset_json(dataset.effect, export)
        code = presets.snippet(dataset.effect, export)
    except DafxError as error:
        st.error(str(error))
        st.stop()
    buttons = st.columns(2)
    buttons[0].download_button("Preset (JSON)", preset_text, file_name=presets.file_name(dataset.effect, ".json"),
                               mime="application/json", key="latent:preset",
                               help="The settings as a preset file: load it here or on Style Match, or render "
                                    "with `python -m dafx_explorer render --preset FILE`.")
    buttons[1].download_button("Python snippet", code, file_name=presets.file_name(dataset.effect, ".py"),
                               mime="text/x-python", key="latent:snippet",
                               help="A script that rebuilds the same pedalboard chain with these settings.")
    with st.expander("Python snippet (rebuilds the pedalboard chain)"):
        st.code(code, language="python")
