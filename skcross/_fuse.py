"""A step after the common space: one 2-D array from a MultiModal of embeddings."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from ._multimodal import MultiModal, _is_dataframe
from ._output import OutputMixin, _is_input_features, default_feature_names
from ._validation import as_modality_list, check_modality_array, resolve_modality

__all__ = ["Fuse"]

_HOWS = ("mean", "concat")


class Fuse(OutputMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Turn the embeddings of several modalities into one 2-D array.

    A skcross estimator embeds every modality in one common space;
    ``transform(X_multi)`` returns a :class:`~skcross.MultiModal` of
    embeddings, which a scikit-learn classifier or clusterer cannot take.
    ``Fuse`` is the step between them: it averages the modalities' embeddings
    (they live in one space), concatenates them, or keeps one modality's.
    It learns nothing (``fit`` only records the modalities and their widths,
    for ``get_feature_names_out`` and to check later input).

    Parameters
    ----------
    how : "mean", "concat", str or int, default="mean"
        ``"mean"``: the element-wise mean of the modalities' embeddings (they
        must have the same width). ``"concat"``: the embeddings side by side,
        in modality order. A modality name or position: that modality's
        embeddings only. (A modality called ``"mean"`` or ``"concat"`` can be
        chosen by its position.)

    Attributes
    ----------
    modalities_ : list of str
        Modality names seen in ``fit``.
    n_features_in_ : list of int
        Width of each modality's input.
    feature_names_in_ : list of ndarray or None
        Column names of each modality (None where it had none); only set when
        some modality was a DataFrame.

    See Also
    --------
    PerModality : One scikit-learn transformer per modality, before the common space.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross import Fuse, MultiModal
    >>> E = MultiModal({"image": np.array([[1.0, 2.0]]), "text": np.array([[3.0, 4.0]])})
    >>> Fuse().fit_transform(E)
    array([[2., 3.]])
    >>> Fuse(how="concat").fit_transform(E)
    array([[1., 2., 3., 4.]])
    >>> Fuse(how="text").fit(E).get_feature_names_out().tolist()
    ['x0', 'x1']

    In a Pipeline, after the common space and before a classifier:

    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skcross import DSCMR
    >>> from skcross.datasets import make_multimodal_classification
    >>> X, y = make_multimodal_classification(n_samples=120, random_state=0)
    >>> pipe = make_pipeline(
    ...     DSCMR(n_components=8, hidden_layer_sizes=(16,), max_epochs=5, random_state=0),
    ...     Fuse(), LogisticRegression())
    >>> pipe.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {"how": [str, Integral]}

    def __init__(self, how: str | int = "mean"):
        self.how = how

    # ------------------------------------------------------------ validation
    def _check_how(self) -> None:
        self._validate_params()
        if isinstance(self.how, (bool, np.bool_)):
            raise InvalidParameterError(
                f"The 'how' parameter of Fuse must be 'mean', 'concat', a modality name "
                f"(str) or a modality position (int), got {self.how!r}."
            )

    def _arrays(self, X: Any) -> tuple[list, list[str], list]:
        """(validated arrays, names, raw inputs) of multi-modal ``X``."""
        if isinstance(X, np.ndarray) or sp.issparse(X) or _is_dataframe(X):
            raise TypeError(
                "Fuse takes multi-modal input (a MultiModal, or a list or dict of "
                "per-modality arrays, e.g. what a skcross estimator's transform(X) "
                f"returns), got a single {type(X).__name__}, which is already one array."
            )
        raw, names = as_modality_list(X)
        arrays = []
        for a, n in zip(raw, names):
            if sp.issparse(a):
                raise TypeError(f"Fuse: modality {n!r} is a scipy.sparse matrix; embeddings are dense.")
            dtype = getattr(a, "dtype", None)
            keep = dtype if dtype in (np.float32, np.float64) else np.float64
            arrays.append(check_modality_array(a, n, dtype=keep, estimator_name="Fuse"))
        rows = {a.shape[0] for a in arrays}
        if len(rows) > 1:
            detail = ", ".join(f"{n!r}: {a.shape[0]}" for n, a in zip(names, arrays))
            raise ValueError(
                "Fuse needs paired modalities (row i of every modality is one sample); "
                f"they have different numbers of rows ({detail})."
            )
        return arrays, names, raw

    def _resolve(self, names: list[str]) -> int | str:
        """``how`` as "mean", "concat" or a modality position."""
        if isinstance(self.how, str) and self.how in _HOWS:
            return self.how
        try:
            return resolve_modality(self.how, names)
        except ValueError as exc:
            raise ValueError(
                f"Fuse(how={self.how!r}): how must be 'mean', 'concat' or one of the "
                f"modalities {names} (by name or position). {exc}"
            ) from None

    def _check_widths(self, how: Any, arrays: list, names: list[str]) -> None:
        widths = [a.shape[1] for a in arrays]
        if how == "mean" and len(set(widths)) > 1:
            detail = ", ".join(f"{n!r}: {w}" for n, w in zip(names, widths))
            raise ValueError(
                "Fuse(how='mean') averages embeddings of one common space, so every "
                f"modality must have the same width; got {detail}. Use how='concat', "
                "or pick one modality."
            )

    # ------------------------------------------------------------------ API
    def fit(self, X: Any, y: Any = None) -> "Fuse":
        """Record the modalities and their widths (nothing is learned).

        Parameters
        ----------
        X : MultiModal, list, tuple or dict
            One 2-D array of embeddings per modality, all with the same rows.
        y : ignored

        Returns
        -------
        self
        """
        self._check_how()
        arrays, names, raw = self._arrays(X)
        self._check_widths(self._resolve(names), arrays, names)
        self.modalities_ = names
        self.n_features_in_ = [a.shape[1] for a in arrays]
        self._record_feature_names(raw)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Fuse the modalities of ``X`` into one array.

        Parameters
        ----------
        X : MultiModal, list, tuple or dict
            One 2-D array of embeddings per modality, all with the same rows
            (the modalities seen in ``fit``, by name or in the same order).

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            A DataFrame under ``set_output(transform="pandas")``.
        """
        self._check_how()
        arrays, names, raw = self._arrays(X)
        fitted = hasattr(self, "modalities_")
        if fitted:
            arrays, raw, names = self._match_fitted(arrays, raw, names)
        how = self._resolve(names)
        self._check_widths(how, arrays, names)
        if how == "mean":
            out = np.mean(np.stack(arrays), axis=0)
        elif how == "concat":
            out = np.hstack(arrays)
        else:
            out = arrays[how]
        if self._output_container() == "default":
            return out
        original = next((r for r in raw if _is_dataframe(r)), None)
        names_out = self.get_feature_names_out if fitted else _unfitted_names(how, arrays, names)
        return self._wrap_output(out, original, names_out)

    def _match_fitted(self, arrays: list, raw: list, names: list[str]):
        if len(arrays) != len(self.modalities_):
            raise ValueError(
                f"X has {len(arrays)} modalities, but Fuse was fitted on "
                f"{len(self.modalities_)} ({self.modalities_})."
            )
        if set(names) == set(self.modalities_):
            order = [names.index(n) for n in self.modalities_]
            arrays, raw = [arrays[i] for i in order], [raw[i] for i in order]
        elif names != [str(i) for i in range(len(names))]:
            raise ValueError(
                f"X has modalities {names}, but Fuse was fitted on {self.modalities_}."
            )
        for c, (a, n) in enumerate(zip(arrays, self.modalities_)):
            if a.shape[1] != self.n_features_in_[c]:
                raise ValueError(
                    f"Fuse: modality {n!r} has {a.shape[1]} features, but Fuse was fitted "
                    f"with {self.n_features_in_[c]}."
                )
            self._check_feature_names(c, n, raw[c])
        return arrays, raw, list(self.modalities_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the fused columns.

        ``"mean"``: the modalities' common column names (``x0, x1, ...``
        when they have none or they differ); ``"concat"``:
        ``<modality>__<name>``; one modality: its names.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            The input's column names, as ``Pipeline.get_feature_names_out``
            passes them (the common-space names of the estimator before
            ``Fuse``; a ``<modality>__<name>`` list from
            ``PerModality.get_feature_names_out()`` is split by modality). They
            override the names recorded at ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        per_modality = [self._names_of(c, input_features) for c in range(len(self.modalities_))]
        how = self._resolve(self.modalities_)
        if how == "concat":
            return np.asarray(
                [f"{m}__{f}" for m, names in zip(self.modalities_, per_modality) for f in names],
                dtype=object,
            )
        if how == "mean":
            first = per_modality[0]
            if all(len(n) == len(first) and np.all(n == first) for n in per_modality):
                return first
            return default_feature_names(self.n_features_in_[0])
        return per_modality[how]

    def _names_of(self, c: int, input_features: Any) -> np.ndarray:
        """Input column names of modality ``c``."""
        width = self.n_features_in_[c]
        if _is_input_features(input_features):
            names = np.asarray(input_features, dtype=object).ravel()
            prefix = f"{self.modalities_[c]}__"
            prefixed = [str(f)[len(prefix):] for f in names if str(f).startswith(prefix)]
            if len(prefixed) == width:
                return np.asarray(prefixed, dtype=object)
            if len(names) == width:
                return names
            raise ValueError(
                f"Fuse: input_features has {len(names)} names, which match neither the "
                f"width {width} of modality {self.modalities_[c]!r} nor its "
                f"'{prefix}' prefixed names."
            )
        return self._modality_input_names(c)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # stateless: transform works without fit
        tags.input_tags.two_d_array = False  # one array per modality
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _unfitted_names(how: Any, arrays: list, names: list[str]) -> np.ndarray:
    """Output names when ``transform`` is called without ``fit``."""
    if how == "concat":
        return np.asarray(
            [f"{n}__{f}" for n, a in zip(names, arrays) for f in default_feature_names(a.shape[1])],
            dtype=object,
        )
    width = arrays[0 if how == "mean" else how].shape[1]
    return default_feature_names(width)
