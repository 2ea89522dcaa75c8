"""Fill in the missing half of a digit with MinVIRBM, and save the result as an image.

A multimodal RBM trained by minimum variation of information (multi-prediction)
on binarised left and right halves of scikit-learn's digits learns to predict
each half from the other. For test digits whose right half is missing,
``predict_modality("right", "left", X_left)`` returns the mean-field prediction
of the right half; the script saves a grid of (true digit | left half only |
filled in) to ``examples/_out/minvi_fill_missing_half.png`` and compares the
error with filling in the mean right half of the training set.

Run: ``python examples/minvi_fill_missing_half.py [--quick]``.
"""

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import skcross  # noqa: E402
from skcross.datasets import load_digit_halves, plot_digit_halves  # noqa: E402

OUT = Path(__file__).resolve().parent / "_out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("SKCROSS_QUICK") == "1")
    args = parser.parse_args()
    if not hasattr(skcross, "MinVIRBM"):
        raise SystemExit("skcross.MinVIRBM is not available in this version of skcross.")

    X, y = load_digit_halves(binarize=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    model = skcross.MinVIRBM(
        n_components=128 if args.quick else 512, max_epochs=10 if args.quick else 100, random_state=0
    ).fit(X_train)

    left, right = X_test.modality("left"), X_test.modality("right")
    filled = model.predict_modality("right", "left", left)  # probabilities of the right pixels
    mean_fill = np.tile(X_train.modality("right").mean(axis=0), (len(left), 1))
    err = np.mean((filled - right) ** 2)
    err_mean = np.mean((mean_fill - right) ** 2)
    pixel_err = np.mean((filled >= 0.5) != (right >= 0.5))
    print(f"right half from the left: MSE {err:.4f} (mean imputation {err_mean:.4f}); "
          f"{100 * pixel_err:.1f}% of pixels wrong after thresholding")

    n = 10
    show = [np.flatnonzero(y_test == d)[0] for d in range(n)]  # one test digit per class
    rows = {
        "true digit": (left[show], right[show]),
        "left half only": (left[show], np.full_like(right[show], 0.5)),
        "right half filled in": (left[show], filled[show]),
    }
    fig = plot_digit_halves(rows, "MinVIRBM: the right half predicted from the left half")
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / "minvi_fill_missing_half.png", dpi=120)
    print(f"saved {OUT / 'minvi_fill_missing_half.png'}")


if __name__ == "__main__":
    main()
