"""Speed of the shipped models (DESIGN §7: embedding ≤ 15 ms per window in batches of 64;
style match without refinement on a 30 s input ≤ 1 s).

Run from the repository root (after the models are trained)::

    python -m benchmarks.models [--effect overdrive] [--repeats 5] [--refine-seconds 5]

Prints one JSON object: milliseconds per window to embed batches of 64 with each encoder,
and the ``seconds`` that ``match`` reports for 5 s and 30 s inputs, without and with
refinement (median of the repeats; models loaded and warm first). Refinement is timed only for
effects that Style Match offers it for (``real_benchmark.refinement_offered``); otherwise it is null.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from dafx_explorer import effects, features, inference, matching, models, real_benchmark, sources
from dafx_explorer.settings import SAMPLE_RATE, WINDOW


def embed_ms_per_window(kind: str, repeats: int, batch: int = 64) -> float:
    """Median milliseconds per window of ``encoder.embed`` on precomputed mel batches."""
    encoder, _ = models.load_encoder(kind)
    mel = features.mel_features(np.random.default_rng(0).standard_normal((batch, WINDOW)).astype(np.float32) * 0.1)
    encoder.embed(mel)
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        encoder.embed(mel)
        times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times) / batch


def match_seconds(effect_name: str, seconds: float, refine_seconds: float, repeats: int) -> float:
    """Median of ``MatchResult.seconds`` plus its refinement time (s). The reference is the effect
    on the 6 s after the input in the same recording, so that refinement searches (a reference of
    other material would skip the search, :data:`matching.MATERIAL_LIMIT`)."""
    effect = effects.get(effect_name)
    recording = sources.generate("drums", seed=2001, seconds=seconds + 6.0)
    split = int(seconds * SAMPLE_RATE)
    x = recording[:split]
    reference = effect.render(recording[split:], SAMPLE_RATE, np.full(effect.n_params, 0.7))
    bundle = inference.load_models(effect_name)
    matching.match(effect, x, reference, bundle=bundle)
    runs = [matching.match(effect, x, reference, refine_seconds=refine_seconds, bundle=bundle)
            for _ in range(repeats)]
    if any(r.other_material for r in runs):
        raise SystemExit("the benchmark's reference read as other material: refinement did not search")
    return statistics.median(r.seconds + r.refine_seconds for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--effect", default="overdrive")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--refine-seconds", type=float, default=5.0)
    args = parser.parse_args()
    refined = real_benchmark.refinement_offered(real_benchmark.load_report(), args.effect)
    report = {
        "torch_threads": torch.get_num_threads(),
        "embed_ms_per_window": {kind: round(embed_ms_per_window(kind, args.repeats), 2) for kind in ("vae", "vq")},
        "effect": args.effect,
        "match_seconds": {
            f"{length}s_input": {
                "no_refinement": round(match_seconds(args.effect, length, 0.0, args.repeats), 3),
                f"refine_{args.refine_seconds:g}s": round(
                    match_seconds(args.effect, length, args.refine_seconds, max(1, args.repeats // 2)), 3)
                if refined else None,
            }
            for length in (5, 30)
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
