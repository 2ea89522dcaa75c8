"""Every metric against slow, obviously-correct references written with plain loops.

The references rank the database by the similarities of ``similarity_matrix``
(checked against plain Python separately), enumerate every ordering of tied
items by brute force on tiny cases (Monte Carlo on larger ones), compute the
metric of each ordering with loops, and average.
"""

import itertools
import math
import random

import numpy as np
import pytest
import torch

from skcross.metrics import (
    acg_at_k,
    average_precision_scores,
    make_map_scorer,
    map_at_r,
    map_scorers,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    precision_recall_curve,
    r_precision,
    similarity_matrix,
    top_k_similarities,
)

TIES = ["average", "optimistic", "pessimistic", "stable"]


# ----------------------------------------------------------------- references
def _sim(q, d, metric):
    if metric == "cosine":
        nq, nd = math.sqrt(sum(v * v for v in q)), math.sqrt(sum(v * v for v in d))
        return sum(a * b for a, b in zip(q, d)) / (nq * nd)
    if metric == "dot":
        return sum(a * b for a, b in zip(q, d))
    return -math.sqrt(sum((a - b) ** 2 for a, b in zip(q, d)))


def gain(a, b):
    """Single-label: same class; multi-label: number of shared labels."""
    if np.ndim(a) == 0:
        return float(a == b)
    return float(sum(1 for x, y in zip(a, b) if x and y))


def orderings(scores, gains, ties, exhaustive=True, n_samples=0, rng=None):
    """Rankings (lists of database indices) a tie mode allows, equally likely."""
    idx = range(len(scores))
    if ties == "stable":
        return [sorted(idx, key=lambda j: -scores[j])]
    if ties == "optimistic":
        return [sorted(idx, key=lambda j: (-scores[j], -gains[j]))]
    if ties == "pessimistic":
        return [sorted(idx, key=lambda j: (-scores[j], gains[j]))]
    levels = sorted(set(scores), reverse=True)
    groups = [[j for j in idx if scores[j] == v] for v in levels]
    if exhaustive:
        return [sum(p, []) for p in itertools.product(*[list(map(list, itertools.permutations(g))) for g in groups])]
    out = []
    for _ in range(n_samples):
        out.append(sum((rng.sample(g, len(g)) for g in groups), []))
    return out


def ap_of(ranked_rel, k, denominator, R):
    cut = ranked_rel[:k] if k else ranked_rel
    hits, total = 0, 0.0
    for r, x in enumerate(cut, start=1):
        if x:
            hits += 1
            total += hits / r
    n = {"retrieved": hits, "min": min(R, k or len(ranked_rel)), "all": R}[denominator]
    return (total / n, True) if n else (0.0, False)


def dcg_of(ranked_gains, k):
    return sum(g / math.log2(r + 1) for r, g in enumerate(ranked_gains[:k], start=1))


def ref_query(scores, gains, ties, fn, **kw):
    """Mean over the allowed orderings of fn(ranked gains) -> (value, defined);
    (mean, defined in some ordering)."""
    values, defined = [], False
    for order in orderings(scores, gains, ties, **kw):
        v, d = fn([gains[j] for j in order])
        values.append(v)
        defined |= d
    return float(np.mean(values)), defined


def ref_metric(Q, D, lQ, lD, ties, fn, metric="cosine", no_relevant="zero", **kw):
    S = similarity_matrix(Q, D, metric)
    out = []
    for s_row, lq in zip(S, lQ):
        gains = [gain(lq, ld) for ld in lD]
        v, d = ref_query(list(s_row), gains, ties, fn, **kw)
        out.append(v if d else (np.nan if no_relevant == "skip" else 0.0))
    return np.array(out)


def ap_fn(k=None, denominator="retrieved"):
    def fn(ranked):
        return ap_of([g > 0 for g in ranked], k, denominator, sum(g > 0 for g in ranked))

    return fn


def precision_fn(k):
    return lambda ranked: (sum(g > 0 for g in ranked[:k]) / k, True)


def r_precision_fn(ranked):
    R = sum(g > 0 for g in ranked)
    return (sum(g > 0 for g in ranked[:R]) / R, True) if R else (0.0, False)


def map_at_r_fn(ranked):
    R = sum(g > 0 for g in ranked)
    return ap_of([g > 0 for g in ranked], R, "all", R) if R else (0.0, False)


def ndcg_fn(k):
    def fn(ranked):
        ideal = dcg_of(sorted(ranked, reverse=True), k)
        return (dcg_of(ranked, k) / ideal, True) if ideal > 0 else (0.0, False)

    return fn


def acg_fn(k):
    return lambda ranked: (sum(ranked[:k]) / k, any(g > 0 for g in ranked))


def data(seed, n_q=15, n_d=25, dim=3, multilabel=False, ties=True, n_labels=4):
    rng = np.random.RandomState(seed)
    Q, D = rng.randn(n_q, dim), rng.randn(n_d, dim)
    if ties:  # duplicated database rows and queries: exact ties in every metric
        D[5:10] = D[0:5]
        D[10:12] = D[0]
        Q[:3] = D[:3]
    if multilabel:
        lQ = (rng.rand(n_q, n_labels) < 0.3).astype(int)
        lD = (rng.rand(n_d, n_labels) < 0.3).astype(int)
    else:
        lQ, lD = rng.randint(3, size=n_q), rng.randint(3, size=n_d)
    return Q, D, lQ, lD


def tiny(seed, multilabel, n_q=5, n_d=7):
    """Few distinct database rows: big tie groups, small enough to enumerate."""
    rng = np.random.RandomState(seed)
    base = rng.randn(3, 2)
    D = base[rng.randint(3, size=n_d)]
    Q = rng.randn(n_q, 2)
    Q[0] = D[0]
    if multilabel:
        return Q, D, (rng.rand(n_q, 3) < 0.5).astype(int), (rng.rand(n_d, 3) < 0.5).astype(int)
    return Q, D, rng.randint(2, size=n_q), rng.randint(2, size=n_d)


# ------------------------------------------------------------ similarities
@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_similarity_matrix_matches_plain_python(metric):
    Q, D, _, _ = data(0, dim=5, ties=False)
    S = similarity_matrix(Q, D, metric)
    ref = [[_sim(q, d, metric) for d in D] for q in Q]
    np.testing.assert_allclose(S, ref, rtol=1e-6, atol=1e-6)
    assert S.dtype == np.float64


@pytest.mark.parametrize("n_dims", [1, 37, 255, 256])
def test_cosine_row_norms_are_bit_identical_for_identical_rows(n_dims):
    from skcross.metrics._similarity import _row_norms

    rng = np.random.RandomState(1)
    X = torch.as_tensor(rng.randn(301, n_dims))
    X[[7, 150, 300]] = X[2].clone()
    norms = _row_norms(X)
    assert torch.equal(norms[[7, 150, 300]], norms[2].expand(3))
    np.testing.assert_allclose(norms.numpy(), np.linalg.norm(X.numpy(), axis=1), rtol=1e-14)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_identical_rows_get_identical_similarities_in_every_block(metric):
    rng = np.random.RandomState(0)
    D = rng.randn(1003, 64).astype(np.float32)
    copies = [1, 8, 9, 17, 500, 511, 1000, 1002]
    D[copies] = D[0]
    Q = rng.randn(37, 64).astype(np.float32)
    Q[20] = Q[3]
    S = similarity_matrix(Q, D, metric)
    for c in copies:
        np.testing.assert_array_equal(S[:, c], S[:, 0])
    np.testing.assert_array_equal(S[20], S[3])
    # chunks of queries and a re-ordered database give the same bits
    perm = rng.permutation(len(D))
    np.testing.assert_array_equal(similarity_matrix(Q[5:9], D[perm], metric), S[5:9][:, perm])
    reference = top_k_similarities(Q, D, k=12, metric=metric, batch_size=1)
    for bs in (2, 7, 36, None):
        idx, sims = top_k_similarities(Q, D, k=12, metric=metric, batch_size=bs)
        np.testing.assert_array_equal(idx, reference[0])
        np.testing.assert_array_equal(sims, reference[1])


def test_top_k_returns_equal_scores_in_database_order():
    rng = np.random.RandomState(1)
    D = rng.randn(200, 16)
    D[[3, 50, 120, 121, 199]] = D[77]
    Q = D[[77, 77, 5]]
    for bs in (1, 2, 3):
        idx, sims = top_k_similarities(Q, D, k=4, batch_size=bs)
        np.testing.assert_array_equal(idx[0], [3, 50, 77, 120])
        np.testing.assert_array_equal(idx[1], idx[0])
        assert len(set(sims[0])) == 1


# ---------------------------------------------------------- brute force, tiny
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("ties", TIES)
def test_every_metric_matches_brute_force_over_orderings(seed, multilabel, ties):
    Q, D, lQ, lD = tiny(seed, multilabel)
    for k in (None, 1, 3, 6):
        for denominator in ("retrieved", "min", "all"):
            ours = average_precision_scores(Q, D, lQ, lD, k=k, ties=ties, denominator=denominator, batch_size=2)
            ref = ref_metric(Q, D, lQ, lD, ties, ap_fn(k, denominator))
            np.testing.assert_allclose(ours, ref, atol=1e-12, err_msg=f"k={k} {denominator}")
        skip = average_precision_scores(Q, D, lQ, lD, k=k, ties=ties, no_relevant="skip")
        np.testing.assert_allclose(skip, ref_metric(Q, D, lQ, lD, ties, ap_fn(k), no_relevant="skip"), atol=1e-12)
    for k in (1, 2, 5, 7):
        assert precision_at_k(Q, D, lQ, lD, k=k, ties=ties) == pytest.approx(
            ref_metric(Q, D, lQ, lD, ties, precision_fn(k)).mean(), abs=1e-12
        )
        assert ndcg_at_k(Q, D, lQ, lD, k=k, ties=ties) == pytest.approx(
            ref_metric(Q, D, lQ, lD, ties, ndcg_fn(k)).mean(), abs=1e-12
        )
        assert acg_at_k(Q, D, lQ, lD, k=k, ties=ties) == pytest.approx(
            ref_metric(Q, D, lQ, lD, ties, acg_fn(k)).mean(), abs=1e-12
        )
    assert r_precision(Q, D, lQ, lD, ties=ties) == pytest.approx(ref_metric(Q, D, lQ, lD, ties, r_precision_fn).mean(), abs=1e-12)
    assert map_at_r(Q, D, lQ, lD, ties=ties) == pytest.approx(ref_metric(Q, D, lQ, lD, ties, map_at_r_fn).mean(), abs=1e-12)


def test_custom_relevance_function_matches_brute_force():
    Q, D, lQ, lD = tiny(4, multilabel=True)

    def relevance(lq, ld):  # squared overlap: a steeper grade than the count
        return (lq @ ld.T) ** 2

    def fn(ranked):
        return ndcg_fn(4)(ranked)

    S = similarity_matrix(Q, D)
    ref = []
    for s_row, lq in zip(S, lQ):
        gains = [gain(lq, ld) ** 2 for ld in lD]
        v, d = ref_query(list(s_row), gains, "average", fn)
        ref.append(v if d else 0.0)
    assert ndcg_at_k(Q, D, lQ, lD, k=4, relevance=relevance) == pytest.approx(np.mean(ref), abs=1e-12)


# ------------------------------------------------------ Monte Carlo, small
@pytest.mark.parametrize("multilabel", [False, True])
def test_average_ties_match_monte_carlo(multilabel):
    Q, D, lQ, lD = data(7, n_q=6, n_d=25, multilabel=multilabel)
    D[12:20] = D[0]  # one large tie group
    rng = random.Random(0)
    n = 3000
    kw = dict(exhaustive=False, n_samples=n, rng=rng)
    for ours, fn in [
        (average_precision_scores(Q, D, lQ, lD), ap_fn()),
        (average_precision_scores(Q, D, lQ, lD, k=10), ap_fn(10)),
        (average_precision_scores(Q, D, lQ, lD, k=10, denominator="min"), ap_fn(10, "min")),
    ]:
        ref = ref_metric(Q, D, lQ, lD, "average", fn, **kw)
        # the standard error of a mean of n values in [0, 1] is below 0.5 / sqrt(n)
        np.testing.assert_allclose(ours, ref, atol=4 * 0.5 / math.sqrt(n))
    ours = ndcg_at_k(Q, D, lQ, lD, k=8)
    ref = ref_metric(Q, D, lQ, lD, "average", ndcg_fn(8), **kw).mean()
    assert ours == pytest.approx(ref, abs=4 * 0.5 / math.sqrt(n))


# ------------------------------------------------- invariance and chance
@pytest.mark.parametrize("multilabel", [False, True])
def test_average_ties_are_invariant_to_database_order(multilabel):
    Q, D, lQ, lD = data(3, n_q=20, n_d=60, multilabel=multilabel)
    D[20:40] = D[0]
    perm = np.random.RandomState(0).permutation(len(D))
    for f, kw in [
        (mean_average_precision, {}),
        (mean_average_precision, {"k": 10}),
        (mean_average_precision, {"k": 10, "protocol": "sdml"}),
        (precision_at_k, {"k": 10}),
        (r_precision, {}),
        (map_at_r, {}),
        (ndcg_at_k, {"k": 10}),
        (acg_at_k, {"k": 10}),
    ]:
        a = f(Q, D, lQ, lD, **kw)
        b = f(Q, D[perm], lQ, lD[perm], **kw)
        assert a == pytest.approx(b, abs=1e-12), (f.__name__, kw)
    # ... while the stable order is not: it depends on where duplicates sit
    a = mean_average_precision(Q, D, lQ, lD, ties="stable")
    assert a != mean_average_precision(Q, D[perm], lQ, lD[perm], ties="stable")


def test_constant_embeddings_score_chance_on_sorted_labels():
    from sklearn.metrics import average_precision_score

    y = np.repeat([0, 1, 2], [50, 30, 20])  # a file sorted by class
    E = np.ones((100, 8))
    ours = mean_average_precision(E, E, y, y)
    shuffled = np.random.RandomState(0).permutation(100)
    assert ours == pytest.approx(mean_average_precision(E, E, y[shuffled], y[shuffled]), abs=1e-12)
    # sklearn ties every item at one threshold: AP = prevalence
    sk = np.mean([average_precision_score(y == c, np.ones(100)) for c in y])
    assert sk == pytest.approx(np.mean([(y == c).mean() for c in y]))
    # the exact expectation over random rankings: a + (1 - a) H_N / N per query,
    # a = (R - 1) / (N - 1) (McSherry & Najork): a little above prevalence
    H = sum(1 / i for i in range(1, 101))
    exact = np.mean([(R - 1) / 99 + (1 - (R - 1) / 99) * H / 100 for R in [(y == c).sum() for c in y]])
    assert ours == pytest.approx(exact, abs=1e-12)
    assert 0 < ours - sk < H / 100  # the (1 - a) H_N / N term, which vanishes as N grows
    # the old behaviour (database order) rewards a collapsed model on sorted data
    assert mean_average_precision(E, E, y, y, ties="stable") > sk + 0.15
    assert precision_at_k(E, E, y, y, k=10) == pytest.approx(sk)
    assert r_precision(E, E, y, y) == pytest.approx(sk)


def test_ndcg_matches_sklearn_with_ties():
    from sklearn.metrics import ndcg_score

    Q, D, lQ, lD = data(2, n_q=12, n_d=40, multilabel=True)
    S = similarity_matrix(Q, D)
    gains = (lQ @ lD.T).astype(float)
    for k in (5, 10, None):
        # sklearn averages the gains of tied items (McSherry & Najork) by default
        assert ndcg_at_k(Q, D, lQ, lD, k=k) == pytest.approx(ndcg_score(gains, S, k=k), abs=1e-12)


def test_agrees_with_sklearn_average_precision_without_ties():
    from sklearn.metrics import average_precision_score

    Q, D, lQ, lD = data(2, n_q=20, n_d=50, dim=6, ties=False)
    S = similarity_matrix(Q, D)
    ref = [average_precision_score(lD == lq, s) for s, lq in zip(S, lQ) if (lD == lq).any()]
    for ties in TIES:
        ours = average_precision_scores(Q, D, lQ, lD, ties=ties)[[(lD == lq).any() for lq in lQ]]
        np.testing.assert_allclose(ours, ref, atol=1e-12)


# --------------------------------------------------------- hand-computed
def test_hand_computed_case():
    # database ranked by similarity to q: d0 (rel), d2 (not), d1 (rel)
    q = np.array([[1.0, 0.0]])
    D = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    ap = average_precision_scores(q, D, ["a"], ["a", "a", "b"])
    assert ap[0] == pytest.approx((1 / 1 + 2 / 3) / 2)
    # mAP@2: only d0 relevant in top 2 -> AP = 1
    assert average_precision_scores(q, D, ["a"], ["a", "a", "b"], k=2)[0] == pytest.approx(1.0)
    # string labels, no relevant item -> 0
    assert average_precision_scores(q, D, ["z"], ["a", "a", "b"])[0] == 0.0


def test_hand_computed_ties():
    q = np.array([[1.0, 0.0]])
    D = np.array([[1.0, 0.0]] * 4)
    labels = [0, 1, 0, 1]
    ap = {t: average_precision_scores(q, D, [1], labels, ties=t)[0] for t in TIES}
    assert ap["stable"] == pytest.approx((1 / 2 + 2 / 4) / 2)  # positions 2 and 4
    assert ap["optimistic"] == pytest.approx(1.0)
    assert ap["pessimistic"] == pytest.approx((1 / 3 + 2 / 4) / 2)
    # 6 equally likely placements of the 2 relevant items among 4 ranks
    places = list(itertools.combinations(range(1, 5), 2))
    assert ap["average"] == pytest.approx(np.mean([(1 / a + 2 / b) / 2 for a, b in places]))


# ranking for query 0: rel pattern [0, 1, 0, 1, 1] (R = 3); query 1: [0, 0, 1, 0, 0]
_Q = np.array([[1.0, 0.0], [0.0, 1.0]])
_D = np.array([[1.0, 0.0], [0.95, 0.31], [0.8, 0.6], [0.6, 0.8], [0.31, 0.95]])
_LQ = [1, 1]
_LD0 = [0, 1, 0, 1, 1]


def test_protocol_cases_by_hand():
    # query 1 ranks the database in reverse: d4 (rel), d3 (rel), d2, d1 (rel), d0
    full0 = (1 / 2 + 2 / 4 + 3 / 5) / 3
    full1 = (1 / 1 + 2 / 2 + 3 / 4) / 3
    ap = average_precision_scores(_Q, _D, _LQ, _LD0, protocol="dscmr")
    np.testing.assert_allclose(ap, [full0, full1])
    # DSCMR gives a query without relevant items AP 0, and keeps it in the mean
    assert mean_average_precision(_Q, _D, [1, 2], _LD0, protocol="dscmr") == pytest.approx(full0 / 2)
    # SDML, mAP@2: query 0 has one relevant item in its top 2, at rank 2
    np.testing.assert_allclose(average_precision_scores(_Q, _D, _LQ, _LD0, k=2, protocol="sdml"), [0.5, 1.0])
    # a query with none in the top k is skipped, not scored 0
    ap = average_precision_scores(_Q, _D, [1, 1], [1, 0, 0, 0, 0], k=1, protocol="sdml")
    assert ap[0] == 1.0 and np.isnan(ap[1])
    assert mean_average_precision(_Q, _D, [1, 1], [1, 0, 0, 0, 0], k=1, protocol="sdml") == 1.0
    assert mean_average_precision(_Q, _D, [1, 1], [1, 0, 0, 0, 0], k=1) == 0.5  # default: zero
    # the other denominators on query 0 at k = 2: min(R, k) = 2, R = 3
    assert average_precision_scores(_Q[:1], _D, [1], _LD0, k=2, denominator="min")[0] == pytest.approx(0.25)
    assert average_precision_scores(_Q[:1], _D, [1], _LD0, k=2, denominator="all")[0] == pytest.approx(0.5 / 3)
    with pytest.raises(ValueError, match="No query has a relevant item"):
        mean_average_precision(_Q, _D, [2, 2], _LD0, protocol="sdml")


def test_protocol_refuses_conflicting_arguments():
    with pytest.raises(ValueError, match="protocol='dscmr' sets k=None"):
        mean_average_precision(_Q, _D, _LQ, _LD0, k=50, protocol="dscmr")
    with pytest.raises(ValueError, match="sets metric='cosine'"):
        mean_average_precision(_Q, _D, _LQ, _LD0, metric="dot", protocol="sdml")
    with pytest.raises(ValueError, match="sets no_relevant='skip'"):
        mean_average_precision(_Q, _D, _LQ, _LD0, no_relevant="zero", protocol="sdml")
    # an explicit argument equal to the preset is fine
    mean_average_precision(_Q, _D, _LQ, _LD0, denominator="retrieved", protocol="sdml")


def test_multilabel_relevance_is_shared_label():
    q = np.array([[1.0, 0.0]])
    D = np.array([[1.0, 0.0], [0.9, 0.1]])
    ap = average_precision_scores(q, D, [[1, 1, 0]], [[0, 0, 1], [0, 1, 0]])
    assert ap[0] == pytest.approx(0.5)


def test_map_at_r_and_r_precision_by_hand():
    # query 0: rel pattern [0, 1, 0, 1, 1], R = 3: top 3 holds 1 relevant at rank 2
    assert r_precision(_Q[:1], _D, [1], _LD0) == pytest.approx(1 / 3)
    assert map_at_r(_Q[:1], _D, [1], _LD0) == pytest.approx((1 / 2) / 3)


# ----------------------------------------------------- older behaviour kept
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("k", [None, 1, 7, 100])
@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_stable_ties_match_loop_reference(seed, multilabel, k, metric):
    Q, D, lQ, lD = data(seed, multilabel=multilabel)
    ours = average_precision_scores(Q, D, lQ, lD, k=k, metric=metric, batch_size=4, ties="stable")
    ref = ref_metric(Q, D, lQ, lD, "stable", ap_fn(k), metric=metric)
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert mean_average_precision(Q, D, lQ, lD, k=k, metric=metric, ties="stable") == pytest.approx(np.mean(ref), abs=1e-12)


def _pr_reference(Q, D, lQ, lD, levels, ties):
    S = similarity_matrix(Q, D)
    curves = []
    for s_row, lq in zip(S, lQ):
        gains = [gain(lq, ld) for ld in lD]
        order = orderings(list(s_row), gains, "stable" if ties == "average" else ties)[0]
        rel = [gains[j] > 0 for j in order]
        R = sum(rel)
        if R == 0:
            continue
        points, hits = [], 0
        for r, (j, x) in enumerate(zip(order, rel), start=1):
            hits += x
            end = r == len(order) or s_row[order[r]] != s_row[j]
            if ties != "average" or end:  # average: operating points at tie-group ends
                points.append((hits / r, hits / R))
        curves.append([max(p for p, rr in points if rr >= lev) for lev in levels])
    return np.mean(curves, axis=0)


@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("ties", TIES)
def test_precision_recall_curve_matches_reference(multilabel, ties):
    Q, D, lQ, lD = data(5, multilabel=multilabel)
    levels = np.linspace(0, 1, 11)
    p, r = precision_recall_curve(Q, D, lQ, lD, recall_levels=levels, batch_size=4, ties=ties)
    np.testing.assert_allclose(p, _pr_reference(Q, D, lQ, lD, levels, ties), atol=1e-12)
    np.testing.assert_array_equal(r, levels)
    assert np.all(np.diff(p) <= 1e-12)  # interpolated precision never rises with recall


@pytest.mark.parametrize("multilabel", [False, True])
def test_precision_at_k_scopes(multilabel):
    Q, D, lQ, lD = data(3, multilabel=multilabel)
    scopes = [1, 5, 10, 25]
    ours = precision_at_k(Q, D, lQ, lD, k=scopes + [1000], batch_size=3)
    ref = [ref_metric(Q, D, lQ, lD, "average", precision_fn(s)).mean() for s in scopes]
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert precision_at_k(Q, D, lQ, lD, k=5) == pytest.approx(ref[1])


@pytest.mark.parametrize("ties", TIES)
def test_chunking_does_not_change_results(ties):
    Q, D, lQ, lD = data(1, n_q=40, n_d=60, ties=True)
    full = average_precision_scores(Q, D, lQ, lD, ties=ties, k=9)
    for bs in (1, 7, 1000):
        np.testing.assert_array_equal(average_precision_scores(Q, D, lQ, lD, batch_size=bs, ties=ties, k=9), full)


def test_torch_inputs_and_float32():
    Q, D, lQ, lD = data(0, ties=False)
    expected = mean_average_precision(Q, D, lQ, lD)
    got = mean_average_precision(torch.tensor(Q, dtype=torch.float32), torch.tensor(D), torch.tensor(lQ), lD)
    assert got == pytest.approx(expected, abs=1e-6)


def test_top_k_similarities_matches_full_sort():
    Q, D, lQ, lD = data(4, n_q=10, n_d=30, ties=True)
    idx, sims = top_k_similarities(Q, D, k=5, batch_size=3)
    S = similarity_matrix(Q, D)
    ref = np.argsort(-S, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(idx, ref)
    np.testing.assert_array_equal(sims, np.take_along_axis(S, ref, 1))
    for q, row_sim in zip(Q, sims):
        assert np.all(np.diff(row_sim) <= 0)


# ------------------------------------------------------------------ errors
_ARGS = dict(query_emb=np.ones((2, 3)), database_emb=np.ones((2, 3)), query_labels=[0, 1], database_labels=[0, 1])


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        ({"query_emb": np.zeros((2, 3)), "database_emb": np.zeros((2, 4))}, ValueError, "dimensions"),
        ({"query_emb": np.full((2, 3), np.nan)}, ValueError, "query_emb contains NaN"),
        ({"database_emb": np.full((2, 3), np.inf)}, ValueError, "database_emb contains NaN"),
        ({"query_emb": np.zeros(3)}, ValueError, "query_emb must be 2-D"),
        ({"query_emb": np.zeros((0, 3)), "query_labels": []}, ValueError, "query_emb is empty"),
        ({"database_emb": np.zeros((2, 0)), "query_emb": np.zeros((2, 0))}, ValueError, "no dimensions"),
        ({"query_emb": np.array([["a", "b", "c"]] * 2)}, TypeError, "query_emb must be numeric"),
        ({"metric": "manhattan"}, ValueError, "metric must be one of"),
        ({"k": 0}, ValueError, "k must be a positive"),
        ({"k": 2.5}, ValueError, "k must be a positive"),
        ({"query_labels": [0]}, ValueError, "query_labels has 1 entries for 2"),
        ({"database_labels": [0, 1, 2]}, ValueError, "database_labels has 3 entries for 2"),
        ({"query_labels": [0, 1], "database_labels": ["0", "1"]}, TypeError, "query_labels hold numbers but database_labels hold strings"),
        ({"query_labels": [[1, 0], [0, 1]]}, ValueError, "must both be 1-D class labels or both 2-D"),
        ({"query_labels": [[1, 0], [0, 1]], "database_labels": [[1, 0, 0], [0, 1, 0]]}, ValueError, "2 label columns but database_labels has 3"),
        ({"query_labels": None}, ValueError, "query_labels is None"),
        ({"query_labels": np.zeros((2, 2, 2))}, ValueError, "query_labels must be 1-D or a 2-D"),
        ({"ties": "random"}, ValueError, "ties must be one of"),
        ({"denominator": "R"}, ValueError, "denominator must be one of"),
        ({"no_relevant": "nan"}, ValueError, "no_relevant must be one of"),
        ({"protocol": "vse"}, ValueError, "protocol must be one of"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive"),
    ],
)
def test_metric_errors(kwargs, exc, msg):
    args = dict(_ARGS)
    args.update(kwargs)
    with pytest.raises(exc, match=msg):
        mean_average_precision(**args)


@pytest.mark.parametrize("f", [precision_at_k, map_at_r, r_precision, ndcg_at_k, acg_at_k, precision_recall_curve])
def test_every_label_metric_checks_its_inputs(f):
    with pytest.raises(ValueError, match="ties must be one of"):
        f(**_ARGS, ties="random")
    with pytest.raises(TypeError, match="hold numbers but database_labels hold strings"):
        f(**{**_ARGS, "database_labels": ["0", "1"]})
    with pytest.raises(ValueError, match="metric must be one of"):
        f(**{**_ARGS, "metric": "l1"})


def test_graded_metric_errors():
    with pytest.raises(ValueError, match="relevance returned shape"):
        ndcg_at_k(**_ARGS, relevance=lambda a, b: np.ones((1, 1)))
    with pytest.raises(ValueError, match="non-negative"):
        ndcg_at_k(**_ARGS, relevance=lambda a, b: -np.ones((len(a), len(b))))
    with pytest.raises(TypeError, match="relevance must be a callable"):
        acg_at_k(**_ARGS, relevance="count")
    with pytest.raises(ValueError, match="no_relevant must be one of"):
        map_at_r(**_ARGS, no_relevant="drop")
    with pytest.raises(ValueError, match=r"k=3 must be in \[1, 2\]"):
        precision_at_k(**_ARGS, k=3)
    with pytest.raises(ValueError, match="No scope"):
        precision_at_k(**_ARGS, k=[5, 6])


# ----------------------------------------------------------------- scorers
def test_scorers_and_gridsearch_pick_better_alpha():
    from _toy import ToyLabelProjection
    from sklearn.model_selection import GridSearchCV

    from skcross.datasets import load_digit_halves

    X, y = load_digit_halves()
    X, y = X[:600], y[:600]
    for n_jobs in (1, 2):
        gs = GridSearchCV(
            ToyLabelProjection(), {"alpha": [1e5, 1e-3]}, scoring=make_map_scorer("left", "right"), cv=3, n_jobs=n_jobs
        ).fit(X, y)
        assert gs.best_params_ == {"alpha": 1e-3}
    gs = GridSearchCV(ToyLabelProjection(), {"alpha": [1e5, 1e-3]}, scoring=map_scorers(["left", "right"]), refit="map_mean", cv=3).fit(X, y)
    assert gs.best_params_ == {"alpha": 1e-3}
    assert set(gs.cv_results_) >= {"mean_test_map_left_to_right", "mean_test_map_right_to_left", "mean_test_map_mean"}


def test_scorer_scores_a_fitted_search_and_nested_cross_validation():
    from _toy import ToyLabelProjection
    from sklearn.model_selection import GridSearchCV, cross_val_score

    from skcross.datasets import make_multimodal_classification

    X, y = make_multimodal_classification(n_samples=120, random_state=1)
    scorer = make_map_scorer(mean=True)
    search = GridSearchCV(ToyLabelProjection(), {"alpha": [1e5, 1e-3]}, scoring=scorer, cv=3).fit(X, y)
    # a fitted search is scored through its refitted best estimator
    assert scorer(search, X, y) == scorer(search.best_estimator_, X, y)
    # nested cross-validation: the outer loop scores each fitted inner search
    outer = cross_val_score(GridSearchCV(ToyLabelProjection(), {"alpha": [1e5, 1e-3]}, scoring=scorer, cv=2),
                            X, y, scoring=scorer, cv=2, error_score="raise")
    assert outer.shape == (2,) and np.all((outer > 0) & (outer <= 1))
    unfitted = GridSearchCV(ToyLabelProjection(), {"alpha": [1.0]})
    with pytest.raises(TypeError, match="not a skcross estimator"):
        scorer(unfitted, X, y)


def test_scorer_agrees_with_metric_and_pipeline():
    from _toy import ToyLabelProjection
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from skcross import PerModality
    from skcross.datasets import make_multimodal_classification

    X, y = make_multimodal_classification(n_samples=100, random_state=1)
    model = ToyLabelProjection().fit(X, y)
    scorer = make_map_scorer(1, 0)
    direct = mean_average_precision(model.transform(1, X.modality(1)), model.transform(0, X.modality(0)), y, y)
    assert scorer(model, X, y) == pytest.approx(direct)
    pipe = Pipeline([("prep", PerModality([StandardScaler(), StandardScaler()])), ("model", ToyLabelProjection())]).fit(X, y)
    assert 0 < scorer(pipe, X, y) <= 1
    with pytest.raises(TypeError, match="not a skcross estimator"):
        scorer(StandardScaler().fit(X.modality(0)), X, y)


def test_plot_helpers(tmp_path):
    pytest.importorskip("matplotlib")
    from skcross.metrics import plot_precision_recall, plot_precision_scope

    Q, D, lQ, lD = data(0, ties=False)
    ax = plot_precision_recall({"ours": precision_recall_curve(Q, D, lQ, lD)})
    ax.figure.savefig(tmp_path / "pr.png")
    ax = plot_precision_scope({"ours": precision_at_k(Q, D, lQ, lD, k=[1, 5, 10])}, [1, 5, 10])
    assert (tmp_path / "pr.png").stat().st_size > 0


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_index_returns_equal_scores_in_database_order_for_every_batch_size(metric):
    from skcross import CrossModalIndex

    rng = np.random.RandomState(2)
    D = rng.randn(300, 48).astype(np.float32)
    copies = [0, 1, 63, 64, 65, 150, 298, 299]
    D[copies] = D[100]
    Q = np.concatenate([D[[100]], rng.randn(5, 48).astype(np.float32)])
    expected = top_k_similarities(Q, D, k=10, metric=metric)
    assert list(expected[0][0][:9]) == sorted(copies + [100])
    for batch_size in (1, 7, 64, 100, 299, 10_000):
        index = CrossModalIndex(metric=metric, batch_size=batch_size)
        index.add_embeddings(D)
        idx, sims = index.search_embeddings(Q, k=10)
        np.testing.assert_array_equal(idx, expected[0])
        np.testing.assert_array_equal(sims, expected[1])


# ------------------------------------------------- the CPU fast path of AP
def _general_path_only(monkeypatch):
    """Send every row of average_precision_scores through the general
    (positions + closed form) path, which the tests above check by brute force."""
    from skcross.metrics import _similarity

    monkeypatch.setattr(_similarity, "rank_key_factors", lambda *args, **kwargs: None)


def _count_fast_rows(monkeypatch):
    """Count the rows the fast path settles and the ones it hands back."""
    from skcross.metrics import _ranking

    counts = {"exact": 0, "handed_back": 0}
    original = _ranking.average_precision_untied_cpu

    def counting(*args, **kwargs):
        ap, defined, exact = original(*args, **kwargs)
        counts["exact"] += int(exact.sum())
        counts["handed_back"] += int((~exact).sum())
        return ap, defined, exact

    monkeypatch.setattr(_ranking, "average_precision_untied_cpu", counting)
    return counts


def near_collisions(seed, n_q=30, n_d=80):
    """Dot products on a fixed-point grid: database rows 0 and 10 differ by
    one unit in a coordinate the queries barely weigh, so their similarities
    are distinct but much closer than the fast path's integer keys resolve;
    row 20 copies row 5 (an exact tie); five classes at random."""
    rng = np.random.RandomState(seed)
    unit = 2.0**-25  # the fixed-point unit of 4-D rows with largest coordinate in (1/2, 1]
    D = rng.randint(-(2**24), 2**24, size=(n_d, 4)) * unit
    D[:, 0] = 0.75
    D[10] = D[0]
    D[10, 3] += unit
    D[20] = D[5]
    Q = rng.randint(-(2**24), 2**24, size=(n_q, 4)) * unit
    Q[:, 0] = 0.75
    Q[:, 3] = 2.0**-12
    return Q, D, rng.randint(5, size=n_q), rng.randint(5, size=n_d)


def few_duplicates(seed, n_q=40, n_d=120):
    """Two tied database rows (and a query equal to a third): rows of the
    tied rows' class tie, the others do not."""
    Q, D, lQ, lD = data(seed, n_q=n_q, n_d=n_d, dim=4, ties=False)
    D[1] = D[0]
    Q[0] = D[5]
    return Q, D, lQ, lD


@pytest.mark.parametrize(
    "make",
    [
        lambda: data(5, n_q=40, n_d=300, dim=16, ties=False),
        lambda: few_duplicates(6),
        lambda: near_collisions(7),
        lambda: data(8, n_q=30, n_d=90, dim=5, multilabel=True, ties=False),
    ],
    ids=["no ties", "duplicated rows", "near collisions", "multi-label"],
)
@pytest.mark.parametrize("resort", [None, 1.0])
def test_fast_path_gives_the_general_paths_bits(make, resort, monkeypatch):
    from skcross.metrics import _ties

    if resort is not None:  # every row with a shared key sorted again in float64
        monkeypatch.setattr(_ties, "_RESORT_FRACTION", resort)
    Q, D, lQ, lD = make()
    cases = [dict(k=k, denominator=den, no_relevant=nr, metric=m)
             for k in (None, 1, 7, 50) for den in ("retrieved", "min", "all") for nr in ("zero", "skip") for m in ("cosine", "dot")]
    with monkeypatch.context() as mp:
        counts = _count_fast_rows(mp)
        fast = [average_precision_scores(Q, D, lQ, lD, batch_size=7, **kw) for kw in cases]
        assert counts["exact"] > 0
    with monkeypatch.context() as mp:
        _general_path_only(mp)
        general = [average_precision_scores(Q, D, lQ, lD, batch_size=7, **kw) for kw in cases]
    for kw, a, b in zip(cases, fast, general):
        np.testing.assert_array_equal(a, b, err_msg=str(kw))


@pytest.mark.parametrize("resort", [0.0, 1.0])
def test_fast_path_resolves_near_collisions_and_hands_back_ties(resort, monkeypatch):
    from skcross.metrics import _ties

    monkeypatch.setattr(_ties, "_RESORT_FRACTION", resort)
    Q, D, lQ, lD = near_collisions(3)
    S = similarity_matrix(Q, D, "dot")
    gap = np.abs(S[:, 10] - S[:, 0])
    assert (gap > 0).all() and (gap < 1e-9).all()  # distinct, but closer than a key unit
    counts = _count_fast_rows(monkeypatch)
    ours = average_precision_scores(Q, D, lQ, lD, metric="dot")
    tied = (lD[5] == lQ) | (lD[20] == lQ)
    near = (lD[0] == lQ) | (lD[10] == lQ)
    assert tied.any() and (near & ~tied).any()
    # re-sorted in float64, the near rows are settled; the tied ones never are
    assert counts["handed_back"] == (tied.sum() if resort else (tied | near).sum())
    # one tie group of two (rows 5 and 20): two orderings, enumerated
    np.testing.assert_allclose(ours, ref_metric(Q, D, lQ, lD, "average", ap_fn(), metric="dot"), atol=1e-12)
    with monkeypatch.context() as mp:
        _general_path_only(mp)
        np.testing.assert_array_equal(ours, average_precision_scores(Q, D, lQ, lD, metric="dot"))


@pytest.mark.parametrize("exponent", [-600, 600, 1000])
def test_fast_path_scale_extremes(exponent, monkeypatch):
    """Huge or tiny dot products: the integer keys must neither overflow nor
    lose the exact order (or the fast path must step aside)."""
    Q, D, lQ, lD = data(9, n_q=20, n_d=60, dim=6, ties=True)
    base = average_precision_scores(Q, D, lQ, lD, metric="dot")
    scale = 2.0**exponent
    got = average_precision_scores(Q * scale, D * scale if exponent < 1000 else D, lQ, lD, metric="dot")
    np.testing.assert_array_equal(got, base)
    with monkeypatch.context() as mp:
        _general_path_only(mp)
        general = average_precision_scores(Q * scale, D * scale if exponent < 1000 else D, lQ, lD, metric="dot")
    np.testing.assert_array_equal(got, general)


def test_fast_path_mixed_database_scales(monkeypatch):
    """Database rows of norms 2**-500 to 2**500 (dot): no factor suits every
    pair, so the keys must not be built, or be built exactly."""
    rng = np.random.RandomState(10)
    Q, D = rng.randn(12, 3), rng.randn(40, 3)
    D *= 2.0 ** rng.randint(-500, 500, size=(40, 1))
    lQ, lD = rng.randint(2, size=12), rng.randint(2, size=40)
    got = average_precision_scores(Q, D, lQ, lD, metric="dot")
    with monkeypatch.context() as mp:
        _general_path_only(mp)
        np.testing.assert_array_equal(got, average_precision_scores(Q, D, lQ, lD, metric="dot"))
    ref = ref_metric(Q, D, lQ, lD, "average", ap_fn(), metric="dot")
    np.testing.assert_allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize("ties_in_data", [False, True])
def test_fast_path_blocks_do_not_change_results(ties_in_data, monkeypatch):
    """Blocks of 3 rows: on tied data the rest of a chunk skips to the general
    path after a tied block; the bits never depend on it."""
    from skcross.metrics import _ranking

    Q, D, lQ, lD = data(11, n_q=40, n_d=60, ties=ties_in_data)
    expected = average_precision_scores(Q, D, lQ, lD, k=9, batch_size=1)
    monkeypatch.setattr(_ranking, "_BLOCK_BYTES", 8 * 60 * 3)
    monkeypatch.setattr(_ranking, "_BLOCK_ROWS", 1)
    for bs in (1, 7, 40):
        np.testing.assert_array_equal(average_precision_scores(Q, D, lQ, lD, k=9, batch_size=bs), expected)
    with monkeypatch.context() as mp:
        _general_path_only(mp)
        np.testing.assert_array_equal(average_precision_scores(Q, D, lQ, lD, k=9), expected)
