"""Sparse (scipy.sparse) modalities and raw text through PerModality (issue 17 item 1)."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from skcross import DSCMR, HarmonizedGPLVM, MultiModal, PerModality
from skcross._neural import TensorDataset

from _toy import QUICK_NEURAL

QUICK = QUICK_NEURAL
NEURAL = list(QUICK)


def _data(n=150, seed=0):
    """A dense modality and a sparse bag-of-words modality, labelled."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    dense = rng.normal(size=(n, 6)) + y[:, None]
    counts = rng.poisson(0.3, size=(n, 40)).astype(float)
    counts[np.arange(n), y * 5] += 2  # class words
    return dense, sp.csr_matrix(counts), y


@pytest.mark.parametrize("cls", NEURAL, ids=lambda c: c.__name__)
def test_sparse_modality_end_to_end(cls):
    dense, bow, y = _data()
    model = cls(**QUICK[cls], early_stopping=True, random_state=0).fit([dense, bow], y)
    E = model.transform(1, bow)
    assert E.shape[0] == bow.shape[0] and np.all(np.isfinite(E))
    # Sparse input is only scaled, so its dense twin embeds the same.
    np.testing.assert_allclose(model.transform(1, bow.toarray()), E, rtol=1e-5, atol=1e-6)
    assert model.feature_mean_[1] is None
    assert np.isfinite(model.score([dense, bow], y))


@pytest.mark.parametrize("cls", NEURAL, ids=lambda c: c.__name__)
def test_sparse_fit_equals_dense_fit(cls):
    """Densified per batch, a sparse modality trains exactly like its dense copy."""
    dense, bow, y = _data()
    params = dict(QUICK[cls], standardize=False, early_stopping=True, random_state=0)
    a = cls(**params).fit([dense, bow], y)
    b = cls(**params).fit([dense, bow.toarray()], y)
    np.testing.assert_allclose(a.transform(1, bow), b.transform(1, bow.toarray()), atol=1e-5)
    np.testing.assert_allclose(a.transform(0, dense), b.transform(0, dense), atol=1e-5)


def test_training_keeps_sparse_on_host():
    _, bow, _ = _data()
    import torch

    ds = TensorDataset(bow, None, "cpu", torch.Generator().manual_seed(0))
    assert sp.issparse(ds.X)
    X, _ = ds.batch(torch.arange(10))
    assert isinstance(X, torch.Tensor) and X.shape == (10, bow.shape[1])
    dense = ds.densified()
    assert isinstance(dense.X, torch.Tensor) and dense.X.shape == bow.shape


def _texts(n=120, seed=0):
    rng = np.random.default_rng(seed)
    words = np.array(["cat", "dog", "cow", "hen", "car", "bus", "van", "cab", "oak", "elm", "ash", "fir"])
    y = rng.integers(0, 3, n)
    texts = [" ".join(rng.choice(words[4 * c : 4 * c + 4], 6)) for c in y]
    image = rng.normal(size=(n, 5)) + y[:, None]
    return MultiModal({"image": image, "text": texts}), y


def test_tfidf_pipeline_on_raw_text():
    X, y = _texts()
    assert X.modality("text").ndim == 1
    pipe = make_pipeline(
        PerModality({"text": TfidfVectorizer()}),
        DSCMR(n_components=4, hidden_layer_sizes=(16,), max_epochs=30, early_stopping=False, random_state=0),
    )
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.6  # chance is about 0.36
    assert X[[0, 3]].modality("text").shape == (2,)


def test_raw_text_reaching_an_estimator_is_a_clear_error():
    X, y = _texts()
    with pytest.raises(TypeError, match="raw text.*TfidfVectorizer"):
        DSCMR(max_epochs=1).fit(X, y)
    model = DSCMR(n_components=4, hidden_layer_sizes=(8,), max_epochs=1, random_state=0)
    model.fit([X.modality("image"), np.eye(12)[y]], y)
    with pytest.raises(TypeError, match="raw text"):
        model.transform(1, ["cat dog"] * 3)


def test_gplvm_refuses_sparse_clearly():
    dense, bow, y = _data(n=40)
    with pytest.raises(TypeError, match="sparse"):
        HarmonizedGPLVM().fit([dense, bow], y)
