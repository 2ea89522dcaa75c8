"""Similarities that do not depend on how the computation is blocked.

A float matrix product accumulates each dot product in an order that depends on
the kernel's blocking, so the similarity of a query to two identical database
rows can differ in the last bits when the rows fall in different blocks (or
chunks, or positions within a block). Every tie-aware metric needs identical
rows to tie exactly, so embeddings are first rounded to fixed point: each row is
``scale * m * 2**-b`` with integer ``m`` and a power-of-two ``scale``. Integer
products and their sums stay below 2**53, so the float64 product of two such
matrices is exact whatever the order of accumulation, and everything after it
is elementwise. The rounding costs about ``2**-b`` relative precision per
coordinate (``b`` is 22 to 26 bits for up to 4096 dimensions), far below the
float32 noise of learned embeddings. Where similarities are returned to the
user for float64 embeddings (``precise=True``), a second integer term carries
the next ``b`` bits, at the cost of two more exact products: float64 accuracy,
still bit-identical for identical rows. The ranking metrics do not need it:
for them, similarities closer than about 1e-8 relative count as tied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

METRICS = ("cosine", "dot", "euclidean")


def check_metric(metric: Any) -> str:
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    return metric


def as_embedding(E: Any, what: str, device: torch.device | None = None) -> torch.Tensor:
    """A finite 2-D float tensor from an array, sparse matrix or tensor."""
    if isinstance(E, torch.Tensor):
        t = E.detach()
    else:
        if hasattr(E, "toarray"):
            E = E.toarray()
        arr = np.asarray(E)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}.")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_items, n_dims), got shape {tuple(t.shape)}.")
    if t.shape[0] == 0:
        raise ValueError(f"{what} is empty.")
    if t.shape[1] == 0:
        raise ValueError(f"{what} has no dimensions (shape {tuple(t.shape)}).")
    if not t.is_floating_point():
        t = t.double()
    if not torch.isfinite(t).all():
        raise ValueError(f"{what} contains NaN or inf.")
    if device is not None:
        t = t.to(device)
    return t


def fraction_bits(n_dims: int) -> int:
    """Bits after the point such that n_dims products of two integers of
    magnitude <= 2**b sum exactly in float64 (n_dims * 2**(2b) <= 2**53)."""
    return min(26, (53 - math.ceil(math.log2(max(n_dims, 1)))) // 2)


@dataclass
class Fixed:
    """Rows ``scale[i] * m[i] * 2**-bits`` with integer-valued float64 ``m``."""

    m: torch.Tensor
    scale: torch.Tensor  # (n,) powers of two, float64
    sq: torch.Tensor | None  # (n,) squared norms of the rows in units of scale (euclidean only)
    bits: int
    dtype: torch.dtype  # the input's dtype, for returned similarities
    lo: torch.Tensor | None = None  # the next ``bits`` bits of each coordinate (precise=True)

    def __getitem__(self, sl: Any) -> "Fixed":
        def cut(t):
            return None if t is None else t[sl]

        return Fixed(self.m[sl], self.scale[sl], cut(self.sq), self.bits, self.dtype, cut(self.lo))

    @property
    def shape(self) -> torch.Size:
        return self.m.shape

    def scaled_m(self) -> torch.Tensor:
        """``m * scale`` per row (exact: scale is a power of two), cached."""
        cached = getattr(self, "_scaled", None)
        if cached is None:
            cached = self.m * self.scale[:, None]
            self._scaled = cached
        return cached

    def scaled_m_t(self) -> torch.Tensor:
        """``scaled_m().T``, contiguous (a faster right operand on the CPU), cached."""
        cached = getattr(self, "_scaled_t", None)
        if cached is None:
            cached = self.scaled_m().T.contiguous()
            self._scaled_t = cached
        return cached

    @property
    def device(self) -> torch.device:
        return self.m.device


def _prescalable(D: Fixed) -> bool:
    # far from float64's subnormal range and overflow, so m * scale is exact
    return bool(D.scale.numel()) and float(D.scale.min()) >= 2.0**-900 and float(D.scale.max()) <= 2.0**900


def _row_norms(X: torch.Tensor) -> torch.Tensor:
    # Squares summed by halving the (zero-padded) columns: each step is an
    # elementwise add, so every row is accumulated in the same order and
    # identical rows get identical norms (a vectorised reduction may not), in
    # log2(n_dims) tensor operations instead of one per column.
    n_dims = X.shape[1]
    width = 1 << max(n_dims - 1, 0).bit_length()
    ss = torch.zeros((X.shape[0], width), dtype=X.dtype, device=X.device)
    ss[:, :n_dims] = X * X
    while width > 1:
        width //= 2
        ss = ss[:, :width] + ss[:, width:]
    return ss[:, 0].sqrt()


def to_fixed(E: torch.Tensor, metric: str, bits: int | None = None, precise: bool = False) -> Fixed:
    """Round a validated embedding tensor to fixed point (see the module notes).

    ``precise``: keep a second term for float64 inputs (float64 accuracy).
    """
    dtype = E.dtype
    X = E.to(torch.float64)
    if bits is None:
        bits = fraction_bits(X.shape[1])
    if metric == "cosine":
        X = X / _row_norms(X).clamp_min(torch.finfo(torch.float64).tiny)[:, None]
    peak = X.abs().amax(dim=1)
    # The smallest power of two >= each row's largest coordinate.
    scale = torch.where(peak > 0, torch.exp2(torch.ceil(torch.log2(peak.clamp_min(1e-300)))), torch.ones_like(peak))
    x = X / scale[:, None] * 2.0**bits
    m = torch.round(x)
    lo = torch.round((x - m) * 2.0**bits) if precise and dtype == torch.float64 else None
    sq = None
    if metric == "euclidean":
        sq = (m * m).sum(dim=1)  # integers below 2**53: exact in any order
        if lo is not None:
            sq = sq + (2.0 * m * lo).sum(dim=1) * 2.0**-bits
    return Fixed(m, scale, sq, bits, dtype, lo)


def fixed_pair(query_emb: Any, database_emb: Any, metric: str, device: Any = None, precise: bool = False) -> tuple[Fixed, Fixed]:
    """Validate and round a query and a database embedding matrix."""
    check_metric(metric)
    if device is None:
        device = query_emb.device if isinstance(query_emb, torch.Tensor) else torch.device("cpu")
    device = torch.device(device)
    Q = as_embedding(query_emb, "query_emb", device)
    D = as_embedding(database_emb, "database_emb", device)
    if Q.shape[1] != D.shape[1]:
        raise ValueError(f"query_emb has {Q.shape[1]} dimensions but database_emb has {D.shape[1]}.")
    bits = fraction_bits(Q.shape[1])
    return to_fixed(Q, metric, bits, precise), to_fixed(D, metric, bits, precise)


def rank_key_factors(Q: Fixed, D: Fixed, metric: str, bits: int = 30) -> torch.Tensor | None:
    """Per query a power of two ``p`` such that ``p`` times the query's rank-only
    similarities (``similarity(..., rank_only=True)``) stay below ``2**bits``
    in magnitude and are still exact; None where no such factor is safe
    (then use the similarities as they are).

    Only for the pre-scaled product (cosine or dot, no second term): there
    every term of ``Q.m @ D.scaled_m().T`` is an integer multiple of the
    database row's scale, so multiplying the query row by a power of two is
    exact unless that unit underflows (checked here). The bound is
    Cauchy-Schwarz on the row norms, in log2 (so nothing overflows), with a
    margin far above the norms' rounding: the finer the keys, the fewer
    rows need the general path.
    """
    if metric == "euclidean" or Q.lo is not None or not _prescalable(D):
        return None
    with np.errstate(divide="ignore"):  # all-zero rows: log2(0) = -inf, any factor is exact
        lq = np.log2(torch.linalg.vector_norm(Q.m, dim=1).cpu().numpy())
        ld = np.log2(torch.linalg.vector_norm(D.m, dim=1).cpu().numpy())
    es = np.log2(D.scale.cpu().numpy())  # integers: the scales are powers of two
    ld_max = float((ld + es).max())
    if not np.isfinite(ld_max):
        return None  # an all-zero database: nothing to rank
    exponent = np.floor(bits - 1e-6 - (np.where(np.isfinite(lq), lq, 0.0) + ld_max)).astype(np.int64)
    # every term is a multiple of p * scale: it must not underflow; and the
    # scaled query rows (integers below 2**30 times p) must stay finite
    smallest_unit = int(exponent.min()) + int(es.min())
    if smallest_unit < -1074 or int(exponent.max()) + 30 > 1000:
        return None
    return torch.as_tensor(np.ldexp(1.0, exponent), dtype=torch.float64, device=Q.device)


def similarity(
    Q: Fixed, D: Fixed, metric: str, rank_only: bool = False, out: torch.Tensor | None = None, row_factor: torch.Tensor | None = None
) -> torch.Tensor:
    """float64 similarities of fixed-point rows (negative distance for "euclidean").

    The product ``Q.m @ D.m.T`` is exact, and what follows is elementwise, so a
    (query, item) pair gets the same bits in every block, chunk and position.
    ``rank_only``: each row may be off by a positive factor (the query's
    scale), which changes neither its order nor its ties: one pass less.
    For the pre-scaled rank-only product only: ``out``, a float64 buffer of
    the result's shape to write into (reusing one spares the page faults of
    a fresh allocation per block), and ``row_factor``, the powers of two of
    :func:`rank_key_factors` for these queries.
    """
    if rank_only and metric != "euclidean" and Q.lo is None and _prescalable(D):
        # m * scale only moves the exponent, so the product of the pre-scaled
        # rows is bit-identical to ``(Q.m @ D.m.T) * D.scale``: one pass less
        right = D.scaled_m_t() if D.device.type == "cpu" else D.scaled_m().T
        left = Q.m if row_factor is None else Q.m * row_factor[:, None]
        return left @ right if out is None else torch.matmul(left, right, out=out)
    if row_factor is not None or out is not None:
        raise ValueError("row_factor and out need the pre-scaled rank-only product (see rank_key_factors).")
    prod = Q.m @ D.m.T
    if Q.lo is not None and D.lo is not None:
        # both cross terms are exact integers, and so is their sum; adding it
        # to the main term rounds once, elementwise
        prod += (Q.m @ D.lo.T + Q.lo @ D.m.T) * 2.0**-Q.bits
    unit = 2.0 ** (-2 * Q.bits)
    if metric != "euclidean":
        if rank_only:
            return prod.mul_(D.scale[None, :])
        return prod.mul_(Q.scale[:, None] * unit).mul_(D.scale[None, :])
    a = (Q.sq * Q.scale * Q.scale * unit)[:, None]
    b = (D.sq * D.scale * D.scale * unit)[None, :]
    cross = prod.mul_(Q.scale[:, None] * (2.0 * unit)).mul_(D.scale[None, :])
    return torch.sub(a + b, cross).clamp_min_(0.0).sqrt_().neg_()


def gather_fixed(E: torch.Tensor, rows: torch.Tensor, metric: str, bits: int, precise: bool = False) -> Fixed:
    """``to_fixed(E)[rows]``, computed on the gathered rows only.

    :func:`to_fixed` works row by row (norms summed column by column, one
    scale per row), so a row gets the same fixed-point bits whatever the rows
    it is converted with.
    """
    return to_fixed(E.index_select(0, rows.reshape(-1)), metric, bits, precise)


def paired_similarity(Q: Fixed, D: Fixed, metric: str, rank_only: bool = False) -> torch.Tensor:
    """Similarities of query ``i`` to its own ``c`` database rows: ``D`` holds
    ``n * c`` rows, ``c`` per query in query order; returns ``(n, c)``.

    Bit-identical to the matching entries of :func:`similarity`: the integer
    products are exact in any order, and the elementwise steps are the same.
    """
    n = Q.m.shape[0]
    c = D.m.shape[0] // max(n, 1)
    Dm = D.m.view(n, c, -1)
    prod = torch.bmm(Dm, Q.m[:, :, None]).squeeze(2)
    if Q.lo is not None and D.lo is not None:
        cross = torch.bmm(D.lo.view(n, c, -1), Q.m[:, :, None]).squeeze(2) + torch.bmm(Dm, Q.lo[:, :, None]).squeeze(2)
        prod += cross * 2.0**-Q.bits
    unit = 2.0 ** (-2 * Q.bits)
    Ds = D.scale.view(n, c)
    if metric != "euclidean":
        if rank_only:
            return prod.mul_(Ds)
        return prod.mul_(Q.scale[:, None] * unit).mul_(Ds)
    a = (Q.sq * Q.scale * Q.scale * unit)[:, None]
    b = (D.sq * D.scale * D.scale * unit).view(n, c)
    cross = prod.mul_(Q.scale[:, None] * (2.0 * unit)).mul_(Ds)
    return torch.sub(a + b, cross).clamp_min_(0.0).sqrt_().neg_()


# ------------------------------------------------------- float32 screening
# Ranking by the exact fixed-point similarities costs a float64 product. The
# fast paths rank by a float32 product instead and use the exact values only
# where float32 cannot decide: two float32 scores closer than twice
# ``screen_tolerance`` may be in either exact order (or tied).
@dataclass
class Approx:
    """float32 rows for screening: ``x`` (unit rows for "cosine"), and for
    "euclidean" the squared norms ``sq``; the key ``approx_scores`` ranks like
    the similarity (for "euclidean": ``2 q.d - |d|^2``)."""

    x: torch.Tensor
    norm: torch.Tensor  # (n,) float32 norms of the rows of x
    sq: torch.Tensor | None

    def __getitem__(self, sl: Any) -> "Approx":
        return Approx(self.x[sl], self.norm[sl], None if self.sq is None else self.sq[sl])


def to_approx(E: torch.Tensor, metric: str) -> Approx:
    """float32 screening rows of a validated embedding tensor (no copy for
    float32 "dot" or "euclidean" input)."""
    x = E if E.dtype == torch.float32 else E.to(torch.float32)
    norm = torch.linalg.vector_norm(x, dim=1)
    if metric == "cosine":
        x = x / norm.clamp_min(torch.finfo(torch.float32).tiny)[:, None]
        norm = torch.ones_like(norm)
    sq = norm * norm if metric == "euclidean" else None
    return Approx(x, norm, sq)


def approx_scores(Q: Approx, D: Approx, metric: str) -> torch.Tensor:
    """float32 ranking keys of every query against every database row."""
    if metric == "euclidean":
        return torch.addmm(D.sq[None, :], Q.x, D.x.T, beta=-1.0, alpha=2.0)
    return Q.x @ D.x.T


def approx_paired(Q: Approx, D: Approx, metric: str) -> torch.Tensor:
    """float32 keys of query ``i`` against its own ``c`` rows of ``D`` (``n * c`` rows)."""
    n = Q.x.shape[0]
    c = D.x.shape[0] // max(n, 1)
    dot = torch.bmm(D.x.view(n, c, -1), Q.x[:, :, None]).squeeze(2)
    if metric == "euclidean":
        return 2.0 * dot - D.sq.view(n, c)
    return dot


def screen_tolerance(Q: Approx, d_max_norm: float, metric: str, n_dims: int) -> torch.Tensor:
    """Per query, a bound on |float32 key - exact key| (exact: the fixed-point
    value, in the key's units), for every database row of norm <= ``d_max_norm``.

    The float32 product's rounding error is at most about ``n_dims * 2**-24``
    times ``|q| |d|`` (any summation order), the rounding of the inputs to
    float32 and the fixed point add a few units more; the bound doubles that.
    """
    c = (n_dims + 16) * 2.0**-22
    qn = Q.norm.to(torch.float64)
    if metric == "euclidean":
        return c * (2.0 * qn * d_max_norm + d_max_norm * d_max_norm)
    return c * qn * d_max_norm
