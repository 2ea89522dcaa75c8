"""The main job of `make demo`: cross-modal retrieval on scikit-learn's digits,
split into left and right halves, with every skcross estimator and scikit-learn's
CCA as a reference row. Prints a markdown table: mAP per direction, average, fit time.

Hyper-parameters are the library defaults except for training length, which is
shortened so the demo finishes in a few minutes on a laptop CPU.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.cross_decomposition import CCA
from sklearn.model_selection import train_test_split

import skcross
from skcross.datasets import load_digit_halves
from skcross.metrics import mean_average_precision

# Smaller networks and shorter training than the papers' settings, so that the
# demo finishes in a few minutes on a laptop CPU; everything else is each
# method's default. The digits halves are small (32 features per modality).
DEMO_SETTINGS = {
    "SDML": dict(hidden_layer_sizes=(256,), n_components=64, lr=1e-3, max_epochs=30),
    "DSCMR": dict(hidden_size=256, n_components=64, lr=1e-3, max_epochs=30),
    "HarmonizedGPLVM": dict(max_iter=100),
    "MinVIRBM": dict(n_components=256, max_epochs=20),
    "CrossModalVAE": dict(max_epochs=40),
}


def evaluate(name: str, settings: str, fit, transform, Xtr, Xte, ytr, yte) -> tuple:
    t = time.perf_counter()
    fit(Xtr, ytr)
    fit_time = time.perf_counter() - t
    left, right = transform(Xte)
    l2r = mean_average_precision(left, right, yte, yte)
    r2l = mean_average_precision(right, left, yte, yte)
    return name, settings, l2r, r2l, (l2r + r2l) / 2, fit_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--methods", default="all", help="comma-separated estimator names")
    args = parser.parse_args()
    X, y = load_digit_halves()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    print(f"digits halves: {len(Xtr)} train / {len(Xte)} test pairs, 10 classes; query -> database mAP (cosine)\n")
    rows = []
    cca = CCA(n_components=10, max_iter=1000)
    rows.append(
        evaluate(
            "CCA (scikit-learn)", "n_components=10",
            lambda X, y: cca.fit(X.modality(0), X.modality(1)),
            lambda X: cca.transform(X.modality(0), X.modality(1)),
            Xtr, Xte, ytr, yte,
        )
    )
    from skcross.utils import all_estimators

    wanted = None if args.methods == "all" else set(args.methods.split(","))
    for name, cls in all_estimators():
        if wanted is not None and name not in wanted:
            continue
        params = dict(DEMO_SETTINGS.get(name, {}), random_state=0)
        params = {k: v for k, v in params.items() if k in cls().get_params()}
        model = cls(**params)
        settings = ", ".join(f"{k}={v}" for k, v in params.items() if k != "random_state") or "defaults"
        rows.append(
            evaluate(
                name, settings, model.fit,
                lambda X, m=model: (m.transform(0, X.modality(0)), m.transform(1, X.modality(1))),
                Xtr, Xte, ytr, yte,
            )
        )
        print(f"  fitted {name} in {rows[-1][-1]:.1f} s", flush=True)
    print("\n| method | settings | left->right | right->left | average | fit time (s) |")
    print("|---|---|---|---|---|---|")
    for name, settings, a, b, m, t in rows:
        print(f"| {name} | {settings} | {a:.3f} | {b:.3f} | {m:.3f} | {t:.1f} |")
    print(f"\nskcross {skcross.__version__}")


if __name__ == "__main__":
    main()
