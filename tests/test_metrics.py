"""Every metric against a slow, obviously-correct reference written with plain loops."""

import math

import numpy as np
import pytest
import torch

from skcross.metrics import (
    average_precision_scores,
    make_map_scorer,
    map_scorers,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    top_k_similarities,
)


# ----------------------------------------------------------------- references
def _sim(q, d, metric):
    if metric == "cosine":
        nq, nd = math.sqrt(sum(v * v for v in q)), math.sqrt(sum(v * v for v in d))
        return sum(a * b for a, b in zip(q, d)) / (nq * nd)
    if metric == "dot":
        return sum(a * b for a, b in zip(q, d))
    return -math.sqrt(sum((a - b) ** 2 for a, b in zip(q, d)))


def _relevant(a, b):
    if np.ndim(a) == 0:
        return a == b
    return any(x and y for x, y in zip(a, b))


def _ranking(q, D, metric):
    sims = [_sim(q, d, metric) for d in D]
    # stable: equal similarities keep database order
    return sorted(range(len(D)), key=lambda j: -sims[j])


def ref_ap(q, D, lq, lD, k=None, metric="cosine"):
    order = _ranking(q, D, metric)
    if k is not None:
        order = order[:k]
    hits, total = 0, 0.0
    for r, j in enumerate(order, start=1):
        if _relevant(lq, lD[j]):
            hits += 1
            total += hits / r
    return total / hits if hits else 0.0


def ref_precision_at(q, D, lq, lD, k, metric="cosine"):
    order = _ranking(q, D, metric)[:k]
    return sum(_relevant(lq, lD[j]) for j in order) / k


def ref_pr_curve(Q, D, lQ, lD, levels, metric="cosine"):
    curves = []
    for q, lq in zip(Q, lQ):
        order = _ranking(q, D, metric)
        rel = [_relevant(lq, lD[j]) for j in order]
        R = sum(rel)
        if R == 0:
            continue
        prec, rec, hits = [], [], 0
        for r, x in enumerate(rel, start=1):
            hits += x
            prec.append(hits / r)
            rec.append(hits / R)
        curves.append([max(p for p, rr in zip(prec, rec) if rr >= lev) for lev in levels])
    return np.mean(curves, axis=0)


def data(seed, n_q=15, n_d=25, dim=3, multilabel=False, ties=True):
    rng = np.random.RandomState(seed)
    Q, D = rng.randn(n_q, dim), rng.randn(n_d, dim)
    if ties:  # duplicated database rows and queries: exact ties in every metric
        D[5:10] = D[0:5]
        D[10:12] = D[0]
        Q[:3] = D[:3]
    if multilabel:
        lQ = (rng.rand(n_q, 4) < 0.3).astype(int)
        lD = (rng.rand(n_d, 4) < 0.3).astype(int)
    else:
        lQ, lD = rng.randint(3, size=n_q), rng.randint(3, size=n_d)
    return Q, D, lQ, lD


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("k", [None, 1, 7, 100])
@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_average_precision_matches_reference(seed, multilabel, k, metric):
    Q, D, lQ, lD = data(seed, multilabel=multilabel)
    ours = average_precision_scores(Q, D, lQ, lD, k=k, metric=metric, batch_size=4)
    ref = [ref_ap(q, D, lq, lD, k=k, metric=metric) for q, lq in zip(Q, lQ)]
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert mean_average_precision(Q, D, lQ, lD, k=k, metric=metric) == pytest.approx(np.mean(ref), abs=1e-12)


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


def test_ties_are_broken_by_database_position():
    q = np.array([[1.0, 0.0]])
    D = np.array([[1.0, 0.0]] * 4)
    # all tied: ranking is 0,1,2,3, relevant at positions 2 and 4 -> (1/2 + 2/4)/2
    assert average_precision_scores(q, D, [1], [0, 1, 0, 1])[0] == pytest.approx(0.5)


def test_multilabel_relevance_is_shared_label():
    q = np.array([[1.0, 0.0]])
    D = np.array([[1.0, 0.0], [0.9, 0.1]])
    ap = average_precision_scores(q, D, [[1, 1, 0]], [[0, 0, 1], [0, 1, 0]])
    assert ap[0] == pytest.approx(0.5)


@pytest.mark.parametrize("multilabel", [False, True])
def test_precision_at_k_matches_reference(multilabel):
    Q, D, lQ, lD = data(3, multilabel=multilabel)
    scopes = [1, 5, 10, 25]
    ours = precision_at_k(Q, D, lQ, lD, k=scopes, batch_size=3)
    ref = [np.mean([ref_precision_at(q, D, lq, lD, s) for q, lq in zip(Q, lQ)]) for s in scopes]
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert precision_at_k(Q, D, lQ, lD, k=5) == pytest.approx(ref[1])


@pytest.mark.parametrize("multilabel", [False, True])
def test_precision_recall_curve_matches_reference(multilabel):
    Q, D, lQ, lD = data(5, multilabel=multilabel)
    levels = np.linspace(0, 1, 11)
    p, r = precision_recall_curve(Q, D, lQ, lD, recall_levels=levels, batch_size=4)
    np.testing.assert_allclose(p, ref_pr_curve(Q, D, lQ, lD, levels), atol=1e-12)
    np.testing.assert_array_equal(r, levels)
    assert np.all(np.diff(p) <= 1e-12)  # interpolated precision never rises with recall


def test_chunking_does_not_change_results():
    Q, D, lQ, lD = data(1, n_q=40, n_d=60, ties=False)
    full = average_precision_scores(Q, D, lQ, lD)
    for bs in (1, 7, 1000):
        np.testing.assert_array_equal(average_precision_scores(Q, D, lQ, lD, batch_size=bs), full)


def test_agrees_with_sklearn_average_precision_without_ties():
    from sklearn.metrics import average_precision_score

    from skcross.metrics import similarity_matrix

    Q, D, lQ, lD = data(2, n_q=20, n_d=50, dim=6, ties=False)
    S = similarity_matrix(Q, D)
    ref = [average_precision_score(lD == lq, s) for s, lq in zip(S, lQ) if (lD == lq).any()]
    ours = average_precision_scores(Q, D, lQ, lD)[[(lD == lq).any() for lq in lQ]]
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_torch_inputs_and_float32():
    Q, D, lQ, lD = data(0, ties=False)
    expected = mean_average_precision(Q, D, lQ, lD)
    got = mean_average_precision(torch.tensor(Q, dtype=torch.float32), torch.tensor(D), torch.tensor(lQ), lD)
    assert got == pytest.approx(expected, abs=1e-6)


def test_top_k_similarities_matches_full_sort():
    Q, D, lQ, lD = data(4, n_q=10, n_d=30, ties=True)
    idx, sims = top_k_similarities(Q, D, k=5, batch_size=3)
    for q, row_idx, row_sim in zip(Q, idx, sims):
        ref = _ranking(q, D, "cosine")[:5]
        ref_sims = [_sim(q, D[j], "cosine") for j in ref]
        np.testing.assert_allclose(row_sim, ref_sims, atol=1e-12)
        # same set up to ties at the boundary; identical where similarities are distinct
        assert np.all(np.diff(row_sim) <= 1e-12)
    assert idx.shape == (10, 5)


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        ({"query_emb": np.zeros((2, 3)), "database_emb": np.zeros((2, 4))}, ValueError, "dimensions"),
        ({"query_emb": np.full((2, 3), np.nan)}, ValueError, "NaN"),
        ({"query_emb": np.zeros(3)}, ValueError, "2-D"),
        ({"metric": "manhattan"}, ValueError, "metric"),
        ({"k": 0}, ValueError, "positive"),
        ({"query_labels": [0]}, ValueError, "1 entries for 2"),
    ],
)
def test_metric_errors(kwargs, exc, msg):
    args = dict(query_emb=np.ones((2, 3)), database_emb=np.ones((2, 3)), query_labels=[0, 1], database_labels=[0, 1])
    args.update(kwargs)
    with pytest.raises(exc, match=msg):
        mean_average_precision(**args)


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
    assert pipe.score(X, y) == pytest.approx(make_map_scorer(mean=True)(pipe, X, y))
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
