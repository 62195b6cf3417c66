"""Speed of feature extraction, warm (DESIGN §7: at most 10 ms per 5.46 s window, batched).

Run from the repository root::

    python -m benchmarks.features [--batch 64] [--repeats 7] [--threads N]

Prints one JSON object: milliseconds per analysis window for batched and one-at-a-time mel
features, batched linear features, and milliseconds per 8 s clip for batched descriptors
(brightness and depth changes, as precompute uses them); each the median of the repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from dafx_explorer import features, sources
from dafx_explorer.settings import WINDOW


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm: filter banks, allocator, FFT plans
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clips = [sources.generate(kind, seed=seed) for seed in range(-(-args.batch // len(sources.KINDS)))
             for kind in sources.KINDS][: args.batch]
    batch = np.stack(clips)
    windows = np.ascontiguousarray(batch[:, :WINDOW])
    ms = 1000.0 / args.batch
    result = {
        "features_ms_per_window_batched": ms * _median_seconds(lambda: features.mel_features(windows), args.repeats),
        "features_ms_per_window_single": 1000.0 * _median_seconds(lambda: features.mel_features(windows[0]),
                                                                  args.repeats),
        "batch": args.batch,
        "linear_ms_per_window_batched": ms * _median_seconds(lambda: features.linear_features(windows),
                                                             args.repeats),
        "descriptors_ms_per_8s_clip_batched": ms * _median_seconds(
            lambda: features.descriptor_changes(batch, batch[0]), args.repeats),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
