"""How much of a default row is the seed: each cell refitted over several seeds.

``bench_defaults.py`` fits every estimator once, with ``random_state=0``. Where
an estimator and a baseline are close, one seed cannot say which is better.
This script refits the chosen (estimator, data set) cells at their defaults
with ``random_state`` 0, 1, ..., on the same fixed training split, scores each
fit on the test split exactly as ``bench_defaults.py`` does (mean mAP over
every ordered pair of modalities, cosine), and prints the mean, the standard
deviation and the range beside the baselines the estimator must beat
(computed once, by the same code as ``bench_defaults.py``; they do not depend
on the estimator's seed).

The verdict compares the baseline with the estimator's spread: "beats" when
even the worst seed is above it, "loses" when even the best seed is below it,
"within the seed spread" otherwise.

Usage::

    python benchmarks/bench_seed_spread.py --cells "CrossModalVAE@synthetic-easy,MinVIRBM@Prokaryotic" --seeds 5
    python benchmarks/bench_seed_spread.py --cells "SDML@standin:C700x17:4" --seeds 5   # a stand-in draw

Fit times are CPU seconds (process time) of one fit, averaged over the seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_defaults as bd  # noqa: E402
from bench_standins import STANDIN_PREFIX, split_by_name  # noqa: E402


def fit_seeds(method: str, split, seeds: Sequence[int], smoke: bool = False) -> tuple[list[float], float]:
    """Test-split mean mAP of ``method`` at its defaults for each seed, and the mean CPU seconds of a fit."""
    scores, times = [], []
    for seed in seeds:
        est = bd.build_estimator(method, smoke, random_state=seed)
        t0 = time.process_time()
        if method in bd.SUPERVISED:
            est.fit(split.X_train, split.y_train)
        else:
            est.fit(split.X_train)
        times.append(time.process_time() - t0)
        pairs = bd.score_embeddings(est.embed(split.X_test), split.y_test)
        scores.append(float(np.mean([m for _, _, m in pairs])))
    return scores, float(np.mean(times))


def load_split(name: str, data_home: str | None = None, max_samples: int | None = None):
    """A data set of ``bench_defaults.py``, or ``standin:SHAPE:DRAW[:FEATURES]``, a draw of ``bench_standins.py``."""
    if name.startswith(STANDIN_PREFIX):
        return split_by_name(name, max_samples)
    return bd.load_dataset(name, data_home, max_samples)


def verdict(scores: Sequence[float], baseline: float) -> str:
    if min(scores) > baseline:
        return "beats"
    if max(scores) < baseline:
        return "loses"
    return "within the seed spread"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cells", required=True,
                   help="comma list of Estimator@dataset (a bench_defaults.py data set, or "
                        "standin:SHAPE:DRAW[:FEATURES], a draw of bench_standins.py)")
    p.add_argument("--seeds", type=int, default=5, help="number of seeds (random_state 0 .. n-1)")
    p.add_argument("--data-home", default=None)
    p.add_argument("--max-samples", type=int, default=None, help="cap train and test at this many samples")
    p.add_argument("--smoke", action="store_true",
                   help="tests only: each estimator's _quick_test_params and the baselines' smoke grids")
    args = p.parse_args(argv)
    seeds = list(range(args.seeds))
    splits: dict = {}
    baselines: dict = {}
    lines = [
        f"| estimator | data set | baseline to beat | mean mAP over {len(seeds)} seeds | sd | min | max "
        "| verdict | fit (CPU s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in args.cells.split(","):
        method, name = cell.strip().split("@")
        if method not in bd.ESTIMATORS:
            raise SystemExit(f"unknown estimator {method!r}; one of {bd.ESTIMATORS}")
        if name not in splits:
            splits[name] = load_split(name, args.data_home, args.max_samples)
        split = splits[name]
        scores, fit_time = fit_seeds(method, split, seeds, args.smoke)
        for key in bd.MUST_BEAT[method]:
            if (name, key) not in baselines:
                baselines[name, key] = bd.fit_baseline(key, split, args.smoke).mean_map()
            base = baselines[name, key]
            lines.append(
                f"| {method} | {name} | {bd.BASELINES[key]} {base:.4f} | {np.mean(scores):.4f} "
                f"| {np.std(scores, ddof=1) if len(scores) > 1 else 0.0:.4f} | {min(scores):.4f} "
                f"| {max(scores):.4f} | {verdict(scores, base)} | {fit_time:.1f} |"
            )
        print(lines[-1], flush=True, file=sys.stderr)
    title = "Seed spread" + (" (smoke settings, not the defaults)" if args.smoke else " of the defaults")
    print(f"{title}: test-split mean mAP, random_state 0..{len(seeds) - 1}\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
