"""The build-default plan: every effect trained and precomputed, steps addressable for resuming."""

import pytest

from dafx_explorer import default_build, effects
from dafx_explorer.cli import build_parser


def test_plan_covers_every_effect_in_dependency_order():
    plan = [" ".join(step) for step in default_build.steps()]
    for name in effects.names():
        assert plan.index(f"train-controller --effect {name}") < plan.index(
            f"precompute --effect {name} --points {default_build.PRECOMPUTE_POINTS}")
    assert plan.index("train-encoder --kind vae") < plan.index("train-controller --effect overdrive")
    assert plan.index("precompute --combined") > max(i for i, s in enumerate(plan) if s.startswith("precompute --eff"))


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
