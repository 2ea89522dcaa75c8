"""Out of the box: every skcross estimator at its defaults against two baselines.

One run fits each estimator with its DEFAULT parameters (only
``random_state=0`` is set) and nothing but ``fit``:

* supervised ``SDML`` and ``DSCMR``: ``fit(X_train, y_train)``;
* unsupervised ``MinVIRBM``, ``CrossModalVAE`` and ``HarmonizedGPLVM``:
  ``fit(X_train)``, without labels;
* and, as its own row, ``CrossModalVAE`` given the labels,
  ``fit(X_train, y_train)`` ("CrossModalVAE, fit(X, y)"): its objective still
  uses none, but early stopping then watches the held-out pairs' class mAP
  (``validation_score="auto"``). It must beat CCA too; the summary table keeps
  to the label-free fits.

No scaling, no pipeline, no tuning: whatever an estimator needs (standardising,
a validation split for early stopping) happens inside its ``fit``. Beside them,
in the same run, the two baselines of the package runner
(:mod:`skcross.benchmarks`), computed by its own code:

* the label-space baseline of Rasiwasia et al. (2010): per modality
  ``StandardScaler`` + ``LogisticRegression``, ``C`` chosen by ``GridSearchCV``
  (mAP scorer, one stratified 80/20 hold-out of the training split only),
  test class posteriors compared by cosine;
* scikit-learn's ``CCA`` after ``StandardScaler`` (``n_components`` chosen the
  same way), fitted pairwise, one model per pair of views, on sets with more
  than two views.

Data sets (fixed splits): Wikipedia (official 2173/693 split), UCI mfeat (six
views, ``test_size=500``, stratified, ``random_state=0``), digits halves,
the five multi-view sets of :func:`skcross.datasets.load_multiview`
(stratified 70/30, ``random_state=0``) and
:func:`~skcross.datasets.make_multimodal_classification` at the three levels of
:data:`~skcross.datasets.MULTIMODAL_DIFFICULTY` (1000 samples,
``random_state=0``, stratified 70/30 split, ``random_state=0``).

Every method is scored the same way on the test split: mean average precision
over the full ranking (:func:`skcross.metrics.mean_average_precision`, cosine
similarity, relevant = same class) for every ordered pair of modalities,
averaged. An estimator "beats" a baseline on a data set when its mean mAP is
strictly higher; SDML and DSCMR must beat both baselines, the unsupervised
three must beat CCA.

Usage::

    python benchmarks/bench_defaults.py --verbose --cache benchmarks/_cache_defaults \\
        --out defaults.md                               # everything (long)
    python benchmarks/bench_defaults.py --quick --datasets digits,MSRC_v1   # smoke run
    python benchmarks/bench_defaults.py --cache DIR --write-results   # update RESULTS.md's section

The table is printed; ``--out FILE`` also writes it as markdown. It never
touches ``benchmarks/RESULTS.md`` unless ``--write-results`` is given, and then
replaces only the text between ``<!-- bench_defaults:start -->`` and
``<!-- bench_defaults:end -->`` (appending that section when it is absent).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.model_selection import train_test_split

import skcross
from skcross.benchmarks._runner import METHODS as RUNNER_METHODS
from skcross.benchmarks._runner import LabelSpaceBaseline, MethodSpec, Split, _cap, _parse_list, evaluate, load_split
from skcross.benchmarks._runner import replace_section as runner_replace_section
from skcross.datasets import MULTIVIEW_DATASETS, load_multiview, make_multimodal_classification, multimodal_difficulty
from skcross.metrics import cross_modal_map

ESTIMATORS = ("SDML", "DSCMR", "MinVIRBM", "CrossModalVAE", "HarmonizedGPLVM")
SUPERVISED = frozenset({"SDML", "DSCMR"})
# Unsupervised estimators also fitted with the labels, which they use for model
# selection only: method key -> (estimator, row label).
WITH_LABELS = {"CrossModalVAE+y": ("CrossModalVAE", "CrossModalVAE, fit(X, y)")}
# Baselines: runner method key -> label used here.
BASELINES = {
    "labelspace": "Label space",
    "cca": "CCA",
    "labelspace-prob": "Label space, probability",
    "labelspace-sharp-prob": "Label space, T=0.5, probability",
}
MUST_BEAT = {name: (("labelspace", "cca") if name in SUPERVISED else ("cca",)) for name in ESTIMATORS}
MUST_BEAT.update({label: ("cca",) for _, label in WITH_LABELS.values()})
# Shown for context, not a bar: the label-space baseline read out like SDML's
# default posteriors (compared by the probability that two samples share a
# class, posterior_similarity="probability") and like DSCMR's (the same, at
# posterior_temperature=0.5), so a reader can tell how much of their margin
# over the baseline is the read-out rather than the model.
CONTEXT_SPECS = {
    key: MethodSpec(
        key, BASELINES[key], LabelSpaceBaseline,
        fixed=lambda budget, temperature=temperature: {
            "posterior_temperature": temperature, "posterior_similarity": "probability",
        },
        grid=RUNNER_METHODS["labelspace"].grid,
    )
    for key, temperature in (("labelspace-prob", 1.0), ("labelspace-sharp-prob", 0.5))
}
CONTEXT_LABELS = frozenset(BASELINES[key] for key in CONTEXT_SPECS)
BASELINE_SPECS = {**{key: RUNNER_METHODS[key] for key in ("labelspace", "cca")}, **CONTEXT_SPECS}
SYNTHETIC = {f"synthetic-{level}": level for level in ("easy", "medium", "hard")}
RUNNER_DATASETS = ("wikipedia", "mfeat", "digits")
DATASETS = (*RUNNER_DATASETS, *MULTIVIEW_DATASETS, *SYNTHETIC)
METHOD_KEYS = (*ESTIMATORS, *WITH_LABELS, *BASELINES)
LABELS = {**BASELINES, **{key: label for key, (_, label) in WITH_LABELS.items()}}
QUICK_MAX_SAMPLES = 300
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- bench_defaults:start -->", "<!-- bench_defaults:end -->"


# ---------------------------------------------------------------------- data
def load_dataset(name: str, data_home: str | None = None, max_samples: int | None = None) -> Split:
    """The fixed train/test split of one data set, optionally subsampled (stratified).

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    data_home : str, default=None
        Folder holding the data sets (see :func:`skcross.datasets.default_data_home`).
    max_samples : int, default=None
        Cap the training and the test split at this many samples each.

    Returns
    -------
    Split
        The runner's split record (``X_train``, ``X_test``, ``y_train``, ``y_test``, ``description``).
    """
    if name in RUNNER_DATASETS:
        return load_split(name, data_home, max_samples)
    if name in MULTIVIEW_DATASETS:
        X_train, y_train = load_multiview(name, data_home, split="train")
        X_test, y_test = load_multiview(name, data_home, split="test")
        desc = f"{name}: load_multiview's fixed split (stratified 70/30, random_state=0)"
    elif name in SYNTHETIC:
        params = multimodal_difficulty(SYNTHETIC[name])
        X, y = make_multimodal_classification(**params, random_state=0)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        desc = f"make_multimodal_classification({shown}, random_state=0); stratified 70/30 split, random_state=0"
    else:
        raise ValueError(f"name must be one of {list(DATASETS)}, got {name!r}.")
    if max_samples is not None:
        X_train, y_train = _cap(X_train, y_train, _feasible_cap(y_train, max_samples), 0)
        X_test, y_test = _cap(X_test, y_test, _feasible_cap(y_test, max_samples), 1)
        desc += f"; capped at about {max_samples} train / {max_samples} test samples (stratified)"
    return Split(name, X_train, X_test, y_train, y_test, desc)


def _feasible_cap(y: np.ndarray, n: int) -> int | None:
    """``n``, raised to at least one sample per class, or None (keep all) when a stratified cap cannot leave
    every class on both sides (the runner's ``_cap`` needs that)."""
    n_classes = len(np.unique(y))
    n = max(n, n_classes)
    return None if len(y) - n < n_classes else n


# -------------------------------------------------------------------- fitting
@dataclass
class Row:
    """One (method, data set) cell of the table."""

    dataset: str
    method: str
    pair_maps: list[tuple[str, str, float]] = field(default_factory=list)
    fit_time: float = float("nan")
    epoch: str = "-"
    error: str = ""
    settings: str = ""
    computed_at: str = ""

    def mean_map(self) -> float:
        return float(np.mean([m for _, _, m in self.pair_maps])) if self.pair_maps else float("nan")


def build_estimator(name: str, smoke: bool = False, random_state: int = 0,
                    overrides: dict | None = None) -> Any:
    """``skcross.<name>()`` with its defaults; only ``random_state`` is set.

    ``smoke=True`` applies the estimator's ``_quick_test_params`` (tests only:
    the row then shows a smoke fit, not the defaults). ``overrides`` (``--set``)
    sets those parameters the estimator has, e.g. ``{"standardize": "auto"}``.
    """
    est = getattr(skcross, WITH_LABELS[name][0] if name in WITH_LABELS else name)()
    params = dict(getattr(est, "_quick_test_params", {})) if smoke else {}
    own = est.get_params(deep=False)
    params.update({k: v for k, v in (overrides or {}).items() if k in own})
    if "random_state" in est.get_params(deep=False):
        params["random_state"] = random_state
    return est.set_params(**params)


def kept_epoch(est: Any) -> str:
    """The epoch early stopping kept (``best_epoch_`` / ``best_epochs_``), of ``max_epochs``; else "-"."""
    best = getattr(est, "best_epoch_", None)
    if best is None:
        best = getattr(est, "best_epochs_", None)
    if best is None:
        return "-"
    text = "/".join(str(int(b)) for b in best) if isinstance(best, (list, tuple, np.ndarray)) else str(int(best))
    max_epochs = est.get_params(deep=False).get("max_epochs")
    return f"{text} of {max_epochs}" if max_epochs is not None else text


def score_embeddings(emb: Any, y_test: np.ndarray, metric: str = "cosine") -> list[tuple[str, str, float]]:
    """mAP of every ordered pair of the embedded test modalities."""
    names = list(emb.names)
    maps = cross_modal_map(emb.modalities(), [y_test] * len(names), metric=metric)
    return [(names[i], names[j], float(v)) for (i, j), v in maps.items()]


def fit_estimator(name: str, split: Split, smoke: bool = False, metric: str = "cosine",
                  overrides: dict | None = None) -> Row:
    """Fit one estimator at its defaults (and ``overrides``) on the training split and score it on the test split."""
    est = build_estimator(name, smoke, overrides=overrides)
    t0 = time.perf_counter()
    if name in SUPERVISED or name in WITH_LABELS:
        est.fit(split.X_train, split.y_train)
    else:
        est.fit(split.X_train)
    fit_time = time.perf_counter() - t0
    used = est._get_retrieval_metric() if metric == "estimator" else "cosine"
    pairs = score_embeddings(est.embed(split.X_test), split.y_test, used)
    settings = (("smoke (_quick_test_params)" if smoke else "defaults") + (f"; {used}" if used != "cosine" else "")
                + "".join(f"; {k}={v!r}" for k, v in sorted((overrides or {}).items())))
    return Row(split.name, LABELS.get(name, name), pairs, fit_time, kept_epoch(est), settings=settings)


def fit_baseline(key: str, split: Split, smoke: bool = False) -> Row:
    """The package runner's row for a baseline (its grid, scaling and pairwise fits)."""
    result = evaluate(BASELINE_SPECS[key], split, "smoke" if smoke else "full", cv=None, seed=0)
    pairs = [(q, t, float(v)) for (q, t), v in result.pair_maps.items()]
    # search_time covers the whole selection of C / n_components and the refit.
    return Row(split.name, BASELINES[key], pairs, result.search_time, "-", settings=f"chosen: {result.best_params}")


# ---------------------------------------------------------------------- cache
def cache_file(folder: Path, key: str, split: Split, smoke: bool, metric: str,
               overrides: dict | None = None) -> Path:
    """One JSON file per (method, data set), keyed by everything that decides the row but the code.

    The key holds the data set and its sizes, the method and its full parameter
    set (so changed defaults are recomputed), smoke/metric and the skcross version.
    """
    if key in BASELINES:
        spec = BASELINE_SPECS[key]
        budget = "smoke" if smoke else "full"
        params = repr((sorted(spec.fixed(budget).items()), sorted(spec.grid(budget).items())))
    else:
        params = repr(sorted(build_estimator(key, smoke, overrides=overrides).get_params(deep=False).items()))
    ident = repr((split.name, len(split.y_train), len(split.y_test), key, params, smoke, metric, skcross.__version__))
    digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
    return folder / f"{split.name}__{key}__{digest}.json"


def _now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def read_row(key: str, split: Split, smoke: bool, metric: str, cache: Path | None,
             overrides: dict | None = None) -> Row | None:
    """The row of ``key`` on ``split`` from the cache folder ``cache``, or None (no cache, or not cached)."""
    if cache is None:
        return None
    path = cache_file(cache, key, split, smoke, metric, overrides)
    return read_cached(path) if path.exists() else None


def fit_row(key: str, split: Split, smoke: bool = False, metric: str = "cosine", cache: Path | None = None,
            overrides: dict | None = None) -> Row:
    """Fit a baseline (a key of :data:`BASELINES`) or an estimator on ``split``, stamp the row and keep it in the
    cache folder ``cache`` unless it failed. Exceptions propagate (nothing is cached then)."""
    row = (fit_baseline(key, split, smoke) if key in BASELINES
           else fit_estimator(key, split, smoke, metric, overrides))
    row.computed_at = _now()
    if cache is not None and not row.error:
        write_cached(cache_file(cache, key, split, smoke, metric, overrides), row)
    return row


def read_cached(path: Path) -> Row | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["pair_maps"] = [tuple(p) for p in data["pair_maps"]]
        return Row(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_cached(path: Path, row: Row) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(row), indent=1), encoding="utf-8")
    tmp.replace(path)


# -------------------------------------------------------------------- reports
def _f(x: float, digits: int = 4) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def verdict(row: Row, by_method: dict[str, Row]) -> str:
    """Whether an estimator row beats the baselines it must beat (strictly higher mean mAP)."""
    if row.method in CONTEXT_LABELS:
        return "(context, not a bar)"
    if row.method not in MUST_BEAT:
        return "(baseline)"
    if row.error:
        return "error"
    lost, missing = [], []
    for key in MUST_BEAT[row.method]:
        base = by_method.get(BASELINES[key])
        if base is None or base.error:
            missing.append(BASELINES[key])
        elif not row.mean_map() > base.mean_map():
            lost.append(f"{BASELINES[key]} {_f(base.mean_map())}")
    if lost:
        return "no (≤ " + ", ".join(lost) + ")"
    if missing:
        return "? (no " + ", ".join(missing) + " row)"
    return "yes"


def markdown_table(rows: Sequence[Row]) -> str:
    """The results: one row per (data set, method)."""
    out = [
        "| data set | method | mean mAP | q→t | t→q | fit (s) | kept epoch | beats its baselines |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_dataset: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_dataset.setdefault(r.dataset, {})[r.method] = r
    for r in rows:
        if r.error:
            out.append(f"| {r.dataset} | {r.method} | error: {_cell(r.error)} | | | {_f(r.fit_time, 1)} | | error |")
            continue
        a_b = b_a = "-"
        if len(r.pair_maps) == 2:
            (a, b, ab), (_, _, ba) = r.pair_maps
            a_b, b_a = f"{a}→{b} {_f(ab)}", f"{b}→{a} {_f(ba)}"
        out.append(
            f"| {r.dataset} | {r.method} | **{_f(r.mean_map())}** | {a_b} | {b_a} | {_f(r.fit_time, 1)} "
            f"| {r.epoch} | {verdict(r, by_dataset[r.dataset])} |"
        )
    return "\n".join(out) + "\n"


def summary_table(rows: Sequence[Row]) -> str:
    """Data sets x estimators: does each estimator beat the baselines it must beat?"""
    by_dataset: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_dataset.setdefault(r.dataset, {})[r.method] = r
    methods = [m for m in ESTIMATORS if any(m in d for d in by_dataset.values())]
    if not methods:
        return ""
    out = ["| data set | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    wins = dict.fromkeys(methods, 0)
    for ds, d in by_dataset.items():
        cells = []
        for m in methods:
            v = verdict(d[m], d) if m in d else "-"
            wins[m] += v == "yes"
            cells.append(v.split(" (")[0])
        out.append(f"| {ds} | " + " | ".join(cells) + " |")
    out.append("| **beats its baselines on** | " + " | ".join(f"{wins[m]}/{len(by_dataset)}" for m in methods) + " |")
    return "\n".join(out) + "\n"


def report(rows: Sequence[Row], header: Sequence[str], data_lines: Sequence[str], skipped: Sequence[str]) -> str:
    md = [*header, "\n", markdown_table(rows)]
    summary = summary_table(rows)
    if summary:
        md += ["\nDoes each estimator beat the baselines it must beat (SDML, DSCMR: label space and CCA; "
               "MinVIRBM, CrossModalVAE, HarmonizedGPLVM: CCA)?\n\n", summary]
    if data_lines:
        md += ["\nData:\n\n", *[f"- {line}\n" for line in data_lines]]
    if skipped:
        md += ["\nSkipped:\n\n", *[f"- {line}\n" for line in skipped]]
    return "".join(md)


def replace_section(path: Path, text: str, start: str = START, end: str = END) -> None:
    """Replace the text between the ``start`` and ``end`` markers of ``path`` (by default bench_defaults');
    append the section if absent."""
    runner_replace_section(path, text, start, end, where="end")


# ------------------------------------------------------------------------ CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python benchmarks/bench_defaults.py",
        description="Every skcross estimator at its defaults, beside the label-space baseline and CCA.",
    )
    p.add_argument("--datasets", default="all", help=f"comma list of {list(DATASETS)} or 'all'")
    p.add_argument("--methods", default="all", help=f"comma list of {list(METHOD_KEYS)} or 'all'")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: cap train and test at {QUICK_MAX_SAMPLES} samples each (stratified)")
    p.add_argument("--max-samples", type=int, default=None, help="cap train and test at this many samples")
    p.add_argument("--smoke", action="store_true",
                   help="each estimator's _quick_test_params instead of its defaults (tests only)")
    p.add_argument("--metric", choices=("cosine", "estimator"), default="cosine",
                   help="similarity for the mAP: cosine for every method (default) or each estimator's own")
    p.add_argument("--data-home", default=None, help="folder holding the data sets (default ../shared/data)")
    p.add_argument("--cache", default=None, help="folder of per-row JSON files: a long run can be resumed")
    p.add_argument("--cache-only", action="store_true",
                   help="fit nothing: report the cached rows, the others as 'not run'")
    p.add_argument("--out", default=None, help="also write the markdown report to this file")
    p.add_argument("--write-results", action="store_true",
                   help=f"replace the section between {START} and {END} of benchmarks/RESULTS.md")
    p.add_argument("--note", default="", help="a sentence about the run (machine load, threads) for the report")
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                   help="set PARAM on every estimator that has it (repeatable; VALUE is a Python literal "
                        "or a string), e.g. --set standardize=auto")
    p.add_argument("--verbose", action="store_true", help="one progress line per fit")
    return p


def parse_overrides(items: Sequence[str]) -> dict:
    """``["standardize=auto", "max_epochs=50"]`` -> ``{"standardize": "auto", "max_epochs": 50}``."""
    import ast

    overrides = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set expects PARAM=VALUE, got {item!r}")
        try:
            overrides[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[name] = value
    return overrides


def run(argv: Sequence[str] | None = None) -> tuple[list[Row], str]:
    """Run the benchmark from command-line arguments; returns (rows, markdown report)."""
    args = build_parser().parse_args(argv)
    datasets = _parse_list(args.datasets, DATASETS, "data sets")
    methods = _parse_list(args.methods, METHOD_KEYS, "methods")
    if args.out and Path(args.out).resolve() == RESULTS_MD and not args.write_results:
        raise SystemExit(f"--out {args.out} would overwrite benchmarks/RESULTS.md; use --write-results")
    if args.max_samples is not None and args.max_samples < 1:
        raise SystemExit(f"--max-samples must be positive, got {args.max_samples}")
    max_samples = args.max_samples if args.max_samples is not None else QUICK_MAX_SAMPLES if args.quick else None
    cache = Path(args.cache) if args.cache else None
    overrides = parse_overrides(args.set)

    rows: list[Row] = []
    data_lines: list[str] = []
    skipped: list[str] = []
    reused = 0
    t_start = time.perf_counter()
    progress = None
    if args.verbose:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(datasets) * len(methods), unit="fit", file=sys.stdout, dynamic_ncols=True)
    for name in datasets:
        try:
            split = load_dataset(name, args.data_home, max_samples)
        except (FileNotFoundError, OSError, ValueError) as exc:
            skipped.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"skipped data set {name}: {exc}", flush=True)
            if progress is not None:
                progress.update(len(methods))
            continue
        data_lines.append(f"**{name}** ({len(split.y_train)} train / {len(split.y_test)} test, "
                          f"{split.X_train.n_modalities} views {split.X_train.names}): {split.description}")
        for key in methods:
            label = LABELS.get(key, key)
            if progress is not None:
                progress.set_description(f"{label} on {name}")
            row = read_row(key, split, args.smoke, args.metric, cache, overrides)
            if row is not None:
                reused += 1
            elif args.cache_only:
                row = Row(name, label, error="not run (--cache-only: no cached row)")
            else:
                try:
                    row = fit_row(key, split, args.smoke, args.metric, cache, overrides)
                except Exception as exc:  # one broken estimator must not lose the other rows
                    row = Row(name, label, error=f"{type(exc).__name__}: {exc}", computed_at=_now())
                    print(f"FAILED {label} on {name}: {row.error}", flush=True)
            rows.append(row)
            if progress is not None:
                progress.update(1)
                progress.write(f"  {label:<16s} {name:<16s} mean mAP {_f(row.mean_map())}  "
                               f"fit {_f(row.fit_time, 1)} s  epoch {row.epoch}"
                               + (f"  {row.error[:80]}" if row.error else ""))
    if progress is not None:
        progress.close()

    total = time.perf_counter() - t_start
    shown = list(sys.argv[1:] if argv is None else argv)
    import torch

    header = [
        "## Out of the box: defaults against the baselines (`benchmarks/bench_defaults.py`)\n\n",
        f"Command: `python benchmarks/bench_defaults.py {shlex.join(shown)}` ({total:.0f} s wall clock"
        + (f" in this sitting, {reused} of {len(rows)} rows from the cache" if reused else "")
        + f"; skcross {skcross.__version__}; torch threads {torch.get_num_threads()}; "
        + datetime.date.today().isoformat() + ").\n\n",
        *([f"{args.note.strip()}\n\n"] if args.note.strip() else []),
        *(["**Smoke settings (`_quick_test_params`), not the defaults.**\n\n"] if args.smoke else []),
        *([f"**Not the defaults: {', '.join(f'{k}={v!r}' for k, v in overrides.items())} set on every estimator "
           "that has the parameter.**\n\n"] if overrides else []),
        *([f"**Subsampled to at most {max_samples} train / {max_samples} test samples.**\n\n"] if max_samples else []),
        "Estimators: default parameters and `random_state=0`, nothing but `fit(X_train, y_train)` (SDML, DSCMR) "
        "or `fit(X_train)` (MinVIRBM, CrossModalVAE, HarmonizedGPLVM); \"CrossModalVAE, fit(X, y)\" is the VAE "
        "given the labels, which it uses only to early-stop on the held-out class mAP (it must beat CCA too; "
        "the summary keeps to the label-free fits). Baselines (the package runner's rows): "
        "label space = per-modality `StandardScaler` + `LogisticRegression`, `C` chosen on a stratified hold-out "
        "of the training split, test posteriors compared by cosine; CCA = `StandardScaler` + scikit-learn `CCA`, "
        "`n_components` chosen the same way, pairwise on sets with more than two views. "
        "Label space, probability = the label-space baseline with its posteriors compared by their dot product "
        "(the probability that two samples share a class), as SDML compares its own by default; Label space, "
        "T=0.5, probability = the same at temperature 0.5 (posteriors squared and renormalised), as DSCMR reads "
        "its own by default: context, not a bar. "
        f"mAP: {'cosine' if args.metric == 'cosine' else 'each estimator’s own similarity'}, full ranking, "
        "relevant = same class, on the test split; mean mAP averages every ordered pair of modalities, q→t / t→q "
        "are shown for two-modality sets. Fit time in seconds (baselines: the whole selection and refit). "
        "Kept epoch: `best_epoch_` (`best_epochs_` per modality for SDML) of `max_epochs`. "
        "'beats' = strictly higher mean mAP than every baseline the method must beat.\n",
    ]
    md = report(rows, header, data_lines, skipped)
    print("\n" + md, flush=True)
    if args.out:
        Path(args.out).write_text(md, encoding="utf-8")
        print(f"wrote {args.out}", flush=True)
    if args.write_results:
        replace_section(RESULTS_MD, md)
        print(f"replaced the bench_defaults section of {RESULTS_MD}", flush=True)
    return rows, md


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; the exit status is 1 when a row failed."""
    rows, _ = run(argv)
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
