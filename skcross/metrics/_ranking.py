"""Class-level and graded cross-modal retrieval metrics: exact, tie-aware,
vectorised, computed in bounded memory.

Every metric ranks a database of one modality for each query of another by a
similarity (cosine by default), then measures how relevant items are placed.
With 1-D class labels an item is relevant when it has the query's class; with
2-D indicator matrices when it shares at least one label (graded metrics use
the number of shared labels as the gain).

Ties: ``ties="average"`` (the default) gives the expected value over every
ordering of tied items, so the database order never matters and embeddings
that tie everywhere score chance; ``"optimistic"`` and ``"pessimistic"`` put
relevant items first or last among tied ones; ``"stable"`` keeps database
order. Similarities are computed in fixed point so that identical rows tie
exactly (see ``_similarity``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from . import _similarity as sim_
from ._ties import (
    Gains,
    average_precision,
    average_precision_untied_cpu,
    check_choice,
    check_ties,
    dcg,
    discounts,
    fraction_in_top,
    harmonic,
    ideal_dcg,
    positions,
    rowsum,
)

__all__ = [
    "mean_average_precision",
    "average_precision_scores",
    "precision_recall_curve",
    "precision_at_k",
    "map_at_r",
    "r_precision",
    "ndcg_at_k",
    "acg_at_k",
    "top_k_similarities",
    "similarity_matrix",
]

# Bytes a chunk of queries may use (similarities, sorted copy, ranks, masks).
_CHUNK_BYTES = 256 * 2**20
# Bytes of float64 similarities the CPU path of mAP handles at once: they stay
# in the cache from the product through the sort.
_BLOCK_BYTES = 4 * 2**20
_BLOCK_ROWS = 64
_DENOMINATORS = ("retrieved", "min", "all")
_NO_RELEVANT = ("zero", "skip")
# The authors' evaluation definitions (see doc/guide/scoring.rst).
PROTOCOLS = {
    "dscmr": dict(metric="cosine", k=None, denominator="retrieved", no_relevant="zero"),
    "sdml": dict(metric="cosine", denominator="retrieved", no_relevant="skip"),
}


def _chunks(n_query: int, n_database: int, batch_size: int | None) -> Iterator[slice]:
    if batch_size is None:
        batch_size = max(1, _CHUNK_BYTES // (48 * max(n_database, 1)))
    elif isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
    for start in range(0, n_query, int(batch_size)):
        yield slice(start, min(start + int(batch_size), n_query))


def _map_chunks(
    Q: sim_.Fixed, D: sim_.Fixed, metric: str, batch_size, fn: Callable, rank_only: bool = True, similarities: bool = True
) -> list:
    """``fn(sl, similarities)`` for every chunk of queries, in order
    (``rank_only``: only the order and ties within a row matter);
    ``fn(sl)`` when ``similarities`` is False (``fn`` computes its own).

    On the CPU two chunks run at once, unless torch is limited to one thread
    (``torch.set_num_threads(1)``): numpy's sorts and torch's kernels release
    the GIL (memory: two chunks).
    """
    chunks = list(_chunks(Q.shape[0], D.shape[0], batch_size))

    def one(sl):
        with torch.no_grad():
            if not similarities:
                return fn(sl)
            return fn(sl, sim_.similarity(Q[sl], D, metric, rank_only))

    n_threads = min(2, os.cpu_count() or 1, torch.get_num_threads(), len(chunks)) if Q.device.type == "cpu" else 1
    if n_threads < 2:
        return [one(sl) for sl in chunks]
    with ThreadPoolExecutor(n_threads) as pool:
        return list(pool.map(one, chunks))


def similarity_matrix(query_emb: Any, database_emb: Any, metric: str = "cosine") -> np.ndarray:
    """Full query x database similarity matrix (small problems and tests only).

    float64, computed from embeddings in fixed point so that identical rows
    get bit-identical similarities whatever the chunking (float64 accuracy for
    float64 embeddings). The ranking metrics use a single fixed-point term
    (about 1e-8 relative): similarities closer than that count as tied.
    ``"euclidean"`` gives negative distances.

    Examples
    --------
    >>> from skcross.metrics import similarity_matrix
    >>> similarity_matrix([[1.0, 0.0]], [[2.0, 0.0], [0.0, 3.0]])
    array([[1., 0.]])
    """
    Q, D = sim_.fixed_pair(query_emb, database_emb, metric, precise=True)
    return sim_.similarity(Q, D, metric).cpu().numpy()


def _check_k(k: Any, name: str = "k", allow_none: bool = True) -> int | None:
    if k is None and allow_none:
        return None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {k!r}.")
    return int(k)


def _resolve_protocol(protocol, metric, k, denominator, no_relevant):
    if protocol is None:
        return metric, k, denominator or "retrieved", no_relevant or "zero"
    check_choice(protocol, "protocol", tuple(PROTOCOLS))
    preset = PROTOCOLS[protocol]
    given = dict(metric=metric, k=k, denominator=denominator, no_relevant=no_relevant)
    for name, value in preset.items():
        if given[name] is not None and given[name] != value:
            raise ValueError(
                f"protocol={protocol!r} sets {name}={value!r}; got {name}={given[name]!r}. "
                f"Leave {name} unset, or use protocol=None."
            )
    return (
        preset["metric"],
        k,
        preset["denominator"],
        preset["no_relevant"],
    )


def _finish(values: torch.Tensor, defined: torch.Tensor, no_relevant: str) -> torch.Tensor:
    if no_relevant == "skip":
        return torch.where(defined, values, torch.full_like(values, float("nan")))
    return torch.where(defined, values, torch.zeros_like(values))


def _mean(values: np.ndarray, what: str) -> float:
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        raise ValueError(f"No query has a relevant item, so {what} is undefined with no_relevant='skip'.")
    return float(np.mean(kept))


def _setup(query_emb, database_emb, query_labels, database_labels, metric, device, ties, relevance=None):
    check_ties(ties)
    Q, D = sim_.fixed_pair(query_emb, database_emb, metric, device)
    gains = Gains(query_labels, database_labels, Q.shape[0], D.shape[0], Q.device, relevance)
    return Q, D, gains


def _item_positions(S: torch.Tensor, sl: slice, gains: Gains, ties: str, binary: bool = True):
    """Positions of the items with a positive gain (``S`` is sorted in place);
    ``binary``: only whether the gain is positive matters."""
    J, G, valid = gains.sparse(sl)
    s, g, _, G, valid = positions(S, J, G, valid, ties, lambda rows: gains.full(sl)[rows], binary)
    return s, g, G, valid


def average_precision_scores(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | None = None,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
    *,
    ties: str = "average",
    denominator: str | None = None,
    no_relevant: str | None = None,
    protocol: str | None = None,
) -> np.ndarray:
    """Average precision of every query's ranking of the database.

    AP@k = (1 / n) * sum_{r <= k} P(r) rel(r), with P(r) the precision of the
    top r items and n the ``denominator``.

    Parameters
    ----------
    query_emb : array-like or torch.Tensor of shape (n_queries, n_dims)
    database_emb : array-like or torch.Tensor of shape (n_database, n_dims)
    query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
        Class labels, or a binary indicator matrix for multi-label data.
    database_labels : array-like of shape (n_database,) or (n_database, n_labels)
    k : int, default=None
        Evaluate only the top ``k`` of each ranking (mAP@k).
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
    batch_size : int, default=None
        Queries per chunk; by default chosen so a chunk uses about 256 MiB.
    device : str or torch.device, default=None
        Where to compute; by default where ``query_emb`` lives (CPU for numpy).
    ties : {"average", "optimistic", "pessimistic", "stable"}, default="average"
        How tied similarities are ordered: the expected AP over all orderings
        of tied items, relevant items first, relevant items last, or database
        order.
    denominator : {"retrieved", "min", "all"}, default="retrieved"
        ``n``: the relevant items in the top ``k``; ``min(R, k)`` with ``R`` the
        relevant items in the database; or ``R``. All three agree when
        ``k=None``.
    no_relevant : {"zero", "skip"}, default="zero"
        A query whose denominator is 0 (no relevant item in the top ``k``
        with "retrieved", in the database otherwise) scores 0, or is skipped
        (NaN here, left out of the mean by :func:`mean_average_precision`).
        With ``ties="average"`` a query is skipped only when no ordering puts
        a relevant item in its top ``k``; orderings that put none there count
        as 0.
    protocol : {"dscmr", "sdml"}, default=None
        The authors' evaluation code: "dscmr" is cosine, the whole ranking,
        AP 0 without relevant items; "sdml" is cosine, divides by the relevant
        items in the top ``k`` and skips queries with none (use ``k=50`` for
        their mAP@50). A preset refuses conflicting explicit arguments.

    Returns
    -------
    ap : ndarray of shape (n_queries,)
        NaN for skipped queries.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import average_precision_scores
    >>> q = np.array([[1.0, 0.0]])
    >>> db = np.array([[1.0, 0.1], [0.0, 1.0], [0.9, 0.0]])
    >>> # ranking by cosine: db[2] (not relevant), db[0] (relevant), db[1]
    >>> average_precision_scores(q, db, [0], [0, 1, 1])
    array([0.5])
    >>> # two tied items, one relevant: AP is 1 or 1/2, so 3/4 on average
    >>> average_precision_scores(q, [[1.0, 0.0], [2.0, 0.0]], [0], [1, 0])
    array([0.75])
    >>> average_precision_scores(q, [[1.0, 0.0], [2.0, 0.0]], [0], [1, 0], ties="stable")
    array([0.5])
    """
    metric, k, denominator, no_relevant = _resolve_protocol(protocol, metric, k, denominator, no_relevant)
    check_choice(denominator, "denominator", _DENOMINATORS)
    check_choice(no_relevant, "no_relevant", _NO_RELEVANT)
    k = _check_k(k)
    Q, D, gains = _setup(query_emb, database_emb, query_labels, database_labels, metric, device, ties)
    N = D.shape[0]
    Hn = harmonic(N, Q.device)

    cut = min(k, N) if k else N

    def general(sl, S):
        s, g, _, valid = _item_positions(S, sl, gains, ties)
        kk = torch.full((s.shape[0],), float(cut), dtype=torch.float64, device=S.device)
        return average_precision(s, g, valid, kk, denominator, Hn)

    def chunk(sl, S):
        return _finish(*general(sl, S), no_relevant).cpu()

    factors = sim_.rank_key_factors(Q, D, metric) if ties == "average" and Q.device.type == "cpu" else None
    if factors is None:
        return torch.cat(_map_chunks(Q, D, metric, batch_size, chunk)).numpy()

    def chunk_cpu(sl):
        # Blocks of rows whose similarities stay in the cache from the
        # product through the sort, in reused buffers: on a 5,000-item
        # database this halves the time of the product. At least
        # _BLOCK_ROWS rows (within the chunk), or the product of a few rows
        # with a large database waits on memory: 2.7x slower at 50,000 items.
        step = max(1, min(max(_BLOCK_BYTES // (8 * N), _BLOCK_ROWS), sl.stop - sl.start))
        buf = torch.empty((step, N), dtype=torch.float64)
        keys = np.empty((step, N), dtype=np.int32)
        out, tied = [], False
        for start in range(sl.start, sl.stop, step):
            rows = slice(start, min(start + step, sl.stop))
            if tied:
                # data with real ties: the rest of the chunk goes straight
                # to the general path (the same bits, without a wasted sort)
                rest = slice(start, sl.stop)
                out.append(chunk(rest, sim_.similarity(Q[rest], D, metric, rank_only=True)))
                break
            S = sim_.similarity(Q[rows], D, metric, rank_only=True, out=buf[: rows.stop - start], row_factor=factors[rows])
            rel = gains.mask(rows).cpu().numpy()
            ap, defined, exact = average_precision_untied_cpu(S.numpy(), rel, cut, denominator, keys[: rows.stop - start])
            ap, defined = torch.from_numpy(ap), torch.from_numpy(defined)
            if not exact.all():
                redo = torch.from_numpy(np.flatnonzero(~exact))
                ap[redo], defined[redo] = general(redo + start, S[redo])
                tied = 2 * len(redo) > len(exact)
            out.append(_finish(ap, defined, no_relevant))
        return torch.cat(out)

    return torch.cat(_map_chunks(Q, D, metric, batch_size, chunk_cpu, similarities=False)).numpy()


def mean_average_precision(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | None = None,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
    *,
    ties: str = "average",
    denominator: str | None = None,
    no_relevant: str | None = None,
    protocol: str | None = None,
) -> float:
    """Mean over queries of the average precision of their rankings (mAP).

    See :func:`average_precision_scores` for the parameters and conventions.
    Memory stays bounded: queries are ranked in chunks, and the full
    similarity matrix is never built. Skipped queries are left out of the
    mean.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import mean_average_precision
    >>> y = np.array([0, 0, 1, 1])
    >>> image = np.array([[1.0, 0.0], [0.9, 0.2], [0.0, 1.0], [0.3, 1.0]])
    >>> text = image + 0.05
    >>> mean_average_precision(image, text, y, y)
    1.0
    >>> # collapsed embeddings score chance, whatever the order of the data
    >>> round(mean_average_precision(np.ones((4, 2)), np.ones((4, 2)), y, y), 4)
    0.6806
    """
    ap = average_precision_scores(
        query_emb, database_emb, query_labels, database_labels, k=k, metric=metric,
        batch_size=batch_size, device=device, ties=ties, denominator=denominator,
        no_relevant=no_relevant, protocol=protocol,
    )
    return _mean(ap, "mAP")


def _precision_at_cut(query_emb, database_emb, query_labels, database_labels, cut, metric, batch_size, device, ties, no_relevant):
    """Per-query precision at a per-query cut-off ``cut(R) -> k`` (R: relevant items)."""
    Q, D, gains = _setup(query_emb, database_emb, query_labels, database_labels, metric, device, ties)

    def chunk(sl, S):
        s, g, _, valid = _item_positions(S, sl, gains, ties)
        R = valid.sum(dim=1).to(torch.float64)
        kk = cut(R)
        frac = torch.where(valid, fraction_in_top(s, g, kk), torch.zeros_like(s))
        return _finish(rowsum(frac) / kk.clamp_min(1.0), R > 0, no_relevant).cpu()

    return torch.cat(_map_chunks(Q, D, metric, batch_size, chunk)).numpy()


def r_precision(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
    *,
    ties: str = "average",
    no_relevant: str = "zero",
) -> float:
    """Mean R-precision: the precision of the top ``R`` items, ``R`` being the
    number of relevant items of the query in the database.

    Parameters are those of :func:`average_precision_scores`; ``no_relevant``
    decides what a query with ``R = 0`` scores.

    Examples
    --------
    >>> from skcross.metrics import r_precision
    >>> # ranking: relevant, irrelevant, relevant; R = 2, top 2 holds one
    >>> r_precision([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0], [0, 0, 1])
    0.5
    """
    check_choice(no_relevant, "no_relevant", _NO_RELEVANT)
    values = _precision_at_cut(
        query_emb, database_emb, query_labels, database_labels, lambda R: R, metric, batch_size, device, ties, no_relevant
    )
    return _mean(values, "R-precision")


def map_at_r(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
    *,
    ties: str = "average",
    no_relevant: str = "zero",
) -> float:
    """Mean MAP@R (Musgrave et al., 2020): (1 / R) * sum_{r <= R} P(r) rel(r),
    ``R`` being the number of relevant items of the query in the database.

    It rewards putting all relevant items first, like AP, but only looks at
    the top ``R``. Parameters are those of :func:`average_precision_scores`.

    Examples
    --------
    >>> from skcross.metrics import map_at_r
    >>> # ranking: relevant, irrelevant, relevant; R = 2 -> (1/1 + 0) / 2
    >>> map_at_r([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0], [0, 0, 1])
    0.5
    """
    check_choice(no_relevant, "no_relevant", _NO_RELEVANT)
    Q, D, gains = _setup(query_emb, database_emb, query_labels, database_labels, metric, device, ties)
    Hn = harmonic(D.shape[0], Q.device)

    def chunk(sl, S):
        s, g, _, valid = _item_positions(S, sl, gains, ties)
        R = valid.sum(dim=1).to(torch.float64)
        ap, defined = average_precision(s, g, valid, R, "all", Hn)
        return _finish(ap, defined, no_relevant).cpu()

    return _mean(torch.cat(_map_chunks(Q, D, metric, batch_size, chunk)).numpy(), "MAP@R")


def _graded(query_emb, database_emb, query_labels, database_labels, k, metric, batch_size, device, ties, relevance, no_relevant, what):
    check_choice(no_relevant, "no_relevant", _NO_RELEVANT)
    k = _check_k(k)
    Q, D, gains = _setup(query_emb, database_emb, query_labels, database_labels, metric, device, ties, relevance)
    N = D.shape[0]
    Dn = discounts(N, Q.device)

    def chunk(sl, S):
        s, g, G, valid = _item_positions(S, sl, gains, ties, binary=False)
        kk = torch.full((s.shape[0],), float(min(k, N) if k else N), dtype=torch.float64, device=S.device)
        if what == "ndcg":
            ideal = ideal_dcg(G, valid, kk, Dn)
            value = dcg(s, g, G, valid, kk, Dn) / torch.where(ideal > 0, ideal, torch.ones_like(ideal))
            return _finish(value, ideal > 0, no_relevant).cpu()
        acg = rowsum(torch.where(valid, G * fraction_in_top(s, g, kk), torch.zeros_like(s))) / kk
        return _finish(acg, valid.any(dim=1), no_relevant).cpu()

    return _mean(torch.cat(_map_chunks(Q, D, metric, batch_size, chunk)).numpy(), what.upper())


def ndcg_at_k(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | None = 10,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
    *,
    ties: str = "average",
    relevance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    no_relevant: str = "zero",
) -> float:
    """Mean normalised discounted cumulative gain of the top ``k``.

    DCG@k = sum_{r <= k} gain(r) / log2(r + 1) (linear gains, as in
    scikit-learn's ``ndcg_score``), divided by the DCG@k of the ideal ranking.
    The gain of a database item is the number of labels it shares with the
    query (2-D indicator labels: NUS-WIDE, MIRFlickr, MS-COCO), 1 or 0 for
    1-D class labels, or ``relevance(query_labels[rows], database_labels)``,
    which must return a non-negative ``(n_rows, n_database)`` array.

    Parameters
    ----------
    k : int or None, default=10
        Cut-off; None ranks the whole database.
    ties, no_relevant :
        As in :func:`average_precision_scores`; a query "has no relevant item"
        when all its gains are 0.

    Examples
    --------
    >>> from skcross.metrics import ndcg_at_k
    >>> q = [[1.0, 0.0]]
    >>> db = [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]
    >>> labels_q, labels_db = [[1, 1]], [[1, 0], [1, 1], [0, 0]]
    >>> # gains in ranked order 1, 2, 0; ideal order 2, 1, 0
    >>> round(ndcg_at_k(q, db, labels_q, labels_db, k=2), 4)
    0.8597
    """
    return _graded(query_emb, database_emb, query_labels, database_labels, k, metric, batch_size, device, ties, relevance, no_relevant, "ndcg")


def acg_at_k(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | None = 10,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
    *,
    ties: str = "average",
    relevance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    no_relevant: str = "zero",
) -> float:
    """Mean average cumulative gain of the top ``k``: the mean gain of the
    ``k`` best-ranked items (gains as in :func:`ndcg_at_k`).

    Examples
    --------
    >>> from skcross.metrics import acg_at_k
    >>> q = [[1.0, 0.0]]
    >>> db = [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]
    >>> acg_at_k(q, db, [[1, 1]], [[1, 0], [1, 1], [0, 0]], k=2)
    1.5
    """
    return _graded(query_emb, database_emb, query_labels, database_labels, k, metric, batch_size, device, ties, relevance, no_relevant, "acg")


def precision_at_k(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    k: int | Sequence[int] = (10, 50, 100, 200, 500, 1000),
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
    *,
    ties: str = "average",
) -> np.ndarray | float:
    """Mean precision of the top ``k`` retrieved items: the precision-scope curve.

    With ``ties="average"``, a tie group that straddles the cut-off counts
    each of its items with the fraction of the group's ranks inside the top
    ``k`` (the expected precision over all orderings).

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
    check_ties(ties)
    scalar = isinstance(k, (int, np.integer)) and not isinstance(k, bool)
    Q, D, gains = _setup(query_emb, database_emb, query_labels, database_labels, metric, device, ties)
    N = D.shape[0]
    if scalar:
        if k < 1 or k > N:
            raise ValueError(f"k={k} must be in [1, {N}] (the database size).")
        scopes = [int(k)]
    else:
        try:
            requested = [_check_k(s, "every scope in k", allow_none=False) for s in k]
        except TypeError:
            raise TypeError(f"k must be an int or a sequence of ints, got {k!r}.") from None
        scopes = [s for s in requested if s <= N]
        if not scopes:
            raise ValueError(f"No scope in {list(k)} fits a database of {N} items.")

    def chunk(sl, S):
        s, g, _, valid = _item_positions(S, sl, gains, ties)
        out = []
        for scope in scopes:
            kk = torch.full((s.shape[0],), float(scope), dtype=torch.float64, device=S.device)
            out.append(rowsum(torch.where(valid, fraction_in_top(s, g, kk), torch.zeros_like(s))) / scope)
        return torch.stack(out, 1).cpu()

    precision = torch.cat(_map_chunks(Q, D, metric, batch_size, chunk)).mean(dim=0).numpy()
    # The tie-group closed forms sum fractions: 1 + 2e-16 must read 1.
    precision = np.clip(precision, 0.0, 1.0)
    return float(precision[0]) if scalar else precision


def precision_recall_curve(
    query_emb: Any,
    database_emb: Any,
    query_labels: Any,
    database_labels: Any,
    recall_levels: Sequence[float] | int = 11,
    metric: str = "cosine",
    batch_size: int | None = None,
    device: Any = None,
    *,
    ties: str = "average",
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated cross-modal precision-recall curve, averaged over queries.

    For each query and recall level r, the interpolated precision is the highest
    precision at any rank whose recall is at least r (the convention of the
    papers' PR figures). Queries without relevant items are skipped. With
    ``ties="average"`` only the ranks at the end of a tie group are operating
    points (as in scikit-learn's ``precision_recall_curve``): precision and
    recall there do not depend on the order of the tied items.

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
    Q, D, gains = _setup(query_emb, database_emb, query_labels, database_labels, metric, device, ties)
    if isinstance(recall_levels, (int, np.integer)) and not isinstance(recall_levels, bool):
        recall = np.linspace(0.0, 1.0, int(recall_levels))
    else:
        recall = np.asarray(recall_levels, dtype=np.float64)
    if recall.ndim != 1 or recall.size == 0 or recall.min() < 0 or recall.max() > 1:
        raise ValueError("recall_levels must be a non-empty grid of values in [0, 1].")
    levels = torch.as_tensor(recall, dtype=torch.float64, device=Q.device)

    def chunk(sl, S):
        F = gains.full(sl) > 0
        if ties in ("optimistic", "pessimistic"):
            # relevance decides among equal scores: sort by it first, stably
            by_rel = torch.sort(F.to(torch.int8), dim=1, descending=ties == "optimistic", stable=True).indices
            order = by_rel.gather(1, torch.sort(S.gather(1, by_rel), dim=1, descending=True, stable=True).indices)
        else:
            order = torch.sort(S, dim=1, descending=True, stable=True).indices
        ranked = F.gather(1, order)
        hits = torch.cumsum(ranked, dim=1, dtype=torch.float64)
        n_rel = hits[:, -1]
        keep = n_rel > 0
        if not bool(keep.any()):
            return torch.zeros(len(levels), dtype=torch.float64), 0
        ranks = torch.arange(1, hits.shape[1] + 1, device=S.device, dtype=torch.float64)
        prec = hits / ranks
        if ties == "average":
            ranked_s = S.gather(1, order)
            end = torch.ones_like(ranked, dtype=torch.bool)
            end[:, :-1] = ranked_s[:, 1:] != ranked_s[:, :-1]
            prec = torch.where(end, prec, torch.zeros_like(prec))
        prec, hits, n_rel = prec[keep], hits[keep], n_rel[keep]
        rec = hits / n_rel[:, None]
        # highest precision at this rank or any later one
        best_after = torch.flip(torch.cummax(torch.flip(prec, [1]), dim=1).values, [1])
        idx = torch.searchsorted(rec.contiguous(), levels.expand(rec.shape[0], -1).contiguous())
        idx = idx.clamp_max(hits.shape[1] - 1)
        return torch.gather(best_after, 1, idx).sum(dim=0).cpu(), int(keep.sum())

    parts = _map_chunks(Q, D, metric, batch_size, chunk)
    total = sum(p[0] for p in parts)
    n_used = sum(p[1] for p in parts)
    return (total / max(n_used, 1)).numpy(), recall


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
    first; equal similarities are ordered by database position, for every
    ``batch_size`` (identical rows get bit-identical similarities, see
    :func:`similarity_matrix`). For ``metric="euclidean"`` the similarity is
    the negative distance. Similarities have the embeddings' float dtype.

    Examples
    --------
    >>> from skcross.metrics import top_k_similarities
    >>> idx, s = top_k_similarities([[1.0, 0.0]], [[0.0, 1.0], [1.0, 0.0], [2.0, 0.0]], k=2)
    >>> idx
    array([[1, 2]])
    """
    k = _check_k(k, allow_none=False)
    Q, D = sim_.fixed_pair(query_emb, database_emb, metric, device, precise=True)
    out_dtype = torch.promote_types(Q.dtype, D.dtype)
    k = min(k, D.shape[0])

    def chunk(sl, sims):
        top_sim, top_idx = _top_k_first_position(sims, k)
        # equal similarities in database order
        order = torch.argsort(top_idx, dim=1)
        top_sim, top_idx = top_sim.gather(1, order), top_idx.gather(1, order)
        resort = torch.sort(top_sim, dim=1, descending=True, stable=True).indices
        return top_idx.gather(1, resort).cpu(), top_sim.gather(1, resort).to(out_dtype).cpu()

    parts = _map_chunks(Q, D, metric, batch_size, chunk, rank_only=False)
    return torch.cat([p[0] for p in parts]).numpy(), torch.cat([p[1] for p in parts]).numpy()
