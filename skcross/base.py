"""The base class of every skcross estimator.

It owns everything that is not the method itself: input validation, the
multi-modal container, labels, the common-space API (``transform``, ``embed``,
``retrieve``, ``score``), devices, progress, and persistence. A method
implements two hooks, ``_fit(data)`` and ``_transform(index, X)``.
"""

from __future__ import annotations

import contextlib
from numbers import Integral, Real
import warnings
from itertools import permutations
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._multimodal import MultiModal
from ._output import CrossModalOutputMixin
from ._power import PowerTransform, fit_power_transform, power_fit_rows
from ._streaming import HostRows, streaming_standardization
from ._torch_utils import derive_seed, resolve_device
from ._validation import (
    FitData,
    _is_per_modality_labels,
    as_modality_list,
    check_modality_array,
    resolve_modality,
    validate_fit_data,
)
from ._version import __version__
from .exceptions import IncompatibleVersionError, TrainingDivergedError
from .metrics import cross_modal_recall, mean_average_precision, top_k_similarities

__all__ = [
    "CrossModalEstimator",
    "agreement_weights",
    "check_finite_loss",
    "complete_to_unit_norm",
    "standardization",
    "COMMON_CONSTRAINTS",
    "POSTERIOR_READOUT_CONSTRAINTS",
    "TRAINING_CONSTRAINTS",
]

# Named random streams derived from ``random_state``: each use of randomness in
# a fit draws from its own stream, so changing one (say, the validation split)
# never shifts another (the initial weights). Offsets (a modality's position, a
# layer) give further independent streams within one purpose.
SEED_STREAMS = {"init": 0, "shuffle": 1, "split": 2, "sample": 3, "projection": 4, "agreement": 5}

# Constraints of the parameters every estimator shares (scikit-learn's
# ``_parameter_constraints`` vocabulary); an estimator merges them into its own.
COMMON_CONSTRAINTS: dict = {
    "standardize": ["boolean", StrOptions({"auto"})],
    "random_state": ["random_state"],
    "device": [str, torch.device],
    "verbose": ["verbose"],
}

# Constraints of the mini-batch training parameters, shared by every estimator
# trained by epochs (the skorch-based ones and MinVIRBM): one name, one rule.
TRAINING_CONSTRAINTS: dict = {
    "lr": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
}

# Constraints of how class posteriors are read out, shared by every estimator that
# embeds them (SDML, DSCMR, the label-space baseline).
POSTERIOR_READOUT_CONSTRAINTS: dict = {
    "posterior_temperature": [Interval(Real, 0, None, closed="neither")],
    "posterior_similarity": [StrOptions({"probability", "cosine"})],
}

# A feature whose spread is this small relative to its magnitude is constant up
# to rounding (x + 1e8 with unit spread is 1e-8; a constant column is 0).
_CONSTANT_FEATURE_RTOL = 1e-10
# Embeddings whose rows differ by less than this (relative, see
# ``_embedding_spread``) carry no information for ranking.
_COLLAPSE_TOL = 1e-4
# Rows per modality embedded to check a fit for collapse.
_COLLAPSE_CHECK_ROWS = 512
# Rows embedded at a time to average a modality's training embeddings (center_embeddings).
_MEAN_BLOCK_ROWS = 8192
# Training pairs whose embeddings estimate the agreement weights (weight_by_agreement): a
# random subset beyond this many, so that the cost stays bounded on large data (the
# correlation's standard error is then at most about 0.016) and the embeddings fit in memory.
_AGREEMENT_MAX_ROWS = 4096


def blockwise_mean(embed: Callable[[slice], Any], n_rows: int) -> np.ndarray:
    """Column means of ``embed(rows)`` over ``n_rows`` rows, taken in blocks of
    rows (a streamed modality is read once and never held whole), in float64."""
    total = None
    for start in range(0, n_rows, _MEAN_BLOCK_ROWS):
        block = np.asarray(embed(slice(start, start + _MEAN_BLOCK_ROWS)), dtype=np.float64).sum(axis=0)
        total = block if total is None else total + block
    return total / n_rows


def agreement_weights(embeddings: list) -> np.ndarray:
    """How well paired embeddings of the modalities agree, per dimension.

    ``embeddings`` holds one ``(n_pairs, n_dims)`` array per modality, row
    ``i`` of each embedding the same pair. For each dimension: the Pearson
    correlation over the pairs between two modalities' embeddings, averaged
    over every pair of modalities and clipped at 0 (0 for a constant
    dimension). Under a simple model in which each modality's embedding of a
    dimension is the shared value plus its own noise, this correlation is the
    share of the variance that is shared, the factor that shrinks a noisy
    estimate towards its mean (a Wiener weight). Computed in float64.
    """
    E = [np.asarray(e, dtype=np.float64) for e in embeddings]
    E = [e - e.mean(axis=0) for e in E]
    norms = [np.sqrt((e * e).sum(axis=0)) for e in E]
    correlations = []
    for i in range(len(E)):
        for j in range(i + 1, len(E)):
            scale = norms[i] * norms[j]
            cov = (E[i] * E[j]).sum(axis=0)
            correlations.append(np.divide(cov, scale, out=np.zeros_like(cov), where=scale > 0))
    return np.clip(np.mean(correlations, axis=0), 0.0, None)


def complete_to_unit_norm(E: Any, position: int, n_modalities: int) -> np.ndarray:
    """The rows of ``E`` (norms at most 1) with ``n_modalities`` columns
    appended: all 0 but column ``position``, which holds ``sqrt(1 - ||row||^2)``.

    Every row then has unit norm, so the cosine of a row of ``position`` and a
    row completed at another position equals the dot product of the two
    original rows. For class posteriors that dot product is the probability
    that the two samples share a class, and ranking by it is what retrieving
    a class asks for; the cosine of the posteriors themselves divides by the
    target's norm and so favours uncertain targets. Two rows of the same
    position share the column, so their cosine adds the product of their
    completions: for retrieval inside one modality, compare the posteriors
    by cosine instead. Computed in float64, returned in ``E``'s dtype (rows
    of norm above 1 by rounding get 0).
    """
    E = np.asarray(E)
    rows = E.astype(np.float64, copy=False)
    completion = np.zeros((E.shape[0], n_modalities))
    completion[:, position] = np.sqrt(np.clip(1.0 - np.einsum("ij,ij->i", rows, rows), 0.0, None))
    return np.hstack([rows, completion]).astype(E.dtype, copy=False)


def standardization(X: Any) -> tuple[np.ndarray | None, np.ndarray]:
    """Per-feature mean and scale of ``X``, computed in float64.

    Dense input is centred and scaled; sparse input is only scaled (centring
    would make it dense), like ``StandardScaler(with_mean=False)``. A constant
    feature, one whose standard deviation is negligible next to its magnitude,
    gets scale 1, so that rounding noise is not blown up into signal. A
    streamed modality (:class:`~skcross._streaming.HostRows`, e.g. a memmap)
    is read in two passes by row chunks; its statistics equal the in-memory
    ones exactly.

    Returns
    -------
    mean : ndarray of shape (n_features,), float64, or None for sparse input
    scale : ndarray of shape (n_features,), float64
    """
    if isinstance(X, HostRows):
        return streaming_standardization(X, _CONSTANT_FEATURE_RTOL)
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
        mean = np.asarray(X.mean(axis=0)).ravel()
        var = np.asarray(X.multiply(X).mean(axis=0)).ravel() - mean**2
        std = np.sqrt(np.maximum(var, 0.0))
        magnitude, center = np.abs(mean), None
    else:
        X = np.asarray(X, dtype=np.float64)
        center = X.mean(axis=0)
        std = X.std(axis=0)
        magnitude = np.abs(center)
    constant = (std == 0) | (std <= _CONSTANT_FEATURE_RTOL * magnitude)
    return center, np.where(constant, 1.0, std)


def _embedding_spread(E: np.ndarray, metric: str) -> float:
    """How much the rows of ``E`` differ, relative to their size (0: all equal).

    For cosine retrieval the rows are normalised first (their direction is
    what ranks); otherwise the RMS deviation from the mean row is divided by
    the RMS row norm.
    """
    E = np.asarray(E, dtype=np.float64)
    if E.shape[0] < 2:
        return np.inf
    if metric == "cosine":
        norms = np.linalg.norm(E, axis=1, keepdims=True)
        E = E / np.where(norms > 0, norms, 1.0)
        size = 1.0
    else:
        size = float(np.sqrt(np.mean(np.sum(E**2, axis=1))))
    deviation = float(np.sqrt(np.mean(np.sum((E - E.mean(axis=0)) ** 2, axis=1))))
    return deviation / size if size > 0 else 0.0


def _compatible(saved: str, current: str) -> bool:
    """Models load across patch releases; a different major.minor is refused."""
    return saved.split(".")[:2] == current.split(".")[:2]


def check_saved_version(saved: str | None, what: str, remedy: str) -> None:
    """Refuse a pickle written by an incompatible skcross version, with a clear message."""
    if saved is not None and not _compatible(saved, __version__):
        raise IncompatibleVersionError(
            f"This {what} was saved with skcross {saved}; skcross {__version__} cannot "
            f"load it. Install skcross=={saved} to load it, or {remedy}."
        )


def check_finite_loss(loss: float, epoch: int, estimator_name: str, hint: str = "") -> None:
    """Stop training with a clear error when the loss stops being finite."""
    if not np.isfinite(loss):
        cause = hint or (
            "the learning rate is likely too high for these inputs, or the inputs "
            "are badly scaled (standardise them, e.g. with PerModality(StandardScaler()))"
        )
        raise TrainingDivergedError(
            f"{estimator_name}: the training loss became {loss} at epoch {epoch}; {cause}."
        )


class CrossModalEstimator(
    CrossModalOutputMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None
):
    """Base class of the skcross estimators: a common space for several modalities.

    Subclasses implement ``_fit(data)`` (``data`` is a validated
    :class:`~skcross._validation.FitData`) and ``_transform(index, X)`` (embed
    validated samples of the modality at position ``index``). Everything else,
    the public API below, is shared.

    Class attributes a subclass may override:

    - ``_requires_pairs``: the method needs paired samples (default True).
    - ``_requires_labels``: ``fit`` needs ``y`` (default True).
    - ``_accept_sparse``: scipy.sparse input is accepted (default False).
    - ``_stream_inputs``: a ``numpy.memmap`` (or an array too large to copy)
      is validated, standardised and read by chunks instead of copied whole:
      ``_fit``/``_transform`` then receive a
      :class:`~skcross._streaming.HostRows` for it (default False).
    - ``_input_dtype``: dtype arrays are converted to (default float32).
    - ``_retrieval_metric``: similarity used by ``score``/``retrieve`` ("cosine").
    - ``_output_dtype``: dtype of the embeddings, for the tags (float32).
    - ``_quick_test_params``: parameters that make ``fit`` fast, for the common
      tests that run over every exported estimator.

    Fitted attributes set for every estimator: ``modalities_`` (names),
    ``n_modalities_``, ``n_features_in_`` (list, one per modality), and
    ``classes_`` / ``multilabel_`` when labels were given, ``feature_names_in_``
    (list, None for a modality without column names) when a modality was a
    DataFrame. Output conventions (``get_feature_names_out``, ``set_output``,
    the tags) come from :class:`~skcross._output.CrossModalOutputMixin`.
    """

    _requires_pairs: bool = True
    _requires_labels: bool = True
    _accept_sparse: bool = False
    _stream_inputs: bool = False
    _input_dtype: Any = np.float32
    _retrieval_metric: str = "cosine"
    _min_modalities: int = 2
    _quick_test_params: dict = {}
    _parameter_constraints: dict = {}
    # What the collapse warning suggests when a modality's embeddings are constant.
    _collapse_remedy: str = (
        "check that the modality varies (constant or duplicated columns?), "
        "keep standardize on (True or 'auto'), or try another learning rate or more epochs"
    )

    # ------------------------------------------------------------------ hooks
    def _fit(self, data: FitData) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _transform(self, index: int, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _get_retrieval_metric(self) -> str:
        """The similarity ``score`` and ``retrieve`` rank by."""
        return self._retrieval_metric

    def _check_params(self) -> None:
        """Checks beyond ``_parameter_constraints`` (several parameters together,
        the device being present); run before the data are looked at. Subclasses
        extend it and call ``super()._check_params()``."""
        if "device" in self.get_params(deep=False):
            resolve_device(self.device)

    def _standardized_modalities(self, data: FitData) -> list[bool]:
        """Which modalities are standardised; ``data`` holds the raw float64 input.

        By default every modality when ``standardize`` is set. Methods whose
        likelihood needs the raw scale of some modalities (binary units,
        Bernoulli decoders) override this.
        """
        return [bool(getattr(self, "standardize", True))] * len(data.X)

    # -------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None) -> "CrossModalEstimator":
        """Learn the common space.

        Parameters
        ----------
        X : list, tuple, dict or MultiModal
            One array ``(n_samples_c, n_features_c)`` per modality.
        y : array-like, list of array-like, or None
            Class labels ``(n_samples,)``, a binary indicator matrix
            ``(n_samples, n_labels)`` for multi-label data, or, for unpaired
            data, a list with one such array per modality.

        Returns
        -------
        self
        """
        self._validate_params()
        self._check_params()
        data = self._validate_fit_data(X, y)
        self.embedding_means_ = None
        self.dimension_weights_ = None
        self._fit(data)
        collapsed = self._check_not_collapsed(data)
        # Both read-outs are kept whatever their parameter's value, so that
        # set_params(center_embeddings=..., weight_by_agreement=...) after fit takes effect.
        if hasattr(self, "center_embeddings"):
            self.embedding_means_ = [
                blockwise_mean(lambda rows: self._transform(c, X_c[rows]), X_c.shape[0])
                for c, X_c in enumerate(data.X)
            ]
        if hasattr(self, "weight_by_agreement"):
            self.dimension_weights_ = self._fit_dimension_weights(data, warn=not collapsed)
        return self

    def _fit_dimension_weights(self, data: FitData, warn: bool = True) -> np.ndarray:
        """``agreement_weights`` of the training pairs' embeddings; uniform when
        the modalities agree on no dimension, with a warning unless a collapsed
        modality (already reported) explains it."""
        n = data.X[0].shape[0]
        rows = np.arange(n)
        if n > _AGREEMENT_MAX_ROWS:
            rng = np.random.RandomState(self._seed("agreement"))
            rows = np.sort(rng.choice(n, _AGREEMENT_MAX_ROWS, replace=False))
        weights = agreement_weights([self._transform(c, X_c[rows]) for c, X_c in enumerate(data.X)])
        if not weights.any():
            if warn:
                warnings.warn(
                    f"{type(self).__name__}: the modalities' embeddings of the training pairs are "
                    "uncorrelated in every dimension, so the model found no structure they share; "
                    "the dimensions are left unweighted. Check that the samples are paired.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
            weights = np.ones_like(weights)
        return weights

    def _validate_fit_data(self, X: Any, y: Any) -> FitData:
        # Validated in float64 and standardised before any cast, so that inputs
        # scaled by 1e-9 or offset by 1e8 lose nothing to float32 rounding.
        data = validate_fit_data(
            X,
            y,
            estimator_name=type(self).__name__,
            requires_pairs=self._requires_pairs,
            requires_labels=self._requires_labels,
            accept_sparse=self._accept_sparse,
            dtype=np.float64,
            min_modalities=self._min_modalities,
            stream=self._stream_inputs,
        )
        self.modalities_ = list(data.names)
        self._record_feature_names(as_modality_list(X)[0])
        self.n_modalities_ = len(data.names)
        self.n_features_in_ = [x.shape[1] for x in data.X]
        if data.Y is not None:
            self.classes_ = data.classes
            self.multilabel_ = data.multilabel
        self.feature_mean_, self.feature_scale_, self.feature_power_ = [], [], []
        for X_c, standardize in zip(data.X, self._standardized_modalities(data)):
            self._record_standardization(X_c, standardize)
        data.X = [self._standardize(c, X_c) for c, X_c in enumerate(data.X)]
        return data

    def _record_standardization(self, X: Any, standardize: bool) -> None:
        """Fit and record the standardisation of one modality (``X`` validated
        in float64): per-feature mean and scale, then, with
        ``standardize="auto"``, the power transform of its highly skewed features
        (dense or streamed input; sparse input is only scaled)."""
        mean, scale = standardization(X) if standardize else (None, None)
        power = None
        if standardize and getattr(self, "standardize", True) == "auto" and not sp.issparse(X):
            rows = power_fit_rows(X.shape[0])
            if isinstance(X, HostRows):
                Z = X.standardized(mean, scale, np.float64).read(rows)
            else:
                Z = (np.asarray(X)[rows] - mean) / scale
            power = fit_power_transform(Z)
        self.feature_mean_.append(mean)
        self.feature_scale_.append(scale)
        self.feature_power_.append(power)

    def _feature_power(self, index: int) -> PowerTransform | None:
        # Models pickled before ``feature_power_`` existed have none.
        powers = getattr(self, "feature_power_", None)
        return powers[index] if powers is not None else None

    def _standardize(self, index: int, X: Any) -> Any:
        """Validated float64 samples of modality ``index``, standardised as at
        fit time and cast to ``_input_dtype``."""
        mean, scale = self.feature_mean_[index], self.feature_scale_[index]
        power = self._feature_power(index)
        if isinstance(X, HostRows):  # standardised and cast as rows are read
            return X.standardized(mean, scale, self._input_dtype, power)
        if sp.issparse(X) and mean is not None:
            # Fitted on dense data (centred): sparse samples must be centred too.
            X = X.toarray()
        if sp.issparse(X):
            if scale is not None:
                X = sp.csr_matrix(X.multiply(1.0 / scale))
            return X.astype(self._input_dtype)
        if scale is not None:
            X = (X - mean) / scale if mean is not None else X / scale
        if power is not None:
            X = power.apply(X, copy=False)  # X is the fresh standardised array
        return np.ascontiguousarray(X, dtype=self._input_dtype)

    def _unstandardize(self, index: int, X: np.ndarray) -> np.ndarray:
        """Map standardised values of modality ``index`` back to the input scale."""
        mean, scale = self.feature_mean_[index], self.feature_scale_[index]
        if scale is None:
            return X
        power = self._feature_power(index)
        if power is not None:
            X = power.invert(X)
        X = np.asarray(X, dtype=np.float64) * scale
        return X + mean if mean is not None else X

    def _add_modality_standardization(self, X: Any, standardize: bool) -> Any:
        """Record the standardisation of a modality added after ``fit``; return
        its standardised samples (``X`` validated in float64)."""
        if getattr(self, "feature_power_", None) is None:
            self.feature_power_ = [None] * len(self.feature_mean_)
        self._record_standardization(X, standardize)
        return self._standardize(len(self.feature_mean_) - 1, X)

    def _check_not_collapsed(self, data: FitData) -> bool:
        """Warn when a modality's embeddings of training samples are (nearly)
        constant; returns whether one was.

        A model that learned nothing must say so: constant embeddings rank
        every item the same and would otherwise pass silently.
        """
        metric = self._get_retrieval_metric()
        collapsed = False
        for c, X_c in enumerate(data.X):
            emb = self._transform(c, X_c[:_COLLAPSE_CHECK_ROWS])
            self._embedding_width_ = int(emb.shape[1])
            if _embedding_spread(emb, metric) < _COLLAPSE_TOL:
                warnings.warn(
                    f"{type(self).__name__}: the embeddings of modality "
                    f"{self.modalities_[c]!r} are (nearly) constant, so the model learned "
                    f"nothing usable for it; {self._collapse_remedy}.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
                collapsed = True
        return collapsed

    def _embedding(self, index: int, X: Any) -> np.ndarray:
        """``_transform``, centred on the modality's mean training embedding
        when the estimator centres its embeddings (``center_embeddings``),
        each dimension scaled by the modalities' agreement on it when it
        weighs them (``weight_by_agreement``), and completed to unit norm when
        cross-modal cosine must equal the dot product of the class posteriors
        (``posterior_similarity="probability"``)."""
        emb = self._transform(index, X)
        means = getattr(self, "embedding_means_", None)
        weights = getattr(self, "dimension_weights_", None)
        out = emb
        if means is not None and getattr(self, "center_embeddings", False):
            out = out - means[index]
        if weights is not None and getattr(self, "weight_by_agreement", False):
            out = out * weights
        if self._compares_posteriors_by_probability():
            out = complete_to_unit_norm(out, index, self.n_modalities_)
        return out if out is emb else out.astype(emb.dtype, copy=False)

    def _compares_posteriors_by_probability(self) -> bool:
        """Whether ``transform`` completes the embeddings to unit norm
        (``complete_to_unit_norm``); an estimator that embeds something other
        than posteriors under some settings narrows it."""
        return getattr(self, "posterior_similarity", "cosine") == "probability"

    def _embedding_width(self) -> int:
        width = super()._embedding_width()
        return width + self.n_modalities_ if self._compares_posteriors_by_probability() else width

    # ---------------------------------------------------------------- seeds
    def _seed(self, stream: str, *offsets: int) -> int:
        """The seed of the named random stream (``SEED_STREAMS``) of this fit."""
        return derive_seed(self.random_state, SEED_STREAMS[stream], *offsets)

    # -------------------------------------------------------------- transform
    def _check_modality(self, modality: Any, X: Any) -> tuple[int, Any]:
        """Resolve a modality and validate its samples against what ``fit`` saw."""
        check_is_fitted(self)
        index = resolve_modality(modality, self.modalities_)
        self._check_feature_names(index, self.modalities_[index], X)
        X = check_modality_array(
            X,
            self.modalities_[index],
            accept_sparse=self._accept_sparse,
            dtype=np.float64,
            n_features=self.n_features_in_[index],
            estimator_name=type(self).__name__,
            stream=self._stream_inputs,
        )
        return index, self._standardize(index, X)

    def _match_modalities(self, X: Any, what: str = "X") -> list:
        """Arrays of a multi-modal input, ordered like the fitted modalities."""
        check_is_fitted(self)
        arrays, names = as_modality_list(X, what)
        if len(arrays) != self.n_modalities_:
            raise ValueError(
                f"{what} has {len(arrays)} modalities, but the model was fitted with "
                f"{self.n_modalities_} ({self.modalities_})."
            )
        positional = names == [str(i) for i in range(len(names))]
        if set(names) == set(self.modalities_):
            arrays = [arrays[names.index(n)] for n in self.modalities_]
        elif not positional:
            raise ValueError(
                f"{what} has modalities {names}, but the model was fitted with "
                f"{self.modalities_}."
            )
        return [self._check_modality(i, a)[1] for i, a in enumerate(arrays)]

    def transform(self, modality: Any, X: Any = None):
        """Embed samples in the common space.

        ``transform(modality, X)`` embeds one modality's samples and returns an
        array ``(n_samples, n_components)``. ``transform(X_multi)`` embeds every
        modality of a multi-modal input and returns a :class:`MultiModal` of
        embeddings (so the estimator can be followed by more Pipeline steps).

        Parameters
        ----------
        modality : int, str, or multi-modal data
            The modality (position or name) of ``X``, or the whole multi-modal input.
        X : array-like of shape (n_samples, n_features), default=None
            Samples of ``modality``.
        """
        if X is None:
            if isinstance(modality, (int, np.integer, str)):
                raise TypeError(
                    f"transform({modality!r}) needs the samples: transform(modality, X)."
                )
            return self.embed(modality)
        index, X_checked = self._check_modality(modality, X)
        return self._wrap_output(self._embedding(index, X_checked), X, self.get_feature_names_out)

    def embed(self, X: Any) -> MultiModal:
        """Embeddings of every modality of paired multi-modal ``X``, as a MultiModal."""
        arrays = self._match_modalities(X)
        embeddings = MultiModal(
            [self._embedding(i, a) for i, a in enumerate(arrays)], names=self.modalities_
        )
        if self._output_container() == "default":
            return embeddings
        names = self.get_feature_names_out()
        return self._wrap_multimodal(embeddings, self._ordered_inputs(X), [names] * len(arrays))

    # ------------------------------------------------------------- retrieval
    def retrieve(
        self,
        query_modality: Any,
        X_query: Any,
        target_modality: Any,
        X_database: Any,
        k: int = 10,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` database items of ``target_modality`` for each query.

        Returns
        -------
        indices : ndarray of shape (n_queries, k)
            Database row indices, most similar first.
        similarities : ndarray of shape (n_queries, k)
            Their similarities (``_retrieval_metric``; negative distance for
            "euclidean").
        """
        q = self.transform(query_modality, X_query)
        d = self.transform(target_modality, X_database)
        return top_k_similarities(q, d, k=k, metric=self._get_retrieval_metric())

    def score(self, X: Any, y: Any = None) -> float:
        """Cross-modal retrieval quality, averaged over all ordered pairs of modalities.

        With labels ``y``: the mean average precision (mAP) of each modality's
        samples querying the database of every other modality, an item being
        relevant when it shares a label with the query (ties between equal
        similarities averaged over their orderings). ``X`` and ``y`` may be
        unpaired (a list of arrays and a list of per-modality labels).

        Without labels (``y=None``) on paired ``X``: the mean recall@K
        (K = 1, 5, 10) of instance-level retrieval, the correct match of row
        ``i`` being row ``i`` of the other modality
        (:func:`skcross.metrics.cross_modal_recall`). So unsupervised
        estimators can be scored, and tuned by ``GridSearchCV``, without labels.

        This is what ``GridSearchCV`` maximises with ``scoring=None``.
        """
        check_is_fitted(self)
        arrays, names = as_modality_list(X)
        metric = self._get_retrieval_metric()
        if y is None:
            counts = {a.shape[0] for a in arrays}
            if len(counts) != 1:
                raise ValueError(
                    "score(X) without labels needs paired modalities (row i of every "
                    "modality is one sample); these have different sample counts. Pass y."
                )
            return float(cross_modal_recall(self.embed(X).modalities(), metric=metric))
        if _is_per_modality_labels(y, len(arrays)):
            labels = list(y)
            if len(arrays) != self.n_modalities_:
                raise ValueError(
                    f"X has {len(arrays)} modalities, but the model was fitted with "
                    f"{self.n_modalities_}."
                )
            emb = [self.transform(i, a) for i, a in enumerate(arrays)]
        else:
            emb = self.embed(X).modalities()
            labels = [y] * len(emb)
        return float(
            np.mean(
                [
                    mean_average_precision(emb[i], emb[j], labels[i], labels[j], metric=metric)
                    for i, j in permutations(range(len(emb)), 2)
                ]
            )
        )

    # ------------------------------------------------------ devices, progress
    def _device(self) -> torch.device:
        return resolve_device(getattr(self, "device", "auto"))

    def _progress(self, iterable: Iterable, total: int | None = None, desc: str | None = None):
        """Wrap a training loop in a tqdm bar when ``verbose`` is set."""
        if not getattr(self, "verbose", 0):
            return iterable
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc or type(self).__name__, leave=False)

    @contextlib.contextmanager
    def _interruptible(self, what: str) -> Iterator[dict]:
        """Let Ctrl-C end a training loop early and keep what was learned so far.

        The block's dict gets ``interrupted=True`` when the user pressed Ctrl-C;
        a warning says what the model keeps. skorch nets handle this
        themselves; this is for hand-written loops (MinVIRBM, HarmonizedGPLVM).
        """
        state = {"interrupted": False}
        try:
            yield state
        except KeyboardInterrupt:
            state["interrupted"] = True
            warnings.warn(
                f"{type(self).__name__}: {what} was interrupted (Ctrl-C); the model keeps "
                "the parameters reached so far.",
                UserWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------ persistence
    def __getstate__(self):
        state = super().__getstate__()
        state["_skcross_version"] = __version__
        return state

    def __setstate__(self, state):
        check_saved_version(state.pop("_skcross_version", None), type(self).__name__, "refit the model")
        super().__setstate__(state)
