"""Output conventions (issue 18): feature names, set_output, feature_names_in_, tags."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

import skcross
from skcross import DSCMR, MultiModal, PerModality
from skcross.datasets import make_multimodal_classification
from skcross.utils import all_estimators

pd = pytest.importorskip("pandas")

ESTIMATORS = all_estimators()
parametrize = pytest.mark.parametrize("name, Estimator", ESTIMATORS, ids=[n for n, _ in ESTIMATORS])


def _frames(n_samples=90, random_state=0):
    """Two paired modalities: a DataFrame with named columns and a plain array."""
    X, y = make_multimodal_classification(
        n_samples=n_samples, n_modalities=2, n_classes=3, n_features=[6, 5], random_state=random_state
    )
    index = [f"s{i}" for i in range(n_samples)]
    image = pd.DataFrame(X.modality(0), columns=[f"px{j}" for j in range(6)], index=index)
    return MultiModal({"image": image, "text": X.modality(1)}), np.asarray(y)


def _make(Estimator, **extra):
    params = dict(Estimator._quick_test_params)
    if "random_state" in Estimator().get_params():
        params["random_state"] = 0
    params.update(extra)
    return Estimator(**params)


_FITTED: dict = {}


def _fitted(name, Estimator):
    if name not in _FITTED:
        X, y = _frames()
        est = _make(Estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence of the quick settings
            est.fit(X, y if est._requires_labels else None)
        _FITTED[name] = (est, X, y)
    return _FITTED[name]


# --------------------------------------------------------- every estimator


@parametrize
def test_feature_names_out_and_pandas_output(name, Estimator):
    est, X, _ = _fitted(name, Estimator)
    image = X.modality("image")
    emb = est.transform("image", image)
    names = est.get_feature_names_out()
    assert names.dtype == object
    assert list(names) == [f"{name.lower()}{i}" for i in range(emb.shape[1])]
    # the same names for every modality (one common space); a bad modality is refused
    assert list(est.get_feature_names_out("text")) == list(names)
    with pytest.raises(ValueError, match="Unknown modality 'audio'"):
        est.get_feature_names_out("audio")
    # set_output("pandas"): columns are the names, the index is the input's
    est.set_output(transform="pandas")
    try:
        df = est.transform("image", image)
        assert isinstance(df, pd.DataFrame)
        assert list(df.columns) == list(names)
        assert list(df.index) == list(image.index)
        np.testing.assert_array_equal(df.to_numpy(), emb)
        text = est.transform(1, X.modality("text"))
        assert isinstance(text, pd.DataFrame) and list(text.columns) == list(names)
        multi = est.transform(X)
        assert isinstance(multi, MultiModal)
        assert all(isinstance(m, pd.DataFrame) for m in multi.modalities())
        assert list(multi.modality("image").index) == list(image.index)
        # retrieval and scoring still work on pandas output
        assert 0.0 <= est.score(X[:30]) <= 1.0
    finally:
        est.set_output(transform="default")
    assert isinstance(est.transform("image", image), np.ndarray)


@parametrize
def test_feature_names_in_recorded_and_checked(name, Estimator):
    est, X, _ = _fitted(name, Estimator)
    assert len(est.feature_names_in_) == 2
    assert list(est.feature_names_in_[0]) == [f"px{j}" for j in range(6)]
    assert est.feature_names_in_[1] is None
    image = X.modality("image")
    renamed = image.rename(columns={"px0": "other"})
    with pytest.raises(ValueError, match="modality 'image'.*unseen at fit time: \\['other'\\]"):
        est.transform("image", renamed)
    with pytest.raises(ValueError, match="same order"):
        est.transform("image", image[image.columns[::-1]])
    # an array where names were seen: scikit-learn's warning, naming the modality
    with pytest.warns(UserWarning, match="modality 'image' does not have valid feature names"):
        est.transform("image", image.to_numpy())
    # names where none were seen
    text = pd.DataFrame(X.modality("text"), columns=list("abcde"))
    with pytest.warns(UserWarning, match="modality 'text' has feature names, but"):
        est.transform("text", text)


@parametrize
def test_tags(name, Estimator):
    est = _make(Estimator)
    tags = get_tags(est)
    assert tags.input_tags.two_d_array is False
    assert tags.input_tags.sparse is bool(Estimator._accept_sparse)
    assert tags.target_tags.required is bool(Estimator._requires_labels)
    # the tag says which input dtype comes out unchanged; check it against the embeddings
    fitted, X, _ = _fitted(name, Estimator)
    dtypes = {str(fitted.transform(1, X.modality("text").astype(dt)).dtype) for dt in ("float32", "float64")}
    assert len(dtypes) == 1
    assert tags.transformer_tags.preserves_dtype == sorted(dtypes)


@parametrize
def test_auto_wrapping_is_off(name, Estimator):
    """scikit-learn's set_output wrapper would pass the modality as X."""
    assert Estimator._sklearn_auto_wrap_output_keys == set()
    assert "__wrapped__" not in vars(Estimator.transform)


# -------------------------------------------------------------- one estimator


def test_global_transform_output_config_is_honoured():
    est, X, _ = _fitted("DSCMR", DSCMR)
    est = copy.deepcopy(est)
    vars(est).pop("_sklearn_output_config", None)  # as if set_output was never called
    with sklearn.config_context(transform_output="pandas"):
        assert isinstance(est.transform(0, X.modality(0)), pd.DataFrame)
        assert isinstance(est.transform(X).modality(1), pd.DataFrame)
        # the estimator's own setting wins over the global one
        est.set_output(transform="default")
        assert isinstance(est.transform(0, X.modality(0)), np.ndarray)


def test_set_output_rejects_unknown_containers():
    with pytest.raises(ValueError, match="transform must be one of"):
        DSCMR().set_output(transform="arrow")
    assert DSCMR().set_output(transform=None).get_params() == DSCMR().get_params()


def test_refit_without_names_drops_feature_names_in():
    X, y = _frames()
    est = _make(DSCMR).fit(X, y)
    assert hasattr(est, "feature_names_in_")
    est.fit([X.modality(0).to_numpy(), X.modality(1)], y)
    assert not hasattr(est, "feature_names_in_")


def test_width_is_recorded_at_fit():
    """get_feature_names_out uses the fitted width, not a parameter changed since."""
    # the common representation: n_components wide (the posteriors are n_classes wide)
    est = _make(DSCMR).set_params(embedding="common").fit(*_frames())
    est.set_params(n_components=3)
    assert len(est.get_feature_names_out()) == DSCMR._quick_test_params["n_components"]


# --------------------------------------------------------------- PerModality


def test_per_modality_feature_names_and_pandas_output():
    X, y = _frames()
    prep = PerModality({"image": StandardScaler(), "text": "passthrough"}).fit(X)
    assert list(prep.feature_names_in_[0]) == [f"px{j}" for j in range(6)]
    assert prep.feature_names_in_[1] is None
    assert prep.n_features_in_ == [6, 5]
    assert list(prep.get_feature_names_out("image")) == [f"px{j}" for j in range(6)]
    assert list(prep.get_feature_names_out("text")) == [f"x{j}" for j in range(5)]
    assert list(prep.get_feature_names_out())[:2] == ["image__px0", "image__px1"]
    assert len(prep.get_feature_names_out()) == 11
    assert isinstance(prep.transform(X).modality("text"), np.ndarray)
    prep.set_output(transform="pandas")
    out = prep.transform(X)
    assert isinstance(out, MultiModal)
    image, text = out.modality("image"), out.modality("text")
    assert isinstance(image, pd.DataFrame) and isinstance(text, pd.DataFrame)
    assert list(image.index) == list(X.modality("image").index)
    assert list(text.columns) == [f"x{j}" for j in range(5)]
    assert isinstance(prep.fit_transform(X).modality("image"), pd.DataFrame)


def test_pipeline_pandas_output_end_to_end():
    X, y = _frames()
    pipe = Pipeline([
        ("prep", PerModality([StandardScaler(), StandardScaler()])),
        ("space", _make(DSCMR)),
    ]).set_output(transform="pandas")
    out = pipe.fit_transform(X, y)
    assert isinstance(out, MultiModal)
    assert list(out.modality("image").columns) == list(pipe[-1].get_feature_names_out())
    assert list(pipe.get_feature_names_out()) == list(pipe[-1].get_feature_names_out())
    # the model saw the PerModality output names
    assert list(pipe[-1].feature_names_in_[1]) == [f"x{j}" for j in range(5)]


def test_per_modality_errors_name_the_parameter():
    X, _ = _frames()
    with pytest.raises(TypeError, match="transformer of modality 'image' must be a scikit-learn transformer"):
        PerModality({"image": "scaler"}).fit(X)
    with pytest.raises(TypeError, match="transformer of modality 'text'"):
        PerModality([StandardScaler(), 3]).fit(X)
    prep = PerModality([StandardScaler(), StandardScaler()]).fit(X)
    with pytest.raises(ValueError, match="X has modalities \\['a', 'b'\\], but PerModality was fitted on"):
        prep.transform({"a": X.modality(0), "b": X.modality(1)})
    with pytest.raises(ValueError, match="Unknown modality 'video'"):
        prep.get_feature_names_out("video")

    class NoNames(StandardScaler):
        get_feature_names_out = property()  # hasattr is False

    prep = PerModality([NoNames(), "passthrough"]).fit(X)
    with pytest.raises(AttributeError, match="modality 'image' \\(NoNames\\) has no get_feature_names_out"):
        prep.get_feature_names_out(0)
    with pytest.raises(ValueError, match="scipy.sparse"):
        from sklearn.preprocessing import OneHotEncoder

        PerModality([OneHotEncoder(), "passthrough"]).set_output(transform="pandas").fit_transform(
            [np.array([[0], [1], [0]]), np.zeros((3, 2))]
        )


# ---------------------------------------------------------------- MultiModal


def test_multimodal_keeps_dataframes_and_selects_rows_by_position():
    X, _ = _frames()
    assert isinstance(X.modality("image"), pd.DataFrame)
    sub = X[[3, 1]]
    assert list(sub.modality("image").index) == ["s3", "s1"]
    np.testing.assert_array_equal(sub.modality("text"), X.modality("text")[[3, 1]])
    assert "image: DataFrame (90, 6)" in repr(X)
    assert list(X[2:4].modality("image").index) == ["s2", "s3"]
    mask = np.zeros(90, dtype=bool)
    mask[[0, 5]] = True
    assert list(X[mask].modality("image").index) == ["s0", "s5"]


def test_multimodal_errors_name_the_modality():
    with pytest.raises(TypeError, match="Modality 'a' is a MultiModal"):
        MultiModal({"a": MultiModal([np.zeros((2, 1))]), "b": np.zeros((2, 1))})
    with pytest.raises(ValueError, match="Modality '1' is a scalar"):
        MultiModal([np.zeros((2, 1)), 3.0])
    with pytest.raises(TypeError, match=r"names=\.\.\.\) takes a sequence of modality names, got 'ab'"):
        MultiModal([np.zeros((2, 1)), np.zeros((2, 1))], names="ab")
    with pytest.raises(TypeError, match="got 5"):
        MultiModal([np.zeros((2, 1))], names=5)
    with pytest.raises(ValueError, match="Modality 'b' cannot be read as an array"):
        MultiModal({"a": np.zeros((2, 1)), "b": [[1.0, 2.0], [3.0]]})


def test_skcross_exports_fuse():
    assert "Fuse" in skcross.__all__
