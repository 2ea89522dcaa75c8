"""Where each relevant item lands in a ranking with tied scores, and the closed
forms of the expected metrics over all orderings of tied items.

For one query, an item whose score is tied with ``g - 1`` others, and beaten by
``s`` items, sits at one of the ranks ``s + 1 .. s + g``. With
``ties="average"`` every ordering of the tied items is equally likely, so the
item is at each of those ranks with probability ``1 / g``; the expectation of
AP, precision@k, NDCG and ACG then has a closed form per tie group
(McSherry & Najork, ECIR 2008), computed here with harmonic-number and
discount tables, vectorised over a chunk of queries. The deterministic modes
("stable", "optimistic", "pessimistic") resolve every tie to a single rank
(``g = 1``), so the same formulas give the metric of that one ranking.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

TIES = ("average", "optimistic", "pessimistic", "stable")


def check_choice(value: Any, name: str, choices: tuple) -> Any:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")
    return value


def check_ties(ties: Any) -> str:
    return check_choice(ties, "ties", TIES)


# ------------------------------------------------------------------- labels
def _label_kind(y: np.ndarray) -> str:
    if y.dtype.kind in "biuf":
        return "numbers"
    if y.dtype.kind in "US":
        return "strings"
    kinds = {"strings" if isinstance(v, (str, bytes)) else "numbers" if isinstance(v, (int, float, np.number)) else "other" for v in y.ravel()}
    if len(kinds) > 1:
        raise TypeError(f"labels mix {' and '.join(sorted(kinds))}; use one kind of label.")
    return kinds.pop() if kinds else "numbers"


def label_array(y: Any, what: str, n: int) -> np.ndarray:
    if y is None:
        raise ValueError(f"{what} is None: this metric needs labels.")
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    if hasattr(y, "toarray"):
        y = y.toarray()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim not in (1, 2):
        raise ValueError(f"{what} must be 1-D or a 2-D indicator matrix, got shape {y.shape}.")
    if y.shape[0] != n:
        raise ValueError(f"{what} has {y.shape[0]} entries for {n} items.")
    if y.ndim == 2 and y.dtype.kind not in "biuf":
        raise TypeError(f"{what} is 2-D, so it must be a numeric indicator matrix, got dtype {y.dtype}.")
    return y


def encode_pair(q: np.ndarray, d: np.ndarray, q_name: str, d_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of two 1-D label (or id) arrays in a shared vocabulary."""
    kq, kd = _label_kind(q), _label_kind(d)
    if kq != kd:
        raise TypeError(
            f"{q_name} hold {kq} but {d_name} hold {kd}: no label could ever match, "
            "so every score would be 0. Convert one of them."
        )
    try:
        _, codes = np.unique(np.concatenate([q, d]), return_inverse=True)
    except TypeError as exc:
        raise TypeError(f"{q_name} and {d_name} cannot be compared: {exc}") from exc
    codes = codes.ravel()
    return codes[: len(q)], codes[len(q) :]


class Gains:
    """Gain (graded relevance) of every database item to every query.

    1-D class labels give gain 1 for the same class; 2-D indicator matrices give
    the number of shared labels; ``relevance(query_labels, database_labels)``
    overrides both with any non-negative gains. Binary metrics treat gain > 0
    as relevant.
    """

    def __init__(self, query_labels, database_labels, n_query, n_database, device, relevance: Callable | None = None):
        q = label_array(query_labels, "query_labels", n_query)
        d = label_array(database_labels, "database_labels", n_database)
        self.device, self.n_database = device, n_database
        self.relevance = relevance
        if relevance is not None:
            if not callable(relevance):
                raise TypeError(f"relevance must be a callable or None, got {type(relevance).__name__}.")
            self.q_raw, self.d_raw = q, d
            self.kind = "custom"
            return
        if q.ndim != d.ndim:
            raise ValueError(
                "query_labels and database_labels must both be 1-D class labels or both "
                f"2-D indicator matrices, got {q.ndim}-D and {d.ndim}-D."
            )
        if q.ndim == 1:
            self.kind = "single"
            cq, cd = encode_pair(q, d, "query_labels", "database_labels")
            self.q = torch.as_tensor(cq, device=device)
            self.d = torch.as_tensor(cd, device=device)
            n_codes = int(max(cq.max(), cd.max())) + 1
            # narrow codes for the CPU mask: half the bytes to compare
            narrow = np.int16 if n_codes < 2**15 else np.int32 if n_codes < 2**31 else np.int64
            self._q_np, self._d_np = cq.astype(narrow), cd.astype(narrow)
            order = np.argsort(cd, kind="stable")
            bounds = np.searchsorted(cd[order], np.arange(n_codes + 1))
            # members of each class, in database order
            self._members = {c: torch.as_tensor(order[bounds[c] : bounds[c + 1]], device=device) for c in np.unique(cq)}
            self.n_relevant = torch.as_tensor(bounds[cq + 1] - bounds[cq], device=device)
        else:
            if q.shape[1] != d.shape[1]:
                raise ValueError(f"query_labels has {q.shape[1]} label columns but database_labels has {d.shape[1]}.")
            self.kind = "multi"
            self.q = torch.as_tensor(q != 0, dtype=torch.float64, device=device)
            self.d = torch.as_tensor(d != 0, dtype=torch.float64, device=device)

    def full(self, sl) -> torch.Tensor:
        """Dense (n_rows, n_database) float64 gains of the queries ``sl``."""
        if self.kind == "single":
            return (self.q[sl, None] == self.d[None, :]).to(torch.float64)
        if self.kind == "multi":
            return self.q[sl] @ self.d.T  # counts of shared labels: exact
        rows = self.q_raw[sl.cpu().numpy() if isinstance(sl, torch.Tensor) else sl]
        g = np.asarray(self.relevance(rows, self.d_raw), dtype=np.float64)
        n = len(rows)
        if g.shape != (n, self.n_database):
            raise ValueError(f"relevance returned shape {g.shape}, expected {(n, self.n_database)}.")
        if not np.isfinite(g).all() or (g < 0).any():
            raise ValueError("relevance must return finite, non-negative gains.")
        return torch.as_tensor(g, device=self.device)

    def mask(self, sl) -> torch.Tensor:
        """Dense (n_rows, n_database) bool: which items have a positive gain."""
        if self.kind == "single":
            if self.q.device.type == "cpu":
                return torch.from_numpy(self._q_np[sl, None] == self._d_np[None, :])
            return self.q[sl, None] == self.d[None, :]
        return self.full(sl) > 0

    def sparse(self, sl: slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The items with a positive gain, padded: indices ``J``, gains ``G``
        and the mask ``valid``, each (n_rows, width), in database order."""
        if self.kind == "single":
            codes = self.q[sl]
            n = len(codes)
            empty = torch.empty(0, dtype=torch.long, device=self.device)
            counts = self.n_relevant[sl]
            width = max(int(counts.max()), 1)
            J = torch.zeros((n, width), dtype=torch.long, device=self.device)
            for c in torch.unique(codes).tolist():
                cols = self._members.get(c, empty)
                if cols.numel():
                    J[codes == c, : cols.numel()] = cols
            valid = torch.arange(width, device=self.device)[None, :] < counts[:, None]
            return J, valid.to(torch.float64), valid
        F = self.full(sl)
        mask = F > 0
        counts = mask.sum(dim=1)
        width = max(int(counts.max()), 1)
        rows, cols = mask.nonzero(as_tuple=True)
        starts = torch.cumsum(counts, 0) - counts
        pos = torch.arange(rows.numel(), device=self.device) - starts[rows]
        J = torch.zeros((F.shape[0], width), dtype=torch.long, device=self.device)
        G = torch.zeros((F.shape[0], width), dtype=torch.float64, device=self.device)
        J[rows, pos] = cols
        G[rows, pos] = F[rows, cols]
        valid = torch.arange(width, device=self.device)[None, :] < counts[:, None]
        return J, G, valid


# ---------------------------------------------------------------- positions
def sort_rows(S: torch.Tensor) -> torch.Tensor:
    """Each row's values, ascending (numpy's SIMD sort on the CPU)."""
    if S.device.type == "cpu":
        return torch.from_numpy(np.sort(S.numpy(), axis=1))
    return torch.sort(S, dim=1).values


def positions(
    S: torch.Tensor, J: torch.Tensor, G: torch.Tensor, valid: torch.Tensor, ties: str, full_gains: Callable, binary: bool = False
):
    """``(s, g)`` of the items ``J`` of each row of similarities ``S``.

    ``s``: items ranked surely before (strictly higher score, or before in the
    resolved order); ``g``: the tie-group size (1 once ties are resolved).
    ``full_gains(rows)`` gives the dense gains of some rows, for the
    optimistic and pessimistic orders. The items come back reordered by
    ascending score, with their ``J``, ``G`` and ``valid``: sorted keys make
    the searches cheap. ``S`` is sorted in place. ``binary``: all gains are
    1, so with averaged ties only the scores matter and a value sort does.
    """
    n, N = S.shape
    cpu = S.device.type == "cpu"
    if cpu and ties == "average":
        return _positions_average_cpu(S, J, G, valid, binary)
    V = torch.where(valid, S.gather(1, J), torch.full_like(G, -float("inf")))
    if binary and ties == "average":
        # padding (-inf) sorts first, so the valid items are the last `count`
        V = torch.from_numpy(np.sort(V.numpy(), axis=1)) if cpu else torch.sort(V, dim=1).values
        count = valid.sum(dim=1, keepdim=True)
        valid = torch.arange(V.shape[1], device=V.device)[None, :] >= V.shape[1] - count
        G = valid.to(torch.float64)
    else:
        order = torch.from_numpy(np.argsort(V.numpy(), axis=1, kind="stable")) if cpu else torch.argsort(V, dim=1, stable=True)
        J, V, G, valid = (t.gather(1, order) for t in (J, V, G, valid))
    original = S.clone() if ties != "average" else None
    if cpu:
        S.numpy().sort(axis=1)  # in place: no copy of the chunk
        asc, Vn = S.numpy(), V.numpy()
        right_np = np.empty(Vn.shape, dtype=np.int64)
        for i in range(n):  # numpy's searchsorted narrows the range for sorted keys
            right_np[i] = np.searchsorted(asc[i], Vn[i], side="right")
        right = torch.from_numpy(right_np)
    else:
        S.copy_(torch.sort(S, dim=1).values)
        right = torch.searchsorted(S, V, right=True)
    s = (N - right).to(torch.float64)
    g = torch.ones_like(s)
    tied = torch.nonzero((S[:, 1:] == S[:, :-1]).any(dim=1)).squeeze(1)
    if tied.numel() == 0:
        return s, g, J, G, valid
    if ties == "average":
        if cpu:
            left = torch.from_numpy(np.stack([np.searchsorted(asc[i], Vn[i], side="left") for i in tied.tolist()]))
        else:
            left = torch.searchsorted(S[tied], V[tied], right=False)
        g[tied] = (right[tied] - left).to(torch.float64)
        return s, g, J, G, valid
    # Resolve ties in the rows that have any: one full ranking per such row.
    St = original[tied]
    if ties == "stable":
        order = torch.sort(St, dim=1, descending=True, stable=True).indices
    else:
        F = full_gains(tied)
        by_gain = torch.sort(F, dim=1, descending=ties == "optimistic", stable=True).indices
        order = by_gain.gather(1, torch.sort(St.gather(1, by_gain), dim=1, descending=True, stable=True).indices)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(N, device=S.device).expand(len(tied), N))
    s[tied] = rank.gather(1, J[tied]).to(torch.float64)
    return s, g, J, G, valid


# Rows with more float32 collisions among their relevant items than this are
# ranked by a float64 sort; fewer are resolved item by item.
_MAX_COLLISIONS = 32


def _positions_average_cpu(S, J, G, valid, binary):
    """``positions`` for ``ties="average"`` on the CPU, sorting float32 keys.

    Rounding the exact float64 similarities to float32 keeps their order
    (it is monotone) and their ties, but can merge distinct values: ``s`` and
    ``g`` read from the sorted float32 keys are exact for every item whose
    float32 group holds only itself. The few items in a larger float32 group
    are counted again on the float64 row (rows with many of them, such as
    data with real ties, are sorted in float64 instead). A float32 sort moves
    half the bytes of a float64 one: about three times faster.
    """
    n, N = S.shape
    V = torch.where(valid, S.gather(1, J), torch.full_like(G, -float("inf")))
    if binary:
        V = torch.from_numpy(np.sort(V.numpy(), axis=1))
        count = valid.sum(dim=1, keepdim=True)
        valid = torch.arange(V.shape[1])[None, :] >= V.shape[1] - count
        G = valid.to(torch.float64)
    else:
        order = torch.from_numpy(np.argsort(V.numpy(), axis=1, kind="stable"))
        J, V, G, valid = (t.gather(1, order) for t in (J, V, G, valid))
    S64, V64 = S.numpy(), V.numpy()
    keys = S.to(torch.float32).numpy()
    keys.sort(axis=1)
    with np.errstate(over="ignore"):  # inf keys merge groups: resolved below
        V32 = V64.astype(np.float32)
    right = np.empty(V64.shape, dtype=np.int64)
    for i in range(n):  # numpy's searchsorted narrows the range for sorted keys
        right[i] = np.searchsorted(keys[i], V32[i], side="right")
    valid_np = valid.numpy()
    # an item's float32 group holds another item when the key just before
    # the group's end (the item itself is at or before it) is equal
    before = np.take_along_axis(keys, np.maximum(right - 2, 0), axis=1)
    left = right - 1
    merged = valid_np & (right >= 2) & (before == V32)
    for i in np.flatnonzero(merged.any(axis=1)):
        cols = np.flatnonzero(merged[i])
        if cols.size > _MAX_COLLISIONS:
            row = np.sort(S64[i])
            right[i] = np.searchsorted(row, V64[i], side="right")
            left[i] = np.searchsorted(row, V64[i], side="left")
        else:
            v = V64[i, cols][:, None]
            above = (S64[i][None, :] > v).sum(axis=1)
            right[i, cols] = N - above
            left[i, cols] = N - above - (S64[i][None, :] == v).sum(axis=1)
    s = torch.from_numpy(N - right).to(torch.float64)
    g = torch.from_numpy(np.where(valid_np, right - left, 1)).to(torch.float64)
    return s, g, J, G, valid


_LITTLE = np.little_endian
# Up to this share of a block's rows, rows with values closer than a key unit
# are sorted again in float64; more usually means real ties (general path).
_RESORT_FRACTION = 1 / 8


def average_precision_untied_cpu(
    S: np.ndarray, rel: np.ndarray, k: int, denominator: str, keys: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP with ``ties="average"`` of each row of exact similarities ``S``
    (float64, ``(n, N)``, all below ``2**30`` in magnitude) whose relevant
    items (``rel``, bool) are tied with no other item, by one int32 sort
    per row.

    Returns ``(ap, defined, exact)``; rows where ``exact`` is False hold a
    relevant item that may be tied and must be recomputed by the general
    path. ``keys``: an int32 buffer of ``S``'s shape to work in.

    Each similarity is truncated to an integer (monotone, so distinct
    integers are in exact order and exact ties stay together) and doubled,
    and the item's relevance goes in the freed lowest bit: the sort alone
    says where the relevant items land, with no second sort and no search.
    A relevant item whose integer no neighbour shares is alone in its exact
    tie group: it sits at rank ``s + 1`` with ``s`` the items after it in
    the ascending sort, and the precision there is ``(H + 1) / (s + 1)``
    (H: relevant items after it). A few rows where a relevant item shares
    its integer are sorted again in float64; rows with real ties are left
    to the general path. The sums run in ascending score order with the
    same float operations as the general path's, so a row gets the same
    bits by either path.
    """
    n, N = S.shape
    if keys is None:
        keys = np.empty(S.shape, dtype=np.int32)
    np.copyto(keys, S, casting="unsafe")  # truncation toward zero: monotone
    np.left_shift(keys, 1, out=keys)
    np.bitwise_or(keys, rel.view(np.uint8), out=keys)
    keys.sort(axis=1)
    # the lowest byte of each little-endian key holds its relevance bit
    low = keys.view(np.uint8)[:, ::4] if _LITTLE else keys
    at = np.flatnonzero(np.bitwise_and(low, 1).view(bool) if _LITTLE else (low & 1).astype(bool))
    ap, defined, rows, after = _ap_of_positions(at, n, N, k, denominator)
    # Items sharing an integer t hold keys 2t (irrelevant), sorted first, and
    # 2t + 1 (relevant). So if a relevant item shares its integer with any
    # item, the first relevant item of that run has its left neighbour in it
    # (the row's first item has none): one comparison per relevant item.
    flat = keys.reshape(-1)
    shared = (flat[at] - flat[at - 1] <= 1) & (after != N)
    exact = np.ones(n, dtype=bool)
    exact[rows[shared]] = False
    redo = np.flatnonzero(~exact)
    if redo.size and redo.size <= _RESORT_FRACTION * n:
        # A few rows with values closer than a key unit: sort them in float64.
        # Many such rows mean real ties, for the general path.
        order = np.argsort(S[redo], axis=1)
        vals = np.take_along_axis(S[redo], order, axis=1).reshape(-1)
        at = np.flatnonzero(np.take_along_axis(rel[redo], order, axis=1))
        ap_r, defined_r, rows, after = _ap_of_positions(at, redo.size, N, k, denominator)
        nxt = np.minimum(at + 1, vals.size - 1)
        tied = ((vals[at] == vals[at - 1]) & (after != N)) | ((vals[at] == vals[nxt]) & (after != 1))
        ok = np.ones(redo.size, dtype=bool)
        ok[rows[tied]] = False
        ap[redo[ok]], defined[redo[ok]], exact[redo[ok]] = ap_r[ok], defined_r[ok], True
    return ap, defined, exact


def _ap_of_positions(at: np.ndarray, n: int, N: int, k: int, denominator: str):
    """AP of ``n`` rows of ``N`` items whose relevant items sit alone (untied)
    at the flat positions ``at`` of the rows sorted ascending.

    Returns ``(ap, defined, rows, after)``, ``rows`` and ``after`` (= s + 1)
    per relevant item.
    """
    R = np.diff(np.searchsorted(at, np.arange(n + 1) * N))
    rows = np.repeat(np.arange(n), R)
    after = np.repeat(np.arange(1, n + 1) * N, R) - at  # s + 1
    contrib = (np.repeat(np.cumsum(R), R) - np.arange(at.size)) / after  # (H + 1) / (s + 1)
    if k < N:
        top = after <= k
        contrib[~top] = 0.0
        n_top = np.bincount(rows, weights=top, minlength=n)
    else:
        n_top = R.astype(np.float64)
    # sequential sums in ascending score order, as the general path's
    total = np.bincount(rows, weights=contrib, minlength=n)
    Rf = R.astype(np.float64)
    if denominator == "all":
        return total / np.maximum(Rf, 1.0), R > 0, rows, after
    if denominator == "min":
        return total / np.maximum(np.minimum(Rf, float(k)), 1.0), R > 0, rows, after
    return total / np.maximum(n_top, 1.0), n_top > 0, rows, after


# ------------------------------------------------------------ closed forms
def rowsum(x: torch.Tensor) -> torch.Tensor:
    # Sequential, so that the padding width (which depends on the chunk) never
    # changes the rounding: results do not depend on batch_size.
    return torch.cumsum(x, dim=1)[:, -1]


def harmonic(N: int, device) -> torch.Tensor:
    """H[n] = sum_{i <= n} 1 / i, for n = 0 .. N."""
    i = torch.arange(1, N + 1, dtype=torch.float64, device=device)
    return torch.cat([torch.zeros(1, dtype=torch.float64, device=device), torch.cumsum(1.0 / i, 0)])


def discounts(N: int, device) -> torch.Tensor:
    """D[n] = sum_{p <= n} 1 / log2(p + 1), for n = 0 .. N."""
    p = torch.arange(1, N + 1, dtype=torch.float64, device=device)
    return torch.cat([torch.zeros(1, dtype=torch.float64, device=device), torch.cumsum(1.0 / torch.log2(p + 1.0), 0)])


def fraction_in_top(s: torch.Tensor, g: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Probability that an item is in the top ``k`` (``k`` per row)."""
    return ((k[:, None] - s) / g).clamp(0.0, 1.0)


def _log_comb(n: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return torch.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)


def hypergeom_pmf(m: torch.Tensor, g: torch.Tensor, r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """P(m of the r marked items among c draws from g), broadcasting; 0 outside the support."""
    ok = (m >= 0) & (m <= r) & (m <= c) & (c - m <= g - r)
    mm = torch.where(ok, m, torch.zeros_like(m))
    out = torch.exp(_log_comb(r, mm) + _log_comb(g - r, c - mm) - _log_comb(g, c))
    return torch.where(ok, out, torch.zeros_like(out))


def _group_counts(s: torch.Tensor, valid: torch.Tensor):
    """For each relevant item: ``H`` relevant items surely before its group and
    ``r`` relevant items in its group (items of a group share ``s``)."""
    key = torch.where(valid, s, torch.full_like(s, float("inf")))
    n, W = key.shape
    if W < 2 or bool((key[:, 1:] <= key[:, :-1]).all()):
        if W >= 2 and not bool((key[:, 1:] == key[:, :-1]).logical_and_(valid[:, 1:]).any()):
            # no two relevant items share a group: each is its own run
            H = torch.arange(W - 1, -1, -1, dtype=torch.float64, device=s.device).expand(n, W)
            return H, torch.ones_like(s)
        # items in ascending score order (padding first): equal keys are
        # already adjacent, and the items before a run are those after it
        k, order = key, None
    else:
        order = torch.argsort(key, dim=1, stable=True)
        k = key.gather(1, order)
    idx = torch.arange(W, device=s.device).expand(n, W)
    new_run = torch.ones_like(k, dtype=torch.bool)
    new_run[:, 1:] = k[:, 1:] != k[:, :-1]
    # first and one-past-last position of each item's run of equal keys
    first = torch.cummax(torch.where(new_run, idx, torch.zeros_like(idx)), dim=1).values
    ends = torch.full_like(idx, W)
    ends[:, :-1] = torch.where(new_run[:, 1:], idx[:, 1:], torch.full_like(idx[:, 1:], W))
    last = torch.flip(torch.cummin(torch.flip(ends, [1]), dim=1).values, [1])
    if order is None:
        return (W - last).to(torch.float64), (last - first).to(torch.float64)
    H = torch.empty_like(first).scatter_(1, order, first)
    r = torch.empty_like(first).scatter_(1, order, last - first)
    return H.to(torch.float64), r.to(torch.float64)


def _precision_sum(H, s, g, r, c, Hn):
    """Expected sum of precision at the relevant positions among the first ``c``
    ranks of a tie group (ranks s+1 .. s+g, r of its g items relevant, H
    relevant items before it), per relevant item of the group (divided by r).

    A relevant item is at group position j with probability 1/g, and then the
    expected number of relevant items at or before it is H + 1 + (j-1)(r-1)/(g-1);
    summing (H + 1 + (j-1) a) / (s + j) over j = 1..c with harmonic numbers gives
    the closed form.
    """
    a = torch.where(g > 1, (r - 1) / (g - 1).clamp_min(1.0), torch.zeros_like(g))
    ci = c.long()
    si = s.long()
    harm = Hn[si + ci] - Hn[si]
    return ((H + 1 - (s + 1) * a) * harm + c * a) / g


def average_precision(s, g, valid, k, denominator, Hn):
    """AP of each row and whether it is defined (has a non-zero denominator).

    ``k``: per-row cut-off (n_database for the full ranking).
    """
    H, r = _group_counts(s, valid)
    c = torch.minimum((k[:, None] - s).clamp_min(0.0), g)
    # untied items: the precision at their rank (elementwise, so that a value
    # never depends on which other rows share its chunk)
    contrib = torch.where(valid & (c > 0), (H + 1) / (s + 1), torch.zeros_like(s))
    rows = torch.nonzero((valid & (g > 1)).any(dim=1)).squeeze(1)
    if rows.numel():
        sub = (H[rows], s[rows], g[rows], r[rows], c[rows])
        closed = _precision_sum(*sub, Hn)
        contrib[rows] = torch.where(valid[rows] & (g[rows] > 1), closed, contrib[rows])
    R = valid.sum(dim=1).to(torch.float64)
    if denominator == "all":
        return rowsum(contrib) / R.clamp_min(1.0), R > 0
    if denominator == "min":
        return rowsum(contrib) / torch.minimum(R, k).clamp_min(1.0), R > 0
    # "retrieved": divided by the relevant items in the top k, which is random
    # when a tie group straddles the cut-off: average over its hypergeometric
    # count m of relevant items that make the cut.
    fixed = valid & (s + g <= k[:, None])
    straddle = valid & (s < k[:, None]) & (s + g > k[:, None])
    N_fix = rowsum(torch.where(fixed, contrib, torch.zeros_like(contrib)))
    H_fix = fixed.sum(dim=1).to(torch.float64)
    ap = N_fix / H_fix.clamp_min(1.0)
    defined = H_fix > 0
    rows = torch.nonzero(straddle.any(dim=1)).squeeze(1)
    if rows.numel():
        st = straddle[rows]
        neg = torch.full_like(s[rows], -1.0)
        s_ = torch.where(st, s[rows], neg).amax(1)
        g_ = torch.where(st, g[rows], neg).amax(1)
        r_ = torch.where(st, r[rows], neg).amax(1)
        c_ = k[rows] - s_
        h, n_fix = H_fix[rows], N_fix[rows]
        m = torch.arange(int(torch.minimum(r_, c_).max()) + 1, dtype=torch.float64, device=s.device)[None, :]
        p = hypergeom_pmf(m, g_[:, None], r_[:, None], c_[:, None])
        c2, s2, h2 = c_[:, None], s_[:, None], h[:, None]
        a = torch.where(c2 > 1, (m - 1) / (c2 - 1).clamp_min(1.0), torch.zeros_like(m))
        harm = Hn[(s2 + c2).long()] - Hn[s2.long()]
        T = m / c2 * ((h2 + 1 - (s2 + 1) * a) * harm + c2 * a)
        den = h2 + m
        val = torch.where(den > 0, (n_fix[:, None] + T) / den.clamp_min(1.0), torch.zeros_like(T))
        ap[rows] = rowsum(p * val)
        defined[rows] = True
    return ap, defined


def dcg(s, g, G, valid, k, Dn):
    """Expected DCG@k with linear gains: an item's expected discount is the mean
    discount over the ranks of its tie group that fall in the top k."""
    kk = k[:, None]
    lo = torch.minimum(s, kk).long()
    hi = torch.minimum(s + g, kk).long()
    return rowsum(torch.where(valid, G * (Dn[hi] - Dn[lo]) / g, torch.zeros_like(s)))


def ideal_dcg(G, valid, k, Dn):
    Gs = torch.sort(torch.where(valid, G, torch.zeros_like(G)), dim=1, descending=True).values
    p = torch.arange(1, Gs.shape[1] + 1, dtype=torch.float64, device=G.device)
    w = torch.where(p[None, :] <= k[:, None], 1.0 / torch.log2(p + 1.0)[None, :], torch.zeros_like(Gs))
    return rowsum(Gs * w)
