"""Modalities that stay where they are: memmaps read one chunk or batch at a time.

A neural estimator fitted on a ``numpy.memmap`` (or an array larger than
:data:`STREAM_MIN_BYTES` once in float64, or another 2-D array-like that slices
by rows, such as an h5py dataset) never copies the modality whole. The data are
wrapped in :class:`HostRows`:

- validation (numeric, 2-D, finite) runs over row chunks;
- the standardisation statistics are computed in two streaming passes with
  float64 accumulation (:func:`streaming_standardization`), in the same order
  of additions as ``X.mean(axis=0)`` / ``X.std(axis=0)``, so that they are the
  statistics of the in-memory array bit for bit;
- training batches and inference chunks are read, standardised in float64 and
  cast one at a time (:meth:`HostRows.read`), exactly as the in-memory path
  standardises the whole array;
- pages of a memmap read so far are released from the process (``madvise``) every
  :data:`RELEASE_BYTES`, so that the resident set stays bounded by a few
  batches rather than growing to the file's size over an epoch.

:class:`DeviceRows` gives the same lazy access as torch tensors on a device, for
hand-written training loops (MinVIRBM), for scipy.sparse or :class:`HostRows`
modalities alike.
"""

from __future__ import annotations

import mmap
from typing import Any, Callable, Iterator

import numpy as np
import scipy.sparse as sp
import torch

__all__ = [
    "HostRows",
    "DeviceRows",
    "is_streamed",
    "check_streamed_array",
    "streaming_standardization",
    "device_rows",
    "take_rows",
]

# A dense in-memory modality whose float64 copy would exceed this many bytes is
# streamed too (validated and standardised by chunks, no float64 copy).
STREAM_MIN_BYTES = 1 << 30
# Rows per chunk of a streaming pass: about this many bytes of float64.
CHUNK_BYTES = 64 << 20
# Release the memmap pages read so far after about this many bytes.
RELEASE_BYTES = 256 << 20


def _is_row_sliceable(X: Any) -> bool:
    """A 2-D array-like that is not an in-memory array: slices by rows (h5py, zarr)."""
    if isinstance(X, np.ndarray) or sp.issparse(X) or hasattr(X, "iloc"):
        return False
    shape = getattr(X, "shape", None)
    return (
        shape is not None
        and len(shape) == 2
        and hasattr(X, "dtype")
        and hasattr(X, "__getitem__")
        and not isinstance(X, (list, tuple, str))
    )


def is_streamed(X: Any) -> bool:
    """Whether a modality is validated and read by chunks instead of copied whole."""
    if isinstance(X, HostRows):
        return True
    if isinstance(X, np.memmap):
        return X.ndim == 2
    if isinstance(X, np.ndarray):
        return X.ndim == 2 and X.dtype.kind in "biuf" and X.size * 8 > STREAM_MIN_BYTES
    return _is_row_sliceable(X)


def _chunk_rows(n_features: int) -> int:
    return max(1, CHUNK_BYTES // (8 * max(1, n_features)))


def _release(source: Any) -> None:
    """Drop the pages of a memmap from this process (they stay in the page cache)."""
    handle = getattr(source, "_mmap", None)
    if handle is None or not hasattr(handle, "madvise"):
        return
    try:
        handle.madvise(mmap.MADV_DONTNEED)
    except (OSError, ValueError, AttributeError):  # closed, or not supported here
        pass


class HostRows:
    """A modality left on the host, read, standardised and cast by rows.

    Parameters
    ----------
    source : np.memmap, ndarray or 2-D array-like slicing by rows
    rows : ndarray of int or None
        The rows of ``source`` this view holds (all when None).
    mean, scale : ndarray of float64 or None
        Standardisation applied when reading: ``(x - mean) / scale``.
    dtype : numpy dtype
        The dtype rows are returned in (float64 until standardised).
    """

    ndim = 2

    def __init__(self, source: Any, rows: np.ndarray | None = None, mean: Any = None,
                 scale: Any = None, dtype: Any = np.float64):
        self.source = source
        self.rows = rows
        self.mean = mean
        self.scale = scale
        self.dtype = np.dtype(dtype)
        self._unreleased = 0

    @property
    def shape(self) -> tuple[int, int]:
        n = self.source.shape[0] if self.rows is None else len(self.rows)
        return (int(n), int(self.source.shape[1]))

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"HostRows({type(self.source).__name__}, shape={self.shape}, dtype={self.dtype})"

    # ----------------------------------------------------------- views
    def subset(self, rows: Any) -> "HostRows":
        """The view of ``rows`` (positions in this view), read lazily."""
        rows = np.asarray(rows, dtype=np.intp)
        if self.rows is not None:
            rows = self.rows[rows]
        return HostRows(self.source, rows, self.mean, self.scale, self.dtype)

    def standardized(self, mean: Any, scale: Any, dtype: Any) -> "HostRows":
        """The same rows, read standardised by ``mean``/``scale`` and cast to ``dtype``."""
        return HostRows(self.source, self.rows, mean, scale, dtype)

    # ----------------------------------------------------------- reading
    def _raw(self, key: Any) -> np.ndarray:
        """Rows ``key`` (a slice or integer positions) of the view, as float64."""
        if isinstance(key, slice) and self.rows is None:
            block = np.asarray(self.source[key])
        else:
            positions = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key)
            src = positions if self.rows is None else self.rows[positions]
            src = np.asarray(src, dtype=np.intp).ravel()
            order = np.argsort(src, kind="stable")
            ordered = src[order]
            if len(ordered) and np.all(np.diff(ordered) == 1):
                got = np.asarray(self.source[int(ordered[0]) : int(ordered[-1]) + 1])
            else:
                got = np.asarray(self.source[ordered])  # increasing indices: also h5py
            block = np.empty_like(got)
            block[order] = got
        self._unreleased += block.nbytes
        if self._unreleased > RELEASE_BYTES:
            _release(self.source)
            self._unreleased = 0
        return np.asarray(block, dtype=np.float64)

    def read(self, key: Any) -> np.ndarray:
        """Rows ``key`` standardised as at fit time and cast, C-contiguous."""
        X = self._raw(key)
        if self.scale is not None:
            X = (X - self.mean) / self.scale if self.mean is not None else X / self.scale
        return np.ascontiguousarray(X, dtype=self.dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            raise IndexError("HostRows supports row indexing only.")
        if isinstance(key, (int, np.integer)):
            return self.read([int(key)])[0]
        return self.read(key)

    def chunks(self, raw: bool = False, n_rows: int | None = None) -> Iterator[np.ndarray]:
        """Consecutive row chunks (raw float64, or as :meth:`read` returns them)."""
        step = n_rows or _chunk_rows(self.shape[1])
        for start in range(0, len(self), step):
            key = slice(start, start + step)
            yield self._raw(key) if raw else self.read(key)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        X = np.concatenate(list(self.chunks()), axis=0) if len(self) else self.read(slice(0, 0))
        return X if dtype is None else X.astype(dtype, copy=False)

    def min(self) -> float:
        return float(min(c.min() for c in self.chunks()))

    def max(self) -> float:
        return float(max(c.max() for c in self.chunks()))

    def release(self) -> None:
        """Drop the memmap pages read so far from this process."""
        _release(self.source)
        self._unreleased = 0

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_unreleased"] = 0
        return state


def check_streamed_array(X: Any, where: str, n_features: int | None = None,
                         min_samples: int = 1) -> HostRows:
    """Validate a streamed modality by row chunks (numeric, 2-D, finite, non-empty)."""
    source = X.source if isinstance(X, HostRows) else X
    dtype = np.dtype(source.dtype)
    if dtype.kind == "c":
        raise TypeError(f"{where} is complex; expected real numbers.")
    if dtype.kind not in "biuf":
        raise TypeError(f"{where} has non-numeric dtype {dtype}.")
    if len(source.shape) != 2:
        raise ValueError(
            f"{where} must be a 2-D array (n_samples, n_features), got "
            f"{len(source.shape)}-D with shape {tuple(source.shape)}."
        )
    rows = X if isinstance(X, HostRows) else HostRows(source)
    n, d = rows.shape
    if n < min_samples:
        raise ValueError(f"{where} has {n} sample(s); at least {min_samples} required.")
    if d == 0:
        raise ValueError(f"{where} has 0 features.")
    if dtype.kind == "f":
        n_nan = n_inf = 0
        for chunk in rows.chunks(raw=True):
            if not np.all(np.isfinite(chunk)):
                n_nan += int(np.isnan(chunk).sum())
                n_inf += int(np.isinf(chunk).sum())
        rows.release()
        if n_nan or n_inf:
            raise ValueError(
                f"{where} contains non-finite values ({n_nan} NaN, {n_inf} inf); "
                "impute or drop them before fitting."
            )
    if n_features is not None and d != n_features:
        raise ValueError(
            f"{where} has {d} features, but the model was fitted with "
            f"{n_features} features for this modality."
        )
    return rows


def streaming_standardization(X: HostRows, rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale of a streamed modality, in two float64 passes.

    The sums run row after row, carried from chunk to chunk, which is the order
    numpy's ``X.mean(axis=0)`` and ``X.std(axis=0)`` add a C-contiguous array in:
    the statistics equal those of the in-memory array exactly. Constant features
    (spread below ``rtol`` times the magnitude) get scale 1.
    """
    n, d = X.shape

    def carried_sum(transform: Callable[[np.ndarray, np.ndarray], None]) -> np.ndarray:
        acc = np.zeros(d)
        for chunk in X.chunks(raw=True):
            buf = np.empty((chunk.shape[0] + 1, d))
            buf[0] = acc
            transform(chunk, buf[1:])
            acc = buf.sum(axis=0)
        X.release()
        return acc

    mean = carried_sum(lambda c, out: np.copyto(out, c)) / n

    def squared_deviation(c: np.ndarray, out: np.ndarray) -> None:
        np.subtract(c, mean, out=out)
        np.multiply(out, out, out=out)

    std = np.sqrt(carried_sum(squared_deviation) / n)
    constant = (std == 0) | (std <= rtol * np.abs(mean))
    return mean, np.where(constant, 1.0, std)


# ------------------------------------------------------------------ torch side
class DeviceRows:
    """A host modality (scipy.sparse or :class:`HostRows`) seen as a dense tensor
    on ``device`` one batch at a time: ``D[idx]`` (a tensor of row positions or
    a slice) is a dense float32 tensor; ``D.subset(rows)`` a lazy view."""

    def __init__(self, host: Any, device: Any, rows: np.ndarray | None = None):
        self.host = host
        self.device = torch.device(device)
        self.rows = rows

    @property
    def shape(self) -> tuple[int, int]:
        n = self.host.shape[0] if self.rows is None else len(self.rows)
        return (int(n), int(self.host.shape[1]))

    def __len__(self) -> int:
        return self.shape[0]

    def subset(self, rows: Any) -> "DeviceRows":
        rows = np.asarray(rows.cpu() if torch.is_tensor(rows) else rows, dtype=np.intp)
        if self.rows is not None:
            rows = self.rows[rows]
        return DeviceRows(self.host, self.device, rows)

    def __getitem__(self, key: Any) -> torch.Tensor:
        if torch.is_tensor(key):
            key = key.cpu().numpy()
        if isinstance(key, slice):
            key = np.arange(len(self))[key]
        key = np.asarray(key, dtype=np.intp)
        if self.rows is not None:
            key = self.rows[key]
        if sp.issparse(self.host):
            block = self.host[key].toarray()
        else:
            block = self.host.read(key)
        return torch.as_tensor(np.asarray(block, dtype=np.float32), device=self.device)

    def chunks(self, n_rows: int = 4096) -> Iterator[torch.Tensor]:
        for start in range(0, len(self), n_rows):
            yield self[slice(start, start + n_rows)]

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor], n_rows: int = 4096) -> torch.Tensor:
        """``fn`` applied chunk by chunk, the outputs stacked (a dense tensor)."""
        return torch.cat([fn(c) for c in self.chunks(n_rows)], dim=0)

    def mean(self, dim: int = 0) -> torch.Tensor:
        if dim != 0:
            raise ValueError("DeviceRows.mean supports dim=0 only.")
        total = torch.zeros(self.shape[1], dtype=torch.float64, device=self.device)
        for c in self.chunks():
            total += c.double().sum(0)
        return (total / len(self)).float()


def device_rows(X: Any, device: Any) -> Any:
    """A dense tensor on ``device`` for an in-memory array; a :class:`DeviceRows`
    for a scipy.sparse or :class:`HostRows` modality (never densified whole)."""
    if sp.issparse(X):
        return DeviceRows(sp.csr_matrix(X, dtype=np.float32), device)
    if isinstance(X, HostRows):
        return DeviceRows(X, device)
    return torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device)


def take_rows(X: Any, rows: Any) -> Any:
    """Rows of a tensor, or the lazy view of them for :class:`DeviceRows` / :class:`HostRows`."""
    if isinstance(X, (DeviceRows, HostRows)):
        return X.subset(rows)
    return X[rows]


def apply_rows(fn: Callable[[torch.Tensor], torch.Tensor], X: Any) -> torch.Tensor:
    """``fn(X)`` for a tensor; chunk by chunk for :class:`DeviceRows`."""
    return X.map(fn) if isinstance(X, DeviceRows) else fn(X)
