"""Style matching and evaluation end to end on tiny, really trained models."""

import json
import time

import numpy as np
import pytest

from dafx_explorer import effects, evaluation, inference, matching, models, readings, sources
from dafx_explorer.cli import main
from dafx_explorer.settings import REPO_ROOT, WINDOW


@pytest.fixture(scope="module")
def bundle(tiny_home):
    return inference.load_models("overdrive", str(tiny_home / "models"))


def test_match_processes_the_whole_input(bundle):
    effect = effects.get("overdrive")
    long_input = sources.generate("guitar", seed=1001, seconds=12.0)
    reference = effect.render(sources.generate("guitar", seed=1002, seconds=6.0), 24_000, [0.9, 0.3, 0.5])
    result = matching.match(effect, long_input, reference, bundle=bundle)
    assert result.audio.shape == long_input.shape
    assert result.refined_params is None and result.params.shape == (effect.n_params,)
    np.testing.assert_array_equal(result.audio, effect.render(long_input, 24_000, result.params))
    assert 0 < result.seconds < 5


def test_prediction_reads_the_first_window_that_is_not_silent(bundle):
    effect = effects.get("overdrive")
    x = sources.generate("guitar", seed=1005, seconds=6.0)
    clip = sources.generate("guitar", seed=1006, seconds=2 * WINDOW / 24_000)
    reference = effect.render(clip, 24_000, [0.8, 0.4, 0.6])
    first, second = (inference.predict(effect, x, part, bundle) for part in reference.reshape(2, WINDOW))
    np.testing.assert_allclose(inference.predict(effect, x, reference, bundle), first, atol=1e-6)
    assert not np.allclose(first, second, atol=1e-4)  # the windows do say different things
    silent_intro = np.concatenate([np.zeros(2 * WINDOW, np.float32), reference])
    np.testing.assert_allclose(inference.predict(effect, x, silent_intro, bundle), first, atol=1e-6)
    quiet_input = np.concatenate([x[:WINDOW] * 1e-3, clip[:WINDOW], clip[WINDOW:]])
    np.testing.assert_allclose(inference.predict(effect, quiet_input, reference, bundle),
                               inference.predict(effect, clip, reference, bundle), atol=1e-6)


def test_refinement_respects_budget_and_never_worsens(bundle):
    effect = effects.get("overdrive")
    recording = sources.generate("drums", seed=1003, seconds=12.0)  # reference: another part of the input's recording
    x, reference = recording[:WINDOW], effect.render(recording[-WINDOW:], 24_000, [0.4, 0.7, 0.45])
    started = time.perf_counter()
    result = matching.match(effect, x, reference, refine_seconds=1.5, bundle=bundle)
    assert not result.other_material and result.objective_start <= matching.MATERIAL_LIMIT
    assert 0.8 * 1.5 <= result.refine_seconds <= 1.2 * 1.5
    assert time.perf_counter() - started < 1.5 * 1.2 + 2.0
    assert result.objective_best <= result.objective_start
    objective = matching.TextureObjective(effect, x, reference, result.params)
    start, best = objective(np.stack([result.params, result.refined_params]))
    assert best <= start + 1e-9


def test_no_search_when_the_reference_is_other_material(bundle):
    effect = effects.get("overdrive")
    x = sources.generate("chords", seed=1003, seconds=6.0)
    reference = effect.render(sources.generate("drums", seed=1004, seconds=6.0), 24_000, [0.2, 0.8, 0.4])
    result = matching.match(effect, x, reference, refine_seconds=1.5, bundle=bundle)
    assert result.other_material and result.objective_start > matching.MATERIAL_LIMIT
    np.testing.assert_array_equal(result.refined_params, result.params)  # overdrive has no measured setting
    assert result.objective_best == result.objective_start and result.refine_seconds < 0.5
    np.testing.assert_array_equal(result.audio, effect.render(x, 24_000, result.params))


def test_texture_objective_is_zero_at_the_settings_that_made_the_reference():
    effect = effects.get("delay")
    x = sources.generate("drums", seed=1006, seconds=6.0)
    truth = np.array([0.6, 0.5, 0.7, 0.4])
    objective = matching.TextureObjective(effect, x, effect.render(x, 24_000, truth), prediction=truth)
    at_truth, elsewhere, anchored_away = objective(np.stack([truth, [0.1, 0.1, 0.2, 0.9], truth + 0.1]))
    assert at_truth == pytest.approx(0.0, abs=1e-9)
    assert elsewhere > 0.01
    assert anchored_away > at_truth  # the trust region alone separates settings that sound alike


@pytest.mark.parametrize("effect_name, kind, measured, truth", [
    ("delay", "drums", 0.3311, [None, 0.4, 0.6, 0.5]),
    ("ringmod", "drums", 311.7, [None, 0.6]),
    ("ambience", "guitar", 13.0, [0.45, 0.5, 0.55, None]),  # J does not decide: the pre-delay is always taken
])
def test_refinement_holds_the_setting_it_measured(tiny_home, effect_name, kind, measured, truth):
    effect = effects.get(effect_name)
    index = readings.measured_parameter(effect)
    truth = np.array([effect.params[index].to_normalized(measured) if t is None else t for t in truth])
    recording = sources.generate(kind, seed=1013, seconds=12.0)
    x, reference = recording[:WINDOW], effect.render(recording[-WINDOW:], 24_000, truth)
    encoder = inference.load_models("delay", str(tiny_home / "models")).encoder
    untrained = models.Controller(models.ControllerConfig(n_params=effect.n_params, embedding_dim=128))
    bundle = inference.Models(encoder, untrained)
    unrefined = matching.match(effect, x, reference, bundle=bundle)  # measured without refinement too
    held = readings.measured_parameters(effect)  # the delay's feedback and mix are fitted too
    assert unrefined.measured == held and index in held and unrefined.refined_params is None
    np.testing.assert_allclose(unrefined.params, 0.5, atol=1e-3)  # the untrained controller's prediction
    assert effect.params[index].to_real(unrefined.final_params[index]) == pytest.approx(measured, rel=1e-3, abs=0.05)
    others = [i for i in range(effect.n_params) if i not in held]
    np.testing.assert_array_equal(unrefined.final_params[others], unrefined.params[others])
    np.testing.assert_array_equal(unrefined.audio, effect.render(x, 24_000, unrefined.final_params))
    result = matching.match(effect, x, reference, refine_seconds=1.0, bundle=bundle)
    assert result.measured == held and not result.other_material
    np.testing.assert_array_equal(result.refined_params[list(held)], unrefined.final_params[list(held)])
    assert effect.params[index].to_real(result.refined_params[index]) == pytest.approx(measured, rel=1e-3, abs=0.05)
    assert 0.8 <= result.refine_seconds <= 1.2
    assert result.objective_best <= result.objective_start
    objective = matching.TextureObjective(effect, x, reference, result.params)
    start, best = objective(np.stack([result.params, result.refined_params]))
    assert best <= start + 1e-9


def test_refine_keeps_held_parameters():
    target = np.array([0.8, 0.1, 0.6])
    best, _, _ = matching.refine(lambda c: np.sum((c - target) ** 2, axis=1), np.full(3, 0.5), seconds=0.3,
                                 hold=(1,))
    assert best[1] == 0.5 and abs(best[0] - 0.8) < 0.2
    best, _, _ = matching.refine(lambda c: np.sum((c - target[:2]) ** 2, axis=1), np.full(2, 0.5), seconds=0.3,
                                 hold=(1,))  # one free parameter
    assert best[1] == 0.5 and abs(best[0] - 0.8) < 0.1
    with pytest.raises(ValueError, match="not held"):
        matching.refine(lambda c: c[:, 0], np.full(2, 0.5), seconds=0.1, hold=(0, 1))


def test_refine_returns_start_when_nothing_beats_it():
    start = np.array([0.3, 0.7])

    def bowl(candidates):  # minimum exactly at the start
        return np.sum((candidates - start) ** 2, axis=1)

    best, start_value, best_value = matching.refine(bowl, start, seconds=0.3)
    assert start_value == 0.0 and best_value == 0.0
    np.testing.assert_array_equal(best, start)


def test_refine_does_not_score_a_start_whose_objective_it_is_given():
    start, batches = np.array([0.3, 0.7]), []

    def bowl(candidates):
        batches.append(len(candidates))
        return np.sum((candidates - start) ** 2, axis=1)

    best, start_value, best_value = matching.refine(bowl, start, seconds=0.2, start_value=0.0)
    assert set(batches) == {matching.POPULATION}  # never POPULATION + 1: the start is not rendered again
    assert start_value == 0.0 and best_value == 0.0
    np.testing.assert_array_equal(best, start)
    batches.clear()
    matching.refine(bowl, start, seconds=0.2)
    assert batches[0] == matching.POPULATION + 1 and set(batches[1:]) <= {matching.POPULATION}


def test_refine_improves_an_objective_it_can_improve():
    target = np.array([0.8, 0.1, 0.6])
    best, start_value, best_value = matching.refine(lambda c: np.sum((c - target) ** 2, axis=1),
                                                    np.full(3, 0.5), seconds=0.5)
    assert best_value < 0.1 * start_value
    assert np.all((best >= 0) & (best <= 1))


def test_mrstft_orders_distances():
    x = sources.generate("guitar", seed=1005, seconds=3.0)
    effect = effects.get("overdrive")
    mild, strong = effect.render(x, 24_000, [0.1, 0.5, 0.5]), effect.render(x, 24_000, [1.0, 0.5, 0.5])
    assert evaluation.mrstft(x, x) == pytest.approx(0.0, abs=1e-6)
    assert evaluation.mrstft(mild, x) < evaluation.mrstft(strong, x)
    assert evaluation.mrstft(2.0 * x, x) == pytest.approx(0.0, abs=1e-5)  # peak-normalized


def test_evaluate_report_has_every_figure(tiny_home):
    report = evaluation.evaluate(["overdrive", "delay"], pairs=2, refine_seconds=0.3, use_system_audio=False,
                                 generated_per_kind=1, models_dir=str(tiny_home / "models"), latent_per_effect=6)
    for name in ("overdrive", "delay"):
        row = report["effects"][name]
        assert set(row["mrstft"]) == set(evaluation.CONDITIONS)
        assert set(row["param_mae"]) == {"model", "measured", "refined", "random", "mid"}
        assert all(np.isfinite(v) and v >= 0 for v in row["mrstft"].values())
        assert set(row["mrstft_sem"]) == set(evaluation.CONDITIONS)
        assert list(row["model_one_true"]) == list(effects.get(name).param_names)
        assert all(np.isfinite(v) and v >= 0 for v in row["model_one_true"].values())
        per_pair = report["per_pair"][name]
        assert len(per_pair) == 2
        for condition in evaluation.CONDITIONS:
            assert np.isclose(np.mean([p["mrstft"][condition] for p in per_pair]), row["mrstft"][condition])
        ratio = row["ratio_to_random"]["model"]
        assert np.isclose(ratio["ratio"], row["mrstft"]["model"] / row["mrstft"]["random"])
        assert ratio["ci95"][0] <= ratio["ci95"][1]
    overdrive = report["effects"]["overdrive"]  # nothing to measure: the same settings as the model's
    assert overdrive["mrstft"]["measured"] == overdrive["mrstft"]["model"]
    assert "| overdrive | " in evaluation.markdown_tables(report) and "(none)" in evaluation.markdown_tables(report)
    assert 0.0 <= report["latent"]["knn_effect_accuracy"] <= 1.0
    assert set(report["latent"]["probe_r2"]["delay"]) == set(effects.get("delay").param_names)
    one_window = report["latent"]["one_window"]  # every effect through one window at a time
    windows = min(evaluation.ONE_WINDOW_COUNT, len(evaluation.evaluation_recordings(use_system_audio=False,
                                                                                  generated_per_kind=1)))
    assert windows == 5 and len({name for name, _ in one_window["knn_per_window"]}) == windows
    assert one_window["knn_effect_accuracy"] == pytest.approx(np.mean([a for _, a in one_window["knn_per_window"]]))
    assert set(one_window["probe_r2"]) == set(effects.names())
    assert "overdrive" in evaluation.format_table(report) and "within one window" in evaluation.format_table(report)
    results, probe = evaluation.markdown_tables(report).split("\n\n")
    delay = report["effects"]["delay"]
    assert f"| delay | {delay['mrstft']['model']:.3f} ± {delay['mrstft_sem']['model']:.3f} |" in results
    assert results.count("\n") == 1 + 2 and probe.count("| delay | delay_seconds ") == 1
    assert probe.count("delay_seconds") == 2  # across segments, and within one window


def test_the_results_page_shows_the_shipped_evaluation():
    """docs/results.md's held-out tables are those `evaluate --markdown` prints for precomputed/evaluation*.json,
    to the digit."""
    results = (REPO_ROOT / "docs" / "results.md").read_text()
    for name in ("evaluation.json", "evaluation_across.json"):
        report = json.loads((REPO_ROOT / "precomputed" / name).read_text())
        for table in evaluation.markdown_tables(report).split("\n\n"):
            assert table in results


def test_across_recordings_refinement_is_level_or_better_and_clearly_better_where_it_measures():
    """What the Style Match page tells users, checked against the shipped report."""
    report = json.loads((REPO_ROOT / "precomputed" / "evaluation_across.json").read_text())
    assert report["pairing"] == "across recordings" and set(report["effects"]) == set(effects.names())
    ratio = {name: row["mrstft"]["refined"] / row["mrstft"]["model"] for name, row in report["effects"].items()}
    assert sum(r <= 1.0 for r in ratio.values()) == 7 and max(ratio.values()) < 1.03  # level: within 3 %
    assert {name for name, r in ratio.items() if r < 0.9} == {"delay", "ambience", "ringmod"}
    assert {name for name in effects.names() if readings.measured_parameter(effects.get(name)) is not None} == {
        "delay", "ambience", "ringmod"}


def test_evaluate_cli_prints_markdown_tables(tiny_home, capsys):
    assert main(["evaluate", "--effects", "overdrive", "--pairs", "1", "--refine-seconds", "0", "--markdown",
                 "--latent-renders", "5"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| effect | model | refined |") and "\n| overdrive | " in printed


def test_evaluate_cli_across_recordings(tiny_home, capsys):
    assert main(["evaluate", "--effects", "overdrive", "--pairs", "2", "--refine-seconds", "0", "--across",
                 "--json", "--latent-renders", "5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["latent"]["one_window"]["probe_r2"]["delay"]) == 4  # delay's four settings, from 5 renders
    assert report["pairing"] == "across recordings"
    assert all(" → " in pair["source"] for pair in report["per_pair"]["overdrive"])


def test_one_true_setting_finds_the_setting_that_is_off():
    effect = effects.get("delay")
    x = sources.generate("voice", seed=1015, seconds=6.0)
    truth = np.array([0.4, 0.5, 0.6, 0.5])
    off_in_time = truth + np.array([0.2, 0.0, 0.0, 0.0])
    target = effect.render(x, 24_000, truth)
    distances = evaluation.one_true_setting(effect, x, target, off_in_time, truth)
    assert list(distances) == list(effect.param_names)
    assert distances["delay_seconds"] == pytest.approx(0.0, abs=1e-6)
    model = evaluation.mrstft(effect.render(x, 24_000, off_in_time), target)
    assert model > 0.1
    for name in ("feedback", "mix", "tone_hz"):
        assert distances[name] == pytest.approx(model)


def test_ratio_to_random_has_a_bootstrap_interval_around_it():
    exact = evaluation.ratio_to_random([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    assert exact == {"ratio": 0.5, "ci95": [0.5, 0.5]}  # the same ratio on every pair: no spread
    spread = evaluation.ratio_to_random([1.0, 2.0, 3.0, 4.0] * 4, [2.0] * 16)
    low, high = spread["ci95"]
    assert spread["ratio"] == 1.25 and 0.9 < low < 1.25 < high < 1.6


def test_pairs_across_recordings_take_the_input_from_another_work():
    from dafx_explorer import corpus

    recordings = corpus.generated("eval", 2)
    effect = effects.get("delay")
    same = evaluation.held_out_pairs(effect, recordings, 6, np.random.default_rng(3))
    across = evaluation.held_out_pairs(effect, recordings, 6, np.random.default_rng(3), across=True)
    by_name = {r.name: r.samples for r in recordings}
    for pair in across:
        input_name, reference_name = pair["source"].split(" → ")
        assert input_name != reference_name and input_name in by_name and reference_name in by_name
        assert np.array_equal(pair["target"], effect.render(pair["input"], 24_000, pair["params"]))
    # the first pair draws its reference as the same-recording pair does, then its input elsewhere
    assert np.array_equal(across[0]["reference"], same[0]["reference"])
    assert not np.array_equal(across[0]["input"], same[0]["input"])
    assert across[0]["source"].endswith(" → " + same[0]["source"])


def test_an_effect_gets_the_same_held_out_pairs_whichever_others_are_evaluated(tiny_home):
    def delay_row(names):
        report = evaluation.evaluate(names, pairs=2, refine_seconds=0.0, use_system_audio=False,
                                     generated_per_kind=1, models_dir=str(tiny_home / "models"), latent_per_effect=5)
        return report["effects"]["delay"]

    alone, after_another = delay_row(["delay"]), delay_row(["overdrive", "delay"])
    assert alone == after_another


def _write_recordings(folder, kinds):
    """Generated recordings as 44.1 kHz stereo WAV files (the folder is read like any user's)."""
    import scipy.signal
    import soundfile as sf

    folder.mkdir(exist_ok=True)
    for i, kind in enumerate(kinds):
        mono = scipy.signal.resample_poly(sources.generate(kind, seed=1100 + i, seconds=13.0), 147, 80)
        sf.write(folder / f"{i}_{kind}.wav", np.stack([mono, 0.5 * mono], axis=1), 44_100)


def test_evaluate_on_a_folder_of_recordings(tiny_home, tmp_path, capsys):
    _write_recordings(tmp_path / "mine", ["guitar", "voice", "bass"])
    (tmp_path / "mine" / "notes.txt").write_text("not audio, not read")
    out = tmp_path / "report.json"
    assert main(["evaluate", "--effects", "overdrive", "--pairs", "3", "--refine-seconds", "0", "--across",
                 "--audio-dir", str(tmp_path / "mine"), "--out", str(out), "--latent-renders", "5"]) == 0
    report = json.loads(out.read_text())
    assert report["sources"] == {"folder": 3} and report["audio_dirs"] == [str(tmp_path / "mine")]
    names = {f"folder:{tmp_path / 'mine' / f'{i}_{kind}.wav'}" for i, kind in enumerate(["guitar", "voice", "bass"])}
    for pair in report["per_pair"]["overdrive"]:
        input_name, reference_name = pair["source"].split(" → ")
        assert {input_name, reference_name} <= names and input_name != reference_name
    assert np.isfinite(report["effects"]["overdrive"]["mrstft"]["model"])
    assert 0.0 <= report["latent"]["knn_effect_accuracy"] <= 1.0
    assert "overdrive" in capsys.readouterr().out


def test_evaluate_on_a_folder_refuses_what_it_cannot_use(tiny_home, tmp_path, capsys):
    from dafx_explorer.errors import DataError

    with pytest.raises(DataError, match="no such folder"):
        evaluation.evaluation_recordings((tmp_path / "missing",))
    _write_recordings(tmp_path / "one", ["guitar"])
    with pytest.raises(DataError, match="at least two audible recordings.*held 1"):
        evaluation.evaluation_recordings((tmp_path / "one",))
    (tmp_path / "one" / "broken.wav").write_text("not audio at all")
    assert main(["evaluate", "--effects", "overdrive", "--audio-dir", str(tmp_path / "one")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "broken.wav" in err and err.count("\n") == 1


def test_cli_match_json(tiny_home, tmp_path, capsys):
    from dafx_explorer import audio

    audio.save(tmp_path / "in.wav", sources.generate("bass", seed=1006, seconds=4.0))
    audio.save(tmp_path / "ref.flac", effects.get("overdrive").render(
        sources.generate("bass", seed=1007, seconds=4.0), 24_000, [0.7, 0.5, 0.5]))
    status = main(["match", "--effect", "overdrive", "--input", str(tmp_path / "in.wav"), "--reference",
                   str(tmp_path / "ref.flac"), "--output", str(tmp_path / "out.wav"), "--json"])
    assert status == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["effect"] == "overdrive" and payload["predictor"] == "estimator"
    assert "predicted_params" not in payload and "refinement" not in payload  # no search, nothing measured
    assert set(payload["params"]) == set(effects.get("overdrive").param_names)
    assert {"normalized", "value", "unit"} <= set(payload["params"]["drive_db"])
    assert payload["seconds"] > 0
    assert len(audio.load(tmp_path / "out.wav")) == 4 * 24_000


def test_cli_match_json_says_what_became_of_the_refinement(tiny_home, tmp_path, capsys):
    from dafx_explorer import audio

    recording = sources.generate("drums", seed=1008, seconds=12.0)
    effect = effects.get("overdrive")
    audio.save(tmp_path / "in.wav", recording[:WINDOW])
    audio.save(tmp_path / "same.wav", effect.render(recording[-WINDOW:], 24_000, [0.7, 0.5, 0.5]))
    audio.save(tmp_path / "other.wav", effect.render(sources.generate("voice", seed=1009, seconds=6.0), 24_000,
                                                     [0.7, 0.5, 0.5]))
    outcomes = {}
    for reference in ("same", "other"):
        assert main(["match", "--effect", "overdrive", "--input", str(tmp_path / "in.wav"), "--reference",
                     str(tmp_path / f"{reference}.wav"), "--output", str(tmp_path / "out.wav"), "--refine-seconds",
                     "0.5", "--json"]) == 0
        payload = json.loads(capsys.readouterr().out)
        assert set(payload["predicted_params"]) == set(payload["params"]) and payload["refine_seconds"] >= 0
        outcomes[reference] = payload["refinement"]
    assert outcomes["same"] in ("searched", "set aside") and outcomes["other"] == "other material"


def test_cli_match_bad_input_is_one_line(tiny_home, tmp_path, capsys):
    (tmp_path / "text.wav").write_text("not audio at all")
    status = main(["match", "--effect", "overdrive", "--input", str(tmp_path / "text.wav"), "--reference",
                   str(tmp_path / "text.wav"), "--output", str(tmp_path / "out.wav")])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error:") and err.count("\n") == 1


def test_refined_settings_the_controller_reads_unlike_the_reference_are_set_aside():
    bundle = inference.load_models("overdrive", str(REPO_ROOT / "precomputed" / "models"))
    effect = effects.get("overdrive")
    x = sources.generate("guitar", seed=1021, seconds=6.0)
    reference = effect.render(sources.generate("guitar", seed=1022, seconds=6.0), 24_000, [0.8, 0.4, 0.6])
    prediction = inference.predict(effect, x, reference, bundle)
    assert prediction[0] > 0.6  # the shipped controller hears a strong drive
    objective = matching.TextureObjective(effect, x, reference, prediction)
    nearby = np.clip(prediction + [0.01, -0.01, 0.01], 0, 1)
    opposite = np.clip(1.0 - prediction, 0, 1)
    assert matching.reads_like_reference(objective, prediction, nearby, (), bundle)
    assert not matching.reads_like_reference(objective, prediction, opposite, (), bundle)
    # a held (measured) setting is left out of the comparison: only the searched ones count
    drive_moved = np.array([opposite[0], *prediction[1:]])
    assert not matching.reads_like_reference(objective, prediction, drive_moved, (), bundle)
    assert matching.reads_like_reference(objective, prediction, drive_moved, (0,), bundle)
