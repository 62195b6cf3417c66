"""Latent Space: all effects in one map, and domain-colouring views of each dataset's map."""

import streamlit as st

from dafx_explorer import explorer, store, ui
from dafx_explorer.errors import DafxError
from dafx_explorer.settings import get_settings

st.set_page_config(page_title="Latent Space · DAFX Explorer", page_icon="🗺️", layout="wide")


@st.cache_resource(show_spinner="Loading the dataset…")
def get_dataset(home: str, name: str) -> store.Dataset:
    return store.load_dataset(name, home)


@st.cache_resource(max_entries=4, show_spinner="Loading the combined map…")
def get_combined_map(home: str, encoder: str):
    """The combined map's figure and the share of its points among their own effect's."""
    points = store.load_combined(encoder, home)
    agreement = explorer.neighbour_agreement(points[["x", "y"]].to_numpy(), points["effect"].astype(str).to_numpy())
    return ui.combined_map_figure(points), agreement


@st.cache_resource(max_entries=16, show_spinner="Painting the map…")
def get_domain_figures(home: str, name: str, encoder: str, k: int):
    dataset = get_dataset(home, name)
    xy = dataset.projection(k, encoder)
    colours = explorer.map_colours(xy)
    settings = dataset.points[[f"p_{p}" for p in dataset.param_names]].to_numpy()
    title = f"{dataset.name} · {explorer.ENCODER_LABELS.get(encoder, encoder)} · k = {k}"
    return (ui.domain_colouring_map_figure(xy, colours, title=title),
            ui.parameter_pairs_figure(dataset.effect, settings, colours))


@st.cache_resource
def get_colour_key():
    return ui.colour_key_figure()


def encoder_label(encoder: str) -> str:
    return explorer.ENCODER_LABELS.get(encoder, encoder)


st.title("Latent Space")
home = str(get_settings().home)
all_effects, domain = st.tabs(["All effects", "Domain colouring"])

with all_effects:
    st.markdown("Every dataset's embeddings projected together with UMAP, coloured by effect: "
                "is each effect its own region?")
    combined_encoder = st.radio("Encoder", tuple(explorer.ENCODER_LABELS), key="space:combined_encoder",
                                horizontal=True, format_func=encoder_label)
    try:
        figure, agreement = get_combined_map(home, combined_encoder)
        st.plotly_chart(figure, key="space:combined", config={"displaylogo": False})
        st.caption(f"{agreement:.1%} of the points have most of their 5 nearest neighbours on this map from "
                   "their own effect (leave-one-out 5-NN).")
    except DafxError as error:
        st.info(f"The combined map is not available ({error}). Build it with: `{store.COMBINED_COMMAND}`")

with domain:
    st.markdown(
        "The map painted with a 2-D colour map: each point's colour is a function of where it landed "
        "(hue = direction from the map's centre, colourfulness = distance from it; light grey in the middle). "
        "Below, for every pair of parameters, the same points in parameter space, each in its map colour. "
        "Smooth colour fields mean the map is organized by those parameters."
    )
    names = store.list_datasets(home)
    if not names:
        st.info("No precomputed datasets were found. Build one with: "
                "`python -m dafx_explorer precompute --effect overdrive`")
        st.stop()
    controls = st.columns([2, 1, 1])
    name = controls[0].selectbox("Effect (dataset)", names, key="space:dataset")
    try:
        dataset = get_dataset(home, name)
    except DafxError as error:
        st.error(str(error))
        st.stop()
    encoder = controls[1].radio("Encoder", dataset.encoders, key="space:encoder", horizontal=True,
                                format_func=encoder_label)
    k = controls[2].selectbox("Number of supervised points", dataset.ks, key="space:k",
                              format_func=lambda v: f"{v} (unsupervised)" if v == 0 else str(v))
    map_figure, pairs_figure = get_domain_figures(home, name, encoder, k)
    map_column, key_column = st.columns([4, 1])
    map_column.plotly_chart(map_figure, key="space:map", config={"displaylogo": False})
    key_column.plotly_chart(get_colour_key(), key="space:key", config={"displaylogo": False, "staticPlot": True})
    if dataset.effect.n_params < 2:
        st.info(f"{dataset.effect.name} has a single parameter: there are no pairs to show.")
    else:
        st.subheader("Parameter pairs, coloured by map position")
        st.plotly_chart(pairs_figure, key="space:pairs", config={"displaylogo": False})
