"""Instance-level retrieval for paired data: recall@K, median and mean rank.

A query's correct matches are the database items with its id (by default
row ``i`` matches row ``i``, as for the image and caption of one pair). Only
the first correct match matters, as in VSE++ on Flickr30k and MS-COCO, where an
image has five correct captions: recall@K is the share of queries whose first
correct match is in the top K. No sort is needed: the first match's tie group
is found by counting the items scored above and equal to the best correct one,
so evaluation costs about one matrix product and two passes over it.
"""

from __future__ import annotations

from itertools import permutations
from typing import Any, Sequence

import numpy as np
import torch

from . import _similarity as sim_
from ._ranking import _check_k, _map_chunks
from ._ties import check_ties, encode_pair, hypergeom_pmf

__all__ = ["recall_at_k", "median_rank", "mean_rank", "instance_retrieval_report", "cross_modal_recall"]


def _ids(query_ids, database_ids, n_query: int, n_database: int):
    if (query_ids is None) != (database_ids is None):
        missing = "database_ids" if database_ids is None else "query_ids"
        raise ValueError(f"{missing} is None but the other ids are given: pass both, or neither (row i matches row i).")
    if query_ids is None:
        if n_query != n_database:
            raise ValueError(
                f"Without ids, query row i matches database row i, so query_emb ({n_query} rows) and "
                f"database_emb ({n_database} rows) must have as many rows; pass query_ids and database_ids."
            )
        return None
    arrays = []
    for ids, name, n in ((query_ids, "query_ids", n_query), (database_ids, "database_ids", n_database)):
        a = np.asarray(ids.detach().cpu().numpy() if isinstance(ids, torch.Tensor) else ids)
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {a.shape}.")
        if a.shape[0] != n:
            raise ValueError(f"{name} has {a.shape[0]} entries for {n} items.")
        arrays.append(a)
    cq, cd = encode_pair(arrays[0], arrays[1], "query_ids", "database_ids")
    missing = np.setdiff1d(cq, cd)
    if missing.size:
        first = int(np.flatnonzero(np.isin(cq, missing))[0])
        raise ValueError(
            f"query {first} (id {arrays[0][first].tolist()!r}) has no match in database_ids: every query needs one."
        )
    return cq, cd


def _first_match(query_emb, database_emb, query_ids, database_ids, metric, ties, batch_size, device):
    """Per query, the tie group of its first correct match: ``s`` items surely
    before it, ``g`` items in the group, ``r`` correct ones among them (for a
    deterministic ``ties``, the exact rank is ``s + 1`` and ``g = r = 1``)."""
    check_ties(ties)
    if ties == "average":
        return _first_match_screened(query_emb, database_emb, query_ids, database_ids, metric, batch_size, device)
    Q, D = sim_.fixed_pair(query_emb, database_emb, metric, device)
    codes = _ids(query_ids, database_ids, Q.shape[0], D.shape[0])
    if codes is not None:
        cq, cd = (torch.as_tensor(c, device=Q.device) for c in codes)

    def chunk(sl, S):
        n = S.shape[0]
        if codes is None:
            cols = torch.arange(sl.start, sl.stop, device=S.device)
            best = S.gather(1, cols[:, None])
            M = None
        else:
            M = cq[sl, None] == cd[None, :]
            best = torch.where(M, S, torch.full_like(S, -float("inf"))).amax(dim=1, keepdim=True)
        s = (S > best).sum(dim=1)
        eq = S == best
        g = eq.sum(dim=1)
        r = torch.ones_like(g) if M is None else (eq & M).sum(dim=1)
        if ties == "optimistic":
            g, r = torch.ones_like(g), torch.ones_like(g)
        elif ties == "pessimistic":
            s, g, r = s + g - r, torch.ones_like(g), torch.ones_like(g)
        elif ties == "stable":
            rows = torch.nonzero(g > r).squeeze(1)
            if rows.numel():
                E = eq[rows]
                C = (E & M[rows]) if M is not None else torch.zeros_like(E).scatter_(1, cols[rows, None], True)
                first = torch.argmax(C.to(torch.int8), dim=1, keepdim=True)
                before = E & ~C & (torch.arange(S.shape[1], device=S.device)[None, :] < first)
                s[rows] += before.sum(dim=1)
            g, r = torch.ones_like(g), torch.ones_like(g)
        return torch.stack([s, g, r], 1).to(torch.float64).cpu()

    out = torch.cat(_map_chunks(Q, D, metric, batch_size, chunk))
    return out[:, 0], out[:, 1], out[:, 2]


# Database rows per float32 block of the screened search, and float32
# scores per block (16 MiB: the block stays in cache for the passes over it).
_SCREEN_ROWS = 16384
_SCREEN_ELEMENTS = 2**22


def _first_match_screened(query_emb, database_emb, query_ids, database_ids, metric, batch_size, device):
    """``_first_match`` for ``ties="average"`` at the cost of a float32 search.

    Every score is a float32 product; an item is surely above (below) the
    best correct match when its float32 score exceeds (falls short of) the
    match's by more than twice the float32 error bound. Only the items in
    that window, usually the match alone, are rescored exactly in fixed point
    (bit-identical to :func:`skcross.metrics.similarity_matrix` up to a
    positive factor per query), which decides their order and ties.
    """
    sim_.check_metric(metric)
    if device is None:
        device = query_emb.device if isinstance(query_emb, torch.Tensor) else torch.device("cpu")
    device = torch.device(device)
    Qt = sim_.as_embedding(query_emb, "query_emb", device)
    Dt = sim_.as_embedding(database_emb, "database_emb", device)
    if Qt.shape[1] != Dt.shape[1]:
        raise ValueError(f"query_emb has {Qt.shape[1]} dimensions but database_emb has {Dt.shape[1]}.")
    n_q, n_d, dim = Qt.shape[0], Dt.shape[0], Qt.shape[1]
    codes = _ids(query_ids, database_ids, n_q, n_d)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
    bits = sim_.fraction_bits(dim)
    with torch.no_grad():
        QA, DA = sim_.to_approx(Qt, metric), sim_.to_approx(Dt, metric)
        d_max = float(DA.norm.max())
        window = 2.0 * sim_.screen_tolerance(QA, d_max, metric, dim)
        # float32 score of each query's best correct match, computed pairwise
        if codes is None:
            best = sim_.approx_paired(QA, DA[:n_q], metric)[:, 0].to(torch.float64)
            cq = cd = None
        else:
            cq, cd = (torch.as_tensor(c, device=device) for c in codes)
            best = _best_match_approx(QA, DA, cq, cd, metric)
        lo = (best - window).to(torch.float32)
        lo = torch.where(lo.to(torch.float64) > best - window, torch.nextafter(lo, torch.full_like(lo, -float("inf"))), lo)
        hi = (best + window).to(torch.float32)
        hi = torch.where(hi.to(torch.float64) < best + window, torch.nextafter(hi, torch.full_like(hi, float("inf"))), hi)
        above = torch.zeros(n_q, dtype=torch.long, device=device)
        rows_found, cols_found = [], []
        if codes is None:
            # the match itself is always in its window (see the docstring)
            rows_found.append(torch.arange(n_q, device=device))
            cols_found.append(torch.arange(n_q, device=device))
        block = min(_SCREEN_ROWS, n_d)
        q_chunk = int(batch_size) if batch_size is not None else max(1, _SCREEN_ELEMENTS // block)
        cpu = device.type == "cpu"
        for qs in range(0, n_q, q_chunk):
            qe = min(qs + q_chunk, n_q)
            Qa, lo_c, hi_c = QA[qs:qe], lo[qs:qe, None], hi[qs:qe, None]
            for ds in range(0, n_d, block):
                de = min(ds + block, n_d)
                S = sim_.approx_scores(Qa, DA[ds:de], metric)
                # numpy counts booleans about five times faster than torch
                n_gt, n_ge = (
                    (torch.from_numpy(np.count_nonzero(S.numpy() > hi_c.numpy(), axis=1)),
                     torch.from_numpy(np.count_nonzero(S.numpy() >= lo_c.numpy(), axis=1)))
                    if cpu else ((S > hi_c).sum(dim=1), (S >= lo_c).sum(dim=1))
                )
                above[qs:qe] += n_gt
                in_window = n_ge - n_gt
                if codes is None:
                    own = torch.arange(qs, qe, device=device)
                    in_window -= ((own >= ds) & (own < de)).to(in_window.dtype)
                rows = torch.nonzero(in_window > 0).squeeze(1)
                if rows.numel():
                    Sr = S[rows]
                    mask = (Sr >= lo_c[rows]) & (Sr <= hi_c[rows])
                    if codes is None:
                        own_col = rows + qs - ds
                        inside = (own_col >= 0) & (own_col < de - ds)
                        mask[inside.nonzero().squeeze(1), own_col[inside]] = False
                    r, c = torch.nonzero(mask, as_tuple=True)
                    rows_found.append(rows[r] + qs)
                    cols_found.append(c + ds)
        # exact order within the windows
        prow, pcol = torch.cat(rows_found), torch.cat(cols_found)
        Qf = sim_.gather_fixed(Qt, prow, metric, bits)
        Df = sim_.gather_fixed(Dt, pcol, metric, bits)
        e = sim_.paired_similarity(Qf, Df, metric, rank_only=True)[:, 0]
        match = (pcol == prow) if codes is None else (cq[prow] == cd[pcol])
        e_best = torch.full((n_q,), -float("inf"), dtype=torch.float64, device=device)
        e_best.scatter_reduce_(0, prow[match], e[match], reduce="amax")
        eb = e_best[prow]
        s = above.to(torch.float64).index_add_(0, prow, (e > eb).to(torch.float64))
        g = torch.zeros(n_q, dtype=torch.float64, device=device).index_add_(0, prow, (e == eb).to(torch.float64))
        r = torch.zeros(n_q, dtype=torch.float64, device=device).index_add_(0, prow, ((e == eb) & match).to(torch.float64))
    return s.cpu(), g.cpu(), r.cpu()


def _best_match_approx(QA, DA, cq, cd, metric):
    """float32 score of each query's best correct match (ids given), as float64."""
    order = torch.argsort(cd, stable=True)
    sorted_codes = cd[order]
    start = torch.searchsorted(sorted_codes, cq)
    count = torch.searchsorted(sorted_codes, cq, right=True) - start
    best = torch.full((cq.shape[0],), -float("inf"), dtype=torch.float64, device=cq.device)
    width = int(count.max())
    step = max(1, 2**20 // max(width * QA.x.shape[1], 1))
    for qs in range(0, cq.shape[0], step):
        sl = slice(qs, qs + step)
        offs = torch.arange(width, device=cq.device)[None, :]
        ok = offs < count[sl, None]
        idx = order[(start[sl, None] + offs.clamp_max(count[sl, None] - 1)).clamp_max(len(order) - 1)]
        v = sim_.approx_paired(QA[sl], DA[idx.reshape(-1)], metric).to(torch.float64)
        best[sl] = torch.where(ok, v, torch.full_like(v, -float("inf"))).amax(dim=1)
    return best


def _recall(s, g, r, K: int) -> np.ndarray:
    c = torch.clamp(K - s, 0.0, None)
    c = torch.minimum(c, g)
    miss = hypergeom_pmf(torch.zeros_like(c), g, r, c)
    return torch.where(c > 0, 1.0 - miss, torch.zeros_like(c)).numpy()


def _expected_rank(s, g, r) -> np.ndarray:
    # The first of r marked items among g shuffled ones is at (g + 1) / (r + 1) on average.
    return (s + (g + 1) / (r + 1)).numpy()


def _check_ks(ks) -> tuple[list[int], bool]:
    scalar = isinstance(ks, (int, np.integer)) and not isinstance(ks, bool)
    if scalar:
        return [_check_k(ks, "ks", allow_none=False)], True
    try:
        values = [_check_k(k, "every value in ks", allow_none=False) for k in ks]
    except TypeError:
        raise TypeError(f"ks must be an int or a sequence of ints, got {ks!r}.") from None
    if not values:
        raise ValueError("ks is empty.")
    return values, False


def recall_at_k(
    query_emb: Any,
    database_emb: Any,
    ks: int | Sequence[int] = (1, 5, 10),
    query_ids: Any = None,
    database_ids: Any = None,
    metric: str = "cosine",
    *,
    ties: str = "average",
    batch_size: int | None = None,
    device: Any = None,
) -> np.ndarray | float:
    """Instance-level recall@K: the share of queries whose first correct match
    is among the top K (a hit rate, as VSE++ reports on Flickr30k / MS-COCO).

    Parameters
    ----------
    query_emb : array-like or torch.Tensor of shape (n_queries, n_dims)
    database_emb : array-like or torch.Tensor of shape (n_database, n_dims)
    ks : int or sequence of int, default=(1, 5, 10)
    query_ids, database_ids : array-like of shape (n_queries,) and (n_database,), default=None
        A query's correct matches are the database items with its id. By
        default (both None) row ``i`` matches row ``i``.
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
    ties : {"average", "optimistic", "pessimistic", "stable"}, default="average"
        "average": the probability of a hit over all orderings of tied items.
    batch_size : int, default=None
    device : str or torch.device, default=None

    Returns
    -------
    recall : float (int ``ks``) or ndarray of shape (len(ks),)

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import recall_at_k
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> captions = np.array([[1.0, 0.1], [0.1, 1.0], [0.9, 0.0]])
    >>> # image 0 ranks caption 2 first, image 2 ranks its caption last
    >>> recall_at_k(images, captions, ks=(1, 2))
    array([0.33333333, 0.66666667])
    """
    values, scalar = _check_ks(ks)
    s, g, r = _first_match(query_emb, database_emb, query_ids, database_ids, metric, ties, batch_size, device)
    out = np.array([_recall(s, g, r, K).mean() for K in values])
    return float(out[0]) if scalar else out


def median_rank(
    query_emb: Any,
    database_emb: Any,
    query_ids: Any = None,
    database_ids: Any = None,
    metric: str = "cosine",
    *,
    ties: str = "average",
    batch_size: int | None = None,
    device: Any = None,
) -> float:
    """Median over queries of the (1-based) rank of the first correct match.

    With ``ties="average"`` each query's rank is its expected rank over the
    orderings of tied items (``s + (g + 1) / (r + 1)`` for a tie group of ``g``
    items holding ``r`` correct matches behind ``s`` better items), so it can
    be fractional. Parameters are those of :func:`recall_at_k`.

    Examples
    --------
    >>> from skcross.metrics import median_rank
    >>> # the first correct matches are at ranks 2, 1 and 3
    >>> median_rank([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 0.1], [0.1, 1.0], [0.9, 0.0]])
    2.0
    """
    s, g, r = _first_match(query_emb, database_emb, query_ids, database_ids, metric, ties, batch_size, device)
    return float(np.median(_expected_rank(s, g, r)))


def mean_rank(
    query_emb: Any,
    database_emb: Any,
    query_ids: Any = None,
    database_ids: Any = None,
    metric: str = "cosine",
    *,
    ties: str = "average",
    batch_size: int | None = None,
    device: Any = None,
) -> float:
    """Mean over queries of the (1-based) rank of the first correct match
    (expected rank with ``ties="average"``; see :func:`median_rank`).

    Examples
    --------
    >>> from skcross.metrics import mean_rank
    >>> # expected ranks: 1; 1.5 (tied with one other item); 2 (tied with two)
    >>> round(mean_rank([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]), 4)
    1.5
    """
    s, g, r = _first_match(query_emb, database_emb, query_ids, database_ids, metric, ties, batch_size, device)
    return float(np.mean(_expected_rank(s, g, r)))


def instance_retrieval_report(
    emb_a: Any,
    emb_b: Any,
    ids_a: Any = None,
    ids_b: Any = None,
    ks: Sequence[int] = (1, 5, 10),
    metric: str = "cosine",
    *,
    names: tuple[str, str] = ("a", "b"),
    ties: str = "average",
    batch_size: int | None = None,
    device: Any = None,
) -> dict[str, float]:
    """R@K, median rank and mean rank in both directions, and rsum.

    Keys are ``"<a>_to_<b>_R@<K>"``, ``"<a>_to_<b>_medr"``,
    ``"<a>_to_<b>_meanr"``, the same from ``b`` to ``a``, and ``"rsum"``, the
    sum of every R@K. Recalls are fractions in [0, 1] (multiply by 100 for the
    percentages papers print; rsum then ranges up to 600 for K = 1, 5, 10).

    Parameters
    ----------
    emb_a, emb_b : array-like of shape (n_a, n_dims) and (n_b, n_dims)
        Embeddings of the two modalities (e.g. images and captions).
    ids_a, ids_b : array-like, default=None
        Pair ids; by default row ``i`` of ``a`` matches row ``i`` of ``b``.
        With five captions per image, ``ids_b`` repeats each image id five
        times.
    names : (str, str), default=("a", "b")
        Names used in the keys, e.g. ``("image", "text")``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import instance_retrieval_report
    >>> x = np.eye(3)
    >>> report = instance_retrieval_report(x, x + 0.1, ks=(1,), names=("i", "t"))
    >>> report["i_to_t_R@1"], report["t_to_i_medr"], report["rsum"]
    (1.0, 1.0, 2.0)
    """
    values, _ = _check_ks(ks)
    if not (isinstance(names, (tuple, list)) and len(names) == 2 and all(isinstance(n, str) for n in names)):
        raise TypeError(f"names must be two strings, got {names!r}.")
    report: dict[str, float] = {}
    rsum = 0.0
    for (qa, qname, qid), (db, dname, did) in (((emb_a, names[0], ids_a), (emb_b, names[1], ids_b)), ((emb_b, names[1], ids_b), (emb_a, names[0], ids_a))):
        s, g, r = _first_match(qa, db, qid, did, metric, ties, batch_size, device)
        for K in values:
            value = float(_recall(s, g, r, K).mean())
            report[f"{qname}_to_{dname}_R@{K}"] = value
            rsum += value
        ranks = _expected_rank(s, g, r)
        report[f"{qname}_to_{dname}_medr"] = float(np.median(ranks))
        report[f"{qname}_to_{dname}_meanr"] = float(np.mean(ranks))
    report["rsum"] = rsum
    return report


def cross_modal_recall(
    embeddings: Sequence[Any],
    ks: Sequence[int] = (1, 5, 10),
    metric: str = "cosine",
    pairs: Sequence[tuple[int, int]] | None = None,
    *,
    ties: str = "average",
) -> float:
    """Label-free score of paired embeddings: the mean over ordered pairs of
    modalities of the mean recall@K (row ``i`` of every modality is one
    sample, so it matches row ``i`` of every other).

    This is what ``score(X)`` without labels uses, so unsupervised estimators
    can be scored and tuned by ``GridSearchCV`` on paired data.

    Parameters
    ----------
    embeddings : sequence of array-like of shape (n_samples, n_dims)
        One embedding matrix per modality, rows paired.
    ks : sequence of int, default=(1, 5, 10)
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
    pairs : sequence of (int, int), default=None
        Ordered (query, database) pairs of modalities; all by default.
    ties : str, default="average"

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import cross_modal_recall
    >>> x = np.eye(4)
    >>> cross_modal_recall([x, x + 0.1])
    1.0
    >>> round(cross_modal_recall([x, np.ones((4, 4))], ks=(1,)), 6)  # collapsed: chance
    0.25
    """
    values, _ = _check_ks(ks)
    n = len(embeddings)
    if n < 2:
        raise ValueError(f"embeddings must hold at least two modalities, got {n}.")
    if pairs is None:
        pairs = list(permutations(range(n), 2))
    scores = []
    for i, j in pairs:
        scores.append(float(np.mean(recall_at_k(embeddings[i], embeddings[j], ks=values, metric=metric, ties=ties))))
    return float(np.mean(scores))
