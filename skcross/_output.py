"""Output conventions shared by skcross transformers.

scikit-learn's ``set_output`` machinery (``_SetOutputMixin``) wraps
``transform(X)`` automatically once a class defines ``get_feature_names_out``.
skcross transformers do not fit it: ``transform(modality, X)`` takes the
modality first, and ``transform(X_multi)`` returns a :class:`MultiModal`, which
no adapter can wrap. :class:`OutputMixin` therefore switches the automatic
wrapping off (for the class and every subclass) and provides ``set_output``
itself, storing the choice where scikit-learn does (``_sklearn_output_config``),
so ``sklearn.set_config(transform_output="pandas")`` is honoured too.

It also records and checks per-modality feature names (``feature_names_in_``)
with scikit-learn's semantics, one modality at a time.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.utils._set_output import ADAPTERS_MANAGER, _get_output_config, _SetOutputMixin
from sklearn.utils.validation import _get_feature_names, check_is_fitted

from ._multimodal import MultiModal
from ._validation import as_modality_list, resolve_modality

__all__ = ["CrossModalOutputMixin", "OutputMixin", "default_feature_names", "modality_feature_names"]


def default_feature_names(n_features: int, prefix: str = "x") -> np.ndarray:
    """``prefix0, prefix1, ...`` as an object array (scikit-learn's default names)."""
    return np.asarray([f"{prefix}{i}" for i in range(n_features)], dtype=object)


def modality_feature_names(X: Any) -> np.ndarray | None:
    """Column names of one modality's data (a DataFrame), or None.

    Like scikit-learn: names are taken only when every column name is a
    string; mixed string and non-string names raise ``TypeError``.
    """
    if isinstance(X, MultiModal):
        return None
    return _get_feature_names(X)


def _is_input_features(arg: Any) -> bool:
    """True for what Pipeline.get_feature_names_out passes on (names of the
    previous step's output), as opposed to a modality (int or str)."""
    return not (arg is None or isinstance(arg, (str, int, np.integer)))


class OutputMixin:
    """``set_output``, output wrapping and per-modality feature-name checks.

    Inherit it before ``TransformerMixin``. Subclasses call
    ``_wrap_output(Y, original, columns)`` on a 2-D result and
    ``_wrap_multimodal(mm, originals, columns)`` on a MultiModal result.
    """

    def __init_subclass__(cls, auto_wrap_output_keys: Any = None, **kwargs: Any) -> None:
        # Always off, also for subclasses that do not repeat the class keyword:
        # scikit-learn's wrapper assumes transform(X) -> one 2-D array.
        if issubclass(cls, _SetOutputMixin):
            kwargs["auto_wrap_output_keys"] = None
        super().__init_subclass__(**kwargs)

    def set_output(self, *, transform: str | None = None):
        """Set the output container of ``transform`` and ``fit_transform``.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None, default=None
            ``"pandas"``: ``transform(modality, X)`` returns a DataFrame whose
            columns are ``get_feature_names_out()`` and whose index is the
            input's when the input was a DataFrame; multi-modal results are a
            :class:`~skcross.MultiModal` of DataFrames. ``"default"``: arrays.
            ``None``: unchanged (the global ``sklearn.set_config(transform_output=...)``
            applies until ``set_output`` is called).

        Returns
        -------
        self : estimator instance
        """
        if transform is None:
            return self
        supported = ADAPTERS_MANAGER.supported_outputs
        if transform not in supported:
            raise ValueError(
                f"{type(self).__name__}.set_output: transform must be one of "
                f"{sorted(supported)} or None, got {transform!r}."
            )
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    # ------------------------------------------------------------- wrapping
    def _output_container(self) -> str:
        """"default", "pandas" or "polars": this estimator's or the global setting."""
        return _get_output_config("transform", self)["dense"]

    def _wrap_output(self, Y: Any, original: Any, columns: Any, where: str = "the output") -> Any:
        """``Y`` in the configured container (``original`` gives the row index)."""
        container = self._output_container()
        if container == "default":
            return Y
        if sp.issparse(Y):
            raise ValueError(
                f"{type(self).__name__}: {where} is a scipy.sparse matrix, which a "
                f"{container} DataFrame cannot hold; make it dense or use "
                "set_output(transform='default')."
            )
        adapter = ADAPTERS_MANAGER.adapters[container]
        if adapter.is_supported_container(Y):
            return adapter.rename_columns(Y, columns() if callable(columns) else columns)
        return adapter.create_container(Y, original, columns=columns, inplace=False)

    def _wrap_multimodal(self, mm: MultiModal, originals: Sequence[Any], columns: Sequence[Any]) -> MultiModal:
        """A MultiModal whose modalities are in the configured container."""
        if self._output_container() == "default":
            return mm
        arrays = [
            self._wrap_output(a, o, c, where=f"modality {n!r}")
            for a, o, c, n in zip(mm.modalities(), originals, columns, mm.names)
        ]
        return MultiModal(arrays, names=mm.names)

    # -------------------------------------------------------- feature names
    def _record_feature_names(self, arrays: Sequence[Any]) -> None:
        """Set ``feature_names_in_`` (one entry per modality, None where the
        modality had no column names) or delete it when no modality had names."""
        names = [modality_feature_names(a) for a in arrays]
        if any(n is not None for n in names):
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _check_feature_names(self, index: int, name: str, X: Any) -> None:
        """scikit-learn's feature-name check for the modality at ``index``."""
        fitted_all = getattr(self, "feature_names_in_", None)
        fitted = fitted_all[index] if fitted_all is not None and index < len(fitted_all) else None
        given = modality_feature_names(X)
        who = type(self).__name__
        if fitted is None and given is None:
            return
        if fitted is None:
            warnings.warn(
                f"X of modality {name!r} has feature names, but {who} was fitted "
                "without feature names for it",
                UserWarning,
                stacklevel=4,
            )
            return
        if given is None:
            warnings.warn(
                f"X of modality {name!r} does not have valid feature names, but {who} "
                "was fitted with feature names",
                UserWarning,
                stacklevel=4,
            )
            return
        if len(fitted) == len(given) and np.all(fitted == given):
            return
        unseen = sorted(set(given) - set(fitted))
        missing = sorted(set(fitted) - set(given))
        detail = []
        if unseen:
            detail.append(f"unseen at fit time: {unseen[:5]}{' ...' if len(unseen) > 5 else ''}")
        if missing:
            detail.append(f"seen at fit time, yet now missing: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if not detail:
            detail.append("they must be in the same order as in fit")
        raise ValueError(
            f"{who}: the feature names of modality {name!r} should match those that were "
            f"passed during fit; {'; '.join(detail)}."
        )

    def _modality_input_names(self, index: int) -> np.ndarray:
        """The fitted input feature names of modality ``index`` (``x0, ...`` when none)."""
        fitted_all = getattr(self, "feature_names_in_", None)
        fitted = fitted_all[index] if fitted_all is not None and index < len(fitted_all) else None
        if fitted is not None:
            return np.asarray(fitted, dtype=object)
        return default_feature_names(self.n_features_in_[index])


class CrossModalOutputMixin(OutputMixin):
    """Output conventions of :class:`~skcross.base.CrossModalEstimator`.

    Every modality is embedded in one common space, so the output feature
    names are the same for every modality: the lowercase class name and the
    coordinate, ``dscmr0, dscmr1, ...`` (as scikit-learn's decomposition
    estimators name theirs).

    The width of the common space is recorded at fit time (``fit`` embeds
    training rows anyway, to check for collapse), so nothing is embedded again;
    an estimator whose width is known differently overrides ``_embedding_width``.
    """

    def _embedding_width(self) -> int:
        """Number of coordinates of the common space of the fitted model."""
        width = getattr(self, "_embedding_width_", None)
        if width is None:  # a model pickled before the width was recorded
            width = getattr(self, "n_components", None)
        if width is None:
            raise AttributeError(
                f"{type(self).__name__} does not know the width of its common space; "
                "implement _embedding_width()."
            )
        return int(width)

    # dtype of the embeddings, whatever the input dtype (for the tags); an
    # estimator whose ``_transform`` returns another dtype sets it.
    _output_dtype: Any = np.float32

    def get_feature_names_out(self, modality: Any = None) -> np.ndarray:
        """Names of the common-space coordinates: ``<classname>0, <classname>1, ...``.

        Parameters
        ----------
        modality : int, str or None, default=None
            A modality (checked to exist); the names are the same for every
            modality, as they share the common space. Feature names passed by
            ``Pipeline.get_feature_names_out`` (the previous step's output
            names) are accepted and do not change the result.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        if modality is not None and not _is_input_features(modality):
            resolve_modality(modality, self.modalities_)
        return default_feature_names(self._embedding_width(), type(self).__name__.lower())

    def _ordered_inputs(self, X: Any) -> list:
        """The raw per-modality inputs of multi-modal ``X``, in fitted order
        (only their row index is used, to label pandas output)."""
        arrays, names = as_modality_list(X)
        if set(names) == set(self.modalities_) and len(names) == len(self.modalities_):
            arrays = [arrays[names.index(n)] for n in self.modalities_]
        return arrays

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The input is multi-modal (one array per modality), not one 2-D array;
        # scikit-learn's tags have no field for it, and two_d_array=False keeps
        # its generic 2-D checks away.
        tags.input_tags.two_d_array = False
        tags.input_tags.sparse = bool(getattr(self, "_accept_sparse", False))
        tags.target_tags.required = bool(getattr(self, "_requires_labels", False))
        if tags.transformer_tags is not None:
            # The embeddings have one dtype whatever the input's (float32 for
            # most estimators): only that dtype is preserved.
            tags.transformer_tags.preserves_dtype = [np.dtype(self._output_dtype).name]
        return tags
