"""Fuse: a step after the common space (issue 18 item 2)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError

from skcross import DSCMR, Fuse, MultiModal, PerModality
from skcross.datasets import make_multimodal_classification

A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32)
B = np.array([[3.0, 4.0], [5.0, 6.0], [7.0, 8.0]], dtype=np.float32)
E = MultiModal({"image": A, "text": B})


def _quick_dscmr():
    return DSCMR(**DSCMR._quick_test_params, random_state=0)


def _classifier_pipeline():
    # The common representation (n_components features) as the classifier's
    # input; the default posterior read-out gives one feature per class.
    return Pipeline([
        ("prep", PerModality([StandardScaler(), StandardScaler()])),
        ("space", _quick_dscmr().set_params(embedding="common")),
        ("fuse", Fuse()),
        ("clf", LogisticRegression()),
    ])


@pytest.fixture(scope="module")
def data():
    X, y = make_multimodal_classification(
        n_samples=120, n_modalities=2, n_classes=3, n_features=[8, 6], random_state=0
    )
    return MultiModal({"image": X.modality(0), "text": X.modality(1)}), np.asarray(y)


# ------------------------------------------------------------------ fusing


def test_mean_concat_and_one_modality():
    mean = Fuse().fit_transform(E)
    np.testing.assert_array_equal(mean, (A + B) / 2)
    assert mean.dtype == np.float32  # the embeddings' dtype is kept
    np.testing.assert_array_equal(Fuse(how="concat").fit_transform(E), np.hstack([A, B]))
    np.testing.assert_array_equal(Fuse(how="text").fit_transform(E), B)
    np.testing.assert_array_equal(Fuse(how=0).fit_transform(E), A)
    np.testing.assert_array_equal(Fuse(how=-1).fit_transform(E), B)
    # lists and dicts of arrays are multi-modal input too
    np.testing.assert_array_equal(Fuse().fit_transform([A, B]), mean)
    np.testing.assert_array_equal(Fuse(how="concat").fit_transform({"x": A, "y": B}), np.hstack([A, B]))


def test_stateless_transform_without_fit():
    np.testing.assert_array_equal(Fuse().transform(E), (A + B) / 2)
    assert get_tags(Fuse()).requires_fit is False
    assert get_tags(Fuse()).input_tags.two_d_array is False


def test_fitted_order_is_kept():
    fuse = Fuse(how="concat").fit(E)
    swapped = {"text": B, "image": A}
    np.testing.assert_array_equal(fuse.transform(swapped), np.hstack([A, B]))


def test_feature_names():
    assert list(Fuse().fit(E).get_feature_names_out()) == ["x0", "x1"]
    assert list(Fuse(how="concat").fit(E).get_feature_names_out()) == [
        "image__x0", "image__x1", "text__x0", "text__x1"
    ]
    # names passed by Pipeline.get_feature_names_out: the common-space names
    common = np.array(["dscmr0", "dscmr1"], dtype=object)
    assert list(Fuse().fit(E).get_feature_names_out(common)) == ["dscmr0", "dscmr1"]
    assert list(Fuse(how="concat").fit(E).get_feature_names_out(common))[2:] == ["text__dscmr0", "text__dscmr1"]
    # or PerModality's <modality>__<name> list, split by modality
    prefixed = ["image__a", "image__b", "text__c", "text__d"]
    assert list(Fuse(how="text").fit(E).get_feature_names_out(prefixed)) == ["c", "d"]
    with pytest.raises(ValueError, match="input_features has 3 names"):
        Fuse().fit(E).get_feature_names_out(["a", "b", "c"])


def test_pandas_output_and_feature_names_in():
    pd = pytest.importorskip("pandas")
    cols = ["c0", "c1"]
    frames = MultiModal({
        "image": pd.DataFrame(A, columns=cols, index=["a", "b", "c"]),
        "text": pd.DataFrame(B, columns=cols, index=["a", "b", "c"]),
    })
    fuse = Fuse().set_output(transform="pandas").fit(frames)
    assert [list(n) for n in fuse.feature_names_in_] == [cols, cols]
    out = fuse.transform(frames)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == cols and list(out.index) == ["a", "b", "c"]
    out = Fuse(how="concat").set_output(transform="pandas").fit_transform(frames)
    assert list(out.columns) == ["image__c0", "image__c1", "text__c0", "text__c1"]
    # without fit (stateless) the names are generic
    assert list(Fuse().set_output(transform="pandas").transform(E).columns) == ["x0", "x1"]
    renamed = MultiModal({"image": frames.modality(0).rename(columns={"c0": "z"}), "text": frames.modality(1)})
    with pytest.raises(ValueError, match="modality 'image'"):
        fuse.transform(renamed)


# ------------------------------------------------------------------ errors


def test_errors():
    with pytest.raises(ValueError, match="how must be 'mean', 'concat' or one of the modalities \\['image', 'text'\\]"):
        Fuse(how="audio").fit(E)
    with pytest.raises(ValueError, match="Unknown modality 2"):
        Fuse(how=2).fit(E)
    with pytest.raises(InvalidParameterError, match="'how' parameter of Fuse"):
        Fuse(how=0.5).fit(E)
    with pytest.raises(InvalidParameterError, match="'how' parameter of Fuse"):
        Fuse(how=True).fit(E)
    wide = {"image": A, "text": np.ones((3, 5))}
    with pytest.raises(ValueError, match="same width; got 'image': 2, 'text': 5.*how='concat'"):
        Fuse().fit(wide)
    assert Fuse(how="concat").fit_transform(wide).shape == (3, 7)
    with pytest.raises(TypeError, match="multi-modal input.*single ndarray"):
        Fuse().fit(A)
    with pytest.raises(TypeError, match="multi-modal input"):
        Fuse().transform(sp.csr_matrix(A))
    with pytest.raises(TypeError, match="modality 'text' is a scipy.sparse matrix"):
        Fuse().fit({"image": A, "text": sp.csr_matrix(B)})
    with pytest.raises(ValueError, match="different numbers of rows \\('image': 3, 'text': 2\\)"):
        Fuse().fit({"image": A, "text": B[:2]})
    with pytest.raises(ValueError, match="modality 'text' must be a 2-D array"):
        Fuse().fit({"image": A, "text": B[:, 0]})
    fitted = Fuse().fit(E)
    with pytest.raises(ValueError, match="3 modalities, but Fuse was fitted on 2"):
        fitted.transform([A, B, A])
    with pytest.raises(ValueError, match="modalities \\['a', 'b'\\], but Fuse was fitted on"):
        fitted.transform({"a": A, "b": B})
    with pytest.raises(ValueError, match="modality 'image' has 3 features, but Fuse was fitted with 2"):
        Fuse(how="concat").fit(E).transform({"image": np.ones((3, 3)), "text": B})


# -------------------------------------------------------------- pipelines


def test_estimator_fit_transform_returns_embeddings(data):
    """Pipeline.fit calls fit_transform on intermediate steps."""
    X, y = data
    model = _quick_dscmr()
    out = model.fit_transform(X, y)
    assert isinstance(out, MultiModal) and out.names == ["image", "text"]
    np.testing.assert_array_equal(out.modality("text"), model.transform("text", X.modality("text")))


def test_classifier_after_the_common_space_with_grid_search(data):
    X, y = data
    pipe = _classifier_pipeline()
    pipe.fit(X, y)
    assert pipe.predict(X[:5]).shape == (5,)
    assert pipe.predict_proba(X[:5]).shape == (5, 3)
    assert pipe.score(X, y) > 0.5
    assert list(pipe[:-1].get_feature_names_out()) == [f"dscmr{i}" for i in range(8)]
    gs = GridSearchCV(clone(pipe), {"space__lam": [0.1, 1.0], "clf__C": [0.1, 1.0]}, cv=2).fit(X, y)
    assert set(gs.best_params_) == {"space__lam", "clf__C"}
    assert gs.cv_results_["mean_test_score"].shape == (4,)
    assert 0.0 <= gs.best_score_ <= 1.0  # the classifier's accuracy (default scoring)
    assert gs.predict(X[:3]).shape == (3,)


def test_clusterer_after_fuse(data):
    X, y = data
    pipe = make_pipeline(_quick_dscmr(), Fuse(how="concat"), KMeans(n_clusters=3, n_init=2, random_state=0))
    labels = pipe.fit(X, y).predict(X)
    assert labels.shape == (len(y),) and set(labels) <= {0, 1, 2}
    # two modalities' class posteriors side by side: 3 classes and 2 completion columns each
    assert pipe[:-1].transform(X).shape == (len(y), 10)
    assert list(pipe[:-1].get_feature_names_out())[:2] == ["image__dscmr0", "image__dscmr1"]


def test_pandas_output_through_the_pipeline(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    pipe = _classifier_pipeline().set_output(transform="pandas")
    pipe.fit(X, y)
    fused = pipe[:-1].transform(X)
    assert isinstance(fused, pd.DataFrame)
    assert list(fused.columns) == [f"dscmr{i}" for i in range(8)]
    assert list(pipe[-1].feature_names_in_) == list(fused.columns)
    assert pipe.predict(X[:4]).shape == (4,)
