"""Input validation shared by every skcross estimator.

Every error names the modality and the problem, so that a user with five
modalities knows which array to look at.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._multimodal import MultiModal, _modality_index
from ._streaming import check_streamed_array, is_streamed

__all__ = [
    "FitData",
    "as_modality_list",
    "check_modality_array",
    "check_labels",
    "validate_fit_data",
    "check_number",
    "check_choice",
    "check_layer_sizes",
    "check_betas",
]


def _describe(name: str | int | None) -> str:
    return "input" if name is None else f"modality {str(name)!r}"


def as_modality_list(X: Any, what: str = "X") -> tuple[list, list[str]]:
    """Split list / tuple / dict / MultiModal input into (arrays, names)."""
    if isinstance(X, MultiModal):
        return X.modalities(), list(X.names)
    if isinstance(X, Mapping):
        if len(X) == 0:
            raise ValueError(f"{what} holds no modality.")
        return list(X.values()), [str(k) for k in X.keys()]
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{what} holds no modality.")
        if all(np.isscalar(x) for x in X):
            raise TypeError(
                f"{what} must hold one array per modality (a list, tuple, dict or "
                "MultiModal of 2-D arrays), got a flat list of scalars."
            )
        return list(X), [str(i) for i in range(len(X))]
    if isinstance(X, np.ndarray) or sp.issparse(X):
        raise TypeError(
            f"{what} must hold one array per modality (a list, tuple, dict or "
            f"MultiModal), got a single {type(X).__name__}. To embed one modality "
            "use transform(modality, X)."
        )
    raise TypeError(
        f"{what} must be a list, tuple, dict or MultiModal of per-modality arrays, "
        f"got {type(X).__name__}."
    )


def check_modality_array(
    X: Any,
    name: str | int | None = None,
    *,
    accept_sparse: bool = False,
    dtype: Any = np.float32,
    n_features: int | None = None,
    estimator_name: str | None = None,
    min_samples: int = 1,
    stream: bool = False,
):
    """Validate one modality's array: 2-D, numeric, finite, non-empty.

    Returns a C-contiguous array of ``dtype`` (or a CSR matrix when sparse input
    is accepted). With ``stream``, a ``numpy.memmap``, an array too large to
    copy or another array-like that slices by rows is validated by row chunks
    and returned as a :class:`~skcross._streaming.HostRows` view, not copied.
    Raises ``TypeError`` / ``ValueError`` naming the modality.
    """
    where = _describe(name)
    who = f"{estimator_name} " if estimator_name else ""
    if stream and is_streamed(X):
        return check_streamed_array(X, where, n_features=n_features, min_samples=min_samples)
    if _is_raw_text(X):
        raise TypeError(
            f"{where} holds raw text (strings), but {who}needs numeric features: "
            "transform it first, e.g. PerModality({"
            f"{str(name)!r}: TfidfVectorizer()}}) as the step before the estimator in a Pipeline."
        )
    if sp.issparse(X):
        if not accept_sparse:
            raise TypeError(
                f"{where} is a scipy.sparse matrix, but {who}needs dense data: "
                "convert it with .toarray(), or reduce it first (e.g. "
                "PerModality with TruncatedSVD)."
            )
        X = sp.csr_matrix(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{where} has non-numeric dtype {X.dtype}.")
        X = X.astype(dtype)
        data = X.data
        shape = X.shape
    else:
        if hasattr(X, "to_numpy"):
            X = X.to_numpy()
        if isinstance(X, MultiModal):
            raise TypeError(f"{where} must be one array, got a MultiModal.")
        try:
            X = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"{where} cannot be read as an array: {exc}") from exc
        if X.dtype.kind in "OUSV":
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"{where} holds non-numeric values (dtype {X.dtype}); "
                    "expected numbers."
                ) from exc
        elif X.dtype.kind == "c":
            raise TypeError(f"{where} is complex; expected real numbers.")
        elif X.dtype.kind not in "biuf":
            raise TypeError(f"{where} has non-numeric dtype {X.dtype}.")
        if X.ndim != 2:
            hint = (
                " Reshape a single feature with X.reshape(-1, 1) or a single "
                "sample with X.reshape(1, -1)."
                if X.ndim == 1
                else ""
            )
            raise ValueError(
                f"{where} must be a 2-D array (n_samples, n_features), got "
                f"{X.ndim}-D with shape {X.shape}.{hint}"
            )
        X = np.ascontiguousarray(X, dtype=dtype)
        data = X
        shape = X.shape
    if shape[0] < min_samples:
        raise ValueError(
            f"{where} has {shape[0]} sample(s); at least {min_samples} required."
        )
    if shape[1] == 0:
        raise ValueError(f"{where} has 0 features.")
    if not np.all(np.isfinite(data)):
        n_nan = int(np.isnan(data).sum())
        n_inf = int(np.isinf(data).sum())
        raise ValueError(
            f"{where} contains non-finite values ({n_nan} NaN, {n_inf} inf); "
            "impute or drop them before fitting."
        )
    if n_features is not None and shape[1] != n_features:
        raise ValueError(
            f"{where} has {shape[1]} features, but the model was fitted with "
            f"{n_features} features for this modality."
        )
    return X


def _is_raw_text(X: Any) -> bool:
    """A 1-D sequence of strings (a modality of raw documents)."""
    if sp.issparse(X) or hasattr(X, "iloc") or isinstance(X, str):
        return False
    if isinstance(X, np.ndarray):
        return X.ndim == 1 and (X.dtype.kind in "US" or (
            X.dtype.kind == "O" and X.size > 0 and isinstance(X.flat[0], (str, bytes))))
    if hasattr(X, "to_numpy") and getattr(X, "ndim", 2) == 1:  # pandas Series
        return _is_raw_text(X.to_numpy())
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(isinstance(v, (str, bytes)) for v in X)


def _is_per_modality_labels(y: Any, n_modalities: int) -> bool:
    """True when y is a list with one label array per modality (unpaired mode)."""
    if not isinstance(y, (list, tuple)) or len(y) != n_modalities:
        return False
    return all(
        (isinstance(e, (list, tuple, np.ndarray)) or hasattr(e, "shape"))
        and not np.isscalar(e)
        for e in y
    )


def _label_array(y: Any, where: str) -> np.ndarray:
    if sp.issparse(y):
        y = y.toarray()
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim not in (1, 2):
        raise ValueError(
            f"labels of {where} must be 1-D class labels or a 2-D binary indicator "
            f"matrix, got shape {y.shape}."
        )
    if y.ndim == 2:
        if y.dtype.kind not in "biuf" or not np.all(np.isin(y, (0, 1))):
            raise ValueError(
                f"2-D labels of {where} must be a binary (0/1) indicator matrix."
            )
        return y.astype(np.float32)
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"labels of {where} contain NaN or inf.")
    if y.dtype.kind == "O":
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in y):
            raise ValueError(f"labels of {where} contain missing values.")
    return y


def check_labels(
    ys: Sequence[Any],
    names: Sequence[str],
    n_samples: Sequence[int],
    *,
    min_classes: int = 2,
) -> tuple[list[np.ndarray], np.ndarray, bool]:
    """Encode per-modality labels as indicator matrices over shared classes.

    Returns ``(Y, classes, multilabel)`` where ``Y[c]`` is a float32 array of
    shape ``(n_samples[c], n_classes)``.
    """
    arrays = [_label_array(y, _describe(n)) for y, n in zip(ys, names)]
    for y, n, m in zip(arrays, names, n_samples):
        if y.shape[0] != m:
            raise ValueError(
                f"{_describe(n)} has {m} samples but {y.shape[0]} labels."
            )
    ndims = {y.ndim for y in arrays}
    if len(ndims) != 1:
        raise ValueError(
            "Labels mix 1-D class labels and 2-D indicator matrices across modalities."
        )
    multilabel = ndims == {2}
    if multilabel:
        widths = {y.shape[1] for y in arrays}
        if len(widths) != 1:
            raise ValueError(
                f"Indicator label matrices have different widths {sorted(widths)}."
            )
        n_classes = widths.pop()
        classes = np.arange(n_classes)
        Y = [y.astype(np.float32) for y in arrays]
        used = int((np.concatenate(Y).sum(axis=0) > 0).sum())
    else:
        kinds = {y.dtype.kind for y in arrays}
        if len(kinds & {"U", "S", "O"}) and len(kinds - {"U", "S", "O"}):
            raise TypeError("Labels mix strings and numbers across modalities.")
        try:
            classes = np.unique(np.concatenate(arrays))
        except TypeError as exc:
            raise TypeError(f"Labels cannot be sorted into classes: {exc}") from exc
        Y = []
        for y in arrays:
            codes = np.searchsorted(classes, y)
            onehot = np.zeros((len(y), len(classes)), dtype=np.float32)
            onehot[np.arange(len(y)), codes] = 1.0
            Y.append(onehot)
        used = len(classes)
    if used < min_classes:
        raise ValueError(
            f"Labels hold {used} class(es); at least {min_classes} are needed to "
            "learn a discriminative common space."
        )
    return Y, classes, multilabel


@dataclass
class FitData:
    """Validated training data handed to an estimator's ``_fit``.

    Attributes
    ----------
    X : list of arrays
        One validated array per modality.
    names : list of str
        Modality names.
    Y : list of arrays or None
        One float32 indicator matrix ``(n_samples_c, n_classes)`` per modality,
        or None when no labels were given to an unsupervised method.
    classes : ndarray or None
    multilabel : bool
    paired : bool
        True when all modalities have the same samples in the same order.
    """

    X: list
    names: list
    Y: list | None = None
    classes: np.ndarray | None = None
    multilabel: bool = False
    paired: bool = True

    @property
    def n_samples(self) -> list[int]:
        return [x.shape[0] for x in self.X]


def validate_fit_data(
    X: Any,
    y: Any = None,
    *,
    estimator_name: str = "this estimator",
    requires_pairs: bool = True,
    requires_labels: bool = True,
    accept_sparse: bool = False,
    dtype: Any = np.float32,
    min_modalities: int = 2,
    min_samples: int = 2,
    stream: bool = False,
) -> FitData:
    """Validate ``fit(X, y)`` input: modalities, arrays, pairing and labels.

    With ``stream``, memmapped or very large modalities are validated by row
    chunks and kept where they are (:func:`check_modality_array`)."""
    arrays, names = as_modality_list(X)
    if len(arrays) < min_modalities:
        raise ValueError(
            f"{estimator_name} needs at least {min_modalities} modalities, got "
            f"{len(arrays)}."
        )
    arrays = [
        check_modality_array(
            a,
            n,
            accept_sparse=accept_sparse,
            dtype=dtype,
            estimator_name=estimator_name,
            min_samples=min_samples,
            stream=stream,
        )
        for a, n in zip(arrays, names)
    ]
    counts = [a.shape[0] for a in arrays]
    per_modality_y = y is not None and _is_per_modality_labels(y, len(arrays))
    paired = len(set(counts)) == 1 and not (
        per_modality_y and not _same_labels(y)
    )
    if len(set(counts)) != 1:
        if requires_pairs:
            detail = ", ".join(f"{n!r}: {c}" for n, c in zip(names, counts))
            raise ValueError(
                f"{estimator_name} learns from paired samples, but the modalities "
                f"have different sample counts ({detail})."
            )
        if y is not None and not per_modality_y:
            raise ValueError(
                "Modalities have different sample counts (unpaired data): pass y as "
                "a list with one label array per modality."
            )
    if requires_pairs and not paired:
        raise ValueError(
            f"{estimator_name} learns from paired samples: the modalities must hold the "
            "same samples in the same order, with one y (per-modality labels differ)."
        )
    Y = classes = None
    multilabel = False
    if y is None:
        if requires_labels:
            raise ValueError(
                f"{estimator_name} is supervised: fit(X, y) needs labels y."
            )
    else:
        ys = list(y) if per_modality_y else [y] * len(arrays)
        Y, classes, multilabel = check_labels(
            ys, names, counts, min_classes=2 if requires_labels else 1
        )
    return FitData(
        X=arrays,
        names=list(names),
        Y=Y,
        classes=classes,
        multilabel=multilabel,
        paired=paired,
    )


def _same_labels(ys: Sequence[Any]) -> bool:
    first = np.asarray(ys[0])
    return all(
        np.asarray(e).shape == first.shape and np.array_equal(np.asarray(e), first)
        for e in ys[1:]
    )


def resolve_modality(key: Any, names: Sequence[str]) -> int:
    """Position of a modality given by index or name (clear error otherwise)."""
    return _modality_index(key, names)


def holdout_size(n_samples: int, fraction: float) -> int:
    """Rows a hold-out split of ``fraction`` keeps out of ``n_samples``."""
    return int(np.ceil(fraction * n_samples))


def _single_label_classes(Y: np.ndarray) -> np.ndarray | None:
    """Each row's class when ``Y`` is a single-label indicator matrix, else None
    (multi-label data, or a 1-D ``Y`` that carries no labels)."""
    if Y.ndim == 2 and np.all(Y.sum(axis=1) == 1):
        return Y.argmax(axis=1)
    return None


def holdout_split(Y: Any, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation rows carved from training data, for model selection.

    ``ceil(fraction * n)`` rows are held out, stratified by class when ``Y`` is a
    single-label indicator matrix and every class can be split; multi-label data,
    a 1-D ``Y`` (no labels: any array of n rows), or classes too small to stratify
    fall back to a plain random split of the same size. Both index arrays are sorted.
    """
    n = len(Y)
    n_valid = holdout_size(n, fraction)
    if n_valid < 1 or n - n_valid < 2:
        raise ValueError(
            f"validation_fraction={fraction} of {n} samples leaves no validation or "
            "training samples; use early_stopping=False to train on all of them."
        )
    from sklearn.model_selection import train_test_split

    rows = np.arange(n)
    stratify = _single_label_classes(np.asarray(Y))
    try:
        train, valid = train_test_split(rows, test_size=n_valid, stratify=stratify, random_state=seed)
    except ValueError:
        # A class with one sample, or fewer validation rows than classes.
        train, valid = train_test_split(rows, test_size=n_valid, random_state=seed)
    return np.sort(train), np.sort(valid)


def kfold_splits(Y: Any, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_folds`` (training, validation) row pairs whose validation parts cover
    every row once, for model selection on data too small for one hold-out part.

    Stratified by class when ``Y`` is a single-label indicator matrix whose
    every class has at least ``n_folds`` rows; otherwise plain shuffled folds
    (multi-label data, a 1-D ``Y`` of any n rows, small classes). Both index
    arrays of each pair are sorted.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(Y)
    if n_folds < 2 or n < n_folds or n < 3:
        raise ValueError(
            f"{n_folds} validation folds need at least {max(n_folds, 3)} samples, got {n}; "
            "use validation_folds=1 or early_stopping=False."
        )
    rows = np.arange(n)
    classes = _single_label_classes(np.asarray(Y))
    counts = None if classes is None else np.bincount(classes)
    if counts is not None and counts[counts > 0].min() >= n_folds:
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(rows, classes)
    else:
        folds = KFold(n_folds, shuffle=True, random_state=seed).split(rows)
    return [(np.sort(train), np.sort(valid)) for train, valid in folds]


# ------------------------------------------------------------ hyper-parameters
def _interval(low, high, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def check_number(
    estimator: Any,
    name: str,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> int | float | None:
    """Validate the numeric hyper-parameter ``name`` of ``estimator``; return it as int or float.

    ``integer`` accepts Python and numpy integers (not bools); otherwise any
    finite real number. ``low``/``high`` bound it (open with ``low_open`` /
    ``high_open``). The ValueError names the parameter, the accepted values and
    the value given.
    """
    value = getattr(estimator, name)
    if value is None and allow_none:
        return None
    kind = "an integer" if integer else "a number"
    bounds = _interval(low, high, low_open, high_open)
    wanted = f"{kind} {bounds}".strip() + (" or None" if allow_none else "")
    ok_type = not isinstance(value, bool) and isinstance(value, numbers.Integral if integer else numbers.Real)
    if ok_type and not integer:
        ok_type = bool(np.isfinite(value))
    if not ok_type or (low is not None and (value <= low if low_open else value < low)) or (
        high is not None and (value >= high if high_open else value > high)
    ):
        raise ValueError(f"{type(estimator).__name__}: {name} must be {wanted}, got {value!r}.")
    return int(value) if integer else float(value)


def check_choice(estimator: Any, name: str, choices: Sequence[Any]) -> Any:
    """Validate that the hyper-parameter ``name`` is one of ``choices``; return it."""
    value = getattr(estimator, name)
    if not any(value is c or (isinstance(value, str) and value == c) for c in choices):
        raise ValueError(f"{type(estimator).__name__}: {name} must be one of {list(choices)}, got {value!r}.")
    return value


def check_layer_sizes(estimator: Any, name: str, allow_empty: bool = False) -> tuple[int, ...]:
    """Validate a tuple/list of positive layer widths; return it as a tuple of ints."""
    sizes = getattr(estimator, name)
    valid = isinstance(sizes, (tuple, list)) and all(
        isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in sizes
    )
    if not valid or (not allow_empty and len(sizes) == 0):
        need = "a tuple of positive integers" + ("" if allow_empty else " (at least one layer)")
        raise ValueError(f"{type(estimator).__name__}: {name} must be {need}, got {sizes!r}.")
    return tuple(int(h) for h in sizes)


def check_betas(estimator: Any, name: str = "betas") -> tuple[float, float]:
    """Validate Adam's ``betas``: two numbers in [0, 1); return them as floats."""
    value = getattr(estimator, name)
    try:
        betas = tuple(float(b) for b in value)
    except (TypeError, ValueError):
        betas = ()
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"{type(estimator).__name__}: {name} must be two numbers in [0, 1), got {value!r}.")
    return betas
