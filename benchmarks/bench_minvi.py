"""MinVIRBM benchmark: the analogue of Table 1 of Sohn, Shang and Lee (NIPS 2014).

Digits halves (scikit-learn's 8x8 digits, binarised at half intensity, left and
right halves as two modalities; a fixed stratified 70/30 split): a multimodal
RBM is trained without labels by maximum likelihood (PCD), by MinVI with
CD-PercLoss and by MinVI with multi-prediction (MP). A logistic regression is
trained on the joint representation of the training pairs (Eq. 6) and tested
with both halves, the left half only and the right half only (the other half
inferred by the mean-field of Eq. 8). Also: cross-modal retrieval mAP between
the halves, the error of ``predict_modality`` against mean imputation, and
unsupervised retrieval on the Wikipedia image/text data set beside
scikit-learn's CCA.

Usage::

    python benchmarks/bench_minvi.py [--quick] [--data-home ../shared/data]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.cross_decomposition import CCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skcross import MinVIRBM
from skcross.datasets import load_digit_halves, load_wikipedia
from skcross.metrics import mean_average_precision


def table(header: list[str], rows: list[list]) -> str:
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def settings(args, full_epochs: int) -> dict:
    """MinVIRBM settings shared by the experiments (smaller and shorter with --quick)."""
    return dict(
        n_components=256 if args.quick else 512,
        max_epochs=20 if args.quick else full_epochs,
        batch_size=50,
        learning_rate=1e-2,
        random_state=args.seed,
    )


def classify(model: MinVIRBM, Xtr, Xte, ytr, yte) -> list[float]:
    """Test errors of a linear classifier trained on joint representations (both halves)."""
    clf = LogisticRegression(max_iter=5000).fit(model.joint_transform(Xtr), ytr)
    return [
        1 - clf.score(model.joint_transform(Xte), yte),
        1 - clf.score(model.transform("left", Xte.modality("left")), yte),
        1 - clf.score(model.transform("right", Xte.modality("right")), yte),
    ]


def digits(args) -> None:
    X, y = load_digit_halves(binarize=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    common = settings(args, full_epochs=50)
    print(f"## Digits halves (binarised), {len(Xtr)} train / {len(Xte)} test; {common}\n")
    models = {
        "ML (PCD)": MinVIRBM(objective="ml", **common),
        "MinVI (CD-PercLoss)": MinVIRBM(method="cd_percloss", **common),
        "MinVI (MP)": MinVIRBM(method="mp", **common),
    }
    err_rows, ret_rows, pred_rows = [], [], []
    # Reference: logistic regressions on raw pixels, one per input set (not the paper's protocol).
    raw = []
    for tr, te in [
        (np.hstack(Xtr.modalities()), np.hstack(Xte.modalities())),
        (Xtr.modality("left"), Xte.modality("left")),
        (Xtr.modality("right"), Xte.modality("right")),
    ]:
        raw.append(1 - LogisticRegression(max_iter=5000).fit(tr, ytr).score(te, yte))
    err_rows.append(["raw pixels (a classifier per input set)", *map(pct, raw), "-"])
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(Xtr)
        fit_time = time.perf_counter() - t0
        err_rows.append([name, *map(pct, classify(model, Xtr, Xte, ytr, yte)), f"{fit_time:.1f}"])
        left = model.transform("left", Xte.modality("left"))
        right = model.transform("right", Xte.modality("right"))
        ret_rows.append([
            name,
            mean_average_precision(left, right, yte, yte),
            mean_average_precision(right, left, yte, yte),
        ])
        row = [name]
        for target, source in [("right", "left"), ("left", "right")]:
            pred = model.predict_modality(target, source, Xte.modality(source))
            truth = Xte.modality(target)
            row += [float(np.mean((pred - truth) ** 2)), float(np.mean((pred > 0.5) != truth))]
        pred_rows.append(row)
    mean_row = ["mean imputation (training pixel means)"]
    for target in ["right", "left"]:
        m = Xtr.modality(target).mean(0)
        truth = Xte.modality(target)
        mean_row += [float(np.mean((m - truth) ** 2)), float(np.mean((m > 0.5) != truth))]
    pred_rows.append(mean_row)

    print("### Test error of a logistic regression on the joint representation (Table 1 analogue)\n")
    print(table(["model", "left+right", "left only", "right only", "fit time (s)"], err_rows))
    print("\n### Cross-modal retrieval mAP on the test set (each half embedded alone, cosine)\n")
    print(table(["model", "left -> right", "right -> left"], ret_rows))
    print("\n### Filling in the missing half (predict_modality) on the test set\n")
    print(table(
        ["model", "right from left: MSE", "pixel error", "left from right: MSE", "pixel error"],
        pred_rows,
    ))
    print()


def wikipedia(args) -> None:
    try:
        Xtr, Xte, ytr, yte = load_wikipedia(args.data_home)
    except (FileNotFoundError, OSError) as exc:
        print(f"## Wikipedia: skipped ({exc})\n")
        return
    print(f"## Wikipedia (image 128-d SIFT BoVW, text 10-d LDA), {len(Xtr)} train / {len(Xte)} test\n")
    rows = []
    t0 = time.perf_counter()
    cca = CCA(n_components=10, max_iter=1000).fit(Xtr.modality("image"), Xtr.modality("text"))
    fit_time = time.perf_counter() - t0
    a, b = cca.transform(Xte.modality("image"), Xte.modality("text"))
    rows.append(["sklearn CCA (10 components)", mean_average_precision(a, b, yte, yte),
                 mean_average_precision(b, a, yte, yte), f"{fit_time:.1f}"])
    common = settings(args, full_epochs=40)
    for name, model in {
        "MinVI (MP), Gaussian visibles": MinVIRBM(**common),
        "MDRNN (image pathway [256]), MinVI (MP)": MinVIRBM(hidden_layer_sizes={"image": [256]}, **common),
    }.items():
        t0 = time.perf_counter()
        model.fit(Xtr)
        fit_time = time.perf_counter() - t0
        img = model.transform("image", Xte.modality("image"))
        txt = model.transform("text", Xte.modality("text"))
        rows.append([name, mean_average_precision(img, txt, yte, yte),
                     mean_average_precision(txt, img, yte, yte), f"{fit_time:.1f}"])
    print(f"MinVIRBM settings: {common}\n")
    print(table(["model (unsupervised)", "image -> text mAP", "text -> image mAP", "fit time (s)"], rows))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller models, fewer epochs")
    parser.add_argument("--data-home", default=None, help="folder holding wikipedia_rasiwasia/")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    digits(args)
    wikipedia(args)


if __name__ == "__main__":
    main()
