import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score, train_test_split

from skcross import MultiModal


def make(n=10):
    rng = np.random.RandomState(0)
    return MultiModal({"image": rng.randn(n, 3), "text": sp.random(n, 5, density=0.5, format="csr", random_state=0)})


def test_shape_len_names():
    X = make()
    assert X.shape == (10, 2)
    assert len(X) == 10
    assert X.names == ["image", "text"]
    assert X.modality("text").shape == (10, 5)
    assert X.modality(0) is X.modality("image")


def test_default_names_from_list_and_tuple():
    assert MultiModal([np.zeros((2, 1)), np.zeros((2, 2))]).names == ["0", "1"]
    assert MultiModal((np.zeros((2, 1)),), names=["a"]).names == ["a"]


@pytest.mark.parametrize(
    "rows, expected",
    [
        (np.array([0, 3, 3]), [0, 3, 3]),
        (np.arange(10) % 2 == 0, [0, 2, 4, 6, 8]),
        (slice(2, 5), [2, 3, 4]),
        ([9], [9]),
        (4, [4]),
    ],
)
def test_row_indexing_returns_multimodal(rows, expected):
    X = make()
    sub = X[rows]
    assert isinstance(sub, MultiModal)
    assert sub.names == X.names
    np.testing.assert_array_equal(sub.modality(0), X.modality(0)[expected])
    np.testing.assert_array_equal(sub.modality(1).toarray(), X.modality(1).toarray()[expected])


def test_sklearn_safe_indexing_form():
    # scikit-learn indexes as X[rows, ...]
    X = make()
    np.testing.assert_array_equal(X[np.array([1, 2]), ...].modality(0), X.modality(0)[[1, 2]])


def test_errors_are_clear():
    with pytest.raises(ValueError, match="same number of samples.*'a': 3.*'b': 4"):
        MultiModal({"a": np.zeros((3, 2)), "b": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="Unknown modality 'audio'.*\\['image', 'text'\\]"):
        make().modality("audio")
    with pytest.raises(ValueError, match="Unknown modality 5"):
        make().modality(5)
    with pytest.raises(TypeError, match="list, tuple or dict"):
        MultiModal(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="at least one modality"):
        MultiModal([])
    with pytest.raises(IndexError, match="Boolean mask"):
        make()[np.array([True, False])]
    with pytest.raises(IndexError, match="integers"):
        make()[np.array([0.5])]
    with pytest.raises(ValueError, match="unique"):
        MultiModal([np.zeros((2, 1))] * 2, names=["a", "a"])


def test_pickle_round_trip():
    X = make()
    Y = pickle.loads(pickle.dumps(X))
    assert Y.names == X.names
    np.testing.assert_array_equal(Y.modality(0), X.modality(0))


def test_cross_validation_splitters():
    X = make(20)
    y = np.repeat([0, 1], 10)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    assert isinstance(Xtr, MultiModal) and len(Xtr) == 15 and len(Xte) == 5
    for splitter in (KFold(4), StratifiedKFold(4)):
        for tr, te in splitter.split(X, y):
            assert len(X[tr]) + len(X[te]) == 20


def test_cross_val_score_with_toy_estimator():
    from _toy import ToyLabelProjection

    from skcross.datasets import make_multimodal_classification

    X, y = make_multimodal_classification(n_samples=90, random_state=0)
    scores = cross_val_score(ToyLabelProjection(), X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores > 0) & (scores <= 1))


def test_repr_mentions_modalities():
    r = repr(make())
    assert "image: dense (10, 3)" in r and "text: sparse (10, 5)" in r
