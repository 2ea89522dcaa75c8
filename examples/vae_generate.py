"""Generate one modality from another with CrossModalVAE.

Trained on pairs of left and right halves of scikit-learn's digits (target:
the right half), the model maps a left half into the latent space of the
right-half VAE and decodes it: cross-modal generation. The script compares the
generation error with the ``alignment=False`` ablation and with ridge
regression, and saves (true | generated) right halves to
``examples/_out/vae_generate.png``.

Run: ``python examples/vae_generate.py [--quick]``.
"""

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from sklearn.linear_model import RidgeCV  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import skcross  # noqa: E402
from skcross.datasets import load_digit_halves, plot_digit_halves  # noqa: E402

OUT = Path(__file__).resolve().parent / "_out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("SKCROSS_QUICK") == "1")
    args = parser.parse_args()
    if not hasattr(skcross, "CrossModalVAE"):
        raise SystemExit("skcross.CrossModalVAE is not available in this version of skcross.")

    X, y = load_digit_halves()  # intensities in [0, 1]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    left, right = X_test.modality("left"), X_test.modality("right")
    params = dict(n_components=8, target="right", max_epochs=15 if args.quick else 150, random_state=0)

    errors, models = {}, {}
    for label, alignment in (("CrossModalVAE", True), ("CrossModalVAE, alignment=False", False)):
        models[label] = skcross.CrossModalVAE(alignment=alignment, **params).fit(X_train)
        pred = models[label].predict_modality("right", "left", left)
        errors[label] = np.mean((pred - right) ** 2)
    vae = models["CrossModalVAE"]
    generated = vae.predict_modality("right", "left", left)
    # Both modalities embed into the target's latent space, so the same model retrieves too.
    mAP = vae.score(X_test, y_test)
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(X_train.modality("left"), X_train.modality("right"))
    errors["Ridge (alpha by leave-one-out CV)"] = np.mean((ridge.predict(left) - right) ** 2)
    for label, e in errors.items():
        print(f"{label:<36s} MSE of the generated right half: {e:.4f}")
    print(f"CrossModalVAE cross-modal retrieval, mean mAP left<->right: {mAP:.4f}")

    n = 10
    show = [np.flatnonzero(y_test == d)[0] for d in range(n)]
    rows = {"true": (left[show], right[show]), "generated": (left[show], generated[show])}
    fig = plot_digit_halves(rows, "CrossModalVAE: right half generated from the left half")
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / "vae_generate.png", dpi=120)
    print(f"saved {OUT / 'vae_generate.png'}")


if __name__ == "__main__":
    main()
