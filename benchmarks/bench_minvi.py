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

Every MinVIRBM runs at its DEFAULT settings (only ``objective`` / ``method``
and ``random_state`` are set; ``--quick`` caps the epochs for a smoke run), so
the table checks the paper's claim at the defaults: MinVI (MP) cuts the
single-modality error of ML. ``--seeds 0,1,2`` repeats the digits experiment
over several seeds and prints the mean errors and the relative cut. Each model
is also scored with its unimodal inference run to 20 mean-field updates (set
after ``fit``): ML is trained without mean-field, so the default number of
updates (chosen for MP, which is trained through them) leaves its inference
unconverged, and the cut is printed against both.

Model selection: ``--validation`` scores on a validation split carved from the
training split, ``--params "n_mean_field=5, max_epochs=100"`` overrides defaults
for every model, ``--kinds`` picks the models.

Usage::

    python benchmarks/bench_minvi.py [--quick] [--seeds 0,1,2] [--data-home ../shared/data]
    python benchmarks/bench_minvi.py --validation --skip-wikipedia --kinds "ML (PCD),MinVI (MP)" \
        --params "n_mean_field=5"
"""

from __future__ import annotations

import argparse
import ast
import time

import numpy as np
from sklearn.cross_decomposition import CCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skcross import MinVIRBM
from skcross.datasets import load_digit_halves, load_wikipedia
from skcross.metrics import mean_average_precision


# Mean-field updates at which the unimodal inference of Eq. 8 has converged (the paper: 10-20).
CONVERGED_UPDATES = 20


def table(header: list[str], rows: list[list]) -> str:
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def settings(args, seed: int) -> dict:
    """The MinVIRBM settings of every experiment: the defaults (fewer epochs with --quick),
    or the defaults with ``--params`` overriding some (model selection on ``--validation``)."""
    return dict(random_state=seed, **({"max_epochs": 5} if args.quick else {}), **parse_params(args.params))


def parse_params(text: str) -> dict:
    """``"n_mean_field=5, lr=3e-3"`` -> ``{"n_mean_field": 5, "lr": 0.003}`` (literal values only)."""
    if not text:
        return {}
    call = ast.parse(f"f({text})", mode="eval").body
    return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}


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
    split = "test"
    if args.validation:  # model selection: a validation split carved from the training split
        Xtr, Xte, ytr, yte = train_test_split(Xtr, ytr, test_size=0.3, stratify=ytr, random_state=1)
        split = "validation"
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"## Digits halves (binarised), {len(Xtr)} train / {len(Xte)} {split}; "
          f"{settings(args, 0)} (defaults otherwise), seeds {seeds}\n")
    kinds = {
        "ML (PCD)": dict(objective="ml"),
        "MinVI (CD-PercLoss)": dict(method="cd_percloss"),
        "MinVI (MP)": dict(method="mp"),
    }
    wanted = args.kinds.split(",")
    kinds = {k: v for k, v in kinds.items() if k in wanted}
    err_rows, ret_rows, pred_rows = [], [], []
    # Reference: logistic regressions on raw pixels, one per input set (not the paper's protocol).
    raw = []
    for tr, te in [
        (np.hstack(Xtr.modalities()), np.hstack(Xte.modalities())),
        (Xtr.modality("left"), Xte.modality("left")),
        (Xtr.modality("right"), Xte.modality("right")),
    ]:
        raw.append(1 - LogisticRegression(max_iter=5000).fit(tr, ytr).score(te, yte))
    err_rows.append(["raw pixels (a classifier per input set)", *map(pct, raw), "-", "-"])
    single, single_converged = {}, {}
    for name, kind in kinds.items():
        errs, errs_converged, times, rets, preds = [], [], [], [], []
        for seed in seeds:
            model = MinVIRBM(**kind, **settings(args, seed))
            t0 = time.process_time()
            model.fit(Xtr)
            times.append(time.process_time() - t0)
            errs.append(classify(model, Xtr, Xte, ytr, yte))
            # The same model, its unimodal inference (Eq. 8) run to convergence: n_mean_field
            # only sets the number of updates for ML, which is trained without mean-field.
            trained_updates = model.n_mean_field
            model.set_params(n_mean_field=CONVERGED_UPDATES)
            errs_converged.append(classify(model, Xtr, Xte, ytr, yte))
            model.set_params(n_mean_field=trained_updates)
            left = model.transform("left", Xte.modality("left"))
            right = model.transform("right", Xte.modality("right"))
            rets.append([mean_average_precision(left, right, yte, yte),
                         mean_average_precision(right, left, yte, yte)])
            row = []
            for target, source in [("right", "left"), ("left", "right")]:
                pred = model.predict_modality(target, source, Xte.modality(source))
                truth = Xte.modality(target)
                row += [float(np.mean((pred - truth) ** 2)), float(np.mean((pred > 0.5) != truth))]
            preds.append(row)
            if len(seeds) > 1:
                print(f"{name}, seed {seed}: errors " + " / ".join(map(pct, errs[-1]))
                      + f", fit {times[-1]:.1f} s, best epoch {model.best_epoch_}", flush=True)
        e = np.mean(errs, axis=0)
        single[name] = float(np.mean(e[1:]))
        err_rows.append([name, *map(pct, e), pct(single[name]), f"{np.mean(times):.1f}"])
        e = np.mean(errs_converged, axis=0)
        single_converged[name] = float(np.mean(e[1:]))
        err_rows.append([f"{name}, {CONVERGED_UPDATES} updates at test time", *map(pct, e),
                         pct(single_converged[name]), "-"])
        ret_rows.append([name, *np.mean(rets, axis=0).tolist()])
        pred_rows.append([name, *np.mean(preds, axis=0).tolist()])
    mean_row = ["mean imputation (training pixel means)"]
    for target in ["right", "left"]:
        m = Xtr.modality(target).mean(0)
        truth = Xte.modality(target)
        mean_row += [float(np.mean((m - truth) ** 2)), float(np.mean((m > 0.5) != truth))]
    pred_rows.append(mean_row)

    print(f"\n### {split.capitalize()} error of a logistic regression trained on the joint representation "
          f"(Table 1 analogue; mean over {len(seeds)} seed(s))\n")
    print(table(["model", "left+right", "left only", "right only", "single (mean)", "fit CPU (s)"], err_rows))
    if "ML (PCD)" in single and "MinVI (MP)" in single:
        ml, mp = single["ML (PCD)"], single["MinVI (MP)"]
        print(f"\nAt the defaults, MinVI (MP) cuts ML's single-modality error by {100 * (ml - mp) / ml:.1f}% "
              f"({pct(ml)} -> {pct(mp)}; the paper: 16.93% -> 6.93% on MNIST halves, 59%).")
        ml = single_converged["ML (PCD)"]
        print(f"With ML's unimodal inference run to {CONVERGED_UPDATES} mean-field updates (MP as trained): "
              f"{100 * (ml - mp) / ml:.1f}% ({pct(ml)} -> {pct(mp)}).")
    print(f"\n### Cross-modal retrieval mAP on the {split} set (each half embedded alone, cosine)\n")
    print(table(["model", "left -> right", "right -> left"], ret_rows))
    print(f"\n### Filling in the missing half (predict_modality) on the {split} set\n")
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
    t0 = time.process_time()
    cca = CCA(n_components=10, max_iter=1000).fit(Xtr.modality("image"), Xtr.modality("text"))
    fit_time = time.process_time() - t0
    a, b = cca.transform(Xte.modality("image"), Xte.modality("text"))
    rows.append(["sklearn CCA (10 components)", mean_average_precision(a, b, yte, yte),
                 mean_average_precision(b, a, yte, yte), f"{fit_time:.1f}"])
    common = settings(args, int(args.seeds.split(",")[0]))
    for name, model in {
        "MinVI (MP), Gaussian visibles": MinVIRBM(**common),
        "MDRNN (image pathway (256,)), MinVI (MP)": MinVIRBM(hidden_layer_sizes={"image": (256,)}, **common),
    }.items():
        t0 = time.process_time()
        model.fit(Xtr)
        fit_time = time.process_time() - t0
        img = model.transform("image", Xte.modality("image"))
        txt = model.transform("text", Xte.modality("text"))
        rows.append([name, mean_average_precision(img, txt, yte, yte),
                     mean_average_precision(txt, img, yte, yte), f"{fit_time:.1f}"])
    print(f"MinVIRBM settings: {common} (defaults otherwise)\n")
    print(table(["model (unsupervised)", "image -> text mAP", "text -> image mAP", "fit CPU (s)"], rows))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 epochs per stage (a smoke run)")
    parser.add_argument("--validation", action="store_true",
                        help="digits: score on a validation split carved from the training split (model selection)")
    parser.add_argument("--seeds", default="0", help="comma list of seeds for the digits experiment")
    parser.add_argument("--skip-wikipedia", action="store_true")
    parser.add_argument("--params", default="",
                        help="override defaults for every model, e.g. \"n_mean_field=5, lr=3e-3\" (with --validation)")
    parser.add_argument("--kinds", default="ML (PCD),MinVI (CD-PercLoss),MinVI (MP)",
                        help="comma list of the digits models to train")
    parser.add_argument("--data-home", default=None, help="folder holding wikipedia_rasiwasia/")
    args = parser.parse_args()
    digits(args)
    if not args.skip_wikipedia:
        wikipedia(args)


if __name__ == "__main__":
    main()
