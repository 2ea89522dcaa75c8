"""Instance-level retrieval (recall@K, ranks, report) and the retrieval scorers."""

import itertools

import numpy as np
import pytest

from skcross.metrics import (
    cross_modal_recall,
    instance_retrieval_report,
    make_retrieval_scorer,
    mean_average_precision,
    mean_rank,
    median_rank,
    recall_at_k,
    retrieval_scorers,
    similarity_matrix,
)
from test_metrics import TIES, orderings


def ref_first_ranks(Q, D, qids, dids, ties):
    """Per query, the (1-based) rank of the first correct match in every allowed ordering."""
    S = similarity_matrix(Q, D)
    out = []
    for s_row, qid in zip(S, qids):
        gains = [float(d == qid) for d in dids]
        ranks = []
        for order in orderings(list(s_row), gains, ties):
            ranks.append(next(r for r, j in enumerate(order, start=1) if gains[j]))
        out.append(ranks)
    return out


def paired(seed, n_images=4, captions=2):
    """Images with several captions each, and plenty of ties."""
    rng = np.random.RandomState(seed)
    base = rng.randn(3, 2)
    images = base[rng.randint(3, size=n_images)]
    texts = base[rng.randint(3, size=n_images * captions)]
    texts[0] = images[0]
    return images, texts, np.arange(n_images), np.repeat(np.arange(n_images), captions)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("ties", TIES)
def test_recall_and_ranks_match_brute_force(seed, ties):
    images, texts, iid, tid = paired(seed)
    for Q, D, qids, dids in ((images, texts, iid, tid), (texts, images, tid, iid)):
        ranks = ref_first_ranks(Q, D, qids, dids, ties)
        ours = recall_at_k(Q, D, ks=(1, 2, 3, 5), query_ids=qids, database_ids=dids, ties=ties, batch_size=3)
        ref = [np.mean([np.mean([r <= K for r in rs]) for rs in ranks]) for K in (1, 2, 3, 5)]
        np.testing.assert_allclose(ours, ref, atol=1e-12)
        expected = [np.mean(rs) for rs in ranks]
        assert mean_rank(Q, D, qids, dids, ties=ties) == pytest.approx(np.mean(expected), abs=1e-12)
        assert median_rank(Q, D, qids, dids, ties=ties) == pytest.approx(np.median(expected), abs=1e-12)


def test_default_ids_pair_row_i_with_row_i():
    rng = np.random.RandomState(0)
    A = rng.randn(30, 5)
    B = A + 0.3 * rng.randn(30, 5)
    ids = np.arange(30)
    np.testing.assert_array_equal(recall_at_k(A, B), recall_at_k(A, B, query_ids=ids, database_ids=ids))
    assert recall_at_k(A, A, ks=1) == 1.0 and median_rank(A, A) == 1.0


def test_recall_is_invariant_to_database_order_and_chance_when_collapsed():
    images, texts, iid, tid = paired(5, n_images=6, captions=3)
    perm = np.random.RandomState(1).permutation(len(texts))
    a = recall_at_k(images, texts, ks=(1, 2, 4), query_ids=iid, database_ids=tid)
    b = recall_at_k(images, texts[perm], ks=(1, 2, 4), query_ids=iid, database_ids=tid[perm])
    np.testing.assert_allclose(a, b, atol=1e-12)
    # collapsed embeddings: 3 correct of 18 -> P(hit@1) = 3 / 18
    E = np.ones((18, 4))
    assert recall_at_k(np.ones((6, 4)), E, ks=1, query_ids=iid, database_ids=tid) == pytest.approx(3 / 18)
    # stable order would give every query of a sorted file a hit at rank 1 for id 0
    assert mean_rank(np.ones((6, 4)), E, iid, tid) == pytest.approx(19 / 4)


def test_report_keys_and_rsum():
    rng = np.random.RandomState(3)
    A = rng.randn(20, 6)
    B = A + 0.8 * rng.randn(20, 6)
    report = instance_retrieval_report(A, B, names=("image", "text"))
    assert list(report) == [
        "image_to_text_R@1", "image_to_text_R@5", "image_to_text_R@10", "image_to_text_medr", "image_to_text_meanr",
        "text_to_image_R@1", "text_to_image_R@5", "text_to_image_R@10", "text_to_image_medr", "text_to_image_meanr",
        "rsum",
    ]
    np.testing.assert_allclose([report[f"image_to_text_R@{k}"] for k in (1, 5, 10)], recall_at_k(A, B))
    np.testing.assert_allclose([report[f"text_to_image_R@{k}"] for k in (1, 5, 10)], recall_at_k(B, A))
    assert report["rsum"] == pytest.approx(sum(v for k, v in report.items() if "R@" in k))
    assert report["text_to_image_meanr"] == pytest.approx(mean_rank(B, A))


def test_cross_modal_recall_is_mean_over_ordered_pairs():
    rng = np.random.RandomState(4)
    E = [rng.randn(15, 4) for _ in range(3)]
    expected = np.mean([np.mean(recall_at_k(E[i], E[j])) for i, j in itertools.permutations(range(3), 2)])
    assert cross_modal_recall(E) == pytest.approx(expected)
    assert cross_modal_recall(E, pairs=[(0, 1)], ks=(1,)) == pytest.approx(recall_at_k(E[0], E[1], ks=1))


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        ({"query_ids": [0, 1, 2]}, ValueError, "database_ids is None but the other ids are given"),
        ({"database_emb": np.ones((3, 2))}, ValueError, "must have as many rows"),
        ({"query_ids": [0, 1], "database_ids": ["0", "1"]}, TypeError, "query_ids hold numbers but database_ids hold strings"),
        ({"query_ids": [0, 5], "database_ids": [0, 1]}, ValueError, "query 1 .id 5. has no match"),
        ({"query_ids": [0], "database_ids": [0, 1]}, ValueError, "query_ids has 1 entries for 2"),
        ({"query_ids": [[0], [1]], "database_ids": [0, 1]}, ValueError, "query_ids must be 1-D"),
        ({"ks": 0}, ValueError, "ks must be a positive"),
        ({"ks": ()}, ValueError, "ks is empty"),
        ({"ks": (1, "5")}, ValueError, "every value in ks"),
        ({"ties": "random"}, ValueError, "ties must be one of"),
        ({"metric": "l1"}, ValueError, "metric must be one of"),
        ({"query_emb": np.zeros((0, 2))}, ValueError, "query_emb is empty"),
    ],
)
def test_instance_errors(kwargs, exc, msg):
    args = dict(query_emb=np.eye(2), database_emb=np.eye(2))
    args.update(kwargs)
    with pytest.raises(exc, match=msg):
        recall_at_k(**args)


def test_cross_modal_recall_errors():
    with pytest.raises(ValueError, match="at least two modalities"):
        cross_modal_recall([np.eye(3)])
    with pytest.raises(TypeError, match="names must be two strings"):
        instance_retrieval_report(np.eye(2), np.eye(2), names=("a",))


# ----------------------------------------------------------------- scorers
@pytest.fixture(scope="module")
def toy():
    from _toy import ToyLabelProjection

    from skcross.datasets import make_multimodal_classification

    X, y = make_multimodal_classification(n_samples=120, n_classes=4, random_state=1)
    return ToyLabelProjection().fit(X, y), X, y


def test_every_scorer_agrees_with_its_function(toy):
    from skcross.metrics import acg_at_k, map_at_r, ndcg_at_k, precision_at_k, r_precision

    model, X, y = toy
    a, b = model.transform(0, X.modality(0)), model.transform(1, X.modality(1))
    cases = [
        ("map", {}, mean_average_precision(a, b, y, y)),
        ("mean_average_precision", {"k": 10, "protocol": "sdml"}, mean_average_precision(a, b, y, y, k=10, protocol="sdml")),
        ("precision_at_k", {"k": 5}, precision_at_k(a, b, y, y, k=5)),
        ("map_at_r", {}, map_at_r(a, b, y, y)),
        ("r_precision", {"ties": "stable"}, r_precision(a, b, y, y, ties="stable")),
        ("ndcg", {"k": 7}, ndcg_at_k(a, b, y, y, k=7)),
        ("acg_at_k", {}, acg_at_k(a, b, y, y)),
        ("recall_at_k", {}, np.mean(recall_at_k(a, b))),
        ("median_rank", {}, -median_rank(a, b)),
        ("neg_mean_rank", {}, -mean_rank(a, b)),
    ]
    for name, kwargs, expected in cases:
        scorer = make_retrieval_scorer(name, 0, 1, **kwargs)
        assert scorer(model, X, y) == pytest.approx(expected), name
    mean = make_retrieval_scorer("recall", mean=True)(model, X)  # no labels needed
    assert mean == pytest.approx(cross_modal_recall([a, b]))
    with pytest.raises(ValueError, match="needs labels y"):
        make_retrieval_scorer("map")(model, X, None)
    with pytest.raises(ValueError, match="different modalities"):
        make_retrieval_scorer("map", 1, 1)(model, X, y)


def test_scorer_errors_and_repr():
    with pytest.raises(ValueError, match="metric must be one of"):
        make_retrieval_scorer("auc")
    with pytest.raises(ValueError, match="needs an int k"):
        make_retrieval_scorer("precision_at_k")
    with pytest.raises(ValueError, match="at least two modalities"):
        retrieval_scorers("map", ["img"])
    with pytest.raises(ValueError, match="metrics is empty"):
        retrieval_scorers([], 2)
    assert repr(make_retrieval_scorer("recall", mean=True, ks=(1,))) == "make_retrieval_scorer('recall_at_k', mean=True, ks=(1,))"


def test_multi_metric_gridsearch_with_label_free_refit(toy):
    import pickle

    from _toy import ToyLabelProjection
    from sklearn.model_selection import GridSearchCV

    from skcross.datasets import load_digit_halves

    X, y = load_digit_halves()
    X, y = X[:450], y[:450]
    scoring = retrieval_scorers(["map", "recall_at_k", "neg_median_rank"], ["left", "right"], ties="average")
    pickle.loads(pickle.dumps(scoring))  # n_jobs > 1 needs picklable scorers
    gs = GridSearchCV(ToyLabelProjection(), {"alpha": [1e5, 1e-3]}, scoring=scoring, refit="map_mean", cv=3).fit(X, y)
    assert gs.best_params_ == {"alpha": 1e-3}
    assert {"mean_test_recall_at_k_mean", "mean_test_neg_median_rank_left_to_right"} <= set(gs.cv_results_)
    assert (gs.cv_results_["mean_test_neg_median_rank_mean"] <= -1).all()
