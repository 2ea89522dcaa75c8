"""Early stopping on small data: one hold-out part against k folds and a refit, on VALIDATION splits.

The skorch-based estimators choose their epoch count (and weight decay, or the
VAE's target) on data held out of the training samples. ``validation_folds=1``
holds out one part (``validation_fraction``, 10%); ``validation_folds="auto"``
(the default) uses three folds below 1,000 training samples, or when the
hold-out part would average fewer than 3 samples per class, and refits on every
sample. This script fits one hold-out part and "auto" (or ``--folds k``), for
several ``random_state`` values.

For each data set a stratified quarter of the fixed TRAINING split is held out
(the test split is never read); the estimator is fitted on the other three
quarters, or on a stratified subsample of them (``name:n``), and scored on the
held-out quarter (mean cross-modal mAP over every ordered pair of modalities,
cosine). ``synthetic-LEVEL/CxN`` is
:func:`~skcross.datasets.make_multimodal_classification` at a difficulty level
with C classes and N samples (70% of them the training split): many classes at
any size. Fit times are CPU seconds (process time, one thread), averaged over
the seeds.

Usage::

    python benchmarks/bench_validation_folds.py --data-home ../shared/data \\
        --methods SDML,DSCMR,CrossModalVAE \\
        --datasets MSRC_v1,Prokaryotic,digits:200,synthetic-hard:500 --seeds 0,1,2
    python benchmarks/bench_validation_folds.py --methods SDML,DSCMR --folds 3 --seeds 0,1 \\
        --datasets synthetic-easy/100x2400,synthetic-easy/60x2400,synthetic-easy/40x3000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from sklearn.model_selection import train_test_split

import skcross
from bench_default_choices import mean_map, training_split
from skcross.datasets import make_multimodal_classification, multimodal_difficulty


def synthetic_training_split(name: str):
    """The training split (70%) of ``synthetic-LEVEL/CxN``: C classes, N samples."""
    level, _, shape = name.partition("/")
    n_classes, n_samples = (int(v) for v in shape.split("x"))
    params = {**multimodal_difficulty(level.split("-", 1)[1]), "n_classes": n_classes, "n_samples": n_samples}
    X, y = make_multimodal_classification(**params, random_state=0)
    X, _, y, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    return X, y


def compare(method: str, spec: str, seeds: list[int], data_home: str | None, smoke: bool = False,
            folds: int | str = "auto") -> str:
    """One markdown row: hold-out against ``validation_folds=folds``, mean and spread over the seeds."""
    name, _, n_fit = spec.partition(":")
    X, y = synthetic_training_split(name) if "/" in name else training_split(name, data_home)
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.25, stratify=y, random_state=1)
    if n_fit and int(n_fit) < len(y_fit):
        X_fit, _, y_fit, _ = train_test_split(X_fit, y_fit, train_size=int(n_fit), stratify=y_fit, random_state=2)
    Est = getattr(skcross, method)
    supervised = Est._requires_labels
    # smoke: tiny networks, a few epochs (tests of this script)
    base = {**Est._quick_test_params, "early_stopping": True, "max_epochs": 4} if smoke else {}
    cells, scores = [], []
    for setting in ({"validation_folds": 1}, {"validation_folds": folds}):
        values, seconds = [], 0.0
        for seed in seeds:
            t = time.process_time()
            model = Est(random_state=seed, **base, **setting).fit(X_fit, y_fit if supervised else None)
            seconds += time.process_time() - t
            values.append(mean_map([model.transform(c, A) for c, A in enumerate(X_val.modalities())], y_val))
        scores.append(np.array(values))
        cells.append(f"{np.mean(values):.4f} ± {np.std(values):.4f} ({seconds / len(seeds):.1f} s)")
    diff = scores[1] - scores[0]
    return (f"| {method} | {name} | {len(y_fit)} | " + " | ".join(cells)
            + f" | {diff.mean():+.4f} | {', '.join(f'{d:+.3f}' for d in diff)} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default="SDML,DSCMR,CrossModalVAE")
    parser.add_argument("--datasets", default="MSRC_v1,Prokaryotic,digits:200,synthetic-hard:500",
                        help="comma list of data sets, each optionally name:n to fit on n samples")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--folds", default="auto", help='the setting compared with one hold-out part: "auto" or k')
    parser.add_argument("--smoke", action="store_true", help="tiny networks, four epochs (tests)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"Mean validation mAP over random_state {seeds} (± spread), CPU seconds per fit.")
    folds = args.folds if args.folds == "auto" else int(args.folds)
    print(f"| method | data set | fitted n | one hold-out part | validation_folds={folds!r} | difference | per seed |")
    print("|---|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        for spec in args.datasets.split(","):
            try:
                print(compare(method, spec, seeds, args.data_home, args.smoke, folds), flush=True)
            except (FileNotFoundError, OSError) as exc:
                print(f"| {method} | {spec} | skipped: {exc} |")


if __name__ == "__main__":
    main()
