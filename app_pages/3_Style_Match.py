"""Style Match: which settings of an effect make an input sound like a reference.

The effect's settings estimator (or the β-VAE controller where it has none) predicts the settings as
soon as an input and a reference are chosen; refinement (CMA-ES within a time budget) runs on request.
"""

import streamlit as st

from dafx_explorer import (
    audio,
    effects,
    home,
    inference,
    matching,
    presets,
    real_benchmark,
    real_clips,
    sources,
    style_match,
    ui,
)
from dafx_explorer.errors import DafxError
from dafx_explorer.settings import SAMPLE_RATE, get_settings

st.set_page_config(page_title="Style Match · DAFX Explorer", page_icon="🎚️", layout="wide")
home.warm_up()

CLIP, PROCESSED_CLIP, PRESET_CLIP, UPLOAD = ("Shipped clip", "Shipped clip through the effect",
                                            "Shipped clip through a preset", "Upload a file")


@st.cache_resource(show_spinner="Loading the models…")
def get_models(effect_name: str, models_dir: str) -> inference.Models:
    return inference.load_models(effect_name, models_dir)


@st.cache_resource(show_spinner=False, max_entries=16)
def get_clip(name: str, sources_dir: str):
    """A shipped clip; ``sources_dir`` keys the cache to the data folder it came from."""
    return sources.load_clip(name)


@st.cache_resource(show_spinner="Decoding the upload…", max_entries=8)
def decode_upload(file_id: str, _upload):
    """Validated 24 kHz mono samples of an upload, decoded once per uploaded file."""
    return audio.load_bytes(_upload.getvalue(), name=_upload.name)


@st.cache_resource(show_spinner="Predicting the settings…", max_entries=32)
def predict(effect_name: str, models_dir: str, input_id: str, reference_id: str, _input, _reference):
    """The controller's prediction (no refinement) for one effect and one (input, reference) choice."""
    return matching.match(effects.get(effect_name), _input, _reference, bundle=get_models(effect_name, models_dir))


def choose(role: str, effect, processed: bool):
    """Widgets choosing the input or the reference; returns ``(identity, samples, true settings)`` or None.

    The reference (``processed``) starts as the first shipped clip through the effect, the input as
    that clip: a pair whose true settings are known and which refinement can search.
    """
    st.subheader(role.capitalize())
    origins = [CLIP, PROCESSED_CLIP, PRESET_CLIP, UPLOAD] if processed else [CLIP, UPLOAD]
    origin = st.radio("From", origins, index=origins.index(PROCESSED_CLIP) if processed else 0,
                      key=f"style_match_{role}_origin", horizontal=True,
                      help=(f"Where the {role} comes from: a clip shipped with the app, that clip through the effect "
                            "at random settings or through a preset you upload (so you can check the answer), "
                            "or a recording of your own." if processed else
                            f"Where the {role} comes from: a clip shipped with the app, or a recording of your own."))
    target = None
    try:
        if origin == UPLOAD:
            upload = st.file_uploader(f"{role.capitalize()} audio file", type=list(style_match.UPLOAD_TYPES),
                                      max_upload_size=get_settings().max_file_bytes // 2**20,
                                      key=f"style_match_{role}_upload",
                                      help="WAV, FLAC, OGG, MP3 or AIFF, at any sample rate, mono or stereo. "
                                           "The model listens to about five seconds of it; the whole file "
                                           "is processed.")
            if upload is None:
                st.info("Upload a recording (WAV, FLAC, OGG, MP3 or AIFF; any rate, any channels).")
                return None
            identity, samples = f"upload:{upload.file_id}", decode_upload(upload.file_id, upload)
        else:
            name = st.selectbox("Clip", sources.builtin_clips(), key=f"style_match_{role}_clip",
                                help="A short clip shipped with the app: a generated instrument, or a real "
                                     "recording (credited below it).")
            sources_dir = str(get_settings().sources_dir)
            identity, samples = f"clip:{sources_dir}/{name}", get_clip(name, sources_dir)
            if credit := real_clips.credit(name):
                st.caption(f"Recording: {credit}.")
            if origin == PROCESSED_CLIP:
                seed = int(st.number_input("Random settings (seed)", min_value=0, value=0, step=1,
                                           key=f"style_match_{role}_seed",
                                           help="Each number gives another random setting of the effect; the "
                                                "same number always gives the same one."))
                samples, target = style_match.processed_reference(effect, samples, seed=seed)
                identity += f"|{effect.name}:{seed}"
            elif origin == PRESET_CLIP:
                preset = st.file_uploader(
                    "Preset (JSON)", type=["json"], key=f"style_match_{role}_preset",
                    help='A preset exported here, or plain pedalboard settings such as '
                         '{"pedalboard": [{"Distortion": {"drive_db": 35}}]}.')
                if preset is None:
                    st.info("Upload a preset: the clip through it is the reference, and its settings show below.")
                    return None
                _, target = presets.read_preset(preset.getvalue(), effect)
                samples = effect.render(samples, SAMPLE_RATE, target)
                identity += f"|preset:{preset.file_id}"
    except DafxError as error:
        st.error(str(error))
        return None
    st.audio(ui.wav_bytes(samples), format="audio/wav")
    st.caption(f"{len(samples) / SAMPLE_RATE:.1f} s")
    return identity, samples, target


st.title("Style Match")
st.markdown("Choose an input and a reference, and get the settings of the effect that make the input sound like "
            "the reference. Listen to the result, refine it with a short search, and export the settings as a preset.")
with st.expander("About this page"):
    st.markdown(
        "A model trained for the effect listens to both recordings and predicts its settings: the effect's "
        "settings estimator where it has one, otherwise the β-VAE controller. A delay's echo time, a reverb's "
        "pre-delay and a ring modulator's carrier are also read straight off the reference, and a flanger's "
        "sweep is fitted to it near the prediction. The page opens with "
        "a shipped clip as the input and the same clip through the effect at random settings as the reference, "
        "so the settings it was made with show beside the prediction. Figures are in the project's "
        "docs/results.md."
    )
    st.caption("Refinement compares textures (spectrum, movement, echoes) of the result and the reference, so it "
               "helps when the reference is the same kind of material as the input, such as another part of the "
               "same recording. Where their textures differ too much at the start, it keeps the prediction (with "
               "any setting measured off the reference) instead of searching. Listen to both results below.")

effect = effects.get(st.selectbox("Effect", effects.names(), key="style_match_effect",
                                  help="The effect whose settings to find. The result is the input through this "
                                       "effect."))
left, right = st.columns(2)
with left:
    chosen_input = choose("input", effect, processed=False)
with right:
    chosen_reference = choose("reference", effect, processed=True)
if chosen_input is None or chosen_reference is None:
    st.info("Choose an input and a reference to see the settings.")
    st.stop()

models_dir = str(get_settings().models_dir)
(input_id, input_audio, _), (reference_id, reference_audio, target) = chosen_input, chosen_reference
try:
    predicted = predict(effect.name, models_dir, input_id, reference_id, input_audio, reference_audio)
except DafxError as error:
    st.error(str(error))
    st.stop()

match_key = (effect.name, models_dir, input_id, reference_id)
st.subheader("Settings")
settings_area = st.container()
report = real_benchmark.load_report()  # a few kB, read on each run so a rebuilt report shows at once
helps = None if report is None else real_benchmark.refinement_helps(report, effect.name)
refine_default = max(1, round(report["refine_seconds"])) if helps else 5
if not real_benchmark.refinement_offered(report, effect.name):
    st.info(f"Refinement is not offered for the {effect.name}: on real recordings it did not improve on the "
            "prediction (see docs/results.md).")
else:
    budget_column, button_column = st.columns([4, 1], vertical_alignment="bottom")
    budget = budget_column.slider("Refinement time budget (s)", min_value=1, max_value=20, value=refine_default,
                                  key="style_match_refine_seconds",
                                  help="How long Refine may try settings near the prediction, in seconds. It keeps "
                                       "the closest match to the reference it finds, and keeps the prediction when "
                                       "nothing sounds closer.")
    if button_column.button("Refine", key="style_match_refine", width="stretch",
                            help="Try settings near the prediction for the time budget, then play the refined result "
                                 "beside the predicted one."):
        bar = st.progress(0.0, text="Refining…")
        try:
            outcome = matching.match(
                effect, input_audio, reference_audio, refine_seconds=budget, bundle=get_models(effect.name, models_dir),
                progress=lambda fraction, message: bar.progress(fraction, text=f"Refining… {message}"))
        except DafxError as error:
            st.error(str(error))
        else:
            st.session_state["style_match_refined"] = (match_key, outcome)
            bar.progress(1.0, text="Refinement done.")
stored = st.session_state.get("style_match_refined")
refined = stored[1] if stored is not None and stored[0] == match_key else None

with settings_area:
    by = "the settings estimator" if predicted.predictor == "estimator" else "the β-VAE controller (no estimator yet)"
    notes = [f"Predicted in {predicted.seconds:.2f} s by {by}."]
    for index in predicted.measured:
        param = effect.params[index]
        notes.append(f"{param.name} was read off the reference "
                     f"({param.to_real(predicted.final_params[index]):.4g} {param.unit}; predicted "
                     f"{param.to_real(predicted.params[index]):.4g}).")
    if refined is not None:
        if refined.other_material:
            notes.append(f"No search: the reference's textures are far from the input's (objective "
                         f"{refined.objective_best:.4g} at the start, above {matching.MATERIAL_LIMIT:g}), as when it "
                         "is other material, so the refined settings are the predicted ones.")
        else:
            notes.append(f"Refined for {refined.refine_seconds:.1f} s: objective {refined.objective_start:.4g} → "
                         f"{refined.objective_best:.4g} (lower is closer to the reference)" +
                         (f", the measured setting{'s' * (len(refined.measured) > 1)} held." if refined.measured
                          else "."))
        if refined.set_aside:
            notes.append("The search's best settings were set aside: the controller reads their result less like "
                         "the reference than the prediction's, as happens when the reference is other material, "
                         "so the refined settings are the predicted ones.")
    if target is not None:
        notes.append("*reference*: the settings the reference was made with.")
    st.caption(" ".join(notes))
    table = style_match.settings_table(effect, predicted.final_params,
                                       None if refined is None else refined.refined_params, target)
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        column: st.column_config.NumberColumn(format="%.4g") for column in ("predicted", "refined", "reference")})

st.subheader("Result")
result = predicted if refined is None else refined
columns = st.columns(2 if refined is not None else 1)
with columns[0]:
    st.markdown("**Predicted settings**")
    st.audio(ui.wav_bytes(predicted.audio), format="audio/wav")
if refined is not None:
    with columns[1]:
        st.markdown("**Refined settings**")
        st.audio(ui.wav_bytes(refined.audio), format="audio/wav")
st.plotly_chart(ui.spectrogram_figure({"input": input_audio, "reference": reference_audio, "result": result.audio}),
                width="stretch")

st.subheader("Export")
snippet = presets.snippet(effect, result.final_params)
left, right = st.columns(2)
left.download_button("JSON preset", presets.preset_json(effect, result.final_params),
                     file_name=presets.file_name(effect, ".json"), mime="application/json",
                     help="The settings shown above as a file you can load again here, on the command line "
                          "(render --preset) or read into your own code.")
right.download_button("Python snippet", snippet, file_name=presets.file_name(effect, ".py"), mime="text/x-python",
                      help="A short Python script that rebuilds this effect with these settings using the "
                           "pedalboard library.")
with st.expander("Python snippet source"):
    st.code(snippet, language="python")
