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
    "load_multiview",
    "make_multimodal_classification",
    "multimodal_difficulty",
    "MULTIVIEW_DATASETS",
    "MULTIMODAL_DIFFICULTY",
]

MFEAT_VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")
_WIKI_FILES = ("raw_features.mat", "trainset_txt_img_cat.list", "testset_txt_img_cat.list")

# name -> (cell variable, label variable, view names in stored order, number of classes)
_MULTIVIEW: dict[str, tuple[str, str, tuple[str, ...], int]] = {
    "BBCSport": ("X", "y", ("part1", "part2"), 5),
    "Reuters-1200": ("X", "y", ("english", "french", "german", "spanish", "italian"), 6),
    "MSRC_v1": ("fea", "gt", ("cm", "hog", "gist", "lbp", "centrist"), 7),
    "100Leaves": ("X", "y", ("margin", "shape", "texture"), 100),
    "Prokaryotic": ("X", "y", ("gene_repertoire", "proteome_composition", "text"), 4),
}
#: Names accepted by :func:`load_multiview`.
MULTIVIEW_DATASETS: tuple[str, ...] = tuple(_MULTIVIEW)


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


def load_multiview(
    name: str,
    data_home: str | os.PathLike | None = None,
    split: str | None = None,
) -> tuple[MultiModal, np.ndarray]:
    """One of five multi-view benchmark sets, with a fixed stratified 70/30 split.

    The files are MATLAB v5 files expected in
    ``<data_home>/multiview/<name>/<name>.mat``. Samples are in rows in every
    view; all views share one label vector. Every view is returned as a dense
    float64 array, as stored (no scaling, no tf-idf).

    ===============  =====  =======  ================================================
    name             n      classes  views (features)
    ===============  =====  =======  ================================================
    "BBCSport"       544    5        "part1" (3183), "part2" (3203)
    "Reuters-1200"   1200   6        "english", "french", "german", "spanish",
                                     "italian" (2000 each)
    "MSRC_v1"        210    7        "cm" (24), "hog" (576), "gist" (512),
                                     "lbp" (256), "centrist" (254)
    "100Leaves"      1600   100      "margin" (64), "shape" (64), "texture" (64)
    "Prokaryotic"    551    4        "gene_repertoire" (393),
                                     "proteome_composition" (3), "text" (438)
    ===============  =====  =======  ================================================

    Notes on the views:

    - BBCSport and Reuters-1200 are text: length-normalised term frequencies
      (BBCSport, two disjoint segments of each article) and tf-idf-like word
      weights (Reuters, the same documents in five languages, in the order the
      source repository lists them). They are sparse, about 2% non-zero, but
      stored dense; they are returned dense. Reuters' "italian" view has one
      all-zero row. Both hold a few duplicate samples (identical in every view,
      same label): 7 pairs in BBCSport, 3 in Reuters-1200; the split may put
      the two copies on different sides.
    - MSRC_v1: colour moments, HOG, GIST, LBP and CENTRIST image features;
      "lbp" and "centrist" are stored as integers and converted to float64.
    - 100Leaves: the source lists its views as shape, margin, texture, but the
      stored order is margin, shape, texture: views 0 and 2 are histograms
      (each row sums to 1), view 1 is the 64-value contour signature (values
      about 6e-4, rows summing to about 0.04), and view 0's first row is the
      first row of the UCI margin file.
    - Prokaryotic: already preprocessed real values (with negatives); classes
      are imbalanced (313 / 91 / 35 / 112).

    Labels are the stored integers ``1..n_classes``.

    Parameters
    ----------
    name : str
        One of :data:`MULTIVIEW_DATASETS`.
    data_home : str or path-like, default=None
        Folder holding ``multiview/``; defaults to ``$SKCROSS_DATA_HOME``, else
        ``../shared/data``.
    split : {None, "train", "test"}, default=None
        ``None`` returns every sample. ``"train"`` / ``"test"`` return the two
        parts of the fixed split ``train_test_split(test_size=0.3, stratify=y,
        random_state=0)``, so every benchmark uses the same split.

    Returns
    -------
    X : MultiModal
        One modality per view, named as in the table above.
    y : ndarray of shape (n_samples,)
        Integer class labels.

    Raises
    ------
    ValueError
        When ``name`` or ``split`` is not one of the accepted values.
    FileNotFoundError
        When the data set's file is not in ``data_home``.

    Examples
    --------
    >>> from skcross.datasets import MULTIVIEW_DATASETS, load_multiview
    >>> MULTIVIEW_DATASETS
    ('BBCSport', 'Reuters-1200', 'MSRC_v1', '100Leaves', 'Prokaryotic')
    >>> X_train, y_train = load_multiview("MSRC_v1", split="train")  # doctest: +SKIP
    >>> X_train.names, X_train.shape  # doctest: +SKIP
    (['cm', 'hog', 'gist', 'lbp', 'centrist'], (147, 5))
    """
    from scipy.io import loadmat
    from sklearn.model_selection import train_test_split

    if name not in _MULTIVIEW:
        raise ValueError(f"name must be one of {list(MULTIVIEW_DATASETS)}, got {name!r}.")
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test', got {split!r}.")
    x_var, y_var, views, n_classes = _MULTIVIEW[name]
    folder = default_data_home(data_home) / "multiview" / name
    _require(folder, [f"{name}.mat"], name)
    mat = loadmat(folder / f"{name}.mat", variable_names=[x_var, y_var])
    arrays = [np.asarray(v, dtype=np.float64) for v in mat[x_var].flat]
    y = np.asarray(mat[y_var]).ravel().astype(np.int64)
    if len(arrays) != len(views) or any(a.shape[0] != len(y) for a in arrays):
        raise ValueError(
            f"{name}: expected {len(views)} views of {len(y)} samples in rows, got shapes "
            f"{[a.shape for a in arrays]} in {folder}."
        )
    if len(np.unique(y)) != n_classes:
        raise ValueError(f"{name}: expected {n_classes} classes, found {len(np.unique(y))}.")
    X = MultiModal(dict(zip(views, arrays)))
    if split is None:
        return X, y
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    return (X_train, y_train) if split == "train" else (X_test, y_test)


def make_multimodal_classification(
    n_samples: int = 200,
    n_modalities: int = 2,
    n_classes: int = 3,
    n_features: int | Sequence[int] = 10,
    n_latent: int = 4,
    noise: float = 0.5,
    multilabel: bool = False,
    random_state: Any = None,
    *,
    class_sep: float = 2.0,
) -> tuple[MultiModal, np.ndarray]:
    """Synthetic paired modalities that share a class-structured latent space.

    Each sample has a latent point drawn around its class centre (the mean of its
    labels' centres for multi-label data); each modality observes it through its
    own random linear map followed by a ``tanh`` and Gaussian noise. For three
    preset difficulty levels see :func:`multimodal_difficulty`.

    Parameters
    ----------
    n_samples : int, default=200
    n_modalities : int, default=2
    n_classes : int, default=3
    n_features : int or sequence of int, default=10
        Features per modality (one value for all, or one per modality).
    n_latent : int, default=4
        Dimension of the shared latent space.
    noise : float, default=0.5
        Standard deviation of the Gaussian noise added to every feature (the
        noiseless features lie in (-1, 1)).
    multilabel : bool, default=False
        Multi-label data: about 1.5 labels per sample.
    random_state : int, RandomState instance or None, default=None
    class_sep : float, default=2.0
        Standard deviation of the class centres' coordinates. Samples spread
        around their centre with standard deviation 0.5 per latent dimension,
        so smaller values make the classes overlap more.

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
    if not class_sep > 0:
        raise ValueError(f"class_sep must be positive, got {class_sep!r}.")
    dims = [n_features] * n_modalities if np.isscalar(n_features) else list(n_features)
    if len(dims) != n_modalities:
        raise ValueError(f"n_features has {len(dims)} entries for {n_modalities} modalities.")
    centres = class_sep * rng.randn(n_classes, n_latent)
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


#: Parameters of :func:`make_multimodal_classification` for three difficulty
#: levels, fixed before any model was scored on them. From easy to hard the
#: classes come closer (``class_sep`` 2 -> 1 -> 0.5 against a within-class
#: spread of 0.5), the noise grows (0.2 -> 0.5 -> 1.0 against noiseless
#: features in (-1, 1)), there are more classes (5 -> 10 -> 20) and the same
#: 8-d latent signal is spread over more features (so fewer of each view's
#: dimensions per latent direction survive the noise).
MULTIMODAL_DIFFICULTY: dict[str, dict[str, Any]] = {
    "easy": dict(n_samples=1000, n_modalities=2, n_classes=5, n_features=(20, 20), n_latent=8,
                 noise=0.2, class_sep=2.0),
    "medium": dict(n_samples=1000, n_modalities=2, n_classes=10, n_features=(50, 30), n_latent=8,
                   noise=0.5, class_sep=1.0),
    "hard": dict(n_samples=1000, n_modalities=2, n_classes=20, n_features=(100, 50), n_latent=8,
                 noise=1.0, class_sep=0.5),
}


def multimodal_difficulty(level: str) -> dict[str, Any]:
    """Parameters of :func:`make_multimodal_classification` for a difficulty level.

    Parameters
    ----------
    level : {"easy", "medium", "hard"}
        See :data:`MULTIMODAL_DIFFICULTY` for the values and how they differ.

    Returns
    -------
    dict
        A fresh copy of the keyword arguments (no ``random_state``).

    Examples
    --------
    >>> from skcross.datasets import make_multimodal_classification, multimodal_difficulty
    >>> X, y = make_multimodal_classification(**multimodal_difficulty("hard"), random_state=0)
    >>> X.shape, len(set(y))
    ((1000, 2), 20)
    """
    if level not in MULTIMODAL_DIFFICULTY:
        raise ValueError(f"level must be one of {list(MULTIMODAL_DIFFICULTY)}, got {level!r}.")
    return dict(MULTIMODAL_DIFFICULTY[level])


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
