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
- rows of a memmap are read from its file (``os.preadv`` at the rows' offsets,
  in file order), not through the mapping, so that no page of the file is
  mapped into the process. Reading through the mapping maps far more than the
  rows read: a page fault maps the pages around the faulting one (fault-around)
  and, on recent kernels, whole large folios of the page cache: one batch of
  256 random 2 KiB rows of a 2 GiB memmap mapped 445 MiB (Linux 6.18), and an
  epoch in random order mapped the whole file. The reads are served from the
  page cache as before; only this process's resident set stays small. Where
  the file cannot be read directly (not a shared file mapping, e.g. a
  copy-on-write ``mode="c"`` memmap whose changes exist in memory only; no
  ``/proc/self/maps``; the file replaced since it was mapped), rows are read
  through the mapping, whose pages are then dropped with
  ``madvise(MADV_DONTNEED)`` (never for ``mode="c"``, where that would discard
  the changes).

:class:`DeviceRows` gives the same lazy access as torch tensors on a device, for
hand-written training loops (MinVIRBM), for scipy.sparse or :class:`HostRows`
modalities alike.
"""

from __future__ import annotations

import mmap
import os
import weakref
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


def _mmap_of(source: Any) -> Any:
    """The ``mmap.mmap`` an array (a memmap or a view of one) lies in, or None."""
    obj = source
    for _ in range(32):  # a chain of views ends at the mmap (or not at all)
        if obj is None or isinstance(obj, mmap.mmap):
            return obj
        obj = getattr(obj, "base", None)
    return None


def _release(source: Any) -> bool:
    """Drop the pages of a memmap from this process (they stay in the page
    cache, and a shared mapping's changes stay in the file); whether it did.

    Never for a copy-on-write memmap: its changed pages are private, and
    ``MADV_DONTNEED`` would throw the changes away."""
    if isinstance(source, np.memmap) and source.mode == "c":
        return False
    handle = _mmap_of(source)
    if handle is None or not hasattr(handle, "madvise"):
        return False
    try:
        handle.madvise(mmap.MADV_DONTNEED)
    except (OSError, ValueError, AttributeError):  # closed, or not supported here
        return False
    return True


# The file region behind each mmap, looked up once per mapping.
_MAPPINGS: "weakref.WeakKeyDictionary[mmap.mmap, Any]" = weakref.WeakKeyDictionary()


def _file_mapping(address: int) -> tuple[int, int, int, str, int, int] | None:
    """The shared file mapping holding ``address``: (start, end, file offset of
    start, path, device, inode) from ``/proc/self/maps``, or None."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                fields = line.split(maxsplit=5)
                if len(fields) < 6:
                    continue
                lo, _, hi = fields[0].partition("-")
                start, end = int(lo, 16), int(hi, 16)
                if not start <= address < end:
                    continue
                perms, offset, dev, inode, path = fields[1], fields[2], fields[3], fields[4], fields[5].rstrip("\n")
                if perms[3] != "s" or not path.startswith("/") or path.endswith(" (deleted)"):
                    return None  # private (copy-on-write) or anonymous: the file is not the data
                major, _, minor = dev.partition(":")
                return start, end, int(offset, 16), path, os.makedev(int(major, 16), int(minor, 16)), int(inode)
    except (OSError, ValueError):
        pass
    return None


class _FileRows:
    """Rows of a memmap read with ``os.preadv`` from the file it maps, at the
    offsets the mapping gives them (so views, strides and header offsets are
    all honoured), without mapping any page into the process."""

    def __init__(self, base: int, row_stride: int, row_bytes: int, path: str, device: int, inode: int):
        self.base = base  # file offset of row 0
        self.row_stride = row_stride
        self.row_bytes = row_bytes
        self.path = path
        self.device = device
        self.inode = inode

    @classmethod
    def of(cls, source: Any) -> "_FileRows | None":
        """The reader for ``source``, or None when its rows must be read through the mapping."""
        if not isinstance(source, np.ndarray) or source.ndim != 2 or not source.size:
            return None
        if isinstance(source, np.memmap) and source.mode == "c":
            return None
        handle = _mmap_of(source)
        if handle is None:
            return None
        itemsize = source.dtype.itemsize
        if source.shape[1] > 1 and source.strides[1] != itemsize:
            return None  # not whole rows in the file (a column slice, a transpose)
        address = source.__array_interface__["data"][0]
        try:
            region = _MAPPINGS.get(handle)
            if region is None:
                region = _file_mapping(address)
                _MAPPINGS[handle] = region if region is not None else False
        except TypeError:  # not weak-referenceable
            region = _file_mapping(address)
        if not region:
            return None
        start, end, offset, path, device, inode = region
        stride, row_bytes = source.strides[0], source.shape[1] * itemsize
        first = address + min(0, stride * (source.shape[0] - 1))
        last = address + max(0, stride * (source.shape[0] - 1)) + row_bytes
        if first < start or last > end:
            return None
        return cls(offset + address - start, stride, row_bytes, path, device, inode)

    def read(self, rows: np.ndarray, dtype: Any) -> np.ndarray | None:
        """Rows ``rows`` (increasing positions) as an array of ``dtype``; None if
        the file is no longer the one mapped."""
        out = np.empty((len(rows), self.row_bytes // np.dtype(dtype).itemsize), dtype=dtype)
        if not len(rows):
            return out
        buffer = memoryview(out.reshape(-1).view(np.uint8))
        # Adjacent rows of a C-ordered file are read in one call.
        if self.row_stride == self.row_bytes and len(rows) > 1:
            breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        else:
            breaks = np.arange(1, len(rows))
        starts = np.concatenate(([0], breaks))
        stops = np.concatenate((breaks, [len(rows)]))
        positions = (self.base + rows[starts].astype(np.int64) * self.row_stride).tolist()
        size = self.row_bytes
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) != (self.device, self.inode):
                return None
            preadv = os.preadv
            for a, b, position in zip((starts * size).tolist(), (stops * size).tolist(), positions):
                view = buffer[a:b]
                got = preadv(fd, [view], position)
                while got < len(view):  # a read may return less than asked (over 2 GiB)
                    if got <= 0:
                        return None
                    view, position = view[got:], position + got
                    got = preadv(fd, [view], position)
        finally:
            os.close(fd)
        return out


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

    _UNSET = object()

    def __init__(self, source: Any, rows: np.ndarray | None = None, mean: Any = None,
                 scale: Any = None, dtype: Any = np.float64, _file: Any = _UNSET, power: Any = None):
        self.source = source
        self.rows = rows
        self.mean = mean
        self.scale = scale
        self.power = power
        self.dtype = np.dtype(dtype)
        # How rows are read: from the memmap's file, or (None) by indexing source.
        self._file = _FileRows.of(source) if _file is HostRows._UNSET else _file

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
        return HostRows(self.source, rows, self.mean, self.scale, self.dtype, self._file, self.power)

    def standardized(self, mean: Any, scale: Any, dtype: Any, power: Any = None) -> "HostRows":
        """The same rows, read standardised by ``mean``/``scale`` (then by the
        :class:`~skcross._power.PowerTransform` ``power``, if any) and cast to ``dtype``."""
        return HostRows(self.source, self.rows, mean, scale, dtype, self._file, power)

    # ----------------------------------------------------------- reading
    def _raw(self, key: Any) -> np.ndarray:
        """Rows ``key`` (a slice or integer positions) of the view, as a new
        float64 array, read in file order."""
        if isinstance(key, slice) and self.rows is None and self._file is None:
            block = np.array(self.source[key], dtype=np.float64)
            _release(self.source)
            return block
        positions = np.arange(*key.indices(len(self))) if isinstance(key, slice) else np.asarray(key)
        src = positions if self.rows is None else self.rows[positions]
        src = np.asarray(src, dtype=np.intp).ravel()
        n_source = self.source.shape[0]
        src = np.where(src < 0, src + n_source, src)
        order = np.argsort(src, kind="stable")
        ordered = src[order]
        got = None
        if self._file is not None:
            if len(ordered) and (ordered[0] < 0 or ordered[-1] >= n_source):
                raise IndexError(f"row index out of range for {n_source} rows")
            got = self._file.read(ordered, self.source.dtype)
            if got is None:  # the file changed under the mapping: read the mapping
                self._file = None
        if got is None:
            if len(ordered) and np.all(np.diff(ordered) == 1):
                got = self.source[int(ordered[0]) : int(ordered[-1]) + 1]
            else:
                got = self.source[ordered]  # increasing indices: also h5py
        block = np.empty((len(src), self.shape[1]), dtype=np.float64)
        block[order] = got
        if self._file is None:
            _release(self.source)
        return block

    def read(self, key: Any) -> np.ndarray:
        """Rows ``key`` standardised as at fit time and cast, C-contiguous."""
        X = self._raw(key)
        if self.scale is not None:
            X = (X - self.mean) / self.scale if self.mean is not None else X / self.scale
        if self.power is not None:
            X = self.power.apply(X, copy=False)  # X is this read's own array
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

    def release(self) -> bool:
        """Drop the memmap's pages from this process; whether there were any to drop."""
        return _release(self.source)


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
            key = np.arange(*key.indices(len(self)))
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
