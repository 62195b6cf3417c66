"""Latent Space: all effects in one map, and domain-colouring views of each dataset's map."""

import streamlit as st

from dafx_explorer import latent_map, store, ui
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
    agreement = latent_map.neighbour_agreement(points[["x", "y"]].to_numpy(), points["effect"].astype(str).to_numpy())
    return ui.combined_map_figure(points), agreement


@st.cache_resource(max_entries=16, show_spinner="Painting the map…")
def get_domain_figures(home: str, name: str, encoder: str, k: int):
    dataset = get_dataset(home, name)
    xy = dataset.projection(k, encoder)
    colours = latent_map.map_colours(xy)
    settings = dataset.settings_matrix()
    title = f"{dataset.name} · {latent_map.ENCODER_LABELS.get(encoder, encoder)} · k = {k}"
    return (ui.domain_colouring_map_figure(xy, colours, title=title),
            ui.parameter_pairs_figure(dataset.effect, settings, colours))


@st.cache_resource
def get_colour_key():
    return ui.colour_key_figure()


def encoder_label(encoder: str) -> str:
    return latent_map.ENCODER_LABELS.get(encoder, encoder)


st.title("Latent Space")
st.markdown("See how the model arranges the sounds of all effects on one map, and how each effect's map "
            "follows its knobs.")
with st.expander("About this page"):
    st.markdown(
        "Every point is one setting of an effect, rendered on a clip and embedded by the chosen encoder (the "
        "β-VAE or the VQ-VAE); UMAP projects the embeddings to two dimensions. *All effects* projects every "
        "dataset together, coloured by effect, and counts the points whose 5 nearest neighbours are mostly "
        "of their own effect (leave-one-out). *Domain colouring* paints one effect's map with a 2-D colour "
        "map (hue: direction from the map's centre; colourfulness: distance from it; light grey in the "
        "middle), then shows every pair of parameters with each point in its map colour: smooth colour "
        "fields there mean the map is organised by those parameters. *Supervised points* (k) guide the "
        "projection with k labelled brightness and depth changes; 0 is plain unsupervised UMAP."
    )
home = str(get_settings().home)
all_effects, domain = st.tabs(["All effects", "Domain colouring"])

with all_effects:
    st.markdown("Every effect's settings on one map, one colour per effect: where an effect keeps to its own "
                "region, the model hears it as different from the others.")
    combined_encoder = st.radio("Encoder", tuple(latent_map.ENCODER_LABELS), key="space:combined_encoder",
                                horizontal=True, format_func=encoder_label, help=ui.ENCODER_HELP)
    try:
        figure, agreement = get_combined_map(home, combined_encoder)
        st.plotly_chart(figure, key="space:combined", config={"displaylogo": False})
        st.caption(f"{agreement:.1%} of the points have most of their 5 nearest neighbours on this map from "
                   "their own effect (leave-one-out 5-NN).")
    except DafxError as error:
        st.info(f"The combined map is not available ({error}). Build it with: `{store.COMBINED_COMMAND}`")

with domain:
    st.markdown("One effect's map painted in colours by position, and below it every pair of knobs with each "
                "setting in its map colour: smooth colours there mean the map follows those knobs.")
    names = store.list_datasets(home)
    if not names:
        st.info("No precomputed datasets were found. Build one with: "
                "`python -m dafx_explorer precompute --effect overdrive`")
        st.stop()
    controls = st.columns([2, 1, 1])
    name = controls[0].selectbox("Effect (dataset)", names, key="space:dataset",
                                 help="Which effect's map to paint. Each map holds many settings of one effect "
                                      "applied to one clip.")
    try:
        dataset = get_dataset(home, name)
    except DafxError as error:
        st.error(str(error))
        st.stop()
    encoder = controls[1].radio("Encoder", dataset.encoders, key="space:encoder", horizontal=True,
                                format_func=encoder_label, help=ui.ENCODER_HELP)
    k = controls[2].selectbox("Number of supervised points", dataset.ks, key="space:k",
                              format_func=lambda v: f"{v} (unsupervised)" if v == 0 else str(v),
                              help=ui.SUPERVISED_HELP)
    map_figure, pairs_figure = get_domain_figures(home, name, encoder, k)
    map_column, key_column = st.columns([4, 1])
    map_column.plotly_chart(map_figure, key="space:map", config={"displaylogo": False})
    key_column.plotly_chart(get_colour_key(), key="space:key", config={"displaylogo": False, "staticPlot": True})
    if dataset.effect.n_params < 2:
        st.info(f"{dataset.effect.name} has a single parameter: there are no pairs to show.")
    else:
        st.subheader("Parameter pairs, coloured by map position")
        st.plotly_chart(pairs_figure, key="space:pairs", config={"displaylogo": False})
