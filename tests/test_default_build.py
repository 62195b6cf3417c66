"""The build-default plan: every effect trained and precomputed, steps addressable for resuming."""

import dataclasses
import json
import shlex
from pathlib import Path

import pytest

from dafx_explorer import default_build, effects, estimator, manifest
from dafx_explorer.cli import (
    build_parser,
    controller_training_config,
    correction_training_config,
    encoder_training_config,
    estimator_training_config,
)

PRECOMPUTED = Path(__file__).resolve().parents[1] / "precomputed"
VAE_ONLY = {"beta_max", "beta_cycle_steps", "aux_class_weight", "aux_settings_weight", "recon_pool"}
"""``EncoderTrainingConfig`` fields that training the VQ-VAE does not read (the β-VAE's loss and decoder)."""


HOW_IT_RAN = {"--json": 0, "--resume": 0, "--workers": 1, "--device": 1, "--corpus": 1, "--out": 1}
"""Options that change how a training run went (output, continuing, processes, device, reading the
corpus from an export of the same build, where the files went), not the config it trains, and how many
values each takes."""


def _without_how_it_ran(words: list[str]) -> list[str]:
    """The command's words less how it ran and less an ``--across-share`` spelled at its default."""
    kept, skip = [], 0
    for at, word in enumerate(words):
        if skip:
            skip -= 1
        elif word in HOW_IT_RAN:
            skip = HOW_IT_RAN[word]
        elif word == "--across-share" and float(words[at + 1]) == estimator.ACROSS_SHARE:
            skip = 1
        else:
            kept.append(word)
    return kept


def test_plan_covers_every_effect_in_dependency_order():
    plan = [" ".join(step) for step in default_build.steps()]
    for name in effects.names():
        assert plan.index(f"train-controller --effect {name}") < plan.index(
            f"precompute --effect {name} --points {default_build.PRECOMPUTE_POINTS}")
    encoder = f"train-encoder --kind vae --epochs {default_build.SHIPPED_ENCODER_EPOCHS}"
    assert plan.index(encoder) < plan.index("train-controller --effect overdrive")
    assert plan.index("precompute --combined") > max(i for i, s in enumerate(plan) if s.startswith("precompute --eff"))
    for report in ("evaluation.json", "evaluation_across.json"):  # every committed report has its step
        assert any(step.startswith("evaluate ") and step.endswith(f"--out precomputed/{report}") for step in plan)


def test_every_step_parses_as_a_cli_command():
    parser = build_parser()
    for step in default_build.steps():
        assert callable(parser.parse_args(step).func)


def test_first_step_by_number_or_name():
    plan = default_build.steps()
    assert default_build.first_step(None, plan) == 0
    assert default_build.first_step("3", plan) == 2
    assert plan[default_build.first_step("precompute", plan)][0] == "precompute"
    with pytest.raises(ValueError, match="no step matches"):
        default_build.first_step("dance", plan)


def test_shipped_models_are_what_the_build_steps_make_with_todays_defaults():
    """Each shipped model's manifest entry names a build step, and that step with the current
    training defaults gives the recorded config: a changed default without a rebuild fails here."""
    shipped = json.loads((PRECOMPUTED / "manifest.json").read_text())["models"]
    plan = [" ".join(step) for step in default_build.steps()]
    config_of = {"train-encoder": encoder_training_config, "train-controller": controller_training_config,
                 "train-estimator": estimator_training_config, "train-correction": correction_training_config}
    encoder_sha = manifest.file_sha256(PRECOMPUTED / "models" / "encoder_vae.safetensors")
    assert {"encoder_vae", "encoder_vq", *(f"controller_{name}" for name in effects.names())} <= set(shipped)
    for name, entry in shipped.items():
        words = shlex.split(entry["command"])[3:]  # after "python -m dafx_explorer"
        step = _without_how_it_ran(words)
        assert " ".join(step) in plan, name
        config = json.loads(json.dumps(dataclasses.asdict(config_of[step[0]](build_parser().parse_args(step)))))
        recorded = entry["config"]
        if config.get("kind") == "vq":
            config, recorded = ({k: v for k, v in c.items() if k not in VAE_ONLY} for c in (config, recorded))
        assert config == recorded, name
        assert manifest.file_sha256(PRECOMPUTED / "models" / entry["file"]) == entry["sha256"], name
        if name.startswith("controller_"):
            assert entry["encoder_sha256"] == encoder_sha, name
        if name.startswith("correction_"):  # trained on the shipped estimator of its effect
            estimator_file = PRECOMPUTED / "models" / name.replace("correction_", "estimator_", 1)
            assert entry["estimator_sha256"] == manifest.file_sha256(estimator_file.with_suffix(".safetensors")), name
