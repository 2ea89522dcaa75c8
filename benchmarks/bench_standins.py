"""Defaults on data shaped like the outside data sets, over several draws.

Issue 15 reports what a new user saw on multi-view data sets that are not in
this repository (three views, 15 to 21 classes, 700 to 4,500 samples, 20 to
700 features). Those data sets cannot be shipped or downloaded here, so this
script draws synthetic stand-ins of the same shapes with
:func:`skcross.datasets.make_multimodal_classification` (:data:`SHAPES`) and
repeats ``bench_defaults.py``'s comparison on each draw: every estimator at
its defaults (``random_state=0``, nothing but ``fit``), beside the package
runner's label-space and CCA baselines, computed by the same code as
``bench_defaults.py``, scored on a stratified 70/30 test split of the draw.

One draw of a stand-in is one data set; a margin of a few thousandths on one
draw says little. The table gives, per shape, the mean test mAP over the draws
and on how many draws each estimator beat the baselines it must beat (SDML and
DSCMR: both; the unsupervised three: CCA). Nothing is chosen on these test
splits: every estimator runs at its defaults.

Note that these stand-ins are drawn from a linear Gaussian latent model: each
modality is a noisy linear map of class-dependent latent points, so a
per-modality logistic regression (the label-space baseline) is close to the
Bayes classifier of each view. They are a harder test for the supervised
estimators than real features, where the label space has no such advantage.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_standins.py --draws 0,1,2,3,4 --cache /tmp/standins   # RESULTS.md's table (28 min)
    python benchmarks/bench_standins.py --draws 0 --shapes B2100x21 --methods SDML
    python benchmarks/bench_standins.py --draws 0,1,2,3,4 --write-results   # update RESULTS.md's section
    python benchmarks/bench_standins.py --draws 0,1 --shapes B2100x21 --features lognormal --set standardize=auto

``--features lognormal`` / ``simplex`` presents the drawn features made skewed,
like counts and histograms (each feature through ``exp(1.5 x)``, or a softmax
over each view's features); ``--set PARAM=VALUE`` sets a parameter on every
estimator that has it. Neither is written to RESULTS.md's table.

``--cache DIR`` keeps one JSON file per (draw, method), keyed like
``bench_defaults.py``'s cache by the method's full parameter set, so a rerun
after one estimator changed refits only that estimator's rows. The row
"Label space, probability" and "Label space, T=0.5, probability" are
context, not bars: the baseline read out as SDML and DSCMR read their own
posteriors by default.

The RESULTS.md table was computed with torch on one thread, like the defaults
table: HarmonizedGPLVM's "auto" choice can change with torch's thread count
(its method page, "Threads"). ``--write-results`` replaces the text between ``<!-- bench_standins:start -->``
and ``<!-- bench_standins:end -->`` of ``benchmarks/RESULTS.md`` (appending
the section when it is absent).
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_defaults as bd  # noqa: E402

from skcross.benchmarks._runner import Split  # noqa: E402
from skcross import MultiModal  # noqa: E402
from skcross.datasets import make_multimodal_classification  # noqa: E402

#: The outside data sets' shapes: samples, classes and features per view.
SHAPES = {
    "A4500x15": dict(n_samples=4500, n_modalities=3, n_classes=15, n_features=(20, 59, 40),
                     n_latent=8, noise=1.0, class_sep=0.7),
    "B2100x21": dict(n_samples=2100, n_modalities=3, n_classes=21, n_features=(20, 59, 40),
                     n_latent=8, noise=1.0, class_sep=0.7),
    "C700x17": dict(n_samples=700, n_modalities=3, n_classes=17, n_features=(700, 300, 100),
                    n_latent=8, noise=1.0, class_sep=0.9),
}
START, END = "<!-- bench_standins:start -->", "<!-- bench_standins:end -->"

#: How the drawn features are presented: as drawn ("gaussian"), or made skewed
#: like counts and histograms: each feature through ``exp(1.5 x)`` ("lognormal",
#: a long right tail) or a softmax over the view's features ("simplex", a
#: normalised histogram).
FEATURES = ("gaussian", "lognormal", "simplex")
SKEW_DESCRIPTIONS = {"lognormal": "each feature x as exp(1.5 x)",
                     "simplex": "each view as softmax(2 x) over its features"}


def skew_features(X: MultiModal, features: str) -> MultiModal:
    """``X`` with every view's features presented as ``features`` (:data:`FEATURES`)."""
    if features == "gaussian":
        return X
    views = {}
    for name, A in X.to_dict().items():
        A = np.asarray(A, dtype=np.float64)
        if features == "lognormal":
            views[name] = np.exp(1.5 * A)
        elif features == "simplex":
            E = np.exp(2.0 * (A - A.max(axis=1, keepdims=True)))
            views[name] = E / E.sum(axis=1, keepdims=True)
        else:
            raise ValueError(f"features must be one of {FEATURES}, got {features!r}")
    return MultiModal(views)


def standin_split(shape: str, draw: int, max_samples: int | None = None, features: str = "gaussian") -> Split:
    """Draw ``draw`` of the stand-in ``shape``, split 70/30 (stratified, ``random_state=0``)."""
    params = dict(SHAPES[shape])
    if max_samples is not None:
        params["n_samples"] = max(min(params["n_samples"], max_samples), 4 * params["n_classes"])
    X, y = make_multimodal_classification(**params, random_state=draw)
    X = skew_features(X, features)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    tag = shape if features == "gaussian" else f"{shape}-{features}"
    return Split(f"{tag}#{draw}", X_train, X_test, y_train, y_test, f"{tag}, draw {draw}")


#: Prefix of a stand-in draw named as a data set in the other scripts.
STANDIN_PREFIX = "standin:"


def split_by_name(name: str, max_samples: int | None = None) -> Split:
    """The draw named ``standin:SHAPE:DRAW[:FEATURES]`` (as the other benchmark
    scripts accept it in place of a data set), e.g. ``standin:B2100x21:0:lognormal``."""
    shape, draw, *features = name[len(STANDIN_PREFIX):].split(":")
    return standin_split(shape, int(draw), max_samples, features[0] if features else "gaussian")


def beats(score: float, baselines: dict[str, float], method: str) -> bool:
    """Whether ``score`` is strictly above every baseline ``method`` must beat."""
    return all(score > baselines[bd.BASELINES[key]] for key in bd.MUST_BEAT[method])


def summary(scores: dict[tuple[str, str], list[float]], shapes: Sequence[str], methods: Sequence[str],
            n_draws: int, set_label: str = "shape", unit: str = "draw") -> str:
    """Markdown: per shape and method, mean test mAP over the draws and wins against the baselines
    (``set_label`` and ``unit`` name the rows' data and their repetitions: "data set" and "split" elsewhere)."""
    lines = [f"| {set_label} | method | mean mAP over {unit}s | per {unit} | beats its baselines on |",
             "|---|---|---|---|---|"]
    for shape in shapes:
        base = {label: scores[(shape, label)] for label in bd.BASELINES.values()}
        for method in (*methods, *bd.BASELINES.values()):
            values = scores[(shape, method)]
            per_draw = " / ".join(f"{v:.4f}" for v in values)
            if method in bd.CONTEXT_LABELS:
                verdict = "(context, not a bar)"
            elif method in bd.BASELINES.values():
                verdict = "(baseline)"
            else:
                wins = sum(beats(v, {k: b[i] for k, b in base.items()}, method) for i, v in enumerate(values))
                verdict = f"{wins} of {n_draws} {unit}s"
            lines.append(f"| {shape} | {method} | {np.mean(values):.4f} | {per_draw} | {verdict} |")
    return "\n".join(lines)


def _row(key: str, split: Split, smoke: bool, cache: Path | None,
         overrides: dict | None = None) -> tuple[bd.Row, bool]:
    """A baseline's or an estimator's row on one draw, and whether it came from ``cache``."""
    row = bd.read_row(key, split, smoke, "cosine", cache, overrides)
    if row is not None:
        return row, True
    return bd.fit_row(key, split, smoke, cache=cache, overrides=overrides), False


def run(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", default="0,1,2,3,4", help="comma-separated random_state values of the draws")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma list of {list(SHAPES)}")
    parser.add_argument("--methods", default=",".join(bd.ESTIMATORS),
                        help=f"comma list of estimators (also {list(bd.WITH_LABELS)}: fitted with the labels)")
    parser.add_argument("--smoke", action="store_true", help="tests only: each estimator's _quick_test_params, not its defaults")
    parser.add_argument("--max-samples", type=int, default=None, help="cap each draw at this many samples")
    parser.add_argument("--features", default="gaussian", choices=FEATURES,
                        help="present the drawn features as drawn or made skewed (exp, or a softmax per view)")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="set PARAM on every estimator that has it, as bench_defaults.py --set")
    parser.add_argument("--write-results", action="store_true", help="replace RESULTS.md's stand-ins section")
    parser.add_argument("--note", default="", help="a sentence about the run (machine load, threads) for the report")
    parser.add_argument("--cache", default=None,
                        help="folder of per-row JSON files (bench_defaults' cache format): reruns fit only what changed")
    args = parser.parse_args(argv)
    draws = [int(d) for d in args.draws.split(",")]
    shapes = args.shapes.split(",")
    methods = args.methods.split(",")
    for name in shapes:
        if name not in SHAPES:
            raise SystemExit(f"--shapes: {name!r} is not one of {list(SHAPES)}")
    for name in methods:
        if name not in bd.ESTIMATORS and name not in bd.WITH_LABELS:
            raise SystemExit(f"--methods: {name!r} is not one of {[*bd.ESTIMATORS, *bd.WITH_LABELS]}")
    cache = Path(args.cache) if args.cache else None
    overrides = bd.parse_overrides(args.set)
    if args.write_results and (args.features != "gaussian" or overrides):
        raise SystemExit("--write-results keeps RESULTS.md's table for the defaults on the drawn features; "
                         "drop --features / --set")
    n_rows = n_cached = 0
    t0 = time.perf_counter()
    scores: dict[tuple[str, str], list[float]] = {}
    for shape in shapes:
        for draw in draws:
            split = standin_split(shape, draw, args.max_samples, args.features)
            results = [_row(key, split, args.smoke, cache, overrides) for key in (*bd.BASELINES, *methods)]
            rows = [row for row, _ in results]
            n_rows += len(results)
            n_cached += sum(cached for _, cached in results)
            for row in rows:
                scores.setdefault((shape, row.method), []).append(row.mean_map())
            print(f"{split.name}: " + ", ".join(f"{r.method} {r.mean_map():.4f}" for r in rows), flush=True)
    table = summary(scores, shapes, [bd.LABELS.get(m, m) for m in methods], len(draws))
    command = "python benchmarks/bench_standins.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        "## Stand-ins for the outside data sets (`bench_standins.py`)",
        "",
        f"Command: `{command.strip()}` ({time.perf_counter() - t0:.0f} s wall clock"
        + (f" in this sitting, {n_cached} of {n_rows} rows from the cache" if n_cached else "")
        + f"; torch threads {torch.get_num_threads()}; {datetime.date.today()})."
        + (f" {args.note.strip()}" if args.note.strip() else "")
        + f" Draws {args.draws} of each shape; every "
        + ("estimator with its _quick_test_params (a smoke run, not the defaults)" if args.smoke
           else "estimator at its defaults")
        + " (`random_state=0`), baselines as in the defaults table; test mAP on a stratified 70/30 split of "
        "each draw. Shapes: "
        + "; ".join(f"{k}: {v['n_samples']} samples, {v['n_classes']} classes, views of "
                    f"{'/'.join(map(str, v['n_features']))} features" for k, v in SHAPES.items() if k in shapes)
        + (f"; each draw capped at {args.max_samples} samples" if args.max_samples else "")
        + (f"; features made skewed ({args.features}: {SKEW_DESCRIPTIONS[args.features]})"
           if args.features != "gaussian" else "")
        + (f"; {', '.join(f'{k}={v!r}' for k, v in overrides.items())} set on every estimator that has it"
           if overrides else "")
        + ".",
        "",
        table,
    ])
    print(text)
    if args.write_results:
        bd.replace_section(bd.RESULTS_MD, text, START, END)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
