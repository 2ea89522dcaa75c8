"""The main job of `make demo`: cross-modal retrieval on scikit-learn's digits,
split into left and right halves, with every skcross estimator and scikit-learn's
CCA as a reference row. Prints a markdown table: mAP per direction, average, fit
time, and the full benchmark's number for the same method.

Hyper-parameters are the library defaults except for the training length, which
is shortened so the demo finishes in a few minutes on a laptop CPU; there is no
hyper-parameter search. The numbers therefore differ from the README's digits
column (the full benchmark tunes every method by GridSearchCV and trains
longer); the last column shows that number for comparison.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from sklearn.cross_decomposition import CCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

import skcross
from skcross import PerModality
from skcross.datasets import load_digit_halves
from skcross.metrics import mean_average_precision
from skcross.utils import all_estimators

HERE = Path(__file__).resolve().parent

# Shorter training than the library defaults, so that the demo finishes in a few
# minutes on a laptop CPU; everything else is each method's default. The
# HarmonizedGPLVM variant is the one of the README table.
DEMO_SETTINGS = {
    "SDML": dict(max_epochs=30),
    "DSCMR": dict(max_epochs=30),
    "HarmonizedGPLVM": dict(model="rsimgp", prior="trace", max_iter=100),
    "MinVIRBM": dict(n_components=256, max_epochs=20),
    "CrossModalVAE": dict(max_epochs=40),
}
# The row of benchmarks/results.csv (the full run behind the README table) for each demo row.
RESULTS_ROW = {
    "CCA (scikit-learn)": "CCA (sklearn)",
    "SDML": "SDML",
    "DSCMR": "DSCMR",
    "HarmonizedGPLVM": "HarmonizedGPLVM hm-RSimGP (tr)",
    "MinVIRBM": "MinVIRBM (MP)",
    "CrossModalVAE": "CrossModalVAE",
}


def full_run_digits() -> dict[str, float]:
    """Mean mAP of each method on digits in the committed full run (empty if absent)."""
    path = HERE / "results.csv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {r["method"]: float(r["map_mean"]) for r in csv.DictReader(fh) if r["dataset"] == "digits"}


def score(left, right, y) -> tuple[float, float]:
    return mean_average_precision(left, right, y, y), mean_average_precision(right, left, y, y)


def main(argv=None) -> None:
    available = dict(all_estimators())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="all",
                        help=f"comma-separated estimator names, from {sorted(available)} (default: all)")
    args = parser.parse_args(argv)
    wanted = list(available) if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in available]
    if unknown or not wanted:
        parser.error(f"--methods: unknown estimator(s) {unknown}; choose from {sorted(available)} or 'all'")

    X, y = load_digit_halves()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scale = PerModality([StandardScaler(), StandardScaler()]).fit(Xtr)
    Str, Ste = scale.transform(Xtr), scale.transform(Xte)  # each modality standardised, as in the benchmark
    print(f"digits halves: {len(Xtr)} train / {len(Xte)} test pairs, 10 classes; query -> database mAP\n"
          "Shortened training and no hyper-parameter search: a first look, not the benchmark.\n", flush=True)

    rows = []
    t = time.perf_counter()
    cca = CCA(n_components=10, max_iter=1000).fit(Str.modality(0), Str.modality(1))
    fit_time = time.perf_counter() - t
    rows.append(("CCA (scikit-learn)", "n_components=10", *score(*cca.transform(Ste.modality(0), Ste.modality(1)), yte),
                 fit_time))

    bar = tqdm(wanted, desc="demo", unit="estimator", file=sys.stderr)
    for name in bar:
        bar.set_postfix_str(f"fitting {name}")
        cls = available[name]
        params = {k: v for k, v in DEMO_SETTINGS.get(name, {}).items() if k in cls().get_params()}
        model = cls(**params, random_state=0)
        t = time.perf_counter()
        model.fit(Str, ytr)
        fit_time = time.perf_counter() - t
        emb = model.embed(Ste)
        settings = ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"
        rows.append((name, settings, *score(emb.modality(0), emb.modality(1), yte), fit_time))
        bar.write(f"  fitted {name} in {fit_time:.1f} s")
    bar.close()

    full = full_run_digits()
    print("\n| method | settings | left->right | right->left | average | fit time (s) | full benchmark (README) |")
    print("|---|---|---|---|---|---|---|")
    for name, settings, a, b, t in rows:
        ref = full.get(RESULTS_ROW.get(name, name))
        print(f"| {name} | {settings} | {a:.3f} | {b:.3f} | {(a + b) / 2:.3f} | {t:.1f} | "
              f"{'-' if ref is None else f'{ref:.3f}'} |")
    print(f"\nskcross {skcross.__version__}. How these numbers relate to the README table: the demo uses each "
          "method's defaults with shortened training and no hyper-parameter search, so its numbers differ "
          "from (and are not comparable to) the README's digits column, which comes from the full benchmark "
          "(GridSearchCV with the mAP scorer on the training split, longer training; last column, from "
          "benchmarks/results.csv).")
    print("\nNext steps:\n"
          "  - the example gallery: `make docs`, then open doc/_build/html/auto_examples/index.html\n"
          "    (or run a script: python examples/plot_wikipedia_retrieval.py)\n"
          "  - the user guide: doc/_build/html/index.html (sources in doc/guide/)\n"
          "  - the benchmark behind the README: python -m skcross.benchmarks --help")


if __name__ == "__main__":
    main()
