"""Yeo-Johnson power transform of the highly skewed features of standardised data.

Count and histogram features (bag-of-words, BoVW, LBP or PHOG histograms) are
heavily right-skewed: after standardisation most values sit just below zero and
a few lie tens of standard deviations above it. A network or a kernel fitted on
them is dominated by those few values. ``standardize="auto"`` therefore maps
each feature whose skewness on the training data exceeds
:data:`SKEWNESS_THRESHOLD` in absolute value through the Yeo-Johnson transform
(Yeo and Johnson, 2000; scikit-learn's ``PowerTransformer``), with the
exponent that makes it most Gaussian, and standardises it again. Features that
are not skewed are left as they are, so near-Gaussian data are unchanged.

The transform runs on data already standardised (in float64), so it does not
depend on the input's scale or offset, and everything is fitted on at most
:data:`MAX_FIT_ROWS` evenly spaced rows, which a streamed modality reads the same
way as an in-memory one: both get the same transform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PowerTransform", "fit_power_transform", "power_fit_rows"]

#: Absolute skewness above which a standardised feature is power-transformed
#: (the usual rule of thumb for a "highly skewed" distribution).
SKEWNESS_THRESHOLD = 1.0
#: Most rows the exponents, skewness and re-standardisation are fitted on.
MAX_FIT_ROWS = 2000
_EPS = 1e-8


def _signed_log1p(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Z >= 0`` and the signed ``log(1 + |z|)`` the Yeo-Johnson transform is built on."""
    positive = Z >= 0
    magnitude = np.log1p(np.abs(Z))
    return positive, np.where(positive, magnitude, -magnitude)


def _yeo_johnson_of_log(positive: np.ndarray, L: np.ndarray, lam: Any) -> np.ndarray:
    """Yeo-Johnson from :func:`_signed_log1p`'s output: ``((1 + z)^l - 1) / l``
    for z >= 0 and ``-((1 - z)^(2 - l) - 1) / (2 - l)`` for z < 0, written with
    expm1 of ``L`` so that exponents near 0 (or 2) lose nothing; at exactly 0
    (2) the limit is ``L`` itself."""
    lam_pos = np.where(np.abs(lam) < _EPS, 1.0, lam)
    lam_neg = np.where(np.abs(2.0 - lam) < _EPS, 1.0, 2.0 - lam)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.expm1(np.where(positive, lam_pos * L, lam_neg * -L))
        T = np.where(positive, e / lam_pos, -e / lam_neg)
    T = np.where(positive & (np.abs(lam) < _EPS), L, T)
    return np.where(~positive & (np.abs(2.0 - lam) < _EPS), L, T)


def _yeo_johnson(Z: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """Yeo-Johnson of the columns of ``Z`` with per-column exponents ``lambdas``."""
    positive, L = _signed_log1p(np.asarray(Z, dtype=np.float64))
    # C order whatever Z's, so that column sums over it add in one fixed order.
    return np.ascontiguousarray(_yeo_johnson_of_log(positive, L, np.asarray(lambdas, dtype=np.float64)))


def _inverse_yeo_johnson(T: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_yeo_johnson` (values outside its range are clipped to it)."""
    T = np.asarray(T, dtype=np.float64)
    lam = np.broadcast_to(np.asarray(lambdas, dtype=np.float64), T.shape)
    positive = T >= 0
    lam_pos = np.where(np.abs(lam) < _EPS, 1.0, lam)
    lam_neg = np.where(np.abs(2.0 - lam) < _EPS, 1.0, 2.0 - lam)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # (l t + 1) must stay positive: a negative exponent bounds the range.
        base_pos = np.maximum(lam_pos * np.where(positive, T, 0.0) + 1.0, _EPS)
        base_neg = np.maximum(1.0 - lam_neg * np.where(positive, 0.0, T), _EPS)
        out_pos = np.where(np.abs(lam) < _EPS, np.expm1(np.where(positive, T, 0.0)),
                           np.expm1(np.log(base_pos) / lam_pos))
        out_neg = np.where(np.abs(2.0 - lam) < _EPS, -np.expm1(-np.where(positive, 0.0, T)),
                           -np.expm1(np.log(base_neg) / lam_neg))
    return np.where(positive, out_pos, out_neg)


def _most_gaussian_lambdas(Z: np.ndarray) -> np.ndarray:
    """Per column of ``Z``, the exponent of highest Yeo-Johnson log-likelihood
    (a Gaussian fitted to the transformed column): the best of a coarse grid
    over [-3, 3], then of a finer one (step 0.1) around it."""
    n = Z.shape[0]
    positive, L = _signed_log1p(Z)
    log_jacobian = L.sum(axis=0)

    def log_likelihood(lam: np.ndarray) -> np.ndarray:
        T = _yeo_johnson_of_log(positive, L, lam)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ll = -0.5 * n * np.log(T.var(axis=0)) + (lam - 1.0) * log_jacobian
        return np.where(np.isfinite(ll), ll, -np.inf)

    def best_of(candidates: np.ndarray) -> np.ndarray:
        # candidates: (n_candidates, n_columns)
        lls = np.stack([log_likelihood(c) for c in candidates])
        return candidates[np.argmax(lls, axis=0), np.arange(Z.shape[1])]

    coarse = np.repeat(np.linspace(-3.0, 3.0, 13)[:, None], Z.shape[1], axis=1)
    best = best_of(coarse)
    fine = np.clip(best + np.round(np.arange(-0.4, 0.41, 0.1), 10)[:, None], -3.0, 3.0)
    return best_of(fine)


@dataclass(eq=False)
class PowerTransform:
    """Yeo-Johnson on ``columns`` of standardised data, then re-standardised.

    Attributes
    ----------
    columns : ndarray of int
        The features transformed (those whose skewness exceeded the threshold).
    lambdas : ndarray
        Their exponents.
    mean, scale : ndarray
        The transformed features' mean and standard deviation on the fit rows.
    low, high : ndarray
        The range of the transformed (and re-standardised) fit rows:
        :meth:`invert` clips to it, since the inverse of a negative exponent
        diverges at the edge of the transform's range.
    """

    columns: np.ndarray
    lambdas: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def apply(self, Z: np.ndarray, copy: bool = True) -> np.ndarray:
        """``Z`` (standardised, float64) with the transformed columns replaced;
        ``copy=False`` replaces them in place (for a fresh array, as the
        standardisation of a batch is)."""
        Z = np.array(Z, dtype=np.float64, copy=True) if copy else Z
        # In blocks of rows: the transform is elementwise, and its temporaries
        # (several per element) then stay small instead of multiples of Z.
        for rows in _blocks(Z.shape[0], len(self.columns)):
            Z[rows, self.columns] = (_yeo_johnson(Z[rows][:, self.columns], self.lambdas) - self.mean) / self.scale
        return Z

    def invert(self, X: np.ndarray) -> np.ndarray:
        """Standardised values of the features from transformed ones (clipped
        to the fit rows' range first)."""
        X = np.array(X, dtype=np.float64, copy=True)
        for rows in _blocks(X.shape[0], len(self.columns)):
            T = np.clip(X[rows][:, self.columns], self.low, self.high)
            X[rows, self.columns] = _inverse_yeo_johnson(T * self.scale + self.mean, self.lambdas)
        return X


#: Elements per block (2 MiB of float64) of the transform, its inverse and
#: the exponent search, which are elementwise or per column.
_BLOCK_ELEMENTS = 1 << 18


def _blocks(n: int, width: int) -> list[slice]:
    """Consecutive slices of ``range(n)`` (rows, or columns) such that a block
    times ``width`` (its other side) holds about :data:`_BLOCK_ELEMENTS` elements."""
    step = max(1, _BLOCK_ELEMENTS // max(width, 1))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def power_fit_rows(n_samples: int) -> np.ndarray:
    """The rows a power transform is fitted on: all, or :data:`MAX_FIT_ROWS` evenly spaced."""
    if n_samples <= MAX_FIT_ROWS:
        return np.arange(n_samples)
    return np.unique(np.linspace(0, n_samples - 1, MAX_FIT_ROWS).astype(np.intp))


def fit_power_transform(Z: Any) -> PowerTransform | None:
    """The power transform of the highly skewed columns of ``Z``.

    ``Z`` holds the standardised float64 rows :func:`power_fit_rows` picks.
    Returns None when no column's absolute skewness exceeds
    :data:`SKEWNESS_THRESHOLD`.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.shape[0] < 3:
        return None
    centred = Z - Z.mean(axis=0)
    std = centred.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        skewness = np.where(std > 0, np.mean(centred**3, axis=0) / std**3, 0.0)
    columns = np.flatnonzero(np.abs(skewness) > SKEWNESS_THRESHOLD)
    if not columns.size:
        return None
    # The exponent search holds a few arrays of the block's size per candidate:
    # in blocks of columns they stay small however wide the modality is.
    lambdas = np.concatenate([
        _most_gaussian_lambdas(Z[:, columns[block]]) for block in _blocks(columns.size, Z.shape[0])
    ])
    T = np.empty((Z.shape[0], columns.size))
    for rows in _blocks(Z.shape[0], columns.size):
        T[rows] = _yeo_johnson(Z[rows][:, columns], lambdas)
    mean, scale = T.mean(axis=0), T.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    T = (T - mean) / scale
    return PowerTransform(columns, lambdas, mean, scale, T.min(axis=0), T.max(axis=0))
