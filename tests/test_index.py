"""CrossModalIndex: exact chunked search, persistence, FAISS backend, errors."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

import skcross
from skcross import CrossModalIndex
from skcross.datasets import make_multimodal_classification
from skcross.exceptions import IncompatibleVersionError
from skcross.metrics import similarity_matrix, top_k_similarities

from _toy import ToyLabelProjection


@pytest.fixture(scope="module")
def fitted():
    X, y = make_multimodal_classification(
        n_samples=300, n_modalities=2, n_classes=4, n_features=[8, 6], random_state=0
    )
    est = ToyLabelProjection(alpha=1e-2, random_state=0).fit(X, y)
    return est, X, y


def brute_force(Q, D, k, metric):
    """Top-k by a full argsort of the similarity matrix (ties: database order)."""
    S = similarity_matrix(Q, D, metric=metric)
    order = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(S, order, axis=1)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_search_equals_brute_force(fitted, metric):
    est, X, _ = fitted
    index = CrossModalIndex(est, "1", metric=metric, batch_size=64).add(X.modality(1))
    assert len(index) == 300 and index.n_items_ == 300
    idx, scores = index.search(0, X.modality(0)[:50], k=7)
    ref_idx, ref_scores = brute_force(est.transform(0, X.modality(0)[:50]), est.transform(1, X.modality(1)), 7, metric)
    assert idx.shape == scores.shape == (50, 7)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-5)


def test_default_metric_is_the_estimators(fitted, monkeypatch):
    est, X, _ = fitted
    monkeypatch.setattr(est, "_get_retrieval_metric", lambda: "dot")
    index = CrossModalIndex(est, 1).add(X.modality(1))
    Q = est.transform(0, X.modality(0)[:10])
    idx, scores = index.search(0, X.modality(0)[:10], k=5)
    ref = top_k_similarities(Q, est.transform(1, X.modality(1)), k=5, metric="dot")
    np.testing.assert_array_equal(idx, ref[0])
    np.testing.assert_allclose(scores, ref[1], rtol=1e-6)


def test_matches_estimator_retrieve(fitted):
    est, X, _ = fitted
    index = CrossModalIndex(est, "1").add(X.modality(1))
    idx, scores = index.search("0", X.modality(0), k=10)
    ref_idx, ref_scores = est.retrieve(0, X.modality(0), 1, X.modality(1), k=10)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 299, 300, 10_000])
def test_chunking_invariance(fitted, batch_size):
    est, X, _ = fitted
    reference = CrossModalIndex(est, 1, batch_size=10**6).add(X.modality(1))
    index = CrossModalIndex(est, 1, batch_size=batch_size)
    # Several add calls, of uneven sizes, equal one add of everything.
    index.add(X.modality(1)[:100]).add(X.modality(1)[100:101]).add(X.modality(1)[101:])
    np.testing.assert_allclose(index.embeddings_, reference.embeddings_, rtol=1e-6)
    a = index.search(0, X.modality(0)[:40], k=12)
    b = reference.search(0, X.modality(0)[:40], k=12)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=1e-6)


def test_query_chunking(monkeypatch):
    """Many queries are split into chunks; the answer does not depend on it."""
    import skcross._index as mod

    rng = np.random.RandomState(1)
    D, Q = rng.randn(500, 5), rng.randn(37, 5)
    index = CrossModalIndex(batch_size=100)
    index.add_embeddings(D)
    full = index.search_embeddings(Q, k=4)
    monkeypatch.setattr(mod, "_BLOCK_ELEMENTS", 300)  # 3 queries per chunk
    index._device_cache = None
    chunked = index.search_embeddings(Q, k=4)
    np.testing.assert_array_equal(full[0], chunked[0])
    np.testing.assert_allclose(full[1], chunked[1])


def test_ties_are_ordered_by_position():
    D = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 5)
    index = CrossModalIndex(metric="dot", batch_size=3)
    index.add_embeddings(D[::-1].copy())
    idx, scores = index.search_embeddings([[2.0, 0.0]], k=6)
    np.testing.assert_array_equal(idx[0], [5, 6, 7, 8, 9, 0])
    np.testing.assert_array_equal(scores[0], [2, 2, 2, 2, 2, 0])


@pytest.mark.parametrize("metric", ["dot", "euclidean"])
@pytest.mark.parametrize("batch_size", [1, 3, 8, 1000])
def test_many_ties_match_stable_brute_force(metric, batch_size):
    """Integer embeddings give exact ties; position breaks them, in and across blocks."""
    rng = np.random.RandomState(0)
    D, Q = rng.randint(-2, 3, size=(60, 2)).astype(float), rng.randint(-2, 3, size=(25, 2)).astype(float)
    index = CrossModalIndex(metric=metric, batch_size=batch_size)
    index.add_embeddings(D)
    for k in (1, 4, 13):
        idx, scores = index.search_embeddings(Q, k=k)
        ref_idx, ref_scores = brute_force(Q, D, k, metric)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(scores, ref_scores)


def test_k_larger_than_database_is_clipped():
    index = CrossModalIndex()
    index.add_embeddings(np.eye(3))
    idx, scores = index.search_embeddings(np.eye(3), k=10)
    assert idx.shape == (3, 3)
    np.testing.assert_array_equal(idx[:, 0], [0, 1, 2])


def test_float64_embeddings_keep_precision():
    rng = np.random.RandomState(0)
    D = rng.randn(50, 4)
    index = CrossModalIndex(metric="dot")
    index.add_embeddings(D)
    _, scores = index.search_embeddings(D[:3], k=1)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores[:, 0], (D[:3] @ D.T).max(axis=1), rtol=1e-12)


def test_save_load_round_trip(fitted, tmp_path):
    est, X, _ = fitted
    index = CrossModalIndex(est, "1", batch_size=50).add(X.modality(1))
    before = index.search(0, X.modality(0)[:20], k=5)
    path = tmp_path / "index.joblib"
    index.save(path)
    loaded = CrossModalIndex.load(path)
    assert loaded.n_items_ == 300 and loaded.batch_size == 50
    np.testing.assert_array_equal(loaded.embeddings_, index.embeddings_)
    after = loaded.search(0, X.modality(0)[:20], k=5)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    # The loaded index keeps working: more items can be added.
    loaded.add(X.modality(1)[:10])
    assert loaded.n_items_ == 310


def test_load_refuses_incompatible_version(fitted, tmp_path, monkeypatch):
    import skcross._index as mod

    est, X, _ = fitted
    index = CrossModalIndex(est, 1).add(X.modality(1))
    monkeypatch.setattr(mod, "__version__", "99.1.0")
    index.save(tmp_path / "old.joblib")
    monkeypatch.undo()
    with pytest.raises(IncompatibleVersionError, match=r"saved with skcross 99\.1\.0.*rebuild the index"):
        CrossModalIndex.load(tmp_path / "old.joblib")


def test_load_refuses_other_objects(fitted, tmp_path):
    import joblib

    joblib.dump(fitted[0], tmp_path / "est.joblib")
    with pytest.raises(TypeError, match="not a CrossModalIndex"):
        CrossModalIndex.load(tmp_path / "est.joblib")


def test_faiss_backend_matches_exact(fitted):
    pytest.importorskip("faiss", reason="faiss is not installed (optional: pip install faiss-cpu)")
    est, X, _ = fitted
    for metric in ["cosine", "dot", "euclidean"]:
        exact = CrossModalIndex(est, 1, metric=metric).add(X.modality(1))
        fast = CrossModalIndex(est, 1, metric=metric, backend="faiss").add(X.modality(1))
        a = exact.search(0, X.modality(0)[:30], k=5)
        b = fast.search(0, X.modality(0)[:30], k=5)
        # Flat FAISS is exact up to float32 rounding (which can swap near-ties).
        assert np.mean(a[0] == b[0]) > 0.95, metric
        np.testing.assert_allclose(np.sort(a[1], 1), np.sort(b[1], 1), rtol=1e-4, atol=1e-4)


def test_faiss_index_is_rebuilt_after_load(fitted, tmp_path):
    pytest.importorskip("faiss", reason="faiss is not installed (optional: pip install faiss-cpu)")
    est, X, _ = fitted
    index = CrossModalIndex(est, 1, backend="faiss").add(X.modality(1))
    before = index.search(0, X.modality(0)[:10], k=3)
    index.save(tmp_path / "f.joblib")
    after = CrossModalIndex.load(tmp_path / "f.joblib").search(0, X.modality(0)[:10], k=3)
    np.testing.assert_array_equal(before[0], after[0])


def test_faiss_missing_gives_clear_error(fitted, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_faiss(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_faiss)
    est, X, _ = fitted
    with pytest.raises(ImportError, match=r"pip install faiss-cpu.*backend='torch'"):
        CrossModalIndex(est, 1, backend="faiss").add(X.modality(1))


# ----------------------------------------------------------------- errors


def test_search_before_add(fitted):
    est, X, _ = fitted
    with pytest.raises(NotFittedError, match=r"empty: call add\(X\)"):
        CrossModalIndex(est, 1).search(0, X.modality(0), k=3)
    with pytest.raises(NotFittedError, match="empty"):
        CrossModalIndex().search_embeddings(np.ones((2, 3)))


def test_unfitted_estimator():
    X, y = make_multimodal_classification(n_samples=20, random_state=0)
    with pytest.raises(NotFittedError):
        CrossModalIndex(ToyLabelProjection(), 0).add(X.modality(0))


@pytest.mark.parametrize(
    "modality, exc, match",
    [
        ("audio", ValueError, r"Unknown modality 'audio'"),
        (4, ValueError, r"Unknown modality 4"),
        (None, ValueError, r"needs the database modality"),
        (2.5, TypeError, r"position \(int\) or name \(str\)"),
    ],
)
def test_wrong_database_modality(fitted, modality, exc, match):
    est, X, _ = fitted
    with pytest.raises(exc, match=match):
        CrossModalIndex(est, modality).add(X.modality(1))


def test_wrong_query_modality_and_features(fitted):
    est, X, _ = fitted
    index = CrossModalIndex(est, 1).add(X.modality(1))
    with pytest.raises(ValueError, match=r"Unknown modality 'audio'"):
        index.search("audio", X.modality(0))
    with pytest.raises(ValueError, match=r"modality '0' has 6 features, but the model was fitted with 8"):
        index.search(0, X.modality(1))


@pytest.mark.parametrize("k", [0, -1, 2.5, True, None])
def test_bad_k(fitted, k):
    est, X, _ = fitted
    index = CrossModalIndex(est, 1).add(X.modality(1))
    with pytest.raises(ValueError, match=r"k must be a positive integer"):
        index.search(0, X.modality(0), k=k)


@pytest.mark.parametrize(
    "X, exc, match",
    [
        (np.zeros((0, 6)), ValueError, r"modality '1' has 0 sample"),
        (np.zeros(6), ValueError, r"modality '1' must be a 2-D array"),
        (np.full((3, 6), np.nan), ValueError, r"modality '1' contains non-finite"),
        (sp.csr_matrix(np.ones((3, 6))), TypeError, r"modality '1' is a scipy.sparse matrix"),
    ],
)
def test_bad_database_input(fitted, X, exc, match):
    est, _, _ = fitted
    with pytest.raises(exc, match=match):
        CrossModalIndex(est, 1).add(X)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"backend": "annoy"}, r"backend must be one of"),
        ({"batch_size": 0}, r"batch_size must be an integer >= 1"),
        ({"metric": "manhattan"}, r"metric must be one of"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CrossModalIndex(**kwargs).add_embeddings(np.ones((2, 2)))


def test_bad_embeddings():
    index = CrossModalIndex()
    with pytest.raises(ValueError, match="2-D"):
        index.add_embeddings(np.ones(3))
    with pytest.raises(ValueError, match="NaN or inf"):
        index.add_embeddings(np.array([[np.nan, 1.0]]))
    with pytest.raises(TypeError, match="numeric"):
        index.add_embeddings(np.array([["a", "b"]]))
    index.add_embeddings(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"have 4 dimensions, but the index holds 3-dimensional"):
        index.add_embeddings(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"have 2 dimensions, but the index holds 3-dimensional"):
        index.search_embeddings(np.ones((1, 2)))


def test_no_estimator():
    with pytest.raises(ValueError, match="has none"):
        CrossModalIndex(None, 0).add(np.ones((2, 2)))


def test_repr():
    index = CrossModalIndex()
    index.add_embeddings(np.ones((4, 2)))
    assert repr(index) == "CrossModalIndex(estimator=None, modality=None, backend='torch', n_items=4)"
    assert skcross.__version__


# ------------------------------------------------- float32 screening, exactness


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
@pytest.mark.parametrize("batch_size", [5, 64, 1000])
def test_screening_keeps_near_ties(metric, batch_size):
    """Rows that differ from the best ones by less than float32 can resolve
    (and exact duplicates spread over blocks) come back as a brute-force
    fixed-point ranking orders them."""
    rng = np.random.RandomState(3)
    base = rng.randn(40, 16)
    D = np.concatenate([base, base[:10] + 1e-9 * rng.randn(10, 16), base[:10], base[:10] * (1 + 1e-12)])
    D = D[rng.permutation(len(D))]
    Q = base[:12] + 1e-3 * rng.randn(12, 16)
    index = CrossModalIndex(metric=metric, batch_size=batch_size).add_embeddings(D)
    for k in (1, 3, 9):
        idx, scores = index.search_embeddings(Q, k=k)
        ref_idx, ref_scores = brute_force(Q, D, k, metric)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(scores, ref_scores)


def test_many_identical_rows_beyond_the_margin():
    """More identical best rows than the screening margin: rescreened, still exact and stable."""
    rng = np.random.RandomState(0)
    D = rng.randn(500, 8).astype(np.float32)
    D[rng.choice(500, 120, replace=False)] = D[7]
    same = np.flatnonzero((D == D[7]).all(axis=1))
    for k in (10, 50):
        for bs in (7, 64, 500):
            index = CrossModalIndex(metric="cosine", batch_size=bs).add_embeddings(D)
            idx, scores = index.search_embeddings(D[7:8], k=k)
            np.testing.assert_array_equal(idx[0], same[:k])
            assert np.all(scores == scores[0, 0])


def test_add_embeddings_returns_self():
    index = CrossModalIndex()
    assert index.add_embeddings(np.eye(3)) is index
    assert index.add_embeddings(np.eye(3)).add_embeddings(np.eye(3)).n_items_ == 9


# --------------------------------------------------------------- Pipeline


def test_pipeline_with_per_modality_preprocessing():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skcross import PerModality

    X, y = make_multimodal_classification(n_samples=120, n_modalities=2, n_classes=3, n_features=[5, 4], random_state=0)
    pipe = make_pipeline(PerModality([StandardScaler(), StandardScaler()]), ToyLabelProjection(random_state=0)).fit(X, y)
    index = CrossModalIndex(pipe, 1).add(X.modality(1))
    idx, scores = index.search(0, X.modality(0)[:15], k=4)
    prep, est = pipe[0], pipe[-1]
    Xt = prep.transform(X)
    Q, D = est.transform(0, Xt.modality(0)[:15]), est.transform(1, Xt.modality(1))
    np.testing.assert_allclose(index.embeddings_, D, rtol=1e-6)
    ref_idx, ref_scores = brute_force(Q, D, 4, "cosine")
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5)


def test_pipeline_uses_the_final_estimators_metric():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skcross import HarmonizedGPLVM, PerModality

    X, y = make_multimodal_classification(n_samples=40, n_modalities=2, n_classes=3, n_features=[5, 4], random_state=0)
    gp = HarmonizedGPLVM(**HarmonizedGPLVM._quick_test_params, random_state=0)
    pipe = make_pipeline(PerModality([StandardScaler(), "passthrough"]), gp).fit(X, y)
    index = CrossModalIndex(pipe, 1).add(X.modality(1))
    assert index._metric() == "euclidean"
    idx, scores = index.search(0, X.modality(0)[:5], k=3)
    Q = pipe[-1].transform(0, pipe[0].transform_modality(0, X.modality(0)[:5]))
    ref_idx, ref_scores = brute_force(Q, index.embeddings_, 3, "euclidean")
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5)
    assert np.all(scores <= 0)  # negative distances


def test_pipeline_step_without_transform_modality():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = make_multimodal_classification(n_samples=60, n_modalities=2, n_classes=3, n_features=[5, 4], random_state=0)
    pipe = make_pipeline(FunctionTransformer(), ToyLabelProjection()).fit(X, y)
    with pytest.raises(TypeError, match=r"step 'functiontransformer'.*transform_modality"):
        CrossModalIndex(pipe, 1).add(X.modality(1))


def test_per_modality_transform_modality():
    from sklearn.preprocessing import StandardScaler

    from skcross import MultiModal, PerModality

    rng = np.random.RandomState(0)
    X = MultiModal({"image": rng.randn(20, 3), "text": rng.randn(20, 2)})
    prep = PerModality({"image": StandardScaler()}).fit(X)
    full = prep.transform(X)
    np.testing.assert_allclose(prep.transform_modality("image", X.modality("image")), full.modality("image"))
    np.testing.assert_allclose(prep.transform_modality(0, X.modality(0)[:4]), full.modality(0)[:4])
    assert prep.transform_modality("text", X.modality("text")) is X.modality("text")  # passthrough
    with pytest.raises(ValueError, match="Unknown modality 'audio'"):
        prep.transform_modality("audio", X.modality(0))
    with pytest.raises(NotFittedError):
        PerModality([StandardScaler()]).transform_modality(0, X.modality(0))


# ------------------------------------------------- device and faiss errors


def test_unavailable_device_is_a_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device='mps'"):
        CrossModalIndex(device="mps").add_embeddings(np.ones((2, 2)))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device='cuda'"):
            CrossModalIndex(device="cuda").add_embeddings(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"device must be"):
        CrossModalIndex(device="gpu0").add_embeddings(np.ones((2, 2)))


def test_nprobe_errors():
    with pytest.raises(ValueError, match=r"nprobe=4 only applies to backend='faiss'"):
        CrossModalIndex(nprobe=4).add_embeddings(np.ones((2, 2)))
    faiss = pytest.importorskip("faiss", reason="faiss is not installed (optional: pip install faiss-cpu)")
    del faiss
    with pytest.raises(ValueError, match=r"nprobe"):
        CrossModalIndex(backend="faiss", nprobe=0).add_embeddings(np.ones((2, 2)))
    flat = CrossModalIndex(backend="faiss", nprobe=4).add_embeddings(np.random.RandomState(0).randn(20, 4))
    with pytest.raises(ValueError, match=r"nprobe=4 applies to IVF indexes.*faiss_factory='Flat'"):
        flat.search_embeddings(np.ones((1, 4)))


def test_ivf_with_fewer_items_than_lists():
    pytest.importorskip("faiss", reason="faiss is not installed (optional: pip install faiss-cpu)")
    index = CrossModalIndex(backend="faiss", faiss_factory="IVF64,Flat").add_embeddings(np.random.RandomState(0).randn(30, 4))
    with pytest.raises(ValueError, match=r"faiss_factory='IVF64,Flat' has 64 inverted lists.*only 30 items"):
        index.search_embeddings(np.ones((1, 4)))
    bad = CrossModalIndex(backend="faiss", faiss_factory="Nonsense7").add_embeddings(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"faiss_factory='Nonsense7' is not a valid"):
        bad.search_embeddings(np.ones((1, 4)))
