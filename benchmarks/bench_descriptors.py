"""Defaults on real GIST / LBP / PHOG descriptors, over several splits.

``bench_standins.py`` checks the defaults on the outside data sets' shapes drawn
from a linear Gaussian model; the outside sets themselves carry image
descriptors (GIST, LBP and PHOG histograms) whose distributions no model
chose. This script computes those three descriptor families on real images
(:mod:`image_features`; views of 32 / 59 / 40 features, 10 classes):
scikit-learn's bundled digits (``digit-descriptors``, 1,797 samples) and UCI
mfeat's pixel images (``mfeat-pix-descriptors``, 2,000 samples), and repeats
``bench_defaults.py``'s comparison on several stratified 70/30 splits of each
(``random_state`` = the split number): every estimator at its defaults (``random_state=0``, nothing but
``fit``), beside the label-space and CCA baselines computed by the same code.

The descriptors were defined before any estimator was scored on them, and
nothing is chosen on these splits: they are a check of the defaults on data
they were not chosen on.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_descriptors.py --splits 0,1,2,3,4 --cache /tmp/descriptors
    python benchmarks/bench_descriptors.py --data-sets digit-descriptors --splits 0 \
        --methods CrossModalVAE --set standardize=auto
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

import torch
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_defaults as bd  # noqa: E402
import bench_standins as bs  # noqa: E402
from image_features import load_digit_descriptors, load_mfeat_pixel_descriptors  # noqa: E402

from skcross.benchmarks._runner import Split  # noqa: E402

#: Data set name -> (loader taking ``data_home``, description).
DATA_SETS = {
    "digit-descriptors": (lambda data_home: load_digit_descriptors(), "scikit-learn's digits"),
    "mfeat-pix-descriptors": (load_mfeat_pixel_descriptors, "UCI mfeat's pixel images"),
}


def descriptor_split(name: str, split: int, data_home: str | None = None, max_samples: int | None = None) -> Split:
    """Split number ``split`` (stratified 70/30, ``random_state=split``) of the descriptor set ``name``,
    optionally capped at ``max_samples`` samples before splitting (stratified)."""
    load, source = DATA_SETS[name]
    X, y = load(data_home)
    if max_samples is not None and max_samples < len(y):
        X, _, y, _ = train_test_split(X, y, train_size=max_samples, stratify=y, random_state=split)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=split)
    tag = name if max_samples is None else f"{name}[{len(y)}]"
    return Split(f"{tag}#{split}", X_train, X_test, y_train, y_test,
                 f"{source} as gist/lbp/phog descriptors, stratified 70/30 split, random_state={split}")


def report(argv: Sequence[str] | None = None) -> str:
    """Fit (or read from the cache) every row and return the report's markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-sets", default=",".join(DATA_SETS), help=f"comma list of {list(DATA_SETS)}")
    parser.add_argument("--data-home", default=None, help="folder holding uci_mfeat/ (default: skcross's)")
    parser.add_argument("--splits", default="0,1,2,3,4", help="comma-separated random_state values of the splits")
    parser.add_argument("--methods", default=",".join(bd.ESTIMATORS), help=f"comma list of {list(bd.ESTIMATORS)}")
    parser.add_argument("--smoke", action="store_true", help="tests only: each estimator's _quick_test_params")
    parser.add_argument("--max-samples", type=int, default=None, help="cap each data set at this many samples")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="set PARAM on every estimator that has it, as bench_defaults.py --set")
    parser.add_argument("--note", default="", help="a sentence about the run (machine load, threads) for the report")
    parser.add_argument("--cache", default=None, help="folder of per-row JSON files (bench_defaults' cache format)")
    args = parser.parse_args(argv)
    splits = [int(s) for s in args.splits.split(",")]
    names = args.data_sets.split(",")
    for name in names:
        if name not in DATA_SETS:
            raise SystemExit(f"--data-sets: {name!r} is not one of {list(DATA_SETS)}")
    methods = args.methods.split(",")
    for name in methods:
        if name not in bd.ESTIMATORS and name not in bd.WITH_LABELS:
            raise SystemExit(f"--methods: {name!r} is not one of {[*bd.ESTIMATORS, *bd.WITH_LABELS]}")
    cache = Path(args.cache) if args.cache else None
    overrides = bd.parse_overrides(args.set)
    t0 = time.perf_counter()
    scores: dict[tuple[str, str], list[float]] = {}
    for name in names:
        for number in splits:
            split = descriptor_split(name, number, args.data_home, args.max_samples)
            rows = [bs._row(key, split, args.smoke, cache, overrides)[0] for key in (*bd.BASELINES, *methods)]
            for row in rows:
                scores.setdefault((name, row.method), []).append(row.mean_map())
            print(f"{split.name}: " + ", ".join(f"{r.method} {r.mean_map():.4f} ({r.fit_time:.0f} s)" for r in rows),
                  flush=True)
    table = bs.summary(scores, names, [bd.LABELS.get(m, m) for m in methods], len(splits),
                       set_label="data set", unit="split")
    command = "python benchmarks/bench_descriptors.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        f"Command: `{command.strip()}` ({time.perf_counter() - t0:.0f} s wall clock; torch threads "
        f"{torch.get_num_threads()}; {datetime.date.today()})." + (f" {args.note.strip()}" if args.note.strip() else "")
        + f" Splits {args.splits}; every estimator "
        + ("with its _quick_test_params (a smoke run, not the defaults)" if args.smoke else "at its defaults")
        + " (`random_state=0`)"
        + (f", each data set capped at {args.max_samples} samples" if args.max_samples else "")
        + (f" with {', '.join(f'{k}={v!r}' for k, v in overrides.items())}" if overrides else "")
        + ", baselines as in the defaults table.",
        "",
        table,
    ])
    return text


def main(argv: Sequence[str] | None = None) -> int:
    print(report(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
