"""One results table for the whole package: every skcross estimator and its peers.

Every method sees the same splits and the same preprocessing (each modality
standardised by :class:`~skcross.PerModality`), its hyper-parameters are chosen
by ``GridSearchCV`` with the skcross mAP scorer on the *training* split only
(one stratified hold-out of the training data, or ``--cv`` folds), and the
refitted model is scored once on the test split with the same mAP code for
every method. Peers:

* scikit-learn ``CCA`` and ``PLSCanonical`` (two views; with more views they are
  fitted pairwise, once per unordered pair of views, and every ordered pair is
  scored on its own pair's model),
* the label-space baseline of Rasiwasia et al. (2010): one
  ``LogisticRegression`` per modality, retrieval by cosine similarity of the
  class-probability vectors.

Run ``python -m skcross.benchmarks --help``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import pickle
import shlex
import sys
import time
import warnings
from dataclasses import dataclass, field
from itertools import combinations
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np
from scipy.special import softmax
from sklearn.cross_decomposition import CCA, PLSCanonical
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, StratifiedShuffleSplit, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval

import skcross
from skcross import MultiModal, PerModality
from skcross.base import POSTERIOR_READOUT_CONSTRAINTS, CrossModalEstimator
from skcross.metrics import cross_modal_map, make_map_scorer

__all__ = ["main", "run", "CCAPeer", "LabelSpaceBaseline", "METHODS", "DATASETS"]

DATASETS = ("wikipedia", "mfeat", "digits")

# Table 2 of Song et al., "Harmonized multimodal learning with Gaussian process
# latent variable models" (000_f5ccbf9a96aef9e1.txt): Wikipedia, mAP I->T, T->I,
# average, keyed by (model, prior). Same features and 2173/693 split as ours.
PAPER_TABLE2_WIKIPEDIA: dict[tuple[str, str | None], tuple[float, float, float]] = {
    ("gplvm", None): (0.2054, 0.1628, 0.1841),
    ("gplvm", "fro"): (0.2392, 0.1826, 0.2109),
    ("gplvm", "l21"): (0.2449, 0.1804, 0.2127),
    ("gplvm", "trace"): (0.2546, 0.1911, 0.2229),
    ("simgp", None): (0.4336, 0.4188, 0.4262),
    ("simgp", "fro"): (0.4557, 0.4391, 0.4474),
    ("simgp", "l21"): (0.4738, 0.4494, 0.4616),
    ("simgp", "trace"): (0.4594, 0.4582, 0.4588),
    ("rsimgp", None): (0.4697, 0.4418, 0.4558),
    ("rsimgp", "fro"): (0.4861, 0.4791, 0.4826),
    ("rsimgp", "l21"): (0.4837, 0.4870, 0.4854),
    ("rsimgp", "trace"): (0.5108, 0.5095, 0.5102),
}

# The two directions shown in the table's per-direction columns; the mean
# column averages every ordered pair of modalities.
SHOWN_PAIR = {"wikipedia": ("image", "text"), "mfeat": ("fou", "kar"), "digits": ("left", "right")}


# --------------------------------------------------------------------- peers
class CCAPeer(CrossModalEstimator):
    """scikit-learn ``CCA`` or ``PLSCanonical`` behind the skcross estimator API.

    A thin wrapper so that the peers are scored by exactly the same mAP code as
    the skcross estimators. Two modalities only; unsupervised (``y`` is used by
    ``score`` only).

    Parameters
    ----------
    n_components : int, default=10
        Number of canonical components (at most the smaller feature count).
    kind : {"cca", "pls"}, default="cca"
        ``sklearn.cross_decomposition.CCA`` or ``PLSCanonical``.
    max_iter : int, default=1000
        Iterations of the NIPALS inner loop.

    Attributes
    ----------
    model_ : CCA or PLSCanonical
        The fitted scikit-learn model.
    """

    _requires_labels = False
    _input_dtype = np.float64

    def __init__(self, n_components: int = 10, kind: str = "cca", max_iter: int = 1000):
        self.n_components = n_components
        self.kind = kind
        self.max_iter = max_iter

    def _fit(self, data) -> None:
        if len(data.X) != 2:
            raise ValueError(f"{self.kind.upper()} takes exactly two modalities, got {len(data.X)}.")
        if self.kind not in ("cca", "pls"):
            raise ValueError(f"kind must be 'cca' or 'pls', got {self.kind!r}.")
        n = min(self.n_components, *(x.shape[1] for x in data.X))
        cls = CCA if self.kind == "cca" else PLSCanonical
        with warnings.catch_warnings():
            # NIPALS may stop at max_iter on some components; the fit is still usable.
            warnings.simplefilter("ignore")
            self.model_ = cls(n_components=n, max_iter=self.max_iter).fit(data.X[0], data.X[1])

    def _transform(self, index: int, X) -> np.ndarray:
        if index == 0:
            return self.model_.transform(X)
        # scikit-learn transforms the second view only together with a first one.
        dummy = np.zeros((X.shape[0], self.n_features_in_[0]))
        return self.model_.transform(dummy, X)[1]


class LabelSpaceBaseline(CrossModalEstimator):
    """Semantic matching of Rasiwasia et al. (2010): retrieval in the label space.

    Each modality gets its own multinomial ``LogisticRegression``; an item is
    represented by its vector of class probabilities and items are ranked by
    cosine similarity of these vectors. Single-label data only; the modalities
    need not be paired.

    It is the bar the supervised estimators are measured against
    (``benchmarks/bench_defaults.py``): on small, many-class or
    high-dimensional data it retrieves better than SDML and DSCMR at their
    defaults (see the README's "Out of the box" table), so it is worth fitting
    on your own data before a deep model. Standardise the modalities first
    (``PerModality(StandardScaler())``) and choose ``C`` by cross-validation.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength of every logistic regression.
    max_iter : int, default=1000
        Iterations of the lbfgs solver.
    posterior_temperature : float, default=1.0
        Temperature ``T`` of the returned posteriors, ``softmax(log p / T)``.
        1 is Rasiwasia et al.'s baseline (the bar of
        ``benchmarks/bench_defaults.py``); 0.5 is the sharpened read-out
        :class:`~skcross.DSCMR` uses by default, shown beside it for context.
    posterior_similarity : {"cosine", "probability"}, default="cosine"
        How the posteriors of two modalities are compared: "cosine" is
        Rasiwasia et al.'s baseline; "probability" (their dot product, the
        probability that two samples share a class, see
        :func:`~skcross.base.complete_to_unit_norm`) is how
        :class:`~skcross.SDML` and :class:`~skcross.DSCMR` compare theirs by
        default, shown beside it for context.

    Attributes
    ----------
    classifiers_ : list of LogisticRegression
        One fitted classifier per modality.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcross import PerModality
    >>> from skcross.benchmarks import LabelSpaceBaseline
    >>> from skcross.datasets import make_multimodal_classification
    >>> from skcross.metrics import make_map_scorer
    >>> X, y = make_multimodal_classification(n_samples=200, n_classes=4, random_state=0)
    >>> search = GridSearchCV(
    ...     make_pipeline(PerModality(StandardScaler()), LabelSpaceBaseline()),
    ...     {"labelspacebaseline__C": [0.01, 0.1, 1.0, 10.0]},
    ...     scoring=make_map_scorer(mean=True), cv=3,
    ... ).fit(X, y)
    >>> search.best_estimator_.transform(X).modality(0).shape   # class probabilities
    (200, 4)
    """

    _requires_pairs = False
    _min_modalities = 1
    _input_dtype = np.float64
    _parameter_constraints: dict = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        **POSTERIOR_READOUT_CONSTRAINTS,
    }

    def __init__(
        self,
        C: float = 1.0,
        max_iter: int = 1000,
        posterior_temperature: float = 1.0,
        posterior_similarity: str = "cosine",
    ):
        self.C = C
        self.max_iter = max_iter
        self.posterior_temperature = posterior_temperature
        self.posterior_similarity = posterior_similarity

    def _fit(self, data) -> None:
        if data.multilabel:
            raise ValueError("LabelSpaceBaseline handles single-label data only.")
        self.classifiers_ = []
        for X, Y in zip(data.X, data.Y):
            y = Y.argmax(axis=1)
            if len(np.unique(y)) != Y.shape[1]:
                raise ValueError("Every class must occur in every modality's training data.")
            self.classifiers_.append(LogisticRegression(C=self.C, max_iter=self.max_iter).fit(X, y))

    def _transform(self, index: int, X) -> np.ndarray:
        if self.posterior_temperature == 1:
            return self.classifiers_[index].predict_proba(X)
        return softmax(self.classifiers_[index].predict_log_proba(X) / self.posterior_temperature, axis=1)


# ------------------------------------------------------------------- methods
@dataclass
class MethodSpec:
    """How the runner builds, tunes and labels one method."""

    key: str
    label: str
    estimator: str | Callable[[], Any]  # an skcross export name, or a factory
    fixed: Callable[[str], dict]  # budget ("smoke" | "quick" | "full") -> fixed parameters
    grid: Callable[[str], dict]  # budget -> parameter grid (GridSearchCV)
    two_view: bool = False
    paper: tuple[str, str | None] | None = None  # key of PAPER_TABLE2_WIKIPEDIA

    def available(self) -> bool:
        return not isinstance(self.estimator, str) or hasattr(skcross, self.estimator)

    def build(self, budget: str, random_state: int) -> Any:
        cls = getattr(skcross, self.estimator) if isinstance(self.estimator, str) else self.estimator
        est = cls()
        params = dict(getattr(est, "_quick_test_params", {})) if budget == "smoke" else {}
        params.update(self.fixed(budget))
        accepted = est.get_params(deep=False)
        if "random_state" in accepted:
            params["random_state"] = random_state
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise TypeError(f"{self.label}: {type(est).__name__} has no parameters {unknown}.")
        return est.set_params(**params)


def _by_budget(smoke: dict, quick: dict, full: dict) -> Callable[[str], dict]:
    """Parameters (or a grid) per budget; a fresh copy at every call."""
    table = {"smoke": smoke, "quick": quick, "full": full}
    return lambda budget: dict(table[budget])


def _gplvm(key: str, model: str, prior: str | None, label: str) -> MethodSpec:
    full_grid = {"mu": [1e-2, 1e-1, 1.0]} if prior is not None else {}
    if model == "rsimgp":
        full_grid["lam"] = [0.1, 1.0]
    quick_grid = {"mu": [0.1, 1.0]} if prior is not None else {}
    return MethodSpec(
        key=key,
        label=label,
        estimator="HarmonizedGPLVM",
        fixed=_by_budget(
            {"model": model, "prior": prior},
            {"model": model, "prior": prior, "max_iter": 30, "n_active": 50, "max_iter_transform": 30},
            {"model": model, "prior": prior},
        ),
        grid=_by_budget({}, quick_grid, full_grid),
        paper=(model, prior),
    )


# The full budget is each estimator's defaults plus a grid over its trade-offs that holds
# the default value and the paper's: the neural estimators early-stop (max_epochs=200 is
# only a ceiling; a lower cap undertrained them, MinVIRBM needs 100+ epochs on 100Leaves),
# HarmonizedGPLVM chooses its latent dimension and iteration count on held-out pairs.
# The quick budget keeps small networks and caps for speed.
METHODS: dict[str, MethodSpec] = {
    m.key: m
    for m in [
        MethodSpec(
            "sdml", "SDML", "SDML",
            fixed=_by_budget(
                {"n_components": 16},  # P needs a column per class: at least 10 on these data sets
                {"n_components": 64, "hidden_layer_sizes": (256,), "max_epochs": 20, "lr": 1e-3},
                {},
            ),
            grid=_by_budget({}, {"lam": [0.2, 0.5]}, {"lam": [0.1, 0.2, 0.5]}),
        ),
        MethodSpec(
            "dscmr", "DSCMR", "DSCMR",
            fixed=_by_budget(
                {},
                {"n_components": 64, "hidden_layer_sizes": (256,), "max_epochs": 20, "lr": 1e-3},
                {},
            ),
            grid=_by_budget({}, {"eta": [1e-2, 1e-1]}, {"lam": [1e-3, 1e-1], "eta": [1e-2, 1e-1]}),
        ),
        _gplvm("gplvm", "rsimgp", "trace", "HarmonizedGPLVM hm-RSimGP (tr)"),
        _gplvm("gplvm-base", "rsimgp", None, "HarmonizedGPLVM m-RSimGP (no prior)"),
        MethodSpec(
            "minvi", "MinVIRBM (MP)", "MinVIRBM",
            fixed=_by_budget({}, {"max_epochs": 5}, {}),
            grid=_by_budget({}, {"n_components": [128, 256]}, {"n_components": [256, 512, 1024]}),
        ),
        MethodSpec(
            "vae", "CrossModalVAE", "CrossModalVAE",
            fixed=_by_budget({}, {"n_components": 16, "max_epochs": 20}, {}),
            grid=_by_budget({}, {"alpha": [0.1, 1.0]}, {"alpha": [0.1, 1.0], "beta": [0.25, 1.0]}),
        ),
        MethodSpec(
            "cca", "CCA (sklearn)", lambda: CCAPeer(kind="cca"),
            fixed=_by_budget({"max_iter": 200}, {"max_iter": 500}, {"max_iter": 1000}),
            grid=_by_budget({"n_components": [5, 10]}, {"n_components": [10]}, {"n_components": [5, 10, 20]}),
            two_view=True,
        ),
        MethodSpec(
            "pls", "PLSCanonical (sklearn)", lambda: CCAPeer(kind="pls"),
            fixed=_by_budget({"max_iter": 200}, {"max_iter": 500}, {"max_iter": 1000}),
            grid=_by_budget({"n_components": [5, 10]}, {"n_components": [10]}, {"n_components": [5, 10, 20]}),
            two_view=True,
        ),
        MethodSpec(
            "labelspace", "Label space (LogReg, Rasiwasia et al.)", LabelSpaceBaseline,
            fixed=_by_budget({}, {}, {}),
            grid=_by_budget({"C": [0.1, 1.0]}, {"C": [0.1, 1.0, 10.0]}, {"C": [0.01, 0.1, 1.0, 10.0]}),
        ),
    ]
}


# ---------------------------------------------------------------------- data
@dataclass
class Split:
    name: str
    X_train: MultiModal
    X_test: MultiModal
    y_train: np.ndarray
    y_test: np.ndarray
    description: str


def _cap(X: MultiModal, y: np.ndarray, n: int | None, seed: int) -> tuple[MultiModal, np.ndarray]:
    """A stratified subsample of at most ``n`` rows (all rows when ``n`` is None)."""
    if n is None or len(y) <= n:
        return X, y
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    idx = np.sort(idx)
    return X[idx], y[idx]


def load_split(name: str, data_home: str | None, max_samples: int | None = None) -> Split:
    """The fixed train/test split of one benchmark data set."""
    from skcross import datasets

    if name == "wikipedia":
        Xtr, Xte, ytr, yte = datasets.load_wikipedia(data_home)
        desc = "Wikipedia (Rasiwasia et al.): 128-d SIFT BoVW image, 10-d LDA text; official 2173/693 split"
    elif name == "mfeat":
        X, y = datasets.load_mfeat(data_home)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=500, stratify=y, random_state=0)
        desc = "UCI mfeat, six views; train_test_split(test_size=500, stratify=y, random_state=0)"
    elif name == "digits":
        X, y = datasets.load_digit_halves()
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
        desc = "scikit-learn digits, left/right 8x4 halves in [0, 1]; train_test_split(test_size=0.3, stratify=y, random_state=0)"
    else:
        raise ValueError(f"Unknown data set {name!r}; choose from {DATASETS}.")
    Xtr, ytr = _cap(Xtr, ytr, max_samples, 0)
    Xte, yte = _cap(Xte, yte, max_samples, 1)
    if max_samples is not None:
        desc += f"; capped at {max_samples} train / {max_samples} test samples (stratified)"
    return Split(name, Xtr, Xte, ytr, yte, desc)


# ------------------------------------------------------------------- fitting
@dataclass
class Result:
    dataset: str
    method: str
    key: str
    settings: str
    best_params: str
    pair_maps: dict[tuple[str, str], float]
    fit_time: float
    search_time: float
    transform_time: float
    paper: tuple[float, float, float] | None = None
    embeddings: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    metric: str = "cosine"
    computed_at: str = ""  # when this row was computed (rows can come from the cache)

    def mean_map(self) -> float:
        return float(np.mean(list(self.pair_maps.values()))) if self.pair_maps else float("nan")


def _cv(cv: int | None, seed: int):
    if cv and cv > 1:
        return StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    # One stratified hold-out of the training split: cheap, and never the test set.
    return StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)


def _pipeline(estimator: Any, n_modalities: int) -> Pipeline:
    return Pipeline(
        [("scale", PerModality([StandardScaler() for _ in range(n_modalities)])), ("est", estimator)]
    )


class _CountingScorer:
    """A scorer that advances a progress bar once per call (once per fitted candidate and split)."""

    def __init__(self, scorer: Callable, bar: Any):
        self.scorer = scorer
        self.bar = bar

    def __call__(self, estimator, X, y=None):
        score = self.scorer(estimator, X, y)
        if self.bar is not None:
            self.bar.update(1)
        return score


def _n_fits(spec: MethodSpec, budget: str, cv: int | None, seed: int) -> int:
    """Fits one group of views costs: every candidate on every split, plus the refit."""
    grid = spec.grid(budget)
    if not any(len(v) > 1 for v in grid.values()):
        return 1
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    return n_candidates * _cv(cv, seed).get_n_splits() + 1


def _tune_and_fit(spec: MethodSpec, X: MultiModal, y: np.ndarray, budget: str, cv: int | None, seed: int,
                  bar: Any = None):
    """GridSearchCV on the training data; returns (fitted pipeline, best params, search s, refit s).

    ``bar`` (a tqdm bar or None) advances once per fit: each candidate on each
    split, then the refit.
    """
    pipe = _pipeline(spec.build(budget, seed), X.n_modalities)
    grid = {f"est__{k}": v for k, v in spec.grid(budget).items()}
    t0 = time.perf_counter()
    if any(len(v) > 1 for v in grid.values()):
        search = GridSearchCV(
            pipe, grid, scoring=_CountingScorer(make_map_scorer(mean=True), bar), cv=_cv(cv, seed),
            refit=True, error_score="raise",
        )
        search.fit(X, y)
        if bar is not None:
            bar.update(1)  # the refit on the whole training split
        best = {k.removeprefix("est__"): v for k, v in search.best_params_.items()}
        return search.best_estimator_, best, time.perf_counter() - t0, search.refit_time_
    # Nothing to choose: a single fit.
    pipe.set_params(**{k: v[0] for k, v in grid.items()})
    pipe.fit(X, y)
    if bar is not None:
        bar.update(1)
    elapsed = time.perf_counter() - t0
    return pipe, {k.removeprefix("est__"): v[0] for k, v in grid.items()}, elapsed, elapsed


def _embed(pipe: Pipeline, X: MultiModal) -> tuple[dict[str, np.ndarray], float, str]:
    t0 = time.perf_counter()
    emb = pipe[-1].embed(pipe[:-1].transform(X))
    elapsed = time.perf_counter() - t0
    return dict(zip(emb.names, emb.modalities())), elapsed, pipe[-1]._get_retrieval_metric()


def _format_params(params: dict) -> str:
    def fmt(v):
        return f"{v:g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k}={fmt(v)}" for k, v in sorted(params.items())) or "-"


def evaluate(spec: MethodSpec, split: Split, budget: str, cv: int | None = None, seed: int = 0,
             progress: bool = False) -> Result:
    """Tune, fit and score one method on one split.

    With ``progress=True`` a tqdm bar on stderr, labelled with the data set and
    the method, advances once per fit (every grid candidate on every split of
    the search, then the refit).
    """
    names = split.X_train.names
    fixed = spec.fixed(budget)
    settings = [budget] + ([_format_params(fixed)] if fixed else [])
    pair_maps: dict[tuple[str, str], float] = {}
    embeddings: dict[str, np.ndarray] = {}
    best_all, fit_t, search_t, trans_t, metric = [], 0.0, 0.0, 0.0, "cosine"
    if spec.two_view and len(names) > 2:
        groups = list(combinations(range(len(names)), 2))
        settings.append(f"fitted pairwise on all {len(groups)} view pairs")
    else:
        groups = [tuple(range(len(names)))]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(groups) * _n_fits(spec, budget, cv, seed), desc=f"{split.name} / {spec.label}",
                   unit="fit", leave=False, file=sys.stderr)
    try:
        for group in groups:
            sub = [names[i] for i in group]
            Xtr = MultiModal({n: split.X_train.modality(n) for n in sub})
            Xte = MultiModal({n: split.X_test.modality(n) for n in sub})
            pipe, best, s_t, f_t = _tune_and_fit(spec, Xtr, split.y_train, budget, cv, seed, bar)
            emb, t_t, metric = _embed(pipe, Xte)
            maps = cross_modal_map([emb[n] for n in sub], [split.y_test] * len(sub), metric=metric)
            pair_maps.update({(sub[i], sub[j]): v for (i, j), v in maps.items()})
            if len(groups) == 1:
                embeddings = emb
            best_all.append(best)
            fit_t, search_t, trans_t = fit_t + f_t, search_t + s_t, trans_t + t_t
    finally:
        if bar is not None:
            bar.close()
    if len(best_all) == 1:
        best_str = _format_params(best_all[0])
    else:
        # Pairwise peers: how often each value was chosen over the pairs.
        counts: dict[str, int] = {}
        for b in best_all:
            counts[_format_params(b)] = counts.get(_format_params(b), 0) + 1
        best_str = "; ".join(f"{k} (x{n})" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    paper = PAPER_TABLE2_WIKIPEDIA.get(spec.paper) if split.name == "wikipedia" and spec.paper else None
    return Result(
        split.name, spec.label, spec.key, "; ".join(settings), best_str, pair_maps,
        fit_t, search_t, trans_t, paper, embeddings, metric,
    )


# --------------------------------------------------------------------- cache
def _cache_path(folder: Path, spec: MethodSpec, split: Split, budget: str, cv: int | None, seed: int) -> Path:
    """One file per row, keyed by everything that decides the row but the code itself.

    The key holds the data set (and its size), the method, the budget, the fixed
    parameters, the grid, the CV protocol, the seed and the skcross version; a
    change to an estimator's code needs ``--refresh`` for that method.
    """
    key = repr((
        split.name, len(split.y_train), len(split.y_test), spec.key, budget,
        sorted(spec.fixed(budget).items()), sorted(spec.grid(budget).items()), cv, seed, skcross.__version__,
    ))
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return folder / f"{split.name}_{spec.key}_{budget}_{digest}.pkl"


def _load_cached(path: Path) -> Result | None:
    try:
        with open(path, "rb") as fh:
            result = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        return None
    return result if isinstance(result, Result) else None


def _store_cached(path: Path, result: Result) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(result, fh)
    tmp.replace(path)


# ------------------------------------------------------------------- reports
def _shown(result: Result) -> tuple[str, str, float, float]:
    a, b = SHOWN_PAIR.get(result.dataset, (None, None))
    if (a, b) not in result.pair_maps:
        a, b = next(iter(result.pair_maps))
    return a, b, result.pair_maps.get((a, b), float("nan")), result.pair_maps.get((b, a), float("nan"))


def _f(x: float, digits: int = 4) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def markdown_table(results: Sequence[Result]) -> str:
    head = (
        "| dataset | method | settings | chosen by GridSearchCV | mAP q→t | mAP t→q | mAP mean "
        "| fit (s) | search (s) | transform (s) | paper's mAP (I→T / T→I / avg) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in results:
        a, b, ab, ba = _shown(r)
        paper = " / ".join(f"{v:.4f}" for v in r.paper) if r.paper else ""
        rows.append(
            f"| {r.dataset} | {r.method} | {r.settings} | {r.best_params} | {a}→{b} {_f(ab)} | "
            f"{b}→{a} {_f(ba)} | **{_f(r.mean_map())}** | {_f(r.fit_time, 1)} | {_f(r.search_time, 1)} | "
            f"{_f(r.transform_time, 2)} | {paper} |"
        )
    return head + "\n".join(rows) + "\n"


def per_view_table(results: Sequence[Result]) -> str:
    """Many-view data: mean mAP of each view as the query (over every other view as database)."""
    if not results:
        return ""
    views = list(dict.fromkeys(q for q, _ in results[0].pair_maps))
    head = "| method | " + " | ".join(f"{v} → others" for v in views) + " | mean (all ordered pairs) |\n"
    head += "|---" * (len(views) + 2) + "|\n"
    rows = []
    for r in results:
        cells = [np.mean([m for (q, _), m in r.pair_maps.items() if q == v]) for v in views]
        rows.append(f"| {r.method} | " + " | ".join(_f(c) for c in cells) + f" | {_f(r.mean_map())} |")
    return head + "\n".join(rows) + "\n"


def write_csv(results: Sequence[Result], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([
            "dataset", "method", "settings", "best_params", "query", "target", "map_query_to_target",
            "map_target_to_query", "map_mean", "n_ordered_pairs", "fit_time_s", "search_time_s",
            "transform_time_s", "paper_map_i2t", "paper_map_t2i", "paper_map_mean",
        ])
        for r in results:
            a, b, ab, ba = _shown(r)
            paper = list(r.paper) if r.paper else ["", "", ""]
            w.writerow([
                r.dataset, r.method, r.settings, r.best_params, a, b, f"{ab:.6f}", f"{ba:.6f}",
                f"{r.mean_map():.6f}", len(r.pair_maps), f"{r.fit_time:.3f}", f"{r.search_time:.3f}",
                f"{r.transform_time:.3f}", *paper,
            ])


def write_pairs_csv(results: Sequence[Result], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["dataset", "method", "query", "target", "map"])
        for r in results:
            for (q, t), m in r.pair_maps.items():
                w.writerow([r.dataset, r.method, q, t, f"{m:.6f}"])


def save_curves(results: Sequence[Result], split: Split, folder: Path) -> list[Path]:
    """Precision-recall and precision-scope curves of every method, both directions."""
    from skcross.metrics import plot_precision_recall, plot_precision_scope, precision_at_k, precision_recall_curve

    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    a, b = SHOWN_PAIR.get(split.name, split.X_test.names[:2])
    scopes = [k for k in (10, 25, 50, 100, 200, 300, 500) if k <= len(split.y_test)]
    written = []
    for q, t in ((a, b), (b, a)):
        pr, ps = {}, {}
        for r in results:
            if q not in r.embeddings or t not in r.embeddings:
                continue
            args = (r.embeddings[q], r.embeddings[t], split.y_test, split.y_test)
            pr[r.method] = precision_recall_curve(*args, metric=r.metric)
            ps[r.method] = precision_at_k(*args, k=scopes, metric=r.metric)
        if not pr:
            continue
        for kind, plot in (("pr", plot_precision_recall), ("scope", plot_precision_scope)):
            fig, ax = plt.subplots(figsize=(6, 5))
            title = f"{split.name}: {q} → {t}"
            if kind == "pr":
                plot(pr, ax=ax, title=title)
            else:
                plot(ps, scopes, ax=ax, title=title)
            path = folder / f"{split.name}_{kind}_{q}_to_{t}.png"
            fig.tight_layout()
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written


def grids_text(specs: Sequence[MethodSpec], budget: str) -> str:
    lines = []
    for s in specs:
        grid = s.grid(budget)
        text = ", ".join(f"{k} ∈ {{{', '.join(f'{v:g}' if isinstance(v, float) else str(v) for v in vals)}}}"
                         for k, vals in grid.items())
        lines.append(f"- {s.label}: {text or 'nothing to tune (one fit)'}")
    return "\n".join(lines)


# ----------------------------------------------------------------------- CLI
def _parse_list(value: str, allowed: Sequence[str], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if items == ["all"]:
        return list(allowed)
    bad = [v for v in items if v not in allowed]
    if bad:
        raise SystemExit(f"unknown {what} {bad}; choose from {list(allowed)} or 'all'")
    return items


def _positive_int(option: str, minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum``, with a message naming the option."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} takes an integer, got {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{option} must be at least {minimum}, got {number}")
        return number

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m skcross.benchmarks",
        description="Fit every skcross estimator and its peers on the same splits; write RESULTS.md and results.csv.",
    )
    p.add_argument("--datasets", default="wikipedia,mfeat,digits", help=f"comma list of {DATASETS} or 'all'")
    p.add_argument("--methods", default="all", help=f"comma list of {list(METHODS)} or 'all'")
    p.add_argument("--quick", action="store_true",
                   help="fewer epochs/iterations and smaller grids: about a minute for --datasets digits, "
                        "roughly 5-15 minutes for all three data sets on an idle 2-core CPU (more under load); "
                        "writes to benchmarks/_out/quick/ unless --out is given")
    p.add_argument("--smoke", action="store_true",
                   help="tiniest settings (each estimator's _quick_test_params, for tests); implies tiny grids")
    p.add_argument("--max-samples", type=_positive_int("--max-samples", 20), default=None,
                   help="cap train and test sizes (stratified; at least 20)")
    p.add_argument("--cv", type=_positive_int("--cv", 2), default=None,
                   help="GridSearchCV folds on the training split (default: one stratified 80/20 hold-out)")
    p.add_argument("--data-home", default=None, help="folder holding the data sets (default ../shared/data)")
    p.add_argument("--out", default=None,
                   help="output folder for RESULTS.md, results.csv, figures/ (default: benchmarks/_out/<budget>/, "
                        "a scratch folder; the committed benchmarks/RESULTS.md is written only with "
                        "--update-results or an explicit --out benchmarks)")
    p.add_argument("--update-results", action="store_true",
                   help="write the committed results in benchmarks/ (full budget only: a --quick or --smoke run "
                        "never replaces them)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (one per method and data set)")
    p.add_argument("--no-figures", action="store_true", help="skip the PR / precision-scope PNGs")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--reuse", action="store_true",
                   help="reuse rows stored in OUT/_cache by an earlier run with the same data set, method, "
                        "budget, parameters, grid, CV, seed and skcross version (a long full run can be "
                        "assembled over several sittings); every row keeps its own times and date")
    p.add_argument("--note", default="", help="a sentence about the run (machine load, threads) for RESULTS.md")
    p.add_argument("--refresh", default="",
                   help="comma list of methods to recompute even with --reuse (after changing their code)")
    return p


COMMITTED_RESULTS = Path("benchmarks")
# RESULTS.md also holds the sections of the other benchmark scripts (bench_defaults.py,
# bench_scale.py, ...): the runner rewrites only the text between these markers.
SECTION_START, SECTION_END = "<!-- skcross.benchmarks:start -->", "<!-- skcross.benchmarks:end -->"


def replace_section(path: Path, text: str, start: str, end: str, *, where: Literal["start", "end"] = "end") -> None:
    """Write ``text`` between the ``start`` and ``end`` markers of the file ``path``, keeping the rest.

    Several benchmark scripts share one ``RESULTS.md``, each owning a marked
    section. Where the markers are absent (or the file is), the section is
    added at the ``where`` end of the file ("start" or "end").
    """
    if where not in ("start", "end"):
        raise ValueError(f"where must be 'start' or 'end', got {where!r}.")
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in old and end in old and old.index(start) < old.index(end):
        new = old[: old.index(start)] + block + old[old.index(end) + len(end):]
    elif not old.strip():
        new = block + "\n"
    elif where == "start":
        new = block + "\n\n" + old.lstrip()
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new, encoding="utf-8")


def _output_folder(args: argparse.Namespace, budget: str) -> Path:
    """Where a run writes: never over the committed results unless the user asked for it.

    An explicit ``--out`` is used as given; ``--update-results`` means the
    committed ``benchmarks/`` folder and is refused for the quick and smoke
    budgets; otherwise the run goes to the scratch folder
    ``benchmarks/_out/<budget>/`` (ignored by git).
    """
    if args.update_results:
        if budget != "full":
            raise SystemExit(
                f"--update-results writes the committed full-run results in {COMMITTED_RESULTS}/; a --{budget} run "
                "cannot replace them. Drop --update-results (the run then writes to "
                f"{COMMITTED_RESULTS / '_out' / budget}/) or pass --out DIR."
            )
        if args.out is not None and Path(args.out).resolve() != COMMITTED_RESULTS.resolve():
            raise SystemExit(f"--update-results writes to {COMMITTED_RESULTS}/; it cannot be combined with "
                             f"--out {args.out}.")
        return COMMITTED_RESULTS
    if args.out is not None:
        return Path(args.out)
    return COMMITTED_RESULTS / "_out" / budget


def run(argv: Sequence[str] | None = None) -> tuple[list[Result], list[str]]:
    """Run the benchmark from command-line arguments; returns (results, failures)."""
    args = build_parser().parse_args(argv)
    budget = "smoke" if args.smoke else "quick" if args.quick else "full"
    datasets = _parse_list(args.datasets, DATASETS, "data sets")
    keys = _parse_list(args.methods, list(METHODS), "methods")
    refresh = set(_parse_list(args.refresh, list(METHODS), "methods")) if args.refresh else set()
    specs = [METHODS[k] for k in keys]
    available = [s for s in specs if s.available()]
    skipped = [f"{s.label} (skcross.{s.estimator} is not exported in this version)" for s in specs if not s.available()]
    out = _output_folder(args, budget)
    out.mkdir(parents=True, exist_ok=True)
    for line in skipped:
        print(f"skipped: {line}", flush=True)

    results: list[Result] = []
    failures: list[str] = []
    reused: list[str] = []
    data_lines: list[str] = []
    extra: list[str] = []
    t_start, cpu_start = time.perf_counter(), time.process_time()
    for name in datasets:
        try:
            split = load_split(name, args.data_home, args.max_samples)
        except FileNotFoundError as exc:
            skipped.append(f"data set {name}: {exc}")
            print(f"skipped data set {name}: {exc}", flush=True)
            continue
        print(f"\n== {name}: {len(split.y_train)} train / {len(split.y_test)} test, "
              f"{split.X_train.n_modalities} modalities", flush=True)
        ds_results = []
        for spec in available:
            t0 = time.perf_counter()
            cache = _cache_path(out / "_cache", spec, split, budget, args.cv, args.random_state)
            r = _load_cached(cache) if args.reuse and spec.key not in refresh else None
            from_cache = r is not None
            if from_cache:
                reused.append(f"{name} / {spec.label} (computed {r.computed_at})")
            else:
                try:
                    r = evaluate(spec, split, budget, args.cv, args.random_state, progress=not args.no_progress)
                except Exception as exc:  # a broken method must not lose the other rows
                    msg = f"{name} / {spec.label}: {type(exc).__name__}: {exc}"
                    failures.append(msg)
                    print(f"FAILED {msg}", flush=True)
                    continue
                r.computed_at = datetime.datetime.now().isoformat(timespec="seconds")
                _store_cached(cache, r)
            ds_results.append(r)
            print(f"  {spec.label:<40s} mean mAP {r.mean_map():.4f}  ({time.perf_counter() - t0:.1f} s; "
                  f"best {r.best_params}{'; reused' if from_cache else ''})", flush=True)
        results.extend(ds_results)
        data_lines.append(f"- **{name}**: {split.description}\n")
        if split.X_train.n_modalities > 2 and ds_results:
            extra.append(f"\n## {name}: mean mAP of each view as the query\n\n" + per_view_table(ds_results))
        if name == "wikipedia" and ds_results and not args.no_figures:
            try:
                paths = save_curves(ds_results, split, out / "figures")
            except ImportError as exc:
                extra.append(f"\n(Wikipedia figures not written: {exc})\n")
            else:
                extra.append("\n## Wikipedia curves\n\n" + "".join(
                    f"![{p.stem}]({p.relative_to(out).as_posix()})\n" for p in paths))

    total, cpu = time.perf_counter() - t_start, time.process_time() - cpu_start
    table = markdown_table(results)
    write_csv(results, out / "results.csv")
    write_pairs_csv(results, out / "results_pairs.csv")
    shown_args = list(sys.argv[1:] if argv is None else argv)
    if "--note" in shown_args[:-1]:  # the note is printed on its own line below
        shown_args[shown_args.index("--note") + 1] = "..."
    command = "python -m skcross.benchmarks " + shlex.join(shown_args)
    protocol = (f"{args.cv}-fold stratified CV" if args.cv and args.cv > 1
                else "one stratified 80/20 hold-out of the training split")
    md = [
        "# skcross benchmark results\n\n",
        f"Command: `{command.strip()}` ({budget} settings; {total:.0f} s wall clock, {cpu:.0f} s CPU"
        + (f" in this sitting, {len(reused)} of {len(results)} rows reused from earlier sittings (listed at the "
           f"end); the rows' own search + transform times add up to "
           f"{sum(r.search_time + r.transform_time for r in results):.0f} s" if reused else "")
        + f"; skcross {skcross.__version__}).\n\n",
        *([f"{args.note.strip()}\n\n"] if args.note.strip() else []),
        "Every method: each modality standardised (`PerModality(StandardScaler())`); hyper-parameters chosen by "
        f"`GridSearchCV(scoring=make_map_scorer(mean=True))` on the training split only ({protocol}); refitted on "
        "the whole training split and scored once on the test split. mAP over the full ranking, relevant = same "
        "class. The two direction columns show one pair of modalities; 'mAP mean' averages every ordered pair "
        "(30 on mfeat). Two-view peers on mfeat are fitted pairwise, one model per pair of views. "
        "The last column holds the numbers printed in Table 2 of the HMGP paper (000_f5ccbf9a96aef9e1: "
        "same features and split): they are the paper's, not ours. Times in seconds: fit = the refit on the "
        "whole training split, search = the whole GridSearchCV including it.\n\n",
        table,
        "\n## Data\n\n",
        *data_lines,
        *extra,
        "\n## Grids searched\n\n",
        grids_text(available, budget) + "\n",
    ]
    if reused:
        md += ["\n## Rows reused from earlier runs (`--reuse`)\n\n",
               "Their times were measured when they were computed; the wall-clock total above covers this "
               "sitting only.\n\n", *[f"- {s}\n" for s in reused]]
    if skipped:
        md += ["\n## Skipped\n\n", *[f"- {s}\n" for s in skipped]]
    if failures:
        md += ["\n## Failed\n\n", *[f"- {s}\n" for s in failures]]
    replace_section(out / "RESULTS.md", "".join(md), SECTION_START, SECTION_END, where="start")
    print("\n" + table)
    print("Grids searched:\n" + grids_text(available, budget))
    print(f"\nwrote {out / 'RESULTS.md'} and {out / 'results.csv'} in {total:.0f} s", flush=True)
    return results, failures


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; the exit status is 1 when a method failed."""
    _, failures = run(argv)
    return 1 if failures else 0
