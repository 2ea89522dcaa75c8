"""Cross-modal retrieval metrics: exact, vectorised, computed in bounded memory.

Every metric ranks a database of one modality for each query of another by a
similarity (cosine by default), then measures how relevant items are placed.
Two items are relevant to each other when they share at least one label.
Ties in similarity are broken by database position (stable sort), so results
are deterministic.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Sequence

import numpy as np
import torch

__all__ = [
    "mean_average_precision",
    "average_precision_scores",
    "precision_recall_curve",
    "precision_at_k",
    "top_k_similarities",
    "similarity_matrix",
]

_METRICS = ("cosine", "dot", "euclidean")
# Bytes a chunk of queries may use (similarities, ranks, relevance, precisions).
_CHUNK_BYTES = 256 * 2**20


def _as_embedding(E: Any, what: str, device: torch.device | None) -> torch.Tensor:
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
    if not t.is_floating_point():
        t = t.double()
    if not torch.isfinite(t).all():
        raise ValueError(f"{what} contains NaN or inf.")
    if device is not None:
        t = t.to(device)
    return t


def _prepare(query_emb, database_emb, metric, device, float64_on_cpu=True):
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}.")
    if device is None:
        device = query_emb.device if isinstance(query_emb, torch.Tensor) else torch.device("cpu")
    else:
        device = torch.device(device)
    Q = _as_embedding(query_emb, "query_emb", device)
    D = _as_embedding(database_emb, "database_emb", device)
    if Q.shape[1] != D.shape[1]:
        raise ValueError(
            f"query_emb has {Q.shape[1]} dimensions but database_emb has {D.shape[1]}."
        )
    dtype = torch.promote_types(Q.dtype, D.dtype)
    if float64_on_cpu and device.type == "cpu":
        # float64 similarities: float32 would tie thousands of near-equal scores
        # in a large database, and every tie would cost a stable argsort.
        dtype = torch.float64
    Q, D = Q.to(dtype), D.to(dtype)
    if metric == "cosine":
        Q = Q / Q.norm(dim=1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
        D = D / D.norm(dim=1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
    return Q, D


def _similarity(Qc: torch.Tensor, D: torch.Tensor, metric: str) -> torch.Tensor:
    if metric == "euclidean":
        # Negative distance, so that larger is more similar for every metric.
        return -torch.cdist(Qc, D)
    return Qc @ D.T


def similarity_matrix(query_emb, database_emb, metric: str = "cosine") -> np.ndarray:
    """Full query x database similarity matrix (small problems and tests only)."""
    Q, D = _prepare(query_emb, database_emb, metric, None)
    return _similarity(Q, D, metric).cpu().numpy()


class _Relevance:
    """Relevance of database items to queries, from labels (1-D classes or 2-D indicators)."""

    def __init__(self, query_labels, database_labels, n_query, n_database, device):
        q = _label_array(query_labels, "query_labels", n_query)
        d = _label_array(database_labels, "database_labels", n_database)
        if q.ndim != d.ndim:
            raise ValueError(
                "query_labels and database_labels must both be 1-D class labels or "
                "both 2-D indicator matrices."
            )
        if q.ndim == 1:
            try:
                _, codes = np.unique(np.concatenate([q, d]), return_inverse=True)
            except TypeError as exc:
                raise TypeError(f"labels cannot be compared: {exc}") from exc
            self.multilabel = False
            self.q = torch.as_tensor(codes[:n_query], device=device)
            self.d = torch.as_tensor(codes[n_query:], device=device)
            d = codes[n_query:]
            self._members = {int(c): np.flatnonzero(d == c) for c in np.unique(d)}
        else:
            if q.shape[1] != d.shape[1]:
                raise ValueError(
                    f"query_labels has {q.shape[1]} label columns but database_labels "
                    f"has {d.shape[1]}."
                )
            self.multilabel = True
            self.q = torch.as_tensor(q != 0, dtype=torch.float32, device=device)
            self.d = torch.as_tensor(d != 0, dtype=torch.float32, device=device)

    def rows(self, sl: slice) -> torch.Tensor:
        if self.multilabel:
            return (self.q[sl] @ self.d.T) > 0
        return self.q[sl, None] == self.d[None, :]

    def sorted_relevant(self, sims: np.ndarray, sl: slice, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each query's similarities to its relevant items, ascending, left-padded with -inf.

        ``sims`` holds the rows ``rows`` of the query chunk ``sl``. Returns the
        padded ``(n_rows, max_relevant)`` array and the relevant counts.
        """
        if self.multilabel:
            relevant = self.rows(sl).cpu().numpy()[rows]
            n_rel = relevant.sum(axis=1)
            width = max(int(n_rel.max()), 1)
            return np.sort(np.where(relevant, sims, -np.inf), axis=1)[:, -width:], n_rel
        # Single-label: the relevant items of a query are its class's members, so
        # gather them per class instead of sorting masked full rows.
        codes = self.q[sl].cpu().numpy()[rows]
        empty = np.empty(0, dtype=np.intp)
        n_rel = np.array([self._members.get(int(c), empty).size for c in codes])
        width = max(int(n_rel.max()), 1)
        out = np.full((len(codes), width), -np.inf)
        for c in np.unique(codes):
            cols = self._members.get(int(c), empty)
            if cols.size:
                members = np.flatnonzero(codes == c)
                out[members, width - cols.size :] = np.sort(sims[np.ix_(members, cols)], axis=1)
        return out, n_rel


def _label_array(y, what: str, n: int) -> np.ndarray:
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
    return y


def _chunks(n_query: int, n_database: int, batch_size: int | None) -> Iterator[slice]:
    if batch_size is None:
        batch_size = max(1, _CHUNK_BYTES // (48 * max(n_database, 1)))
    for start in range(0, n_query, batch_size):
        yield slice(start, min(start + batch_size, n_query))


def _ranked_relevance(Q, D, rel: _Relevance, metric: str, sl: slice, k: int | None):
    """Relevance (bool) of the ranked database for the queries in ``sl``."""
    sims = _similarity(Q[sl], D, metric)
    order = torch.sort(sims, dim=1, descending=True, stable=True).indices
    if k is not None:
        order = order[:, :k]
    return torch.gather(rel.rows(sl), 1, order)


def _top_k_first_position(s: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.topk`` whose ties at the k-th value go to the earliest columns.

    ``torch.topk`` may keep any of several equal scores at the cut-off; the
    rows where an equal score was left out are re-ranked by a stable sort
    (rare with real-valued embeddings, so the fast path is the common one).
    """
    values, indices = torch.topk(s, k, dim=1)
    cut = values[:, -1:]
    left_out = (s == cut).sum(dim=1) > (values == cut).sum(dim=1)
    if bool(left_out.any()):
        rows = left_out.nonzero().squeeze(1)
        order = torch.sort(s[rows], dim=1, descending=True, stable=True).indices[:, :k]
        indices[rows] = order
        values[rows] = s[rows].gather(1, order)
    return values, indices


def _check_k(k, n_database):
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer or None, got {k!r}.")
    return int(min(k, n_database))


def average_precision_scores(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | None = None,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
) -> np.ndarray:
    """Average precision of every query's ranking of the database.

    AP = (1 / R) * sum_r P(r) rel(r), with P(r) the precision of the top r items
    and R the number of relevant items in the ranking (in the top ``k`` when
    ``k`` is given: mAP@k). A query with no relevant item has AP 0.

    Parameters
    ----------
    query_emb : array-like or torch.Tensor of shape (n_queries, n_dims)
    database_emb : array-like or torch.Tensor of shape (n_database, n_dims)
    query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
        Class labels, or a binary indicator matrix for multi-label data.
    database_labels : array-like of shape (n_database,) or (n_database, n_labels)
    k : int, default=None
        Evaluate only the top ``k`` of each ranking.
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
    batch_size : int, default=None
        Queries per chunk; by default chosen so a chunk uses about 256 MiB.
    device : str or torch.device, default=None
        Where to compute; by default where ``query_emb`` lives (CPU for numpy).

    Returns
    -------
    ap : ndarray of shape (n_queries,)

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import average_precision_scores
    >>> q = np.array([[1.0, 0.0]])
    >>> db = np.array([[1.0, 0.1], [0.0, 1.0], [0.9, 0.0]])
    >>> # ranking by cosine: db[2] (not relevant), db[0] (relevant), db[1]
    >>> average_precision_scores(q, db, [0], [0, 1, 1])
    array([0.5])
    """
    Q, D = _prepare(query_emb, database_emb, metric, device)
    rel = _Relevance(query_labels, database_labels, Q.shape[0], D.shape[0], Q.device)
    k = _check_k(k, D.shape[0])
    chunks = list(_chunks(Q.shape[0], D.shape[0], batch_size))
    if Q.device.type != "cpu":
        return torch.cat([_ap_by_argsort(Q, D, rel, metric, sl, k).cpu() for sl in chunks]).numpy()
    # numpy's sorts release the GIL: chunks run on two threads (memory: two chunks).
    n_threads = min(2, os.cpu_count() or 1, len(chunks))
    if n_threads < 2:
        return np.concatenate([_ap_by_value_sort(Q, D, rel, metric, sl, k) for sl in chunks])
    with ThreadPoolExecutor(n_threads) as pool:
        return np.concatenate(list(pool.map(lambda sl: _ap_by_value_sort(Q, D, rel, metric, sl, k), chunks)))


def _ap_by_argsort(Q, D, rel: _Relevance, metric: str, sl: slice, k: int | None) -> torch.Tensor:
    """AP from the stably ranked relevance of every database item (any input, ties included)."""
    return _ap_of_ranking(_similarity(Q[sl], D, metric), rel.rows(sl), k)


def _ap_of_ranking(sims: torch.Tensor, relevant: torch.Tensor, k: int | None) -> torch.Tensor:
    """AP of rows of similarities, ranked by a stable sort (ties by database position)."""
    order = torch.sort(sims, dim=1, descending=True, stable=True).indices
    if k is not None:
        order = order[:, :k]
    ranked = torch.gather(relevant, 1, order)
    hits = torch.cumsum(ranked, dim=1, dtype=torch.float64)
    ranks = torch.arange(1, ranked.shape[1] + 1, device=sims.device, dtype=torch.float64)
    n_rel = hits[:, -1]
    return (hits / ranks * ranked).sum(dim=1) / n_rel.clamp_min(1.0)


def _ap_by_value_sort(Q, D, rel: _Relevance, metric: str, sl: slice, k: int | None) -> np.ndarray:
    """AP without an argsort, for the CPU.

    Only the ranks of relevant items matter: the k-th best relevant item, with
    similarity t, sits at rank 1 + #{items with similarity > t} when there are no
    ties. Sorting similarity *values* (SIMD sorts in numpy) and a batched
    ``searchsorted`` give those ranks several times faster than ranking indices.
    Rows with tied similarities fall back to the stable argsort, so results are
    identical to it in every case.
    """
    sims = _similarity(Q[sl], D, metric).numpy()
    ascending = np.sort(sims, axis=1)
    has_ties = (ascending[:, 1:] == ascending[:, :-1]).any(axis=1)
    ap = np.zeros(sims.shape[0])
    clean = np.flatnonzero(~has_ties)
    if clean.size:
        if clean.size == sims.shape[0]:  # the usual case: no copies
            s, asc = sims, ascending
        else:
            s, asc = sims[clean], ascending[clean]
        # relevant similarities in ascending order, left-padded with -inf: the
        # value in column p is the (width - p)-th best relevant item
        rel_asc, n_rel = rel.sorted_relevant(s, sl, clean)
        width = rel_asc.shape[1]
        position = np.empty(rel_asc.shape, dtype=np.intp)
        for i in range(len(rel_asc)):  # numpy's searchsorted exploits sorted keys
            position[i] = np.searchsorted(asc[i], rel_asc[i], side="right")
        rank = s.shape[1] - position + 1
        hits = (width - np.arange(width))[None, :]
        valid = hits <= n_rel[:, None]
        if k is not None:
            valid &= rank <= k
        # summed best item first and sequentially, so that the padding width
        # (which depends on the chunk) cannot change the rounding
        precision_sum = np.cumsum(np.where(valid, hits / rank, 0.0)[:, ::-1], axis=1)[:, -1]
        ap[clean] = precision_sum / np.maximum(valid.sum(axis=1), 1)
    tied = np.flatnonzero(has_ties)
    if tied.size:  # rare with float64 similarities of continuous embeddings
        relevant = rel.rows(sl)[torch.from_numpy(tied)]
        ap[tied] = _ap_of_ranking(torch.from_numpy(sims[tied]), relevant, k).numpy()
    return ap


def mean_average_precision(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | None = None,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
) -> float:
    """Mean over queries of the average precision of their rankings (mAP).

    See :func:`average_precision_scores` for the parameters. Memory stays bounded:
    queries are ranked in chunks, and the full similarity matrix is never built.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import mean_average_precision
    >>> y = np.array([0, 0, 1, 1])
    >>> image = np.array([[1.0, 0.0], [0.9, 0.2], [0.0, 1.0], [0.3, 1.0]])
    >>> text = image + 0.05
    >>> mean_average_precision(image, text, y, y)
    1.0
    """
    return float(
        np.mean(
            average_precision_scores(
                query_emb, database_emb, query_labels, database_labels,
                k=k, metric=metric, batch_size=batch_size, device=device,
            )
        )
    )


def precision_recall_curve(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    recall_levels: Sequence[float] | int = 11,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated cross-modal precision-recall curve, averaged over queries.

    For each query and recall level r, the interpolated precision is the highest
    precision at any rank whose recall is at least r (the convention of the
    papers' PR figures). Queries without relevant items are skipped.

    Parameters
    ----------
    recall_levels : int or sequence of float, default=11
        The recall grid, or the number of equally spaced levels in [0, 1].

    Returns
    -------
    precision : ndarray of shape (n_levels,)
    recall : ndarray of shape (n_levels,)

    Examples
    --------
    >>> from skcross.metrics import precision_recall_curve
    >>> p, r = precision_recall_curve([[1.0, 0.0]], [[1, 0], [0, 1], [1, 0.2]], [0], [0, 1, 0], 3)
    >>> r.tolist(), p.tolist()
    ([0.0, 0.5, 1.0], [1.0, 1.0, 1.0])
    """
    Q, D = _prepare(query_emb, database_emb, metric, device)
    rel = _Relevance(query_labels, database_labels, Q.shape[0], D.shape[0], Q.device)
    if isinstance(recall_levels, (int, np.integer)):
        recall = np.linspace(0.0, 1.0, int(recall_levels))
    else:
        recall = np.asarray(recall_levels, dtype=np.float64)
    if recall.ndim != 1 or recall.size == 0 or recall.min() < 0 or recall.max() > 1:
        raise ValueError("recall_levels must be a non-empty grid of values in [0, 1].")
    levels = torch.as_tensor(recall, dtype=torch.float64, device=Q.device)
    total = torch.zeros(len(recall), dtype=torch.float64, device=Q.device)
    n_used = 0
    for sl in _chunks(Q.shape[0], D.shape[0], batch_size):
        ranked = _ranked_relevance(Q, D, rel, metric, sl, None)
        hits = torch.cumsum(ranked, dim=1, dtype=torch.float64)
        n_rel = hits[:, -1]
        keep = n_rel > 0
        hits, n_rel = hits[keep], n_rel[keep]
        if hits.shape[0] == 0:
            continue
        ranks = torch.arange(1, hits.shape[1] + 1, device=Q.device, dtype=torch.float64)
        prec = hits / ranks
        rec = hits / n_rel[:, None]
        # Highest precision at this rank or any later one.
        best_after = torch.flip(torch.cummax(torch.flip(prec, [1]), dim=1).values, [1])
        idx = torch.searchsorted(rec.contiguous(), levels.expand(rec.shape[0], -1).contiguous())
        idx = idx.clamp_max(hits.shape[1] - 1)
        total += torch.gather(best_after, 1, idx).sum(dim=0)
        n_used += hits.shape[0]
    precision = (total / max(n_used, 1)).cpu().numpy()
    return precision, recall


def precision_at_k(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | Sequence[int] = (10, 50, 100, 200, 500, 1000),
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
) -> np.ndarray:
    """Mean precision of the top ``k`` retrieved items: the precision-scope curve.

    Parameters
    ----------
    k : int or sequence of int
        Scopes; values larger than the database are dropped from a sequence
        (an explicit int larger than the database is an error).

    Returns
    -------
    precision : float (int ``k``) or ndarray of shape (n_scopes,)

    Examples
    --------
    >>> from skcross.metrics import precision_at_k
    >>> float(precision_at_k([[1.0, 0.0]], [[1, 0], [0, 1], [1, 0.2]], [0], [0, 1, 0], k=2))
    1.0
    """
    Q, D = _prepare(query_emb, database_emb, metric, device)
    rel = _Relevance(query_labels, database_labels, Q.shape[0], D.shape[0], Q.device)
    scalar = isinstance(k, (int, np.integer))
    if scalar:
        if k < 1 or k > D.shape[0]:
            raise ValueError(f"k={k} must be in [1, {D.shape[0]}] (the database size).")
        scopes = np.array([int(k)])
    else:
        scopes = np.asarray([int(s) for s in k if 1 <= s <= D.shape[0]])
        if scopes.size == 0:
            raise ValueError(f"No scope in {list(k)} fits a database of {D.shape[0]} items.")
    kmax = int(scopes.max())
    idx = torch.as_tensor(scopes - 1, device=Q.device)
    total = torch.zeros(len(scopes), dtype=torch.float64, device=Q.device)
    for sl in _chunks(Q.shape[0], D.shape[0], batch_size):
        ranked = _ranked_relevance(Q, D, rel, metric, sl, kmax)
        hits = torch.cumsum(ranked, dim=1, dtype=torch.float64)
        total += (hits[:, idx] / (idx + 1)).sum(dim=0)
    precision = (total / Q.shape[0]).cpu().numpy()
    return float(precision[0]) if scalar else precision


def top_k_similarities(
    query_emb: Any,
    database_emb: Any,
    k: int = 10,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` database items per query, by chunked search in torch.

    Returns ``(indices, similarities)``, both of shape ``(n_queries, k)``, best
    first; equal similarities are ordered by database position. For
    ``metric="euclidean"`` the similarity is the negative distance.
    """
    Q, D = _prepare(query_emb, database_emb, metric, device, float64_on_cpu=False)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    k = int(min(k, D.shape[0]))
    all_idx, all_sim = [], []
    for sl in _chunks(Q.shape[0], D.shape[0], batch_size):
        sims = _similarity(Q[sl], D, metric)
        top_sim, top_idx = _top_k_first_position(sims, k)
        # Deterministic order among equal similarities: by database position.
        order = torch.argsort(top_idx, dim=1)
        top_sim, top_idx = torch.gather(top_sim, 1, order), torch.gather(top_idx, 1, order)
        resort = torch.sort(top_sim, dim=1, descending=True, stable=True).indices
        all_sim.append(torch.gather(top_sim, 1, resort).cpu())
        all_idx.append(torch.gather(top_idx, 1, resort).cpu())
    return torch.cat(all_idx).numpy(), torch.cat(all_sim).numpy()
