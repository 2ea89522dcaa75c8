import io
import os
import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _toy import ToyLabelProjection
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skcross import MultiModal, PerModality
from skcross._torch_utils import derive_seed, resolve_device, single_threaded_numpy_blas, torch_seed
from skcross._validation import validate_fit_data
from skcross.base import check_finite_loss
from skcross.datasets import make_multimodal_classification
from skcross.exceptions import IncompatibleVersionError, TrainingDivergedError


@pytest.fixture
def data():
    X, y = make_multimodal_classification(n_samples=60, n_modalities=3, n_features=[4, 5, 6], random_state=0)
    return MultiModal(X.modalities(), names=["img", "txt", "aud"]), y


@pytest.mark.parametrize("kind", ["list", "tuple", "dict", "multimodal"])
def test_fit_accepts_every_container(data, kind):
    X, y = data
    arrays = X.modalities()
    inp = {"list": arrays, "tuple": tuple(arrays), "dict": X.to_dict(), "multimodal": X}[kind]
    model = ToyLabelProjection().fit(inp, y)
    assert model.n_modalities_ == 3
    assert model.n_features_in_ == [4, 5, 6]
    assert model.modalities_ == (["img", "txt", "aud"] if kind in ("dict", "multimodal") else ["0", "1", "2"])
    np.testing.assert_array_equal(model.classes_, np.unique(y))


def test_transform_single_and_multi(data):
    X, y = data
    model = ToyLabelProjection().fit(X, y)
    emb = model.transform("txt", X.modality("txt"))
    assert emb.shape == (60, 3)
    np.testing.assert_array_equal(model.transform(1, X.modality(1)), emb)
    multi = model.transform(X)
    assert isinstance(multi, MultiModal) and multi.names == X.names
    np.testing.assert_array_equal(multi.modality("txt"), emb)
    # modalities given by name in another order are matched by name
    shuffled = {"aud": X.modality(2), "img": X.modality(0), "txt": X.modality(1)}
    np.testing.assert_array_equal(model.embed(shuffled).modality("txt"), emb)
    # positional lists are accepted too
    np.testing.assert_array_equal(model.embed(X.modalities()).modality(1), emb)


def test_transform_errors_name_the_modality(data):
    X, y = data
    with pytest.raises(NotFittedError):
        ToyLabelProjection().transform(0, X.modality(0))
    model = ToyLabelProjection().fit(X, y)
    with pytest.raises(ValueError, match="modality 'txt' has 4 features.*fitted with 5"):
        model.transform("txt", np.zeros((3, 4)))
    with pytest.raises(ValueError, match="Unknown modality 'video'"):
        model.transform("video", np.zeros((3, 4)))
    with pytest.raises(ValueError, match="modality 'img' contains non-finite values \\(1 NaN"):
        model.transform("img", np.array([[np.nan, 0, 0, 0]]))
    with pytest.raises(ValueError, match="has 2 modalities, but the model was fitted with 3"):
        model.transform(X.modalities()[:2])
    with pytest.raises(ValueError, match="modalities \\['a', 'b', 'c'\\]"):
        model.transform({"a": X.modality(0), "b": X.modality(1), "c": X.modality(2)})
    with pytest.raises(TypeError, match="needs the samples"):
        model.transform("img")
    with pytest.raises(ValueError, match="2-D"):
        model.transform("img", np.zeros(4))
    with pytest.raises(TypeError, match="sparse matrix.*needs dense"):
        model.transform("img", sp.csr_matrix(np.zeros((2, 4))))
    with pytest.raises(TypeError, match="non-numeric"):
        model.transform("img", np.array([["a", "b", "c", "d"]]))


def test_fit_validation_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="paired samples.*'img': 60, 'txt': 59"):
        ToyLabelProjection().fit({"img": X.modality(0), "txt": X.modality(1)[:59]}, y)
    with pytest.raises(ValueError, match="supervised"):
        ToyLabelProjection().fit(X)
    with pytest.raises(ValueError, match="60 samples but 59 labels"):
        ToyLabelProjection().fit(X, y[:59])
    with pytest.raises(ValueError, match="1 class"):
        ToyLabelProjection().fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="at least 2 modalities"):
        ToyLabelProjection().fit([X.modality(0)], y)
    with pytest.raises(TypeError, match="single ndarray"):
        ToyLabelProjection().fit(X.modality(0), y)
    with pytest.raises(ValueError, match="modality 'txt' contains non-finite values \\(0 NaN, 1 inf"):
        arrays = X.to_dict()
        arrays["txt"] = arrays["txt"].copy()
        arrays["txt"][0, 0] = np.inf
        ToyLabelProjection().fit(arrays, y)
    with pytest.raises(ValueError, match="binary"):
        ToyLabelProjection().fit(X, np.full((60, 2), 0.5))


def test_unpaired_validation_mode():
    rng = np.random.RandomState(0)
    Xs = [rng.randn(30, 3), rng.randn(20, 4)]
    ys = [rng.randint(3, size=30), np.array(["x"] * 0 + list(rng.randint(3, size=20)))]
    data = validate_fit_data(Xs, ys, requires_pairs=False)
    assert not data.paired and data.n_samples == [30, 20]
    assert [Y.shape for Y in data.Y] == [(30, 3), (20, 3)]
    with pytest.raises(ValueError, match="one label array per modality"):
        validate_fit_data(Xs, ys[0], requires_pairs=False)
    # string labels and multi-label indicators
    d = validate_fit_data([rng.randn(4, 2)] * 2, np.array(["b", "a", "b", "c"]))
    assert list(d.classes) == ["a", "b", "c"] and d.Y[0][0].tolist() == [0, 1, 0]
    d = validate_fit_data([rng.randn(3, 2)] * 2, np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]]))
    assert d.multilabel and d.Y[0].shape == (3, 3)


def test_score_retrieve_and_unpaired_score(data):
    X, y = data
    model = ToyLabelProjection().fit(X, y)
    s = model.score(X, y)
    assert 0.0 < s <= 1.0
    idx, sims = model.retrieve("img", X.modality(0)[:5], "txt", X.modality(1), k=4)
    assert idx.shape == sims.shape == (5, 4)
    assert np.all(np.diff(sims, axis=1) <= 1e-6)
    # unpaired scoring: per-modality label lists
    s2 = model.score([X.modality(0)[:30], X.modality(1), X.modality(2)[10:]], [y[:30], y, y[10:]])
    assert 0.0 < s2 <= 1.0
    # labels unseen at fit are legitimate at scoring time
    assert 0.0 <= model.score(X, y + 100) <= 1.0


def test_pipeline_and_gridsearch_with_per_modality(data):
    X, y = data
    pipe = Pipeline([
        ("prep", PerModality({"img": StandardScaler(), "txt": StandardScaler()})),
        ("model", ToyLabelProjection()),
    ])
    gs = GridSearchCV(pipe, {"model__alpha": [1e-3, 1e5]}, cv=3).fit(X, y)
    assert gs.best_params_ == {"model__alpha": 1e-3}
    assert isinstance(gs.best_estimator_.transform(X), MultiModal)
    prep = gs.best_estimator_.named_steps["prep"]
    assert prep.transformers_[2] == "passthrough"
    np.testing.assert_allclose(prep.transform(X).modality("img").mean(axis=0), 0, atol=1e-12)


def test_per_modality_errors(data):
    X, _ = data
    with pytest.raises(ValueError, match="3 modalities"):
        PerModality([StandardScaler()]).fit(X)
    with pytest.raises(ValueError, match="unknown modalities \\['video'\\]"):
        PerModality({"video": StandardScaler()}).fit(X)
    with pytest.raises(TypeError, match="a transformer \\(for every modality\\), a list"):
        PerModality("scale").fit(X)


def test_per_modality_broadcasts_one_transformer(data):
    """PerModality(StandardScaler()) fits an independent clone to every modality."""
    X, _ = data
    template = StandardScaler()
    prep = PerModality(template).fit(X)
    assert len(prep.transformers_) == X.n_modalities
    assert len({id(t) for t in prep.transformers_}) == X.n_modalities and template not in prep.transformers_
    assert not hasattr(template, "mean_")  # the template itself stays unfitted
    explicit = PerModality([StandardScaler() for _ in range(X.n_modalities)]).fit_transform(X)
    for a, b in zip(prep.transform(X).modalities(), explicit.modalities()):
        np.testing.assert_array_equal(a, b)


def test_per_modality_routes_fit_params(data):
    X, _ = data

    class Recorder(StandardScaler):
        def fit_transform(self, X, y=None, **fit_params):
            type(self).seen = fit_params
            return super().fit_transform(X, y)

    prep = PerModality({"img": Recorder(), "txt": StandardScaler()})
    prep.fit_transform(X, img__tag=7)
    assert Recorder.seen == {"tag": 7}
    with pytest.raises(TypeError, match="<modality>__<parameter>"):
        prep.fit_transform(X, sample_weight=None)
    with pytest.raises(ValueError, match="unknown modality 'video'"):
        prep.fit_transform(X, video__sample_weight=None)
    with pytest.raises(ValueError, match="passed through"):
        prep.fit_transform(X, aud__sample_weight=None)


def test_persistence_records_version(data):
    X, y = data
    model = ToyLabelProjection().fit(X, y)
    buf = io.BytesIO()
    joblib.dump(model, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    np.testing.assert_array_equal(loaded.transform(0, X.modality(0)), model.transform(0, X.modality(0)))
    state = model.__getstate__()
    assert state["_skcross_version"]
    state["_skcross_version"] = "99.0.0"
    fresh = ToyLabelProjection.__new__(ToyLabelProjection)
    with pytest.raises(IncompatibleVersionError, match="saved with skcross 99.0.0"):
        fresh.__setstate__(state)
    # a patch release loads
    state = model.__getstate__()
    major, minor, _ = state["_skcross_version"].split(".")
    state["_skcross_version"] = f"{major}.{minor}.99"
    fresh.__setstate__(state)
    assert pickle.loads(pickle.dumps(fresh)).n_modalities_ == 3


def test_finite_loss_guard_and_devices():
    check_finite_loss(1.0, 1, "X")
    with pytest.raises(TrainingDivergedError, match="SDML: the training loss became nan at epoch 7"):
        check_finite_loss(float("nan"), 7, "SDML")
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu please")


def test_seeds_are_reproducible_and_isolated():
    assert derive_seed(0, 1) == derive_seed(0, 1)
    assert derive_seed(0, 1) != derive_seed(0, 2) != derive_seed(1, 1)
    state = torch.random.get_rng_state()
    with torch_seed(3):
        a = torch.rand(3)
    with torch_seed(3):
        b = torch.rand(3)
    assert torch.equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_single_threaded_numpy_blas_limits_numpy_only(numpy_blas_threads):
    """Inside the block numpy's and scipy's BLAS run on one thread; torch's pool
    and the thread counts outside the block are untouched."""
    import scipy.linalg  # noqa: F401  (loads scipy's own BLAS too)
    from threadpoolctl import threadpool_limits

    torch_threads = torch.get_num_threads()
    with threadpool_limits(limits=2, user_api="blas"):
        before = numpy_blas_threads()
        assert before and (max(before) == 2 or os.cpu_count() == 1)
        with single_threaded_numpy_blas():
            assert numpy_blas_threads() == [1] * len(before)
            assert torch.get_num_threads() == torch_threads
        assert numpy_blas_threads() == before


def test_progress_only_when_verbose(capsys):
    model = ToyLabelProjection()
    assert list(model._progress(range(3))) == [0, 1, 2]
    model.verbose = 1
    list(model._progress(range(3), total=3, desc="training"))
    assert "training" in capsys.readouterr().err


class _Params:
    """A stand-in estimator for the shared hyper-parameter checks."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


@pytest.mark.parametrize(
    "kwargs, value, message",
    [
        (dict(integer=True, low=1), 0, r"_Params: p must be an integer >= 1, got 0\."),
        (dict(integer=True, low=1), True, r"an integer >= 1, got True"),
        (dict(integer=True, low=1), 2.0, r"an integer >= 1, got 2\.0"),
        (dict(low=0.0, low_open=True), 0.0, r"a number > 0, got 0\.0"),
        (dict(low=0.0, high=1.0, high_open=True), 1.0, r"a number in \[0, 1\), got 1\.0"),
        (dict(low=0.0), float("nan"), r"a number >= 0, got nan"),
        (dict(low=0.0), "0.5", r"a number >= 0, got '0\.5'"),
        (dict(low=0.0), None, r"a number >= 0, got None"),
    ],
)
def test_check_number_rejects(kwargs, value, message):
    from skcross._validation import check_number

    with pytest.raises(ValueError, match=message):
        check_number(_Params(p=value), "p", **kwargs)


def test_check_number_accepts_and_converts():
    from skcross._validation import check_number

    assert check_number(_Params(p=np.int64(3)), "p", integer=True, low=1) == 3
    assert type(check_number(_Params(p=np.int64(3)), "p", integer=True)) is int
    assert check_number(_Params(p=1), "p", low=0.0, high=1.0) == 1.0
    assert check_number(_Params(p=None), "p", low=0.0, allow_none=True) is None


def test_check_choice_and_layer_sizes():
    from skcross._validation import check_choice, check_layer_sizes

    assert check_choice(_Params(p=None), "p", ("a", None)) is None
    with pytest.raises(ValueError, match=r"p must be one of \['a', 'b'\], got 'c'"):
        check_choice(_Params(p="c"), "p", ("a", "b"))
    assert check_layer_sizes(_Params(p=[4, np.int32(2)]), "p") == (4, 2)
    assert check_layer_sizes(_Params(p=()), "p", allow_empty=True) == ()
    for bad in [(), (4, 0), (4.0,), "64", 64]:
        with pytest.raises(ValueError, match="p must be a tuple of positive integers"):
            check_layer_sizes(_Params(p=bad), "p")


# ---------------------------------------------------------------- agreement weights
def _paired_embeddings(n=3000, offset=0.0, seed=0):
    """Three modalities' embeddings of n pairs: dimension 0 shared, 1 half shared,
    2 independent noise, 3 anti-correlated."""
    rng = np.random.RandomState(seed)
    shared = rng.randn(n, 4)
    out = []
    for c in range(3):
        noise = rng.randn(n, 4)
        E = np.empty((n, 4))
        E[:, 0] = shared[:, 0]
        E[:, 1] = shared[:, 1] + noise[:, 1]
        E[:, 2] = noise[:, 2]
        E[:, 3] = (-1) ** c * shared[:, 3]
        out.append(3.0 * E + offset)
    return out


def _pairwise_mean_correlation(E):
    return np.mean([[np.corrcoef(E[i][:, d], E[j][:, d])[0, 1] for d in range(E[0].shape[1])]
                    for i in range(len(E)) for j in range(i + 1, len(E))], axis=0)


def test_agreement_weights_are_the_mean_pairwise_correlation_clipped_at_zero():
    from skcross import base

    E = _paired_embeddings()
    expected = np.clip(_pairwise_mean_correlation(E), 0, None)
    weights = base.agreement_weights(E)
    np.testing.assert_allclose(weights, expected, atol=1e-10)
    assert weights[0] > 0.99 and 0.4 < weights[1] < 0.6 and weights[2] < 0.05
    # dimension 3: pairs (0, 1) and (1, 2) disagree, (0, 2) agree: mean -1/3, clipped
    assert weights[3] == 0.0
    # at a large offset: the same weights
    far = _paired_embeddings(offset=1e8)
    np.testing.assert_allclose(base.agreement_weights(far), expected, atol=1e-6)
    # a constant dimension carries no agreement (and no division by zero)
    flat = [np.column_stack([e[:, :1], np.full(len(e), 2.0)]) for e in E]
    np.testing.assert_allclose(base.agreement_weights(flat), [expected[0], 0.0], atol=1e-10)
    # a subset of the rows: the correlation over those rows
    subset = np.arange(0, len(E[0]), 3)
    np.testing.assert_allclose(base.agreement_weights([e[subset] for e in E]),
                               np.clip(_pairwise_mean_correlation([e[subset] for e in E]), 0, None), atol=1e-10)


def test_complete_to_unit_norm_turns_cross_modal_cosine_into_the_dot_product():
    from skcross import base

    rng = np.random.RandomState(0)
    P = [rng.dirichlet(np.ones(5) * a, size=40).astype(np.float32) for a in (0.3, 3.0)]
    C = [base.complete_to_unit_norm(p, position, 3) for position, p in enumerate(P)]
    assert C[0].shape == (40, 8) and C[0].dtype == np.float32
    np.testing.assert_array_equal(C[1][:, :5], P[1])
    np.testing.assert_allclose(np.linalg.norm(C[0], axis=1), 1.0, atol=1e-6)
    # the completion sits in the modality's own column, the other columns stay 0
    assert np.all(C[0][:, 5] > 0) and not C[0][:, 6:].any() and not C[1][:, [5, 7]].any()
    cosine = (C[0] @ C[1].T) / np.outer(np.linalg.norm(C[0], axis=1), np.linalg.norm(C[1], axis=1))
    np.testing.assert_allclose(cosine, P[0].astype(np.float64) @ P[1].T, atol=1e-6)
    # within one modality the completions meet: the cosine adds their product
    r = C[0][:, 5].astype(np.float64)
    np.testing.assert_allclose(C[0] @ C[0].T, P[0].astype(np.float64) @ P[0].T + np.outer(r, r), atol=1e-6)
    # unit-norm rows (a network that embeds h) get 0, also when rounding puts them above 1
    unit = rng.randn(10, 4)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True) * (1 - 1e-12)
    assert not base.complete_to_unit_norm(unit, 0, 2)[:, 4:].any()
