"""The measurements behind the neural estimators' defaults, on VALIDATION splits.

For each data set, a stratified quarter of the fixed TRAINING split is held out
(the test split is never read); every setting is fitted on the other three
quarters and scored on the held-out quarter (mean cross-modal mAP over every
ordered pair of modalities, cosine). The baselines are scored on the same
split, as the bar to clear: the label-space baseline (per modality
StandardScaler + LogisticRegression, C chosen by 3-fold CV on the fitting
part; the bar for SDML and DSCMR) and, with ``--baseline cca``, the package
runner's CCA row (StandardScaler + scikit-learn CCA, n_components chosen on a
hold-out of the fitting part, pairwise for more than two views; the bar for
the unsupervised estimators). Fit times are CPU seconds (process time, one
thread).

Usage::

    python benchmarks/bench_default_choices.py --method SDML --param lam --values 0.5,0.1,0.01
    python benchmarks/bench_default_choices.py --method DSCMR --param lr --values 1e-4,1e-3
    python benchmarks/bench_default_choices.py --method HarmonizedGPLVM --baseline cca \
        --settings "{};{'n_components': 10}" --datasets wikipedia,synthetic-hard
    python benchmarks/bench_default_choices.py --method SDML --n-fit 60 \
        --settings "{};{'early_stopping': False}" --datasets digits   # small data
    python benchmarks/bench_default_choices.py --method CrossModalVAE --fit-labels --baseline cca \
        --settings "{'validation_score': 'retrieval'};{}"   # fit(X, y) for an unsupervised one
    python benchmarks/bench_default_choices.py --method DSCMR --seeds 0,1 \
        --settings "{'average_weights': False};{}" --datasets MSRC_v1   # mean over seeds
    python benchmarks/bench_default_choices.py --method CrossModalVAE --baseline cca --seeds 0,1 \
        --settings "{};{'beta': 0.5};{'beta': 1.0}" --pick-by target_scores_   # label-free selection

Each setting changes one parameter of the estimator's current defaults.
"""

from __future__ import annotations

import argparse
import ast
import os
import time
from itertools import permutations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skcross
from bench_standins import STANDIN_PREFIX, split_by_name
from skcross import MultiModal
from skcross.benchmarks._runner import METHODS as RUNNER_METHODS
from skcross.benchmarks._runner import Split, evaluate
from skcross.datasets import (
    MULTIVIEW_DATASETS,
    load_digit_halves,
    load_mfeat,
    load_multiview,
    load_wikipedia,
    make_multimodal_classification,
    multimodal_difficulty,
)
from skcross.metrics import mean_average_precision

SYNTHETIC = ("synthetic-easy", "synthetic-medium", "synthetic-hard")
DATASETS = ("wikipedia", "mfeat", "digits", *MULTIVIEW_DATASETS, *SYNTHETIC)
# A check beyond the sets the defaults were chosen on: scikit-learn's bundled
# tables with their features split into two views (not in the default list).
TABLE_VIEWS = ("wine-views", "breast-cancer-views", "iris-views", "digits-top-bottom")


def training_split(name: str, data_home: str | None) -> tuple[MultiModal, np.ndarray]:
    """The fixed training split of a data set (the test split is not returned).

    ``standin:SHAPE:DRAW[:FEATURES]`` is the training split of a stand-in of
    ``bench_standins.py`` (e.g. ``standin:B2100x21:0:lognormal``)."""
    if name.startswith(STANDIN_PREFIX):
        split = split_by_name(name)
        return split.X_train, split.y_train
    if name == "wikipedia":
        X, _, y, _ = load_wikipedia(data_home=data_home)
        return X, y
    if name == "mfeat":
        X, y = load_mfeat(data_home=data_home)
        X, _, y, _ = train_test_split(X, y, test_size=500, stratify=y, random_state=0)
        return X, y
    if name == "digits":
        X, y = load_digit_halves()
        X, _, y, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
        return X, y
    if name in TABLE_VIEWS:
        X, y = _table_views(name)
        X, _, y, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
        return X, y
    if name in SYNTHETIC:
        level = name.split("-", 1)[1]
        X, y = make_multimodal_classification(**multimodal_difficulty(level), random_state=0)
        X, _, y, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
        return X, y
    return load_multiview(name, data_home=data_home, split="train")


def _table_views(name: str) -> tuple[MultiModal, np.ndarray]:
    """A bundled scikit-learn table as two views: wine's first 7 / last 6
    features, breast cancer's even / odd columns, iris's sepals / petals,
    the digits' top / bottom 4 x 8 halves."""
    from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

    if name == "digits-top-bottom":
        X, y = load_digits(return_X_y=True)
        images = X.reshape(-1, 8, 8)
        return MultiModal([images[:, :4].reshape(len(y), -1), images[:, 4:].reshape(len(y), -1)]), y
    if name == "wine-views":
        X, y = load_wine(return_X_y=True)
        return MultiModal([X[:, :7], X[:, 7:]]), y
    if name == "breast-cancer-views":
        X, y = load_breast_cancer(return_X_y=True)
        return MultiModal([X[:, ::2], X[:, 1::2]]), y
    X, y = load_iris(return_X_y=True)
    return MultiModal([X[:, :2], X[:, 2:]]), y


def mean_map(embeddings: list, y: np.ndarray) -> float:
    return float(np.mean([
        mean_average_precision(embeddings[i], embeddings[j], y, y)
        for i, j in permutations(range(len(embeddings)), 2)
    ]))


def label_space(X_fit: list, y_fit: np.ndarray, X_val: list) -> list:
    """Class posteriors of per-modality logistic regressions (C by 3-fold CV)."""
    out = []
    for A, B in zip(X_fit, X_val):
        model = GridSearchCV(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]},
            cv=3,
        ).fit(A, y_fit)
        out.append(model.predict_proba(B))
    return out


def cca_baseline(name: str, X_fit: MultiModal, y_fit: np.ndarray, X_val: MultiModal, y_val: np.ndarray) -> float:
    """The package runner's CCA row (its grid, scaling, pairwise fits), scored on the validation part."""
    split = Split(name, X_fit, X_val, y_fit, y_val, "validation split of the training split")
    result = evaluate(RUNNER_METHODS["cca"], split, "full", cv=None, seed=0)
    return result.mean_map()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", required=True, help="SDML or DSCMR (any skcross estimator)")
    parser.add_argument("--param", help="the parameter to vary (default: defaults only)")
    parser.add_argument("--values", default="", help="comma-separated Python literals")
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help=f"comma list of {list(DATASETS)}, of {list(TABLE_VIEWS)} or of stand-ins "
                             "standin:SHAPE:DRAW[:FEATURES] (bench_standins.py's, e.g. standin:B2100x21:0:simplex)")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--settings", default=None,
                        help="semicolon-separated dict literals, each a setting (instead of --param)")
    parser.add_argument("--baseline", default="labelspace", choices=("labelspace", "cca", "both", "none"))
    parser.add_argument("--no-baseline", action="store_true", help="same as --baseline none")
    parser.add_argument("--n-fit", type=int, default=None,
                        help="fit on a stratified subsample of this many samples of the fitting part "
                             "(small-data behaviour); the validation quarter is unchanged")
    parser.add_argument("--fit-labels", action="store_true",
                        help="give the labels to fit for the unsupervised estimators too (they use them "
                             "only for model selection, e.g. CrossModalVAE's validation_score='auto')")
    parser.add_argument("--readouts", default=None,
                        help="semicolon-separated dict literals of read-out parameters (e.g. "
                             "\"{'weight_by_agreement': False};{'weight_by_agreement': True}\"), each applied "
                             "with set_params to every fitted model and scored as its own column: one fit, "
                             "several read-outs")
    parser.add_argument("--pick-by", default=None, metavar="ATTRIBUTE",
                        help="a fitted attribute holding a score of the training data alone (a number, or a "
                             "dict whose best value counts, e.g. CrossModalVAE's target_scores_): a last column "
                             "scores, per seed, the setting with the highest such score, as a selection "
                             "inside fit would")
    parser.add_argument("--seeds", default="0",
                        help="comma-separated random_state values; each cell is the mean over them")
    args = parser.parse_args(argv)
    seeds = [int(v) for v in args.seeds.split(",")]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    baseline = "none" if args.no_baseline else args.baseline
    Est = getattr(skcross, args.method)
    settings = [{}]
    if args.settings:
        settings = [ast.literal_eval(v) for v in args.settings.split(";")]
    elif args.param:
        settings = [{args.param: ast.literal_eval(v)} for v in args.values.split(",")]
    readouts = [ast.literal_eval(v) for v in args.readouts.split(";")] if args.readouts else [{}]
    columns = {"labelspace": ["label space"], "cca": ["CCA"], "both": ["label space", "CCA"], "none": []}[baseline]
    print("| data set | " + "".join(f"{c} | " for c in columns)
          + " | ".join(f"{args.method} {s or 'defaults'}" + (f" read {r}" if r else "")
                       for s in settings for r in readouts)
          + (f" | picked by {args.pick_by}" if args.pick_by else "") + " |")
    for name in args.datasets.split(","):
        try:
            X, y = training_split(name, args.data_home)
        except (FileNotFoundError, OSError) as exc:
            print(f"| {name} | skipped: {exc} |")
            continue
        X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.25, stratify=y, random_state=1)
        if args.n_fit is not None and args.n_fit < len(y_fit):
            X_fit, _, y_fit, _ = train_test_split(X_fit, y_fit, train_size=args.n_fit, stratify=y_fit, random_state=2)
        A_fit, A_val = X_fit.modalities(), X_val.modalities()
        cells = []
        if baseline in ("labelspace", "both"):
            cells.append(f"{mean_map(label_space(A_fit, y_fit, A_val), y_val):.4f}")
        if baseline in ("cca", "both"):
            cells.append(f"{cca_baseline(name, X_fit, y_fit, X_val, y_val):.4f}")
        criterion = np.zeros((len(settings), len(seeds)))  # --pick-by's score per setting and seed
        first_readout = np.zeros((len(settings), len(seeds)))
        for i, setting in enumerate(settings):
            scores, epochs, t = [[] for _ in readouts], [], time.process_time()
            for k, seed in enumerate(seeds):
                model = Est(**{"random_state": seed, **setting})
                with_labels = model._requires_labels or args.fit_labels
                model.fit(X_fit, y_fit if with_labels else None)
                for scores_of_readout, readout in zip(scores, readouts):
                    model.set_params(**readout)
                    emb = [model.transform(c, A) for c, A in enumerate(A_val)]
                    scores_of_readout.append(mean_map(emb, y_val))
                epochs.append(getattr(model, "best_epochs_", None) or getattr(model, "best_epoch_", "-"))
                if args.pick_by:
                    value = getattr(model, args.pick_by)
                    criterion[i, k] = max(value.values()) if isinstance(value, dict) else value
                    first_readout[i, k] = scores[0][-1]
            seconds = (time.process_time() - t) / len(seeds)
            for scores_of_readout in scores:
                each = f", seeds {' / '.join(f'{v:.4f}' for v in scores_of_readout)}" if len(seeds) > 1 else ""
                cells.append(f"{np.mean(scores_of_readout):.4f} ({seconds:.0f} s CPU, "
                             f"ep {' / '.join(map(str, epochs))}{each})")
        if args.pick_by:
            picks = criterion.argmax(axis=0)
            picked = first_readout[picks, np.arange(len(seeds))]
            cells.append(f"{picked.mean():.4f} (settings {' / '.join(str(settings[k] or 'defaults') for k in picks)})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
