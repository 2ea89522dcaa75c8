"""The multi-modal container: paired samples of several modalities, indexed by rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np
import scipy.sparse as sp

__all__ = ["MultiModal"]

ModalityKey = Union[int, str]


def _n_rows(array: Any) -> int:
    shape = getattr(array, "shape", None)
    if shape is None or len(shape) == 0:
        return len(array)
    return shape[0]


class MultiModal:
    """Paired samples of several modalities that scikit-learn can split by rows.

    A plain list of arrays cannot be used with scikit-learn's cross-validation,
    because ``len(list)`` counts modalities, not samples. ``MultiModal`` holds one
    array per modality (dense or ``scipy.sparse``), all with the same number of
    rows, and behaves like a 2-D array of shape ``(n_samples, n_modalities)`` for
    indexing: ``X[rows]`` returns a ``MultiModal`` of those rows in every
    modality. This makes ``KFold``, ``StratifiedKFold``, ``train_test_split``,
    ``GridSearchCV`` and ``cross_val_score`` work unchanged.

    Parameters
    ----------
    data : list, tuple, dict or MultiModal
        One array per modality (dense, ``scipy.sparse``, or a pandas DataFrame,
        which is kept as it is so its column names and row index survive and
        ``X[rows]`` selects rows by position). A dict maps modality names to arrays; with a list
        or tuple the names are ``"0", "1", ...`` unless ``names`` is given.
    names : sequence of str, default=None
        Modality names for list/tuple input.

    Attributes
    ----------
    names : list of str
        The modality names, in order.
    shape : tuple of int
        ``(n_samples, n_modalities)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross import MultiModal
    >>> X = MultiModal({"image": np.zeros((5, 3)), "text": np.ones((5, 2))})
    >>> X.shape
    (5, 2)
    >>> X[[0, 2]].modality("text").shape
    (2, 2)
    >>> X.names
    ['image', 'text']
    """

    # Keep numpy from treating the container as an array-like of objects.
    __array_priority__ = -1

    def __init__(self, data: Any, names: Sequence[str] | None = None) -> None:
        if isinstance(data, MultiModal):
            arrays, data_names = list(data._arrays), list(data.names)
        elif isinstance(data, Mapping):
            data_names = [str(k) for k in data.keys()]
            arrays = list(data.values())
        elif isinstance(data, (list, tuple)):
            arrays = list(data)
            data_names = [str(i) for i in range(len(arrays))]
        else:
            raise TypeError(
                "MultiModal expects a list, tuple or dict of per-modality arrays, "
                f"got {type(data).__name__}."
            )
        if names is not None:
            if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
                raise TypeError(
                    f"MultiModal(names=...) takes a sequence of modality names, got {names!r}."
                )
            names = [str(n) for n in names]
            if len(names) != len(arrays):
                raise ValueError(
                    f"Got {len(names)} names for {len(arrays)} modalities."
                )
            data_names = names
        if len(arrays) == 0:
            raise ValueError("MultiModal needs at least one modality, got none.")
        if len(set(data_names)) != len(data_names):
            raise ValueError(f"Modality names must be unique, got {data_names}.")
        converted = []
        for name, array in zip(data_names, arrays):
            if isinstance(array, MultiModal):
                raise TypeError(
                    f"Modality {name!r} is a MultiModal; each modality must be one "
                    "2-D array (or DataFrame)."
                )
            if not sp.issparse(array) and not isinstance(array, np.ndarray) and not _is_dataframe(array):
                if hasattr(array, "to_numpy"):  # pandas Series, polars
                    array = array.to_numpy()
                else:
                    try:
                        array = np.asarray(array)
                    except ValueError as exc:  # ragged nested lists
                        raise ValueError(
                            f"Modality {name!r} cannot be read as an array: {exc}"
                        ) from exc
            if getattr(array, "ndim", 1) == 0:
                raise ValueError(
                    f"Modality {name!r} is a scalar ({array!r}); each modality must be an "
                    "array with one row per sample."
                )
            converted.append(array)
        counts = [_n_rows(a) for a in converted]
        if len(set(counts)) != 1:
            detail = ", ".join(f"{n!r}: {c}" for n, c in zip(data_names, counts))
            raise ValueError(
                "All modalities of a MultiModal must have the same number of "
                f"samples (paired data), got {detail}. For unpaired data pass a "
                "list of arrays and a list of per-modality labels to fit."
            )
        self._arrays = converted
        self.names = list(data_names)

    # -- array-like protocol -------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return (_n_rows(self._arrays[0]), len(self._arrays))

    @property
    def n_modalities(self) -> int:
        return len(self._arrays)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> "MultiModal":
        if isinstance(rows, tuple):
            # scikit-learn's _safe_indexing writes X[rows, ...]
            if len(rows) == 2 and rows[1] is Ellipsis:
                rows = rows[0]
            elif len(rows) == 1:
                rows = rows[0]
        if isinstance(rows, tuple):
            raise IndexError(
                "MultiModal supports row indexing only (X[rows]); use "
                "X.modality(name) to select a modality."
            )
        if isinstance(rows, (int, np.integer)):
            rows = [rows]
        if not isinstance(rows, slice):
            rows = np.asarray(rows)
            if rows.dtype == bool:
                if rows.shape != (len(self),):
                    raise IndexError(
                        f"Boolean mask of shape {rows.shape} does not match "
                        f"{len(self)} samples."
                    )
                rows = np.flatnonzero(rows)
            elif rows.size == 0:
                rows = rows.astype(np.intp)
            elif not np.issubdtype(rows.dtype, np.integer):
                raise IndexError(
                    f"MultiModal rows must be integers, a boolean mask or a slice, "
                    f"got dtype {rows.dtype}."
                )
        return MultiModal(
            [a.iloc[rows] if _is_dataframe(a) else a[rows] for a in self._arrays],
            names=self.names,
        )

    def __iter__(self):
        raise TypeError(
            "MultiModal is not iterable over samples; use X.modalities() to "
            "iterate over the modality arrays."
        )

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    # -- modality access -----------------------------------------------------
    def index(self, key: ModalityKey) -> int:
        """Position of a modality given by index or name."""
        return _modality_index(key, self.names)

    def modality(self, key: ModalityKey):
        """Return one modality's array, by position or by name."""
        return self._arrays[self.index(key)]

    def modalities(self) -> list:
        """All modality arrays, in order."""
        return list(self._arrays)

    def to_dict(self) -> dict:
        """``{name: array}`` of all modalities."""
        return dict(zip(self.names, self._arrays))

    def __repr__(self) -> str:
        parts = []
        for name, a in zip(self.names, self._arrays):
            kind = "sparse" if sp.issparse(a) else "DataFrame" if _is_dataframe(a) else "dense"
            parts.append(f"{name}: {kind} {tuple(a.shape)}")
        return f"MultiModal(n_samples={len(self)}, {{{', '.join(parts)}}})"

    def __getstate__(self):
        return {"_arrays": self._arrays, "names": self.names}

    def __setstate__(self, state):
        self._arrays = state["_arrays"]
        self.names = state["names"]


def _is_dataframe(array: Any) -> bool:
    """A pandas DataFrame (kept as it is, so its column names and index survive)."""
    return hasattr(array, "iloc") and hasattr(array, "columns") and getattr(array, "ndim", 0) == 2


def _modality_index(key: ModalityKey, names: Sequence[str]) -> int:
    """Resolve a modality given by position or name; errors list the choices."""
    names = list(names)
    if isinstance(key, (bool, np.bool_)):
        raise TypeError(f"A modality is given by position or name, got {key!r}.")
    if isinstance(key, (int, np.integer)):
        if -len(names) <= key < len(names):
            return int(key) % len(names)
        raise ValueError(
            f"Unknown modality {int(key)}: there are {len(names)} modalities "
            f"(positions 0..{len(names) - 1}, names {names})."
        )
    if isinstance(key, str):
        if key in names:
            return names.index(key)
        raise ValueError(f"Unknown modality {key!r}; known modalities are {names}.")
    raise TypeError(
        f"A modality is given by position (int) or name (str), got "
        f"{type(key).__name__}."
    )
