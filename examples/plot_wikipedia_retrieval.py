"""Every skcross method and two peers on the Wikipedia image/text data set.

Fits each method on the 2173 training pairs (128-d SIFT bag-of-words images,
10-d LDA texts), reports the mAP of image->text and text->image retrieval on the
693 test pairs, and draws the precision-recall curves of all methods in one
figure (``examples/_out/wikipedia_pr.png``).

Run: ``python examples/plot_wikipedia_retrieval.py [--quick] [--data-home DIR]``
(``--quick`` or ``SKCROSS_QUICK=1``: a 600-pair training subset and few epochs).
"""

import argparse
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.cross_decomposition import CCA  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import skcross  # noqa: E402
from skcross import PerModality  # noqa: E402
from skcross.datasets import load_wikipedia  # noqa: E402
from skcross.metrics import mean_average_precision, plot_precision_recall, precision_recall_curve  # noqa: E402

OUT = Path(__file__).resolve().parent / "_out"


def methods(quick: bool) -> dict:
    """The models to compare (those this version of skcross exports)."""
    epochs = 15 if quick else 100
    candidates = {
        "SDML": ("SDML", dict(n_components=64, hidden_layer_sizes=(256, 256), max_epochs=epochs, lr=1e-3)),
        "DSCMR": ("DSCMR", dict(n_components=64, hidden_size=256, max_epochs=epochs, lr=1e-3)),
        "hm-RSimGP (tr)": ("HarmonizedGPLVM", dict(model="rsimgp", prior="trace", max_iter=30 if quick else 200)),
        "MinVIRBM": ("MinVIRBM", dict(n_components=256, max_epochs=5 if quick else 50)),
        "CrossModalVAE": ("CrossModalVAE", dict(n_components=16, max_epochs=epochs)),
    }
    found = {}
    for label, (name, params) in candidates.items():
        if hasattr(skcross, name):
            found[label] = getattr(skcross, name)(random_state=0, **params)
        else:
            print(f"(skipping {label}: skcross.{name} is not available in this version)")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("SKCROSS_QUICK") == "1")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args()

    X_train, X_test, y_train, y_test = load_wikipedia(args.data_home)
    if args.quick:
        X_train, y_train = X_train[:600], y_train[:600]
    print(f"Wikipedia: {len(y_train)} training / {len(y_test)} test pairs")

    curves = {}
    print(f"{'method':<16s} {'I->T':>7s} {'T->I':>7s} {'avg':>7s} {'fit s':>7s}")

    def report(label, img, txt, fit_s, metric="cosine"):
        i2t = mean_average_precision(img, txt, y_test, y_test, metric=metric)
        t2i = mean_average_precision(txt, img, y_test, y_test, metric=metric)
        curves[label] = precision_recall_curve(img, txt, y_test, y_test, metric=metric)
        print(f"{label:<16s} {i2t:7.4f} {t2i:7.4f} {(i2t + t2i) / 2:7.4f} {fit_s:7.1f}")

    # A peer: scikit-learn's CCA on the same standardised features.
    t0 = time.perf_counter()
    scale = PerModality([StandardScaler(), StandardScaler()]).fit(X_train)
    Str, Ste = scale.transform(X_train), scale.transform(X_test)
    cca = CCA(n_components=10, max_iter=1000).fit(Str.modality(0), Str.modality(1))
    report("CCA", *cca.transform(Ste.modality(0), Ste.modality(1)), time.perf_counter() - t0)

    for label, estimator in methods(args.quick).items():
        model = make_pipeline(PerModality([StandardScaler(), StandardScaler()]), estimator)
        t0 = time.perf_counter()
        model.fit(X_train, y_train)
        fit_s = time.perf_counter() - t0
        emb = model.transform(X_test)  # a MultiModal of embeddings
        # Rank by the similarity the method's own score uses (cosine, or euclidean for the GPLVMs).
        metric = model[-1]._get_retrieval_metric()
        report(label, emb.modality("image"), emb.modality("text"), fit_s, metric)

    OUT.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 5))
    plot_precision_recall(curves, ax=ax, title="Wikipedia: image → text")
    fig.tight_layout()
    fig.savefig(OUT / "wikipedia_pr.png", dpi=110)
    print(f"saved {OUT / 'wikipedia_pr.png'}")


if __name__ == "__main__":
    main()
