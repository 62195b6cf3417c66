"""Style matching on held-out real recordings: the split, match with the estimator, evaluate --real."""

import json

import numpy as np
import pytest

from dafx_explorer import corpus, default_build, effects, estimator, inference, matching, real_benchmark, sources
from dafx_explorer.cli import main


def test_the_real_split_holds_out_a_whole_speaker_and_the_lincity_music():
    held_out = corpus.real("eval")
    assert {r.origin for r in held_out} == {"asterisk", "lincity"}
    assert all(r.name.startswith(("asterisk:it:", "lincity:")) for r in held_out)
    training_speech = corpus.asterisk("train", np.random.default_rng(0))
    assert training_speech and not any(r.name.startswith("asterisk:it:") for r in training_speech)
    assert all(len(r.samples) == corpus.RECORDING_SECONDS * 24_000 for r in held_out)
    assert set(corpus.LICENCES) >= {"asterisk", "lincity", "sonic-pi", "wesnoth", "fluidsynth"}


def test_match_uses_the_estimator_where_the_effect_has_one(tiny_home):
    recording = sources.generate("guitar", seed=1021, seconds=12.0)
    x, other = recording[:120_000], recording[-120_000:]
    for name, predictor in (("overdrive", "estimator"), ("ambience", "controller")):
        effect = effects.get(name)
        bundle = inference.load_models(name, str(tiny_home / "models"))
        reference = effect.render(other, 24_000, np.full(effect.n_params, 0.3))
        result = matching.match(effect, x, reference, bundle=bundle)
        assert result.predictor == predictor
        expected = (estimator.predict(bundle.estimator, x, reference) if predictor == "estimator"
                    else inference.predict(effect, x, reference, bundle))
        np.testing.assert_array_equal(result.params, expected)


def test_evaluate_real_end_to_end_on_tiny_models(tiny_home, tmp_path, capsys):
    out = tmp_path / "real.json"
    assert main(["evaluate", "--real", "--effects", "overdrive", "delay", "--pairs", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["sources"].keys() == {"asterisk", "lincity"} and report["pairs"] == 2
    for pairing in ("within", "across"):
        assert f"**{'Within one recording' if pairing == 'within' else 'Across recordings'}**" in printed
        for name in ("overdrive", "delay"):
            row = report[pairing][name]
            assert set(row["mrstft"]) == set(real_benchmark.CONDITIONS)
            assert row["mrstft"]["floor"] == pytest.approx(0.0, abs=1e-6)
            assert row["param_mae"]["floor"] == 0.0 and 0.0 < row["param_mae"]["random"] < 1.0
            assert row["ratio_to_random"]["match"]["ratio"] > 0.0 and row["match_seconds"] > 0.0
            assert row["predictor"] == "estimator" and "estimator" in row["ratio_to_random"]
            assert f"| {name} | " in printed


def test_evaluate_real_refuses_options_it_does_not_take(capsys):
    assert main(["evaluate", "--real", "--across"]) == 2
    assert "leave out --across and --audio-dir" in capsys.readouterr().err


def test_train_estimator_cli_writes_an_estimator(tiny_home, tmp_path, capsys):
    assert main(["train-estimator", "--effect", "ringmod", "--tiny", "--steps", "2", "--batch-size", "2",
                 "--across-share", "0.25", "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["effect"] == "ringmod"
    model, meta = estimator.load_estimator("ringmod", tmp_path)
    assert model.config.n_params == 2 and meta["extra"]["training"]["steps"] == 2
    assert meta["extra"]["training"]["across_share"] == 0.25


@pytest.mark.parametrize("share", ["1.5", "-0.1", "nan"])
def test_train_estimator_refuses_a_share_outside_0_to_1(share, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["train-estimator", "--effect", "ringmod", "--tiny", "--across-share", share])
    assert exited.value.code == 2
    assert "must be from 0 to 1" in capsys.readouterr().err


def test_docs_show_the_shipped_real_benchmark_and_training():
    import json as json_

    from dafx_explorer.settings import REPO_ROOT

    results = (REPO_ROOT / "docs" / "results.md").read_text()
    report = json_.loads((REPO_ROOT / "precomputed" / "evaluation_real.json").read_text())
    assert real_benchmark.markdown(report) in results
    manifest = json_.loads((REPO_ROOT / "precomputed" / "manifest.json").read_text())
    assert real_benchmark.training_table(manifest) in results
    files = (REPO_ROOT / "precomputed" / "models").glob("estimator_*.safetensors")
    shipped = {path.stem.removeprefix("estimator_") for path in files}
    assert shipped == {name for name, row in report["within"].items() if row["predictor"] == "estimator"}
    assert shipped == set(default_build.ESTIMATOR_STEPS)  # build-default trains exactly the shipped ones


def test_the_shipped_estimators_trained_in_at_most_two_hours_in_all():
    """Issue 22's budget: every shipped estimator's and correction's recorded training wall time, summed."""
    from dafx_explorer import correction
    from dafx_explorer.settings import REPO_ROOT

    models = json.loads((REPO_ROOT / "precomputed" / "manifest.json").read_text())["models"]
    seconds = [entry["wall_seconds"] for key, entry in models.items() if key.startswith(("estimator_", "correction_"))]
    assert len(seconds) == len(default_build.ESTIMATOR_STEPS) + len(correction.CORRECTED_SETTINGS)
    assert sum(seconds) <= 2 * 3600


def test_refinement_helps_only_where_it_was_no_worse_in_both_pairings():
    row = lambda match, refined: {"mrstft": {"match": match, "refined": refined}}  # noqa: E731
    report = {"refine_seconds": 2.0, "within": {"a": row(1.0, 0.5), "b": row(1.0, 1.0), "c": row(1.0, 0.9)},
              "across": {"a": row(1.0, 1.01), "b": row(2.0, 1.0), "c": row(1.0, 0.9)}}
    assert [real_benchmark.refinement_helps(report, name) for name in "abc"] == [False, True, True]
    assert real_benchmark.refinement_helps(report, "missing") is None
    assert real_benchmark.refinement_helps({**report, "refine_seconds": 0.0}, "a") is None
    assert real_benchmark.load_report("/nonexistent/evaluation_real.json") is None


def test_refinement_is_offered_unless_the_report_shows_it_worse():
    row = lambda match, refined: {"mrstft": {"match": match, "refined": refined}}  # noqa: E731
    report = {"refine_seconds": 2.0, "within": {"a": row(1.0, 0.5), "b": row(1.0, 0.9)},
              "across": {"a": row(1.0, 1.01), "b": row(1.0, 0.9)}}
    assert [real_benchmark.refinement_offered(report, name) for name in ("a", "b", "missing")] == [False, True, True]
    assert real_benchmark.refinement_offered(None, "a")


def test_evaluate_real_with_a_budget_scores_the_refined_result(tiny_home):
    report = real_benchmark.evaluate_real(["overdrive"], pairs=2, refine_seconds=0.3)
    for pairing in real_benchmark.PAIRINGS:
        row = report[pairing]["overdrive"]
        assert "refined" in row["mrstft"] and "refined" in row["param_mae"]
    assert real_benchmark.refinement_helps(report, "overdrive") in (True, False)
    table = real_benchmark.markdown(report)
    assert "refined for 0.3 s" in table and "| refined |" in table


def test_training_table_shows_each_estimators_share_of_pairs_across_works():
    entry = lambda share: {"config": {"steps": 10, "batch_size": 4, **share}, "wall_seconds": 60.0,  # noqa: E731
                           "fit": {"initial_val_l1": 0.25, "best_val_l1": 0.1}}
    correction = {"config": {"pairs": 800, "across_share": 0.5}, "wall_seconds": 30.0,
                  "fit": {"initial_val_l1": 0.2, "best_val_l1": 0.19}}
    manifest = {"models": {"estimator_overdrive": entry({"across_share": 0.5}), "estimator_delay": entry({}),
                           "correction_delay": correction}}
    rows = real_benchmark.training_table(manifest).splitlines()
    assert rows[2] == "| overdrive | 10 × 4 | 40 | 0.5 | 1.0 | 0.250 → 0.100 |"
    assert rows[3] == "| delay | 10 × 4 | 40 | 0 | 1.0 | 0.250 → 0.100 |"  # trained before the setting: one work
    assert rows[4] == "| delay correction | — | 800 | 0.5 | 0.5 | 0.200 → 0.190 |"
    assert rows[5] == "| all | | | | 2.5 | |"
