"""Per-modality preprocessing inside a Pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ._multimodal import MultiModal
from ._output import OutputMixin, _is_input_features
from ._validation import _is_per_modality_labels, as_modality_list, resolve_modality

__all__ = ["PerModality"]


class PerModality(OutputMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Apply one scikit-learn transformer per modality; output a MultiModal.

    Parameters
    ----------
    transformers : transformer, list or dict
        One transformer for every modality (a clone is fitted to each, as in
        ``PerModality(StandardScaler())``), one transformer per modality in
        order (list) or by modality name (dict). ``"passthrough"`` or ``None``
        leaves a modality as it is. A list of one is *not* broadcast (it is a
        list for one modality).

    Attributes
    ----------
    transformers_ : list
        The fitted clones, one per modality.
    modalities_ : list of str
        Modality names seen in ``fit``.
    n_features_in_ : list of int or None
        Number of input features per modality (None for input that is not a
        2-D array, such as a list of texts).
    feature_names_in_ : list of ndarray or None
        Column names per modality (None where the modality had none); only
        set when some modality was a DataFrame.

    Notes
    -----
    ``set_output(transform="pandas")`` (or ``sklearn.set_config(transform_output="pandas")``)
    makes every modality of the output a DataFrame whose columns are that
    modality's ``get_feature_names_out(modality)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcross import MultiModal, PerModality
    >>> X = MultiModal({"image": np.arange(6.0).reshape(3, 2), "text": np.ones((3, 4))})
    >>> Xt = PerModality({"image": StandardScaler(), "text": "passthrough"}).fit_transform(X)
    >>> Xt.modality("image").mean(axis=0)
    array([0., 0.])
    >>> scaled = PerModality(StandardScaler()).fit_transform(X)   # one clone per modality
    >>> [t.n_features_in_ for t in PerModality(StandardScaler()).fit(X).transformers_]
    [2, 4]
    >>> prep = PerModality({"image": StandardScaler()}).set_output(transform="pandas")
    >>> prep.fit_transform(X).modality("image").columns.tolist()
    ['x0', 'x1']
    >>> prep.get_feature_names_out().tolist()
    ['image__x0', 'image__x1', 'text__x0', 'text__x1', 'text__x2', 'text__x3']
    """

    def __init__(self, transformers: Any):
        self.transformers = transformers

    def _ordered_transformers(self, names: list[str]) -> list:
        spec = self.transformers
        if isinstance(spec, Mapping):
            unknown = set(map(str, spec)) - set(names)
            if unknown:
                raise ValueError(
                    f"PerModality has transformers for unknown modalities {sorted(unknown)}; "
                    f"the data has {names}."
                )
            spec = {str(k): v for k, v in spec.items()}
            return [spec.get(n, "passthrough") for n in names]
        if hasattr(spec, "fit") and hasattr(spec, "transform"):
            return [spec] * len(names)  # fit_transform fits a clone per modality
        if not isinstance(spec, (list, tuple)):
            raise TypeError(
                "PerModality(transformers) takes a transformer (for every modality), a list "
                f"(one per modality) or a dict {{modality name: transformer}}, got {type(spec).__name__}."
            )
        if len(spec) != len(names):
            raise ValueError(
                f"PerModality has {len(spec)} transformers for {len(names)} modalities {names}."
            )
        return list(spec)

    @staticmethod
    def _route_fit_params(fit_params: dict, names: list[str]) -> dict[str, dict]:
        routed: dict[str, dict] = {n: {} for n in names}
        for key, value in fit_params.items():
            modality, sep, param = key.partition("__")
            if not sep or not param:
                raise TypeError(
                    f"PerModality.fit_transform got the fit parameter {key!r}; name it "
                    f"<modality>__<parameter> with a modality of {names} (e.g. {names[0]}__{key})."
                )
            if modality not in routed:
                raise ValueError(
                    f"PerModality: fit parameter {key!r} is for unknown modality {modality!r}; "
                    f"the data has {names}."
                )
            routed[modality][param] = value
        return routed

    def fit(self, X: Any, y: Any = None) -> "PerModality":
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> MultiModal:
        """Fit each modality's transformer and transform that modality.

        ``fit_params`` are routed by modality name, ``<modality>__<param>``
        (e.g. ``image__sample_weight=w``), to that transformer's ``fit_transform``.
        """
        arrays, names = as_modality_list(X)
        routed = self._route_fit_params(fit_params, names)
        transformers = self._ordered_transformers(names)
        self.modalities_ = names
        self.n_features_in_ = [_n_features(a) for a in arrays]
        self._record_feature_names(arrays)
        # Unpaired data carries one label array per modality.
        ys = list(y) if _is_per_modality_labels(y, len(arrays)) else [y] * len(arrays)
        self.transformers_ = []
        out = []
        for name, a, t, y_c in zip(names, arrays, transformers, ys):
            if _is_passthrough(t):
                if routed[name]:
                    raise ValueError(
                        f"PerModality: modality {name!r} is passed through, it takes no fit "
                        f"parameters (got {sorted(routed[name])})."
                    )
                self.transformers_.append("passthrough")
                out.append(a)
                continue
            if not (hasattr(t, "fit") and (hasattr(t, "fit_transform") or hasattr(t, "transform"))):
                raise TypeError(
                    f"PerModality: the transformer of modality {name!r} must be a scikit-learn "
                    f"transformer (with fit and transform), 'passthrough' or None; got {t!r}."
                )
            fitted = clone(t)
            if hasattr(fitted, "fit_transform"):
                out.append(fitted.fit_transform(a, y_c, **routed[name]))
            else:
                out.append(fitted.fit(a, y_c, **routed[name]).transform(a))
            self.transformers_.append(fitted)
        return self._output(out, arrays)

    def transform(self, X: Any) -> MultiModal:
        """Transform each modality with its fitted transformer.

        Parameters
        ----------
        X : list, tuple, dict or MultiModal
            The modalities seen in ``fit`` (by name, or in the same order).

        Returns
        -------
        MultiModal
            The transformed modalities (a dict when they have different
            numbers of rows, i.e. unpaired data).
        """
        check_is_fitted(self)
        arrays, names = as_modality_list(X)
        if len(arrays) != len(self.modalities_):
            raise ValueError(
                f"X has {len(arrays)} modalities, PerModality was fitted on "
                f"{len(self.modalities_)} ({self.modalities_})."
            )
        if set(names) == set(self.modalities_):
            arrays = [arrays[names.index(n)] for n in self.modalities_]
        elif names != [str(i) for i in range(len(names))]:
            raise ValueError(
                f"X has modalities {names}, but PerModality was fitted on {self.modalities_}."
            )
        out = [
            a if _is_passthrough(t) else t.transform(a)
            for a, t in zip(arrays, self.transformers_)
        ]
        return self._output(out, arrays)

    def transform_modality(self, modality: Any, X: Any) -> Any:
        """Transform the samples of one modality with its fitted transformer.

        What :meth:`transform` does to that modality, for data that holds only
        it: a database of one modality to index, or queries of one modality
        (see :class:`~skcross.CrossModalIndex` with a Pipeline).

        Parameters
        ----------
        modality : int or str
            Position or name of the modality (as in ``modalities_``).
        X : array-like of shape (n_samples, n_features)
            Samples of that modality.

        Returns
        -------
        Xt : array-like
            The transformed samples (``X`` itself for a passed-through
            modality), in the configured output container.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.preprocessing import StandardScaler
        >>> from skcross import MultiModal, PerModality
        >>> X = MultiModal({"image": np.arange(6.0).reshape(3, 2), "text": np.ones((3, 4))})
        >>> prep = PerModality({"image": StandardScaler()}).fit(X)
        >>> prep.transform_modality("image", [[2.0, 3.0]])
        array([[0., 0.]])
        """
        check_is_fitted(self)
        c = resolve_modality(modality, self.modalities_)
        t = self.transformers_[c]
        out = X if _is_passthrough(t) else t.transform(X)
        if self._output_container() != "default":
            out = self._wrap_output(
                out, X, lambda: self.get_feature_names_out(c), where=f"modality {self.modalities_[c]!r}"
            )
        return out

    def _output(self, out: list, inputs: list):
        """The transformed modalities as a MultiModal (a dict when unpaired),
        in the configured container."""
        if self._output_container() != "default":
            out = [
                self._wrap_output(o, a, lambda c=c: self.get_feature_names_out(c), where=f"modality {n!r}")
                for c, (o, a, n) in enumerate(zip(out, inputs, self.modalities_))
            ]
        if len({_n_rows(o) for o in out}) > 1:  # unpaired input stays a dict
            return dict(zip(self.modalities_, out))
        return MultiModal(out, names=self.modalities_)

    def get_feature_names_out(self, modality: Any = None) -> np.ndarray:
        """Output feature names, of one modality or of all.

        Parameters
        ----------
        modality : int, str or None, default=None
            A modality: the names of its transformer's output (its input
            names for a passed-through modality). None: the names of every
            modality, each prefixed with ``<modality>__`` (as
            ``ColumnTransformer`` does). Names passed by
            ``Pipeline.get_feature_names_out`` are treated as None.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        if modality is None or _is_input_features(modality):
            return np.asarray(
                [
                    f"{name}__{f}"
                    for c, name in enumerate(self.modalities_)
                    for f in self.get_feature_names_out(c)
                ],
                dtype=object,
            )
        c = resolve_modality(modality, self.modalities_)
        t = self.transformers_[c]
        if _is_passthrough(t):
            if self.n_features_in_[c] is None:
                raise ValueError(
                    f"PerModality: modality {self.modalities_[c]!r} is passed through and "
                    "is not a 2-D array, so it has no feature names."
                )
            return self._modality_input_names(c)
        if not hasattr(t, "get_feature_names_out"):
            raise AttributeError(
                f"PerModality: the transformer of modality {self.modalities_[c]!r} "
                f"({type(t).__name__}) has no get_feature_names_out, so its output "
                "columns have no names."
            )
        return np.asarray(t.get_feature_names_out(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # one array per modality
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = []  # up to each transformer
        return tags


def _is_passthrough(t: Any) -> bool:
    return t is None or (isinstance(t, str) and t == "passthrough")


def _n_rows(a: Any) -> int:
    shape = getattr(a, "shape", None)
    return shape[0] if shape is not None and len(shape) else len(a)


def _n_features(a: Any) -> int | None:
    shape = getattr(a, "shape", None)
    return int(shape[1]) if shape is not None and len(shape) == 2 else None
