"""The embedded default (``precomputed/``), rebuilt by one command: ``python -m dafx_explorer build-default``.

Each step is an ordinary CLI command run in its own process, so every manifest entry
records the command that made it. ``--from STEP`` resumes at a step (by its number or the
first word of its command), e.g. after the models are trained, ``--from precompute``.
"""

from __future__ import annotations

import subprocess
import sys
import time

from dafx_explorer import correction, effects

PRECOMPUTE_POINTS = 1000
LISTENING_EXAMPLES = 3
ESTIMATOR_STEPS = {"overdrive": 2400, "delay": 2400, "ambience": 2400, "flanger": 4800, "multiband": 7200,
                   "dynamics": 7200, "ringmod": 2400, "combo": 2400}
"""Per effect, the steps of 32 new pairs its shipped settings estimator trained for."""
ESTIMATOR_ACROSS_SHARES = {"delay": 0.0, "ambience": 0.0, "flanger": 0.0, "multiband": 0.25, "ringmod": 0.0}
"""Shipped estimators trained with another ``--across-share`` than the default (0: pairs of one work only)."""
REAL_REFINE_SECONDS = 3
"""Refinement budget (s) of the shipped real-recordings report, which decides where Style Match offers it."""
SHIPPED_ENCODER_EPOCHS = 39
"""The shipped β-VAE's epochs: what a lent GPU trained in its time (the CPU default is 24, for its 30-min budget)."""


def steps() -> list[list[str]]:
    """The CLI commands that build the embedded default, in order."""
    names = effects.names()
    return [
        ["sources", "--real"],
        ["train-encoder", "--kind", "vae", "--epochs", str(SHIPPED_ENCODER_EPOCHS)],
        ["train-encoder", "--kind", "vq", "--epochs", "3"],
        *(["train-controller", "--effect", name] for name in names),
        *(["train-estimator", "--effect", name, "--steps", str(steps),
           *(["--across-share", f"{ESTIMATOR_ACROSS_SHARES[name]:g}"] if name in ESTIMATOR_ACROSS_SHARES else [])]
          for name, steps in ESTIMATOR_STEPS.items()),
        *(["train-correction", "--effect", name] for name in correction.CORRECTED_SETTINGS),
        *(["precompute", "--effect", name, "--points", str(PRECOMPUTE_POINTS)] for name in names),
        ["precompute", "--combined"],
        ["listening-set", "--examples", str(LISTENING_EXAMPLES)],
        ["evaluate", "--pairs", "16", "--out", "precomputed/evaluation.json"],
        ["evaluate", "--pairs", "16", "--across", "--out", "precomputed/evaluation_across.json"],
        ["evaluate", "--real", "--pairs", "16", "--refine-seconds", str(REAL_REFINE_SECONDS),
         "--out", "precomputed/evaluation_real.json"],
    ]


def first_step(start: str | None, plan: list[list[str]]) -> int:
    """Index of the step to start at: a 1-based number, or the first step whose command starts with ``start``."""
    if start is None:
        return 0
    if start.isdigit() and 1 <= int(start) <= len(plan):
        return int(start) - 1
    for index, step in enumerate(plan):
        if " ".join(step).startswith(start):
            return index
    raise ValueError(f"no step matches {start!r}; steps are numbered 1-{len(plan)} or named by command")


def build_default(start: str | None = None) -> None:
    """Run the steps (from ``start``), each as ``python -m dafx_explorer STEP``; stop at the first failure."""
    plan = steps()
    for number, step in enumerate(plan[first_step(start, plan):], start=first_step(start, plan) + 1):
        print(f"[{number}/{len(plan)}] python -m dafx_explorer {' '.join(step)}", flush=True)
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dafx_explorer", *step], check=True)
        print(f"[{number}/{len(plan)}] done in {time.perf_counter() - began:.0f} s", flush=True)
