"""Property-based tests (hypothesis) of the MultiModal container and the metrics."""

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.model_selection import train_test_split

from skcross import MultiModal
from skcross.metrics import (
    average_precision_scores,
    mean_average_precision,
    precision_at_k,
    similarity_matrix,
    top_k_similarities,
)

FAST = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------ the container


@st.composite
def multimodal(draw, min_rows=0):
    """A MultiModal whose first column in every modality is the row id."""
    n = draw(st.integers(min_rows, 25))
    widths = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    arrays = []
    for c, w in enumerate(widths):
        a = np.zeros((n, w))
        a[:, 0] = np.arange(n)
        if w > 1:
            a[:, 1:] = c + 1
        arrays.append(a)
    return MultiModal(arrays, names=[f"m{c}" for c in range(len(widths))])


def rows_of(X):
    ids = [X.modality(c)[:, 0].astype(int) for c in range(X.n_modalities)]
    for other in ids[1:]:
        np.testing.assert_array_equal(other, ids[0])  # every modality stays paired
    return ids[0]


@FAST
@given(multimodal())
def test_shape_and_len(X):
    n = X.modality(0).shape[0]
    assert X.shape == (n, X.n_modalities)
    assert len(X) == n
    assert X.names == [f"m{c}" for c in range(X.n_modalities)]


@FAST
@given(multimodal(min_rows=1), st.data())
def test_integer_indexing_composes(X, data):
    n = len(X)
    a = np.array(data.draw(st.lists(st.integers(-n, n - 1), max_size=30)), dtype=int)
    b = np.array(data.draw(st.lists(st.integers(-max(len(a), 1), max(len(a), 1) - 1), max_size=30)), dtype=int)
    assume(len(a) > 0 or len(b) == 0)
    first = X[a]
    assert len(first) == len(a)
    np.testing.assert_array_equal(rows_of(first), np.arange(n)[a])
    if len(a):
        np.testing.assert_array_equal(rows_of(first[b]), np.arange(n)[a][b])


@FAST
@given(multimodal(), st.data())
def test_mask_indexing_equals_nonzero(X, data):
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(X), max_size=len(X))), dtype=bool)
    np.testing.assert_array_equal(rows_of(X[mask]), np.flatnonzero(mask))
    np.testing.assert_array_equal(rows_of(X[mask]), rows_of(X[np.flatnonzero(mask)]))


slices = st.builds(
    slice,
    st.none() | st.integers(-30, 30),
    st.none() | st.integers(-30, 30),
    st.none() | st.integers(1, 4) | st.integers(-4, -1),
)


@FAST
@given(multimodal(), slices, slices)
def test_slices_compose(X, s1, s2):
    ids = np.arange(len(X))
    np.testing.assert_array_equal(rows_of(X[s1]), ids[s1])
    np.testing.assert_array_equal(rows_of(X[s1][s2]), ids[s1][s2])


@FAST
@given(multimodal())
def test_pickling_round_trip(X):
    Y = pickle.loads(pickle.dumps(X))
    assert Y.names == X.names and Y.shape == X.shape
    for a, b in zip(X.modalities(), Y.modalities()):
        np.testing.assert_array_equal(a, b)


@FAST
@given(multimodal(min_rows=10), st.floats(0.2, 0.6), st.integers(0, 1000))
def test_train_test_split_partitions_rows(X, test_size, seed):
    train, test = train_test_split(X, test_size=test_size, random_state=seed)
    assert isinstance(train, MultiModal) and isinstance(test, MultiModal)
    together = np.sort(np.concatenate([rows_of(train), rows_of(test)]))
    np.testing.assert_array_equal(together, np.arange(len(X)))
    assert train.names == X.names


# -------------------------------------------------------------- the metrics


def reference_ap(sims, relevant, k=None):
    """Pure-Python AP: rank by similarity (ties by position), average precisions at hits."""
    out = []
    for s_row, r_row in zip(sims.tolist(), relevant.tolist()):
        order = sorted(range(len(s_row)), key=lambda j: (-s_row[j], j))
        if k is not None:
            order = order[:k]
        hits, total = 0, 0.0
        for rank, j in enumerate(order, start=1):
            if r_row[j]:
                hits += 1
                total += hits / rank
        out.append(total / hits if hits else 0.0)
    return np.array(out)


def relevance(yq, yd):
    if yq.ndim == 1:
        return yq[:, None] == yd[None, :]
    return (yq @ yd.T) > 0


@st.composite
def retrieval_problem(draw, ties=True):
    """Random embeddings and labels, with exact ties in similarity when ``ties``.

    Ties must be exact in any order of floating-point operations (the metrics and
    the reference compute similarities by different kernels, and a mathematical
    tie can differ by one ulp between them): small integers under "dot" and
    "euclidean" are exact; for "cosine" the database holds signed multiples of
    coordinate axes, whose similarity to a query is one of its normalised
    coordinates, exactly.
    """
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)
    n_q, n_d = draw(st.integers(1, 12)), draw(st.integers(1, 25))
    dim = draw(st.integers(1, 5))
    multilabel = draw(st.booleans())
    # (n, 1) label arrays read as class labels, so indicator matrices get >= 2 columns.
    n_classes = draw(st.integers(2 if multilabel else 1, 4))
    metric = draw(st.sampled_from(["cosine", "dot", "euclidean"]))
    tied = ties and draw(st.booleans())
    if tied and metric != "cosine":
        Q = rng.randint(-2, 3, size=(n_q, dim)).astype(float)
        D = rng.randint(-2, 3, size=(n_d, dim)).astype(float)
    elif tied:
        Q = rng.randn(n_q, dim)
        scale = rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], size=n_d)
        D = np.eye(dim)[rng.randint(dim, size=n_d)] * scale[:, None]
    else:
        # One-dimensional cosine similarities are all +-1: ties.
        assume(metric != "cosine" or dim >= 2)
        Q, D = rng.randn(n_q, dim), rng.randn(n_d, dim)
    if multilabel:
        yq = (rng.rand(n_q, n_classes) < 0.5).astype(int)
        yd = (rng.rand(n_d, n_classes) < 0.5).astype(int)
    else:
        yq, yd = rng.randint(n_classes, size=n_q), rng.randint(n_classes, size=n_d)
    if metric == "cosine":
        assume(np.linalg.norm(Q, axis=1).min() > 0 and np.linalg.norm(D, axis=1).min() > 0)
    return Q, D, yq, yd, metric


@FAST
@given(retrieval_problem(), st.none() | st.integers(1, 30))
def test_ap_agrees_with_pure_python_reference(problem, k):
    Q, D, yq, yd, metric = problem
    # The reference breaks ties by database position: ties="stable".
    ap = average_precision_scores(Q, D, yq, yd, k=k, metric=metric, ties="stable")
    sims = similarity_matrix(Q, D, metric=metric)
    expected = reference_ap(sims, relevance(yq, yd), k=k)
    np.testing.assert_allclose(ap, expected, rtol=1e-12, atol=1e-12)


@FAST
@given(retrieval_problem())
def test_map_is_in_unit_interval(problem):
    Q, D, yq, yd, metric = problem
    value = mean_average_precision(Q, D, yq, yd, metric=metric)
    assert 0.0 <= value <= 1.0
    assert np.all((average_precision_scores(Q, D, yq, yd, metric=metric) >= 0))


@FAST
@given(retrieval_problem(ties=False), st.integers(0, 10**6))
def test_map_invariant_to_database_permutation(problem, seed):
    Q, D, yq, yd, metric = problem
    perm = np.random.RandomState(seed).permutation(len(D))
    a = average_precision_scores(Q, D, yq, yd, metric=metric)
    b = average_precision_scores(Q, D[perm], yq, yd[perm], metric=metric)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@FAST
@given(st.integers(1, 5), st.integers(1, 30), st.integers(0, 10**6))
def test_map_is_one_for_a_perfect_ranking(n_classes, n_database, seed):
    rng = np.random.RandomState(seed)
    yd = rng.randint(n_classes, size=n_database)
    present = np.unique(yd)
    yq = rng.choice(present, size=rng.randint(1, 10))
    # Each item sits on its class's axis: relevant items are all ranked first.
    eye = np.eye(n_classes)
    D = eye[yd] * rng.uniform(0.5, 2.0, size=(n_database, 1))
    Q = eye[yq] * rng.uniform(0.5, 2.0, size=(len(yq), 1))
    assert mean_average_precision(Q, D, yq, yd) == pytest.approx(1.0)
    assert mean_average_precision(Q, D, yq, yd, k=3) == pytest.approx(1.0)


def test_precision_at_k_stays_in_the_unit_interval_with_ties():
    """A case hypothesis found: the tie-averaged closed form summed to 1 + 2e-16."""
    Q = np.array([[-2.19703172, -1.650994]])
    D = np.array([[0, -2], [0, -1], [0, .5], [-2, 0], [0, -1], [0, 2], [0, .5], [2, 0], [0, -1], [-.5, 0],
                  [0, -2], [.5, 0], [0, 1], [.5, 0], [0, .5], [0, 2], [0, -2], [.5, 0], [0, -.5], [-2, 0],
                  [.5, 0], [0, -.5], [0, -2]], dtype=float)
    yd = np.random.RandomState(0).randint(0, 2, (2, 23, 4))[1]
    p = precision_at_k(Q, D, np.array([[1, 0, 1, 1]]), yd, k=list(range(1, 24)))
    assert np.all((p >= 0) & (p <= 1))


@FAST
@given(retrieval_problem())
def test_precision_at_k_properties(problem):
    Q, D, yq, yd, metric = problem
    n = len(D)
    scopes = np.arange(1, n + 1)
    p = precision_at_k(Q, D, yq, yd, k=list(scopes), metric=metric)
    assert p.shape == (n,)
    assert np.all((p >= 0) & (p <= 1))
    hits = p * scopes
    # Relevant items among the top k never decrease as k grows, and by at most one.
    assert np.all(np.diff(hits) >= -1e-9) and np.all(np.diff(hits) <= 1 + 1e-9)
    # At k = n every relevant item is retrieved: precision is the base rate.
    rel = relevance(yq, yd)
    assert p[-1] == pytest.approx(rel.mean())
    assert precision_at_k(Q, D, yq, yd, k=n, metric=metric) == pytest.approx(p[-1])


@FAST
@given(retrieval_problem(ties=False), st.integers(1, 30))
def test_top_k_is_the_head_of_the_full_ranking(problem, k):
    Q, D, _, _, metric = problem
    idx, sims = top_k_similarities(Q, D, k=k, metric=metric)
    full = similarity_matrix(Q, D, metric=metric)
    kk = min(k, len(D))
    assert idx.shape == sims.shape == (len(Q), kk)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :kk]
    np.testing.assert_allclose(sims, np.take_along_axis(full, expected, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(idx, expected)
    assert np.all(np.diff(sims, axis=1) <= 0)
    assert all(len(set(row)) == kk for row in idx.tolist())


@FAST
@given(retrieval_problem(), st.integers(1, 6))
def test_chunking_never_changes_the_metrics(problem, batch_size):
    Q, D, yq, yd, metric = problem
    full = average_precision_scores(Q, D, yq, yd, metric=metric)
    np.testing.assert_allclose(
        average_precision_scores(Q, D, yq, yd, metric=metric, batch_size=batch_size),
        full, rtol=1e-12, atol=1e-12,
    )


def test_top_k_ties_at_the_cut_go_to_the_earliest_position():
    D = np.array([[-2.0], [1], [1], [1], [-1], [1], [0], [2], [-2], [-2], [2]])
    idx, sims = top_k_similarities([[2.0]], D, k=1, metric="dot")
    assert idx.tolist() == [[7]] and sims.tolist() == [[4.0]]
