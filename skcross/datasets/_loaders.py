"""Loaders. Real data sets are read from a ``data_home`` folder, never bundled."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._multimodal import MultiModal

__all__ = [
    "default_data_home",
    "load_digit_halves",
    "load_wikipedia",
    "load_mfeat",
    "load_nutrimouse",
    "make_multimodal_classification",
]

MFEAT_VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")
_WIKI_FILES = ("raw_features.mat", "trainset_txt_img_cat.list", "testset_txt_img_cat.list")


def default_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The data folder: ``data_home``, else ``$SKCROSS_DATA_HOME``, else ``../shared/data``."""
    if data_home is not None:
        return Path(data_home).expanduser()
    env = os.environ.get("SKCROSS_DATA_HOME")
    if env:
        return Path(env).expanduser()
    return Path("..") / "shared" / "data"


def _require(folder: Path, files: Sequence[str], dataset: str) -> None:
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{dataset}: expected the files {list(files)} in {folder.resolve()} but "
            f"{missing} {'is' if len(missing) == 1 else 'are'} missing. Pass "
            "data_home=<folder holding the data set folders> or set SKCROSS_DATA_HOME."
        )


def load_digit_halves(binarize: bool = False, scale: bool = True) -> tuple[MultiModal, np.ndarray]:
    """scikit-learn's digits as two modalities: the left and right image halves.

    Each 8x8 digit is split into ``images[:, :, :4]`` ("left") and
    ``images[:, :, 4:]`` ("right"), 32 features each; 1797 samples, 10 classes.
    Always available (shipped with scikit-learn).

    Parameters
    ----------
    binarize : bool, default=False
        Threshold at half intensity (8 of 16), giving binary 0/1 pixels.
    scale : bool, default=True
        Divide intensities by 16 so they lie in [0, 1] (ignored when binarizing).

    Returns
    -------
    X : MultiModal with modalities "left" and "right"
    y : ndarray of shape (1797,)

    Examples
    --------
    >>> from skcross.datasets import load_digit_halves
    >>> X, y = load_digit_halves()
    >>> X.shape, X.modality("left").shape
    ((1797, 2), (1797, 32))
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float64)
    if binarize:
        images = (images >= 8).astype(np.float64)
    elif scale:
        images = images / 16.0
    left = images[:, :, :4].reshape(len(images), -1)
    right = images[:, :, 4:].reshape(len(images), -1)
    return MultiModal({"left": left, "right": right}), digits.target.copy()


def load_wikipedia(
    data_home: str | os.PathLike | None = None,
) -> tuple[MultiModal, MultiModal, np.ndarray, np.ndarray]:
    """The Wikipedia image/text data set (Rasiwasia et al. 2010), original features.

    Images are 128-d SIFT bag-of-visual-words histograms, texts 10-d LDA topic
    proportions; 2173 training and 693 test pairs, 10 classes (labels 1..10).
    The files are expected in ``<data_home>/wikipedia_rasiwasia/``.

    Returns
    -------
    X_train, X_test : MultiModal with modalities "image" and "text"
    y_train, y_test : ndarray of int
    """
    from scipy.io import loadmat

    folder = default_data_home(data_home) / "wikipedia_rasiwasia"
    _require(folder, _WIKI_FILES, "Wikipedia")
    mat = loadmat(folder / "raw_features.mat")

    def labels(name: str) -> np.ndarray:
        with open(folder / name) as fh:
            return np.array([int(line.split("\t")[2]) for line in fh if line.strip()])

    y_train, y_test = labels("trainset_txt_img_cat.list"), labels("testset_txt_img_cat.list")
    X_train = MultiModal({"image": mat["I_tr"].astype(np.float64), "text": mat["T_tr"].astype(np.float64)})
    X_test = MultiModal({"image": mat["I_te"].astype(np.float64), "text": mat["T_te"].astype(np.float64)})
    if len(X_train) != len(y_train) or len(X_test) != len(y_test):
        raise ValueError(f"Wikipedia files in {folder} disagree on the number of samples.")
    return X_train, X_test, y_train, y_test


def load_mfeat(
    data_home: str | os.PathLike | None = None,
    views: Sequence[str] | None = None,
) -> tuple[MultiModal, np.ndarray]:
    """UCI multiple features: 2000 handwritten digits described by six views.

    Views: "fou" (76-d Fourier), "fac" (216-d profile correlations), "kar"
    (64-d Karhunen-Loeve), "pix" (240-d pixel averages), "zer" (47-d Zernike),
    "mor" (6-d morphological). Files expected in ``<data_home>/uci_mfeat/``.
    There is no official split; the benchmarks use
    ``train_test_split(X, y, test_size=500, stratify=y, random_state=0)``.

    Returns
    -------
    X : MultiModal, one modality per view, named by view
    y : ndarray of int in 0..9
    """
    views = list(MFEAT_VIEWS if views is None else views)
    unknown = [v for v in views if v not in MFEAT_VIEWS]
    if unknown or not views:
        raise ValueError(f"Unknown mfeat views {unknown}; choose from {list(MFEAT_VIEWS)}.")
    folder = default_data_home(data_home) / "uci_mfeat"
    _require(folder, [f"mfeat-{v}.csv" for v in views], "UCI mfeat")
    arrays, y = {}, None
    for v in views:
        table = np.genfromtxt(folder / f"mfeat-{v}.csv", delimiter=",")[1:]
        arrays[v] = table[:, :-1]
        labels = table[:, -1].astype(int)
        if y is not None and not np.array_equal(y, labels):
            raise ValueError(f"mfeat view {v!r} has labels in a different order.")
        y = labels
    return MultiModal(arrays), y


def load_nutrimouse(
    data_home: str | os.PathLike | None = None, target: str = "diet"
) -> tuple[MultiModal, np.ndarray]:
    """Nutrimouse: 40 mice, gene expression (120) and lipid (21) views. Tiny: smoke tests.

    ``target`` is "diet" (5 classes) or "genotype" (2 classes).
    """
    if target not in ("diet", "genotype"):
        raise ValueError(f"target must be 'diet' or 'genotype', got {target!r}.")
    folder = default_data_home(data_home) / "nutrimouse"
    _require(folder, ["gene.csv", "lipid.csv", f"{target}.csv"], "Nutrimouse")
    gene = np.genfromtxt(folder / "gene.csv", delimiter=",", skip_header=1)
    lipid = np.genfromtxt(folder / "lipid.csv", delimiter=",", skip_header=1)
    with open(folder / f"{target}.csv") as fh:
        y = np.array([line.strip().strip('"') for line in fh.readlines()[1:] if line.strip()])
    return MultiModal({"gene": gene, "lipid": lipid}), y


def make_multimodal_classification(
    n_samples: int = 200,
    n_modalities: int = 2,
    n_classes: int = 3,
    n_features: int | Sequence[int] = 10,
    n_latent: int = 4,
    noise: float = 0.5,
    multilabel: bool = False,
    random_state: Any = None,
) -> tuple[MultiModal, np.ndarray]:
    """Synthetic paired modalities that share a class-structured latent space.

    Each sample has a latent point drawn around its class centre (the mean of its
    labels' centres for multi-label data); each modality observes it through its
    own random linear map followed by a ``tanh`` and Gaussian noise.

    Returns
    -------
    X : MultiModal with modalities "0", "1", ...
    y : ndarray of shape (n_samples,), or a binary indicator matrix
        ``(n_samples, n_classes)`` when ``multilabel=True``.

    Examples
    --------
    >>> from skcross.datasets import make_multimodal_classification
    >>> X, y = make_multimodal_classification(n_samples=50, n_modalities=3, random_state=0)
    >>> X.shape
    (50, 3)
    """
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    if n_modalities < 1 or n_classes < 1 or n_samples < 1:
        raise ValueError("n_samples, n_modalities and n_classes must be positive.")
    dims = [n_features] * n_modalities if np.isscalar(n_features) else list(n_features)
    if len(dims) != n_modalities:
        raise ValueError(f"n_features has {len(dims)} entries for {n_modalities} modalities.")
    centres = 2.0 * rng.randn(n_classes, n_latent)
    if multilabel:
        y = (rng.rand(n_samples, n_classes) < 1.5 / n_classes).astype(int)
        empty = y.sum(axis=1) == 0
        y[empty, rng.randint(n_classes, size=empty.sum())] = 1
        Z = (y @ centres) / y.sum(axis=1, keepdims=True)
    else:
        y = rng.randint(n_classes, size=n_samples)
        Z = centres[y]
    Z = Z + 0.5 * rng.randn(n_samples, n_latent)
    arrays = []
    for d in dims:
        W = rng.randn(n_latent, int(d)) / np.sqrt(n_latent)
        arrays.append(np.tanh(Z @ W) + noise * rng.randn(n_samples, int(d)))
    return MultiModal(arrays), y


def join_digit_halves(left: Any, right: Any) -> np.ndarray:
    """Reassemble 8x8 digit images from the halves of :func:`load_digit_halves`.

    Parameters
    ----------
    left, right : array-like of shape (n_samples, 32)
        Left and right 8x4 halves (true, predicted or generated).

    Returns
    -------
    ndarray of shape (n_samples, 8, 8)

    Examples
    --------
    >>> from skcross.datasets import join_digit_halves, load_digit_halves
    >>> X, _ = load_digit_halves()
    >>> join_digit_halves(X.modality("left")[:5], X.modality("right")[:5]).shape
    (5, 8, 8)
    """
    left, right = np.asarray(left), np.asarray(right)
    return np.concatenate([left.reshape(-1, 8, 4), right.reshape(-1, 8, 4)], axis=2)


def plot_digit_halves(rows: dict, title: str = ""):
    """One matplotlib figure: a row of reassembled digits per entry of ``rows``.

    Parameters
    ----------
    rows : dict of str -> (left, right)
        Row label -> the two halves of the digits to show in that row (the same
        number of digits in every row).
    title : str, default=""

    Returns
    -------
    matplotlib.figure.Figure
        The halves' border is marked by a red line.
    """
    import matplotlib.pyplot as plt

    images = {label: join_digit_halves(*halves) for label, halves in rows.items()}
    n = len(next(iter(images.values())))
    fig, axes = plt.subplots(len(images), n, figsize=(n * 0.9, len(images) * 1.1), squeeze=False)
    for r, (label, imgs) in enumerate(images.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[c], cmap="gray_r", vmin=0, vmax=1)
            ax.axvline(3.5, color="tab:red", lw=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
