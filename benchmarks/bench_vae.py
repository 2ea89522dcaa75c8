"""CrossModalVAE: cross-modal generation and retrieval against scikit-learn baselines.

Tables (markdown):

1. Digits halves (fixed stratified 70/30 split): mean squared error of
   generating the right half from the left and back, for CrossModalVAE, its
   ``alignment=False`` ablation, Ridge and KernelRidge (rbf); the baselines'
   regularisation (and kernel width) is chosen on a validation split carved
   from the training part. Fit times.
2. Cross-modal retrieval mAP in both directions against scikit-learn's CCA on
   digits halves, Wikipedia (image/text, the standard split) and two mfeat
   views (fou -> kar, ``train_test_split(X, y, test_size=500, stratify=y,
   random_state=0)``). Fit times.

Usage::

    python benchmarks/bench_vae.py [--quick] [--data-home ../shared/data] [--seeds 1] [--generation-only]

Every VAE runs at its DEFAULT parameters (early stopping on a validation
split carved from the training pairs); ``--quick`` caps training at 40 epochs. With ``--seeds N`` every VAE is fitted
with N seeds and the table shows mean +- standard deviation, every seed's
error, and how many seeds the aligned model beats its ablation on.
"""

from __future__ import annotations

import argparse
import time
from itertools import product
from pathlib import Path

import numpy as np
from sklearn.cross_decomposition import CCA
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

from skcross import CrossModalVAE
from skcross.datasets import load_digit_halves, load_mfeat, load_wikipedia
from skcross.metrics import mean_average_precision

ROOT = Path(__file__).resolve().parents[1]


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))


def fmt(values: list[float], digits: int = 4) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def select_on_validation(make, grid, X, Y, y, seed=0):
    """Fit ``make(**params)`` for every grid point on 80% of the training data,
    score MSE on the other (stratified) 20%, refit the best on all of it."""
    Xa, Xv, Ya, Yv = train_test_split(X, Y, test_size=0.2, stratify=y, random_state=seed)
    best = min(grid, key=lambda p: mse(make(**p).fit(Xa, Ya).predict(Xv), Yv))
    start = time.perf_counter()
    model = make(**best).fit(X, Y)
    return model, best, time.perf_counter() - start


def vae_params(quick: bool) -> dict:
    """The VAE settings of every row: the defaults (early stopping on a
    validation split of the training pairs), or at most 40 epochs with --quick."""
    return dict(max_epochs=40) if quick else {}


def retrieval_map(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    return mean_average_precision(a, b, y, y), mean_average_precision(b, a, y, y)


def embedded_map(model: CrossModalVAE, X_test, y_test) -> tuple[float, float]:
    """mAP of modality 0 querying modality 1, and back, in the model's space."""
    a = model.transform(0, X_test.modality(0))
    b = model.transform(1, X_test.modality(1))
    return retrieval_map(a, b, y_test)


def map_row(dataset: str, label: str, maps: list, times: list) -> str:
    forward, backward = [m[0] for m in maps], [m[1] for m in maps]
    mean = [(p + q) / 2 for p, q in maps]
    return (
        f"| {dataset} | {label} | {fmt(forward)} | {fmt(backward)} | {fmt(mean)} "
        f"| {np.mean(times):.1f} |"
    )


def cca_row(dataset: str, Xtr, Xte, yte) -> str:
    k = min(10, Xtr.modality(0).shape[1], Xtr.modality(1).shape[1])
    start = time.perf_counter()
    cca = CCA(n_components=k, max_iter=1000).fit(Xtr.modality(0), Xtr.modality(1))
    elapsed = time.perf_counter() - start
    a, b = cca.transform(Xte.modality(0), Xte.modality(1))
    return map_row(dataset, f"CCA ({k})", [retrieval_map(a, b, yte)], [elapsed])


def fit_vae(X, y, seed, **params):
    start = time.perf_counter()
    model = CrossModalVAE(random_state=seed, **params).fit(X, y)
    return model, time.perf_counter() - start


def vae_label(alignment: bool) -> str:
    return "CrossModalVAE" if alignment else "CrossModalVAE (alignment=False)"


RIDGE_GRID = [{"alpha": a} for a in (0.01, 0.1, 1.0, 10.0, 100.0)]
KRR_GRID = [
    {"alpha": a, "gamma": g} for a, g in product((1e-3, 1e-2, 1e-1, 1.0), (0.01, 0.03, 0.1, 0.3))
]


def digits_tables(quick: bool, seeds: list[int]) -> tuple[list[str], list[str]]:
    X, y = load_digit_halves()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    names = ["left", "right"]
    generation: dict = {}  # (direction, model) -> (errors, fit times)
    map_rows = [cca_row("digits halves", Xtr, Xte, yte)]
    for src, tgt in ((0, 1), (1, 0)):
        direction = f"{names[src]} → {names[tgt]}"
        X_src, X_tgt = Xte.modality(src), Xte.modality(tgt)
        for alignment in (True, False):
            errs, times, maps = [], [], []
            for seed in seeds:
                model, t = fit_vae(
                    Xtr, ytr, seed, target=tgt, alignment=alignment, **vae_params(quick)
                )
                errs.append(mse(model.predict_modality(tgt, src, X_src), X_tgt))
                times.append(t)
                maps.append(embedded_map(model, Xte, yte))
            generation[(direction, vae_label(alignment))] = (errs, times)
            label = f"{vae_label(alignment)}, target={names[tgt]}"
            map_rows.append(map_row("digits halves", label, maps, times))
        train_src, train_tgt = Xtr.modality(src), Xtr.modality(tgt)
        ridge, rp, rt = select_on_validation(Ridge, RIDGE_GRID, train_src, train_tgt, ytr)
        krr, kp, kt = select_on_validation(
            lambda **p: KernelRidge(kernel="rbf", **p), KRR_GRID, train_src, train_tgt, ytr
        )
        generation[(direction, f"Ridge (alpha={rp['alpha']:g})")] = (
            [mse(ridge.predict(X_src), X_tgt)],
            [rt],
        )
        krr_label = f"KernelRidge rbf (alpha={kp['alpha']:g}, gamma={kp['gamma']:g})"
        generation[(direction, krr_label)] = ([mse(krr.predict(X_src), X_tgt)], [kt])
        mean_half = np.broadcast_to(train_tgt.mean(axis=0), X_tgt.shape)
        generation[(direction, "training mean (no model)")] = ([mse(mean_half, X_tgt)], [0.0])

    gen_rows = ["| direction | model | test MSE | per seed | fit time (s) |", "|---|---|---|---|---|"]
    for (direction, label), (errs, times) in generation.items():
        per_seed = ", ".join(f"{e:.5f}" for e in errs) if len(errs) > 1 else ""
        gen_rows.append(f"| {direction} | {label} | {fmt(errs, 5)} | {per_seed} | {np.mean(times):.1f} |")
    # The claim, seed by seed: the aligned model against its own ablation
    # (same seed, same split).
    gen_rows.append("")
    for src, tgt in ((0, 1), (1, 0)):
        direction = f"{names[src]} → {names[tgt]}"
        aligned = np.array(generation[(direction, vae_label(True))][0])
        ablation = np.array(generation[(direction, vae_label(False))][0])
        wins = int((aligned < ablation).sum())
        gen_rows.append(
            f"- {direction}: aligned - ablation = {np.mean(aligned - ablation):+.5f} MSE on average; "
            f"the aligned model is better for {wins} of {len(seeds)} seeds."
        )
    return gen_rows, map_rows


def retrieval_rows(dataset, Xtr, Xte, ytr, yte, target, quick, seeds) -> list[str]:
    rows = [cca_row(dataset, Xtr, Xte, yte)]
    for alignment in (True, False):
        maps, times = [], []
        for seed in seeds:
            model, t = fit_vae(
                Xtr, ytr, seed, target=target, alignment=alignment, **vae_params(quick)
            )
            maps.append(embedded_map(model, Xte, yte))
            times.append(t)
        rows.append(map_row(dataset, f"{vae_label(alignment)}, target={target}", maps, times))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="at most 40 epochs instead of the defaults")
    parser.add_argument("--data-home", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--seeds", type=int, default=1, help="VAE seeds per configuration")
    parser.add_argument("--generation-only", action="store_true",
                        help="only the digits generation table (skip the retrieval data sets)")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    print(f"settings: {vae_params(args.quick)}, other parameters default; seeds {seeds}\n")

    # One throw-away fit so that torch's start-up cost is not charged to the first model.
    X, y = load_digit_halves()
    CrossModalVAE(max_epochs=1, random_state=0).fit(X[:200])

    gen_rows, map_rows = digits_tables(args.quick, seeds)
    print("## Digits halves: cross-modal generation (pixel values in [0, 1])\n")
    print("\n".join(gen_rows))

    header = [
        "| data set | model | mAP modality 0 → 1 | mAP 1 → 0 | mean | fit time (s) |",
        "|---|---|---|---|---|---|",
    ]
    rows = list(map_rows)
    if args.generation_only:
        return
    try:
        Xtr, Xte, ytr, yte = load_wikipedia(args.data_home)
        rows += retrieval_rows(
            "Wikipedia (image → text)", Xtr, Xte, ytr, yte, "text", args.quick, seeds
        )
    except FileNotFoundError as exc:
        print(f"\n(skipping Wikipedia: {exc})")
    try:
        X, y = load_mfeat(args.data_home, views=["fou", "kar"])
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=500, stratify=y, random_state=0)
        rows += retrieval_rows("mfeat (fou → kar)", Xtr, Xte, ytr, yte, "kar", args.quick, seeds)
    except FileNotFoundError as exc:
        print(f"\n(skipping mfeat: {exc})")
    print("\n## Cross-modal retrieval (mAP over the whole test set, cosine)\n")
    print("\n".join(header + rows))


if __name__ == "__main__":
    main()
