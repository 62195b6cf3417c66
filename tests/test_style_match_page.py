"""The Style Match page, driven headless with Streamlit's AppTest on tiny trained models."""

import json

import numpy as np
import pytest
from bad_audio import BAD_FILES, tone, wav_bytes
from streamlit.testing.v1 import AppTest

from dafx_explorer import effects, inference, matching, presets, sources, style_match
from dafx_explorer.settings import REPO_ROOT, get_settings

PAGE = str(REPO_ROOT / "app_pages" / "3_Style_Match.py")


def _open():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    return at


def _table(at):
    tables = at.dataframe
    assert len(tables) == 1, [e.value for e in at.error]
    return tables[0].value


def _errors(at):
    return [e.value for e in at.error]


def _predicted_real(effect_name, input_audio, reference_audio):
    effect = effects.get(effect_name)
    result = matching.match(effect, input_audio, reference_audio,
                            bundle=inference.load_models(effect_name, str(get_settings().models_dir)))
    return effect.real(result.final_params)


def test_shipped_clips_end_to_end_then_refinement(tiny_home):
    at = _open()
    at.selectbox(key="style_match_effect").set_value("overdrive")
    at.selectbox(key="style_match_input_clip").set_value("guitar")
    at.radio(key="style_match_reference_origin").set_value("Shipped clip")
    at.selectbox(key="style_match_reference_clip").set_value("voice")
    at.run()
    assert not at.exception and not _errors(at)

    table = _table(at)
    effect = effects.get("overdrive")
    assert list(table.columns) == ["parameter", "unit", "predicted"]
    assert list(table["parameter"]) == list(effect.param_names)
    assert list(table["unit"]) == [p.unit for p in effect.params]
    expected = _predicted_real("overdrive", sources.load_clip("guitar"), sources.load_clip("voice"))
    np.testing.assert_allclose(table["predicted"], list(expected.values()), rtol=1e-5)

    assert len(at.get("audio")) == 3  # input, reference, result
    assert any("same kind of material" in caption.value for caption in at.caption)
    assert len(at.get("plotly_chart")) == 1
    labels = [b.label for b in at.download_button]
    assert labels == ["JSON preset", "Python snippet"]
    prediction = matching.match(effect, sources.load_clip("guitar"), sources.load_clip("voice"),
                                bundle=inference.load_models("overdrive", str(get_settings().models_dir)))
    assert at.code[0].value.strip() == presets.snippet(effect, prediction.params).strip()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["type"] for t in spec["data"]] == ["heatmap"] * 3
    assert [a["text"] for a in spec["layout"]["annotations"]] == ["input", "reference", "result"]

    at.slider(key="style_match_refine_seconds").set_value(1)
    at.button(key="style_match_refine").click().run()
    assert not at.exception and not _errors(at)
    table = _table(at)
    assert list(table.columns) == ["parameter", "unit", "predicted", "refined"]
    assert np.all(np.isfinite(table["refined"]))
    assert len(at.get("audio")) == 4  # input, reference, predicted result, refined result
    # A voice is other material than a guitar: no search, the refined settings are the prediction's.
    assert any("No search: the reference's textures are far from the input's" in c.value for c in at.caption)
    np.testing.assert_array_equal(table["refined"], table["predicted"])
    assert at.get("progress")[0].proto.value == 100

    # Refinement belongs to its (input, reference): a new reference drops it, the prediction follows.
    at.selectbox(key="style_match_reference_clip").set_value("drums").run()
    table = _table(at)
    assert "refined" not in table.columns
    expected = _predicted_real("overdrive", sources.load_clip("guitar"), sources.load_clip("drums"))
    np.testing.assert_allclose(table["predicted"], list(expected.values()), rtol=1e-5)


def test_page_opens_on_the_input_clip_through_the_effect_and_refinement_searches(tiny_home):
    at = _open()
    assert at.radio(key="style_match_reference_origin").value == "Shipped clip through the effect"
    assert at.selectbox(key="style_match_input_clip").value == at.selectbox(key="style_match_reference_clip").value
    effect = effects.get(at.selectbox(key="style_match_effect").value)
    clip = sources.load_clip(at.selectbox(key="style_match_input_clip").value)
    _, true = style_match.processed_reference(effect, clip, seed=0)
    np.testing.assert_allclose(_table(at)["reference"], list(effect.real(true).values()))
    # The same material as the input: the search runs (it is skipped for other material). The tiny
    # ambience controller's start lies within the material limit, as a trained model's does.
    at.selectbox(key="style_match_effect").set_value("ambience").run()
    at.slider(key="style_match_refine_seconds").set_value(1)
    at.button(key="style_match_refine").click().run()
    assert not at.exception and not _errors(at)
    assert any(c.value.startswith("Predicted in") and "Refined for" in c.value for c in at.caption)
    assert not any("No search" in c.value for c in at.caption)


def test_reference_made_by_the_effect_shows_its_true_settings(tiny_home):
    at = _open()
    at.selectbox(key="style_match_effect").set_value("delay").run()
    at.selectbox(key="style_match_reference_clip").set_value("chords").run()
    at.number_input(key="style_match_reference_seed").set_value(7).run()
    assert not at.exception and not _errors(at)
    table = _table(at)
    effect = effects.get("delay")
    chords = sources.load_clip("chords")
    reference, true = style_match.processed_reference(effect, chords, seed=7)
    np.testing.assert_allclose(table["reference"], list(effect.real(true).values()))
    expected = _predicted_real("delay", sources.load_clip("guitar"), reference)
    np.testing.assert_allclose(table["predicted"], list(expected.values()), rtol=1e-5)


def test_refinement_says_which_setting_it_read_off_the_reference(tiny_home):
    effect = effects.get("delay")
    truth = [effect.params[0].to_normalized(0.3311), 0.5, 0.8, 0.6]
    reference = effect.render(sources.load_clip("guitar"), 24_000, truth)
    at = _open()
    at.selectbox(key="style_match_effect").set_value("delay")
    at.selectbox(key="style_match_input_clip").set_value("guitar")
    at.radio(key="style_match_reference_origin").set_value("Upload a file").run()
    at.file_uploader(key="style_match_reference_upload").set_value(("echo.wav", wav_bytes(reference), "audio/wav"))
    at.run()
    # The echo time is measured with the prediction, before any refinement; the result plays it.
    assert _table(at)["predicted"][0] == pytest.approx(0.3311, rel=1e-3)
    assert any("delay_seconds was read off the reference (0.3311 s; predicted" in c.value
               for c in at.caption)
    at.slider(key="style_match_refine_seconds").set_value(1)
    at.button(key="style_match_refine").click().run()
    assert not at.exception and not _errors(at)
    assert _table(at)["refined"][0] == pytest.approx(0.3311, rel=1e-3)
    assert any("mix was read off the reference" in c.value for c in at.caption)  # fitted to the echo's peaks
    assert any("Refined for" in c.value and "the measured settings held" in c.value for c in at.caption)


def test_a_reverb_reference_has_its_predelay_read_off(tiny_home):
    effect = effects.get("ambience")
    truth = [0.4, 0.5, 0.5, effect.params[3].to_normalized(37.0)]
    at = _open()
    at.selectbox(key="style_match_effect").set_value("ambience")
    at.selectbox(key="style_match_input_clip").set_value("guitar")
    at.radio(key="style_match_reference_origin").set_value("Upload a file").run()
    reference = effect.render(sources.load_clip("guitar"), 24_000, truth)
    at.file_uploader(key="style_match_reference_upload").set_value(("room.wav", wav_bytes(reference), "audio/wav"))
    at.run()
    assert not at.exception and not _errors(at)
    assert _table(at)["predicted"][3] == pytest.approx(37.0, abs=0.05)
    assert any("predelay_ms was read off the reference (37 ms; predicted" in c.value
               for c in at.caption)


def test_missing_controller_is_a_clear_error_and_the_page_keeps_working(tiny_home):
    at = _open()
    at.selectbox(key="style_match_effect").set_value("ringmod").run()
    assert not at.exception
    errors = _errors(at)
    assert len(errors) == 1
    assert "controller_ringmod.safetensors" in errors[0]
    assert "python -m dafx_explorer train-controller --effect ringmod" in errors[0]
    assert not at.dataframe
    at.selectbox(key="style_match_effect").set_value("overdrive").run()
    assert not at.exception and not _errors(at)
    assert list(_table(at)["parameter"]) == list(effects.get("overdrive").param_names)


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_each_bad_upload_is_refused_on_the_page_then_a_valid_one_works(tiny_home, case):
    bad = BAD_FILES[case]
    at = _open()
    at.selectbox(key="style_match_effect").set_value("overdrive")
    at.radio(key="style_match_input_origin").set_value("Upload a file").run()
    assert at.file_uploader(key="style_match_input_upload").proto.max_upload_size_mb * 1024 * 1024 == \
        get_settings().max_file_bytes
    at.file_uploader(key="style_match_input_upload").set_value((bad.name, bad.data(), "audio/wav")).run()
    assert not at.exception
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith(bad.name) and bad.expected in errors[0]
    assert not at.dataframe and not at.download_button

    # The other widgets still work while the bad file is there.
    at.selectbox(key="style_match_reference_clip").set_value("bass").run()
    assert not at.exception and len(_errors(at)) == 1

    valid = tone(3.0, sr=44_100, channels=2)
    at.file_uploader(key="style_match_input_upload").set_value(("tone.wav", wav_bytes(valid, sr=44_100), "audio/wav"))
    at.run()
    assert not at.exception and not _errors(at)
    assert list(_table(at)["parameter"]) == list(effects.get("overdrive").param_names)
    assert any(c.value == "3.0 s" for c in at.caption)



def test_a_reference_made_with_a_plain_pedalboard_preset_shows_its_settings(tiny_home):
    at = _open()
    at.selectbox(key="style_match_effect").set_value("overdrive")
    at.radio(key="style_match_reference_origin").set_value("Shipped clip through a preset").run()
    assert any("Upload a preset" in info.value for info in at.info)
    at.file_uploader(key="style_match_reference_preset").set_value(
        ("plain.json", b'{"pedalboard": [{"Reverb": {}}]}', "application/json")).run()
    assert not at.exception
    assert any("overdrive cannot reproduce Reverb" in error for error in _errors(at))

    at.file_uploader(key="style_match_reference_preset").set_value(
        ("plain.json", b'{"pedalboard": [{"Distortion": {"drive_db": 35}}]}', "application/json")).run()
    assert not at.exception and not _errors(at)
    reference = dict(zip(_table(at)["parameter"], _table(at)["reference"], strict=True))
    assert reference == pytest.approx({"drive_db": 35.0, "tone_hz": effects.TONE_OPEN_HZ, "level_db": 0.0})


def _report_row(match: float, refined: float) -> dict:
    return {"mrstft": {"match": match, "refined": refined}}


def test_refinement_is_not_offered_where_the_real_benchmark_found_it_no_help(tiny_home):
    """The page reads the data folder's real-recordings report: refinement that made matches worse on real
    recordings (here the overdrive, across recordings) is not offered; where it helped it is, at the
    report's budget."""
    report_path = tiny_home / "evaluation_real.json"
    report = {"refine_seconds": 3.0, "within": {"overdrive": _report_row(1.0, 0.9), "delay": _report_row(1.0, 0.8)},
              "across": {"overdrive": _report_row(1.0, 1.2), "delay": _report_row(1.0, 0.9)}}
    report_path.write_text(json.dumps(report))
    try:
        at = _open()
        at.selectbox(key="style_match_effect").set_value("overdrive").run()
        assert not at.exception
        assert any("Refinement is not offered for the overdrive" in info.value for info in at.info)
        assert not any(b.key == "style_match_refine" for b in at.button)
        at.selectbox(key="style_match_effect").set_value("delay").run()
        assert not at.exception and any(b.key == "style_match_refine" for b in at.button)
        assert at.slider(key="style_match_refine_seconds").value == 3
    finally:
        report_path.unlink()


def test_the_page_predicts_the_dynamics_with_the_shipped_estimator_and_its_correction(monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(REPO_ROOT / "precomputed"))
    at = _open()
    at.selectbox(key="style_match_effect").set_value("dynamics").run()
    assert not at.exception and not _errors(at)
    effect = effects.get("dynamics")
    clip = sources.load_clip(at.selectbox(key="style_match_input_clip").value)
    reference, _ = style_match.processed_reference(effect, clip, seed=0)
    bundle = inference.load_models("dynamics", str(REPO_ROOT / "precomputed" / "models"))
    assert bundle.correction is not None
    expected = matching.match(effect, clip, reference, bundle=bundle)
    predicted = _table(at)["predicted"]
    np.testing.assert_allclose(predicted, list(effect.real(expected.params).values()), rtol=1e-5)
    alone = inference.Models(bundle.encoder, bundle.controller, bundle.estimator)  # the estimator uncorrected
    uncorrected = effect.real(matching.match(effect, clip, reference, bundle=alone).params)
    assert not np.allclose(predicted, list(uncorrected.values()), rtol=1e-3)
