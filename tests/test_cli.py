"""The command line: effects listing, render, and one-line errors with status 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

from dafx_explorer import audio, effects, sources
from dafx_explorer.cli import main


def test_effects_json_lists_all_eight_with_ranges(capsys):
    assert main(["effects", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert list(listing) == effects.names()
    for params in listing.values():
        assert len(params) >= 2
        for param in params:
            assert {"name", "min", "max", "unit", "scale", "default", "bypass"} <= set(param)
            assert param["min"] <= param["default"] <= param["max"]
            assert param["bypass"] is None or param["min"] <= param["bypass"] <= param["max"]
    tone = next(param for param in listing["overdrive"] if param["name"] == "tone_hz")
    assert tone["bypass"] == tone["max"] == effects.TONE_OPEN_HZ


def test_effects_text_names_every_parameter(capsys):
    assert main(["effects"]) == 0
    out = capsys.readouterr().out
    assert all(p.name in out for name in effects.names() for p in effects.get(name).params)


def test_render_applies_named_params_and_defaults(tmp_path, capsys):
    clip = sources.generate("guitar", seed=3, seconds=2.0)
    audio.save(tmp_path / "in.wav", clip)
    status = main(["render", "--effect", "delay", "--input", str(tmp_path / "in.wav"), "--output",
                   str(tmp_path / "out.flac"), "--params", '{"mix": 0.8, "delay_seconds": 0.3}', "--json"])
    assert status == 0
    payload = json.loads(capsys.readouterr().out)
    effect = effects.get("delay")
    expected = effect.normalize_settings({"mix": 0.8, "delay_seconds": 0.3})
    assert payload["params"]["mix"]["normalized"] == pytest.approx(0.8)
    assert payload["params"]["feedback"]["normalized"] == pytest.approx(effect.defaults()[1])
    rendered = audio.load(tmp_path / "out.flac")
    np.testing.assert_allclose(rendered, effect.render(clip, 24_000, expected), atol=2e-6)  # 24-bit FLAC


def test_render_seed_draws_reproducible_random_settings(tmp_path, capsys):
    audio.save(tmp_path / "in.wav", sources.generate("bass", seed=3, seconds=1.0))
    outputs = []
    for seed in (5, 5, 6):
        main(["render", "--effect", "ringmod", "--input", str(tmp_path / "in.wav"), "--output",
              str(tmp_path / "out.wav"), "--seed", str(seed), "--json"])
        outputs.append(json.loads(capsys.readouterr().out)["params"]["carrier_hz"]["normalized"])
    assert outputs[0] == outputs[1] != outputs[2]


@pytest.mark.parametrize("preset", [
    {"pedalboard": [{"Chorus": {"rate_hz": 2.0, "mix": 0.7}}]},
    {"effect": "flanger", "params": {"rate_hz": {"value": 2.0}, "mix": {"normalized": 0.7}}},
])
def test_render_takes_a_preset_ours_or_plain_pedalboard(preset, tmp_path, capsys):
    import pedalboard

    clip = sources.generate("chords", seed=3, seconds=2.0)
    audio.save(tmp_path / "in.wav", clip)
    (tmp_path / "preset.json").write_text(json.dumps(preset))
    assert main(["render", "--input", str(tmp_path / "in.wav"), "--output", str(tmp_path / "out.wav"),
                 "--preset", str(tmp_path / "preset.json"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["effect"] == "flanger" and payload["params"]["rate_hz"]["value"] == pytest.approx(2.0)
    if "pedalboard" in preset:
        expected = pedalboard.Chorus(rate_hz=2.0, mix=0.7)(clip, 24_000)
        np.testing.assert_allclose(audio.load(tmp_path / "out.wav"), expected, atol=1e-4)


@pytest.mark.parametrize(("args", "fragment"), [
    (["render", "--effect", "fuzzbox"], "fuzzbox"),
    (["render", "--effect", "delay", "--params", '{"speed": 0.5}'], "speed"),
    (["render", "--effect", "delay", "--params", '{"mix": 1.5}'], "mix"),
    (["render", "--effect", "delay", "--params", '{"mix": "loud"}'], "mix"),
    (["render", "--effect", "delay", "--params", "{not json"], "JSON"),
    (["render", "--effect", "/nowhere/plugin.vst3"], "plugin.vst3"),
    (["render", "--effect", "delay", "--input", "MISSING"], "MISSING"),
    (["render", "--preset", "MISSING.json"], "cannot read preset MISSING.json"),
    (["render", "--preset", "PRESET", "--params", '{"mix": 0.5}'], "not allowed with"),
    (["render", "--effect", "delay", "--preset", "PRESET"], "delay cannot reproduce Distortion"),
    (["render"], "needs --effect"),
    (["frobnicate"], "frobnicate"),
    (["evaluate", "--latent-renders", "2"], "at least 5"),  # the latent figures' 5-fold cross-validation
    (["evaluate", "--latent-renders", "many"], "--latent-renders"),
])
def test_bad_input_exits_2_with_one_line(args, fragment, tmp_path, capsys):
    audio.save(tmp_path / "in.wav", sources.generate("drums", seed=3, seconds=1.0))
    (tmp_path / "preset.json").write_text('{"pedalboard": [{"Distortion": {"drive_db": 30}}]}')
    args = [str(tmp_path / "preset.json") if item == "PRESET" else item for item in args]
    defaults = {"--input": str(tmp_path / "in.wav"), "--output": str(tmp_path / "out.wav")}
    if args[0] == "render":
        args = args + [item for key, value in defaults.items() if key not in args for item in (key, value)]
    assert _status(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and fragment in err
    assert "Traceback" not in err


def _status(args):
    """Exit status of a command, whether it returns it or argparse exits with it."""
    try:
        return main(args)
    except SystemExit as exc:
        return exc.code


def test_module_entry_point_runs_in_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "dafx_explorer", "render", "--effect", "nope", "--input", "x",
                           "--output", "y"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "nope" in done.stderr and "Traceback" not in done.stderr


def test_training_options_left_out_keep_the_training_configs_defaults():
    from dafx_explorer import training
    from dafx_explorer.cli import build_parser, controller_training_config, encoder_training_config

    config = encoder_training_config(build_parser().parse_args(["train-encoder"]))
    assert config == training.EncoderTrainingConfig()
    args = build_parser().parse_args(["train-controller", "--effect", "delay", "--pairs", "8000"])
    config = controller_training_config(args)
    assert (config.pairs, config.epochs) == (8000, training.ControllerTrainingConfig.epochs)
    assert config == training.ControllerTrainingConfig(effect="delay", pairs=8000)


def test_corpus_export_then_train_encoder_on_it_with_render_workers(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path / "home"))
    assert main(["corpus-export", str(tmp_path / "corpus"), "--no-system-audio", "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["sources"] == {"generated": exported["recordings"]} and exported["recordings"] > 0
    args = ["train-encoder", "--tiny", "--epochs", "1", "--examples", "16", "--batch-size", "8", "--workers", "2",
            "--device", "cpu", "--corpus", str(tmp_path / "corpus"), "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["sources"] == exported["sources"]
    assert _status(["train-encoder", "--tiny", "--corpus", str(tmp_path / "nowhere")]) == 2
    assert "not an exported corpus" in capsys.readouterr().err
