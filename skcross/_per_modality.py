"""Per-modality preprocessing inside a Pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ._multimodal import MultiModal
from ._validation import _is_per_modality_labels, as_modality_list

__all__ = ["PerModality"]


class PerModality(TransformerMixin, BaseEstimator):
    """Apply one scikit-learn transformer per modality; output a MultiModal.

    Parameters
    ----------
    transformers : list or dict
        One transformer per modality, in order (list) or by modality name (dict).
        ``"passthrough"`` or ``None`` leaves a modality as it is. A single
        transformer given as a list of one is *not* broadcast: be explicit.

    Attributes
    ----------
    transformers_ : list
        The fitted clones, one per modality.
    modalities_ : list of str
        Modality names seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcross import MultiModal, PerModality
    >>> X = MultiModal({"image": np.arange(6.0).reshape(3, 2), "text": np.ones((3, 4))})
    >>> Xt = PerModality({"image": StandardScaler(), "text": "passthrough"}).fit_transform(X)
    >>> Xt.modality("image").mean(axis=0)
    array([0., 0.])
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
        if not isinstance(spec, (list, tuple)):
            raise TypeError(
                "PerModality(transformers) takes a list (one per modality) or a dict "
                f"{{modality name: transformer}}, got {type(spec).__name__}."
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
        self.modalities_ = names
        # Unpaired data carries one label array per modality.
        ys = list(y) if _is_per_modality_labels(y, len(arrays)) else [y] * len(arrays)
        self.transformers_ = []
        out = []
        for name, a, t in zip(names, arrays, self._ordered_transformers(names)):
            if t is None or t == "passthrough":
                if routed[name]:
                    raise ValueError(
                        f"PerModality: modality {name!r} is passed through, it takes no fit "
                        f"parameters (got {sorted(routed[name])})."
                    )
                self.transformers_.append("passthrough")
                out.append(a)
                continue
            fitted = clone(t)
            out.append(fitted.fit_transform(a, ys[len(out)], **routed[name]))
            self.transformers_.append(fitted)
        if len({o.shape[0] for o in out}) > 1:
            return dict(zip(names, out))
        return MultiModal(out, names=names)

    def transform(self, X: Any) -> MultiModal:
        check_is_fitted(self)
        arrays, names = as_modality_list(X)
        if len(arrays) != len(self.modalities_):
            raise ValueError(
                f"X has {len(arrays)} modalities, PerModality was fitted on "
                f"{len(self.modalities_)} ({self.modalities_})."
            )
        if set(names) == set(self.modalities_):
            arrays = [arrays[names.index(n)] for n in self.modalities_]
        out = [a if t == "passthrough" else t.transform(a) for a, t in zip(arrays, self.transformers_)]
        if len({o.shape[0] for o in out}) > 1:  # unpaired input stays a list
            return dict(zip(self.modalities_, out))
        return MultiModal(out, names=self.modalities_)

