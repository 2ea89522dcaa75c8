"""Checks every exported skcross estimator must pass.

Parametrised over :func:`skcross.utils.all_estimators`, so a new estimator is
covered as soon as it is exported. Each estimator is fitted once per module
(with its ``_quick_test_params``) and the fitted model is shared by the
transform-time checks; fit-time checks fail in validation, before training.
"""

from __future__ import annotations

import copy
import pickle
import re
import warnings
from unittest import mock

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils import estimator_checks as sk_checks

import skcross
import skcross.base
from skcross.datasets import make_multimodal_classification
from skcross.exceptions import IncompatibleVersionError
from skcross.utils import all_estimators

from conftest import gpu

ESTIMATORS = all_estimators()
IDS = [name for name, _ in ESTIMATORS]
N_FEATURES = [10, 8]

parametrize = pytest.mark.parametrize("name, Estimator", ESTIMATORS, ids=IDS)

# --------------------------------------------------------------------- helpers


def _data(n_samples=100, random_state=0):
    """Two paired modalities, three classes; values exactly representable in float32."""
    X, y = make_multimodal_classification(
        n_samples=n_samples, n_modalities=2, n_classes=3, n_features=N_FEATURES,
        random_state=random_state,
    )
    arrays = [np.asarray(a, dtype=np.float32).astype(np.float64) for a in X.modalities()]
    return arrays, np.asarray(y)


def _make(Estimator, **extra):
    params = dict(getattr(Estimator, "_quick_test_params", {}) or {})
    params.update(extra)
    valid = Estimator().get_params()
    if "random_state" in valid:
        params.setdefault("random_state", 0)
    if "verbose" in valid:
        params.setdefault("verbose", 0)
    return Estimator(**params)


def _fit(est, X, y):
    return est.fit(X, y if est._requires_labels else None)


_FITTED: dict = {}


def _fitted(name, Estimator):
    """One fitted model per estimator for the whole module (fitting is the slow part)."""
    if name not in _FITTED:
        X, y = _data()
        est = _fit(_make(Estimator), X, y)
        _FITTED[name] = (est, X, y)
    return _FITTED[name]


def _embeddings(est, X):
    return [est.transform(i, x) for i, x in enumerate(X)]


def _assert_same_embeddings(a, b, what):
    for c, (ea, eb) in enumerate(zip(a, b)):
        np.testing.assert_array_equal(ea, eb, err_msg=f"{what}: modality {c} differs")


def _walk(obj, seen=None):
    """Every tensor reachable from ``obj`` (through dicts, sequences, modules, __dict__)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, torch.nn.Module):
        yield from obj.parameters()
        yield from obj.buffers()
        yield from _walk(vars(obj), seen)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _walk(v, seen)
    elif isinstance(obj, (list, tuple, set)):
        for v in obj:
            yield from _walk(v, seen)
    elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in ("skcross", "skorch"):
        yield from _walk(vars(obj), seen)
    elif isinstance(obj, torch.optim.Optimizer):
        yield from _walk(obj.state_dict(), seen)


def _skorch_nets(est):
    """skorch nets held by a fitted estimator (directly or in lists/dicts)."""
    try:
        from skorch import NeuralNet
    except ImportError:  # pragma: no cover
        return []
    nets, stack = [], list(vars(est).values())
    while stack:
        v = stack.pop()
        if isinstance(v, NeuralNet):
            nets.append(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return nets


def test_estimators_are_discovered():
    """all_estimators only returns concrete CrossModalEstimator subclasses."""
    for name, Estimator in ESTIMATORS:
        assert issubclass(Estimator, skcross.CrossModalEstimator)
        assert getattr(skcross, name) is Estimator


# ------------------------------------------------------ scikit-learn API checks

SK_CHECKS = [
    "check_no_attributes_set_in_init",
    "check_get_params_invariance",
    "check_set_params",
    "check_estimator_repr",
    "check_parameters_default_constructible",
    "check_estimator_cloneable",
]


@parametrize
@pytest.mark.parametrize("check", SK_CHECKS)
def test_sklearn_api_check(name, Estimator, check):
    getattr(sk_checks, check)(name, Estimator())


@parametrize
def test_no_parameter_ends_with_underscore(name, Estimator):
    bad = [p for p in Estimator().get_params(deep=False) if p.endswith("_")]
    assert not bad, f"{name} parameters end in '_': {bad}"


@parametrize
def test_common_parameters(name, Estimator):
    params = Estimator().get_params(deep=False)
    assert "random_state" in params
    assert "verbose" in params
    # The quick parameters must be real constructor parameters.
    unknown = set(getattr(Estimator, "_quick_test_params", {}) or {}) - set(params)
    assert not unknown, f"{name}._quick_test_params has unknown keys {sorted(unknown)}"


class _Bad:
    """A value no parameter accepts."""

    def __repr__(self) -> str:
        return "<bad value>"


@parametrize
def test_every_parameter_has_a_constraint(name, Estimator):
    params = set(Estimator().get_params(deep=False))
    missing = params - set(Estimator._parameter_constraints)
    assert not missing, f"{name}._parameter_constraints lacks {sorted(missing)}"
    unknown = set(Estimator._parameter_constraints) - params
    assert not unknown, f"{name}._parameter_constraints names non-parameters {sorted(unknown)}"


@parametrize
def test_bad_parameter_values_are_rejected_before_the_data(name, Estimator):
    """Every parameter, given a value it cannot take, makes fit raise an error
    naming it, before the data are looked at (X is not even an array here)."""
    for param in Estimator().get_params(deep=False):
        est = Estimator().set_params(**{param: _Bad()})
        with pytest.raises((ValueError, TypeError), match=rf"\b{param}\b"):
            est.fit("not data", None)


@parametrize
@pytest.mark.parametrize(
    "change",
    [lambda A: A * 1e-9, lambda A: A * 1e9, lambda A: A + 1e8],
    ids=["times_1e-9", "times_1e9", "plus_1e8"],
)
def test_scale_and_offset_do_not_change_retrieval(name, Estimator, change):
    """A modality multiplied by 1e-9 or 1e9, or offset by 1e8, gives the same
    retrieval quality as the data as given (standardisation in float64 before
    any cast), on training and on new data."""
    est, X, y = _fitted(name, Estimator)
    X_new, y_new = _data(60, random_state=3)
    changed = _fit(clone(est), [change(X[0]), X[1]], y)
    assert abs(changed.score([change(X_new[0]), X_new[1]], y_new) - est.score(X_new, y_new)) <= 0.01
    assert abs(changed.score([change(X[0]), X[1]], y) - est.score(X, y)) <= 0.01


@parametrize
def test_constant_modality_warns_that_nothing_was_learned(name, Estimator):
    """Embeddings that are (nearly) constant for a modality give a
    ConvergenceWarning naming the estimator, the modality and a remedy."""
    X, y = _data(60)
    X = _with(X, 1, np.ones_like(X[1]) * 3.0)
    with pytest.warns(ConvergenceWarning, match=rf"{name}: the embeddings of modality '1' are \(nearly\) constant.*;"):
        _fit(_make(Estimator), X, y)


@parametrize
def test_no_collapse_warning_on_informative_data(name, Estimator):
    X, y = _data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(_make(Estimator), X, y)
    assert not [w for w in caught if "(nearly) constant" in str(w.message)]


@parametrize
def test_not_fitted_errors(name, Estimator):
    X, y = _data(20)
    est = Estimator()
    with pytest.raises(NotFittedError):
        est.transform(0, X[0])
    with pytest.raises(NotFittedError):
        est.transform(X)
    with pytest.raises(NotFittedError):
        est.score(X, y)


# ------------------------------------------------ fitting, persistence, dtypes


@parametrize
def test_fit_sets_common_attributes(name, Estimator):
    est, X, y = _fitted(name, Estimator)
    assert est.n_modalities_ == 2
    assert est.n_features_in_ == N_FEATURES
    assert est.modalities_ == ["0", "1"]
    if est._requires_labels:
        np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    emb = _embeddings(est, X)
    assert emb[0].shape[0] == len(y) and emb[0].ndim == 2
    assert emb[0].shape[1] == emb[1].shape[1]
    assert all(np.isfinite(e).all() for e in emb)
    score = est.score(X, y)
    assert isinstance(score, float) and 0.0 <= score <= 1.0


@parametrize
def test_joblib_round_trip(name, Estimator, tmp_path):
    est, X, _ = _fitted(name, Estimator)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    loaded = joblib.load(path)
    assert type(loaded) is Estimator
    _assert_same_embeddings(_embeddings(est, X), _embeddings(loaded, X), "after joblib.load")


@parametrize
def test_same_random_state_float32_input(name, Estimator):
    """Refitting with the same random_state, on the same values given as float32,
    reproduces the embeddings exactly (float64 and float32 inputs both work)."""
    est, X, y = _fitted(name, Estimator)
    X32 = [x.astype(np.float32) for x in X]
    again = _fit(clone(est), X32, y)
    _assert_same_embeddings(_embeddings(est, X), _embeddings(again, X), "same random_state")


@parametrize
def test_embedding_dtype(name, Estimator):
    est, X, _ = _fitted(name, Estimator)
    e64 = est.transform(0, X[0])
    e32 = est.transform(0, X[0].astype(np.float32))
    assert isinstance(e64, np.ndarray)
    assert e64.dtype.kind == "f"
    assert e32.dtype == e64.dtype, "the embedding dtype must not depend on the input dtype"
    np.testing.assert_allclose(e32, e64, rtol=1e-5, atol=1e-6)
    # The documented dtype: the class docstring names it.
    assert str(e64.dtype) in (Estimator.__doc__ or ""), (
        f"{name}'s docstring does not document its embeddings' dtype ({e64.dtype})"
    )


@parametrize
def test_version_is_recorded_and_checked(name, Estimator, monkeypatch):
    est, X, _ = _fitted(name, Estimator)
    assert est.__getstate__()["_skcross_version"] == skcross.__version__
    # A model "saved by" skcross 99.0 must not load here.
    with monkeypatch.context() as m:
        m.setattr(skcross.base, "__version__", "99.0.0")
        blob = pickle.dumps(est)
    with pytest.raises(IncompatibleVersionError, match=r"skcross 99\.0\.0"):
        pickle.loads(blob)
    # A different patch release loads.
    with monkeypatch.context() as m:
        major, minor, _ = (skcross.__version__.split(".") + ["0"])[:3]
        m.setattr(skcross.base, "__version__", f"{major}.{minor}.999")
        blob = pickle.dumps(est)
    assert type(pickle.loads(blob)) is Estimator


@parametrize
def test_fitted_state_is_on_cpu(name, Estimator):
    """Fitted tensors and modules live on the CPU, so a CUDA-trained model unpickles
    anywhere; skorch nets are parked there too (device "cpu", no validation data)."""
    est, _, _ = _fitted(name, Estimator)
    devices = {t.device.type for t in _walk(vars(est))}
    assert devices <= {"cpu"}, f"{name} keeps tensors on {devices}"
    for net in _skorch_nets(est):
        assert str(net.device) == "cpu" and net.train_split is None


@parametrize
def test_cuda_net_loads_on_cpu_machine(name, Estimator):
    """Simulate skorch's own CUDA->CPU test: nets whose device says "cuda" unpickle
    on a machine without CUDA onto the CPU, and embed identically."""
    est, X, _ = _fitted(name, Estimator)
    if not _skorch_nets(est):
        pytest.skip(f"{name} holds no skorch net (its CPU state is checked above)")
    expected = _embeddings(est, X)
    copy_ = pickle.loads(pickle.dumps(est))
    for net in _skorch_nets(copy_):
        net.device = "cuda"
    blob = pickle.dumps(copy_)
    with mock.patch("torch.cuda.is_available", lambda *a: False), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch's DeviceWarning about the mapping
        loaded = pickle.loads(blob)
        nets = _skorch_nets(loaded)
        assert nets
        for net in nets:
            assert torch.device(net.device).type == "cpu"
            assert all(p.device.type == "cpu" for p in net.module_.parameters())
        _assert_same_embeddings(expected, _embeddings(loaded, X), "CUDA-saved net on CPU")


@parametrize
def test_inference_leaves_the_parked_net_on_the_cpu(name, Estimator):
    """Inference on another device works on a copy: the fitted net stays parked."""
    from skcross._neural import inference_module

    est, _, _ = _fitted(name, Estimator)
    nets = _skorch_nets(est)
    if not nets:
        pytest.skip(f"{name} holds no skorch net")
    for net in nets:
        assert inference_module(net, torch.device("cpu")) is net.module_
        moved = inference_module(net, torch.device("meta"))  # any non-CPU device
        assert moved is not net.module_ and not moved.training
        assert {p.device.type for p in moved.parameters()} == {"meta"}
        assert {p.device.type for p in net.module_.parameters()} == {"cpu"}


@gpu
@parametrize
def test_real_cuda_fit_loads_on_cpu(name, Estimator):
    X, y = _data()
    if "device" not in Estimator().get_params():
        pytest.skip(f"{name} has no device parameter")
    est = _fit(_make(Estimator, device="cuda"), X, y)
    on_cuda = _embeddings(est, X)
    devices = {t.device.type for t in _walk(vars(est))}
    assert devices <= {"cpu"}, f"{name} keeps tensors on {devices} after a CUDA fit"
    blob = pickle.dumps(est)
    with mock.patch("torch.cuda.is_available", lambda *a: False), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = pickle.loads(blob)
        loaded.set_params(device="cpu")
        on_cpu = _embeddings(loaded, X)
    for a, b in zip(on_cuda, on_cpu):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------- hostile input


def _with(X, c, value):
    out = list(X)
    out[c] = value
    return out


def _hostile_fit_cases():
    """(case id, builder(X, y) -> (X, y), exception, message regex)."""

    def nan(X, y):
        bad = X[1].copy()
        bad[3, 2] = np.nan
        return _with(X, 1, bad), y

    def inf(X, y):
        bad = X[1].copy()
        bad[0, 0] = np.inf
        return _with(X, 1, bad), y

    def empty(X, y):
        return [x[:0] for x in X], y[:0]

    def one_dim(X, y):
        return _with(X, 0, X[0][:, 0]), y

    def three_dim(X, y):
        return _with(X, 0, X[0][:, :, None]), y

    def objects(X, y):
        bad = X[0].astype(object)
        bad[1, 1] = "seven"
        return _with(X, 0, bad), y

    def strings(X, y):
        return _with(X, 1, np.full(X[1].shape, "abc")), y

    def one_modality(X, y):
        return X[:1], y

    def sparse(X, y):
        return _with(X, 1, sp.csr_matrix(X[1])), y

    return [
        ("nan", nan, ValueError, r"modality '1'.*non-finite.*NaN"),
        ("inf", inf, ValueError, r"modality '1'.*non-finite.*inf"),
        ("empty", empty, ValueError, r"modality '0' has 0 sample"),
        ("1d", one_dim, ValueError, r"modality '0' must be a 2-D array.*1-D"),
        ("3d", three_dim, ValueError, r"modality '0' must be a 2-D array.*3-D"),
        ("object", objects, TypeError, r"modality '0' holds non-numeric values"),
        ("string", strings, TypeError, r"modality '1' holds non-numeric values"),
        ("one_modality", one_modality, ValueError, r"needs at least \d modalities, got 1"),
        ("sparse", sparse, TypeError, r"modality '1' is a scipy.sparse matrix.*needs dense"),
    ]


FIT_CASES = _hostile_fit_cases()


@parametrize
@pytest.mark.parametrize("case, build, exc, match", FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_hostile_fit_input(name, Estimator, case, build, exc, match):
    if case == "sparse" and Estimator._accept_sparse:
        pytest.skip(f"{name} accepts sparse input")
    X, y = build(*_data(30))
    with pytest.raises(exc, match=match):
        _make(Estimator).fit(X, y)


@parametrize
def test_mismatched_sample_counts(name, Estimator):
    X, y = _data(30)
    X = _with(X, 1, X[1][:-5])
    est = _make(Estimator)
    if Estimator._requires_pairs:
        with pytest.raises(ValueError, match=r"paired samples.*'0': 30, '1': 25"):
            est.fit(X, y)
    else:
        # Unpaired methods need one label array per modality.
        with pytest.raises(ValueError, match=r"different sample counts.*one label array per modality"):
            est.fit(X, y)


@parametrize
def test_mismatched_labels(name, Estimator):
    X, y = _data(30)
    if not Estimator._requires_labels:
        pytest.skip(f"{name} is unsupervised")
    with pytest.raises(ValueError, match=r"modality '0' has 30 samples but 29 labels"):
        _make(Estimator).fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"supervised.*needs labels"):
        _make(Estimator).fit(X, None)
    y_nan = y.astype(float)
    y_nan[4] = np.nan
    with pytest.raises(ValueError, match=r"labels of modality '0' contain NaN"):
        _make(Estimator).fit(X, y_nan)
    with pytest.raises(ValueError, match=r"labels of modality '0' must be 1-D class labels or a 2-D"):
        _make(Estimator).fit(X, y[:, None, None])


@parametrize
def test_one_class_only(name, Estimator):
    if not Estimator._requires_labels:
        pytest.skip(f"{name} is unsupervised")
    X, y = _data(30)
    with pytest.raises(ValueError, match=r"1 class\(es\); at least 2"):
        _make(Estimator).fit(X, np.zeros_like(y))


def _hostile_transform_cases():
    """(case id, call(est, X) -> None, exception, message regex)."""
    return [
        ("n_features", lambda est, X: est.transform(1, X[1][:, :-1]),
         ValueError, r"modality '1' has 7 features, but the model was fitted with 8"),
        ("n_modalities", lambda est, X: est.transform(X[:1]),
         ValueError, r"X has 1 modalities, but the model was fitted with 2"),
        ("n_modalities_score", lambda est, X: est.score(X + [X[0]], np.zeros(len(X[0]))),
         ValueError, r"X has 3 modalities, but the model was fitted with 2"),
        ("unknown_name", lambda est, X: est.transform("audio", X[0]),
         ValueError, r"Unknown modality 'audio'; known modalities are \['0', '1'\]"),
        ("unknown_int", lambda est, X: est.transform(5, X[0]),
         ValueError, r"Unknown modality 5: there are 2 modalities"),
        ("modality_type", lambda est, X: est.transform(1.5, X[0]),
         TypeError, r"modality is given by position \(int\) or name \(str\)"),
        ("nan", lambda est, X: est.transform(0, np.where(np.eye(*X[0].shape) > 0, np.nan, X[0])),
         ValueError, r"modality '0' contains non-finite values"),
        ("inf", lambda est, X: est.transform("1", np.full_like(X[1], np.inf)),
         ValueError, r"modality '1' contains non-finite values.*inf"),
        ("empty", lambda est, X: est.transform(0, X[0][:0]),
         ValueError, r"modality '0' has 0 sample"),
        ("1d", lambda est, X: est.transform(0, X[0][0]),
         ValueError, r"modality '0' must be a 2-D array.*X.reshape\(1, -1\)"),
        ("3d", lambda est, X: est.transform(0, X[0][None]),
         ValueError, r"modality '0' must be a 2-D array.*3-D"),
        ("string", lambda est, X: est.transform(0, X[0].astype(str).astype(object) + "x"),
         TypeError, r"modality '0' holds non-numeric values"),
        ("no_samples_arg", lambda est, X: est.transform(0),
         TypeError, r"transform\(0\) needs the samples"),
        ("single_array", lambda est, X: est.transform(X[0]),
         TypeError, r"one array per modality.*transform\(modality, X\)"),
    ]


TRANSFORM_CASES = _hostile_transform_cases()


@parametrize
@pytest.mark.parametrize(
    "case, call, exc, match", TRANSFORM_CASES, ids=[c[0] for c in TRANSFORM_CASES]
)
def test_hostile_transform_input(name, Estimator, case, call, exc, match):
    est, X, _ = _fitted(name, Estimator)
    with pytest.raises(exc, match=match):
        call(est, X)


@parametrize
def test_sparse_transform_input(name, Estimator):
    est, X, _ = _fitted(name, Estimator)
    if Estimator._accept_sparse:
        dense = est.transform(0, X[0])
        np.testing.assert_allclose(est.transform(0, sp.csr_matrix(X[0])), dense, rtol=1e-5, atol=1e-6)
    else:
        with pytest.raises(TypeError, match=r"modality '0' is a scipy.sparse matrix"):
            est.transform(0, sp.csr_matrix(X[0]))


@parametrize
def test_score_with_labels_unseen_at_fit(name, Estimator):
    """Test labels need not be the training classes: score still ranks by them."""
    est, X, y = _fitted(name, Estimator)
    X_new, y_new = _data(40, random_state=1)
    y_strange = np.where(y_new == 0, 7, y_new + 100)  # classes 7, 101, 102: never seen
    score = est.score(X_new, y_strange)
    assert isinstance(score, float) and 0.0 <= score <= 1.0
    # Relabelling classes one-to-one does not change the retrieval score.
    assert score == pytest.approx(est.score(X_new, y_new))


@parametrize
def test_score_without_labels_is_instance_recall(name, Estimator):
    """score(X) with no labels on paired data: mean recall@K, row i matching row i,
    so unsupervised estimators can be scored and tuned without labels."""
    from skcross.metrics import cross_modal_recall

    est, X, y = _fitted(name, Estimator)
    score = est.score(X)
    assert isinstance(score, float) and 0.0 <= score <= 1.0
    expected = cross_modal_recall(_embeddings(est, X), metric=est._get_retrieval_metric())
    assert score == pytest.approx(expected)
    with pytest.raises(ValueError, match="without labels needs paired modalities"):
        est.score([X[0], X[1][:-3]])


@parametrize
def test_transform_does_not_modify_input(name, Estimator):
    est, X, _ = _fitted(name, Estimator)
    before = [x.copy() for x in X]
    _embeddings(est, X)
    for a, b in zip(X, before):
        np.testing.assert_array_equal(a, b)


@parametrize
def test_index_search_matches_retrieve(name, Estimator):
    """CrossModalIndex ranks like the estimator's own retrieve (same metric, same ties)."""
    from skcross import CrossModalIndex

    est, X, _ = _fitted(name, Estimator)
    index = CrossModalIndex(est, 1).add(X[1])
    idx, scores = index.search(0, X[0][:20], k=5)
    ref_idx, ref_scores = est.retrieve(0, X[0][:20], 1, X[1], k=5)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-4, atol=1e-5)
    # Indices agree except where two database items score the same to rounding.
    assert np.mean(idx == ref_idx) > 0.95


@parametrize
def test_transform_is_subset_invariant(name, Estimator):
    """A sample's embedding does not depend on the other samples embedded with it
    (scikit-learn's check_methods_subset_invariance), so chunked embedding is safe."""
    est, X, _ = _fitted(name, Estimator)
    full = est.transform(1, X[1])
    parts = np.concatenate([est.transform(1, X[1][i : i + 7]) for i in range(0, len(X[1]), 7)])
    np.testing.assert_allclose(parts, full, rtol=1e-4, atol=1e-5)


@parametrize
def test_deepcopy_and_clone_of_fitted(name, Estimator):
    est, X, _ = _fitted(name, Estimator)
    _assert_same_embeddings(_embeddings(est, X), _embeddings(copy.deepcopy(est), X), "deepcopy")
    fresh = clone(est)
    assert not hasattr(fresh, "modalities_")
    assert re.match(rf"{name}\(", repr(fresh))


CENTRED = [(name, E) for name, E in ESTIMATORS if "center_embeddings" in E().get_params()]


def _unit_blocks(E, n_blocks):
    """``E`` unchanged for one block; else each of its ``n_blocks`` equal blocks at unit length."""
    if n_blocks == 1:
        return E
    blocks = E.reshape(len(E), n_blocks, -1)
    return (blocks / np.linalg.norm(blocks, axis=2, keepdims=True)).reshape(E.shape)


@pytest.mark.parametrize("name, Estimator", CENTRED, ids=[name for name, _ in CENTRED])
def test_centred_embeddings_are_the_raw_ones_less_the_training_mean(name, Estimator):
    """center_embeddings (the default where it exists) subtracts each modality's
    mean training embedding; it is a read-out, so set_params switches it after fit."""
    assert Estimator().center_embeddings is True
    assert Estimator.paper_params()["center_embeddings"] is False
    est, X, y = _fitted(name, Estimator)
    X_new, _ = _data(40, random_state=5)
    centred = _embeddings(est, X_new)
    # the common space before any read-out (CrossModalVAE joining several
    # targets then scales each target's block of the centred embedding to unit length)
    raw = [est._transform(c, est._check_modality(c, x)[1]) for c, x in enumerate(X_new)]
    train = [est._transform(c, est._check_modality(c, x)[1]) for c, x in enumerate(X)]
    n_blocks = len(getattr(est, "target_indices_", (None,)))
    for c, E in enumerate(train):
        np.testing.assert_allclose((E - est.embedding_means_[c]).mean(axis=0), 0.0, atol=1e-4,
                                   err_msg=f"{name}: modality {c}")
        if n_blocks == 1:
            np.testing.assert_allclose(_embeddings(est, X)[c].mean(axis=0), 0.0, atol=1e-4)
    try:
        uncentred = _embeddings(est.set_params(center_embeddings=False), X_new)
    finally:
        est.set_params(center_embeddings=True)
    for c, (a, b, u) in enumerate(zip(centred, raw, uncentred)):
        np.testing.assert_allclose(a, _unit_blocks(b - est.embedding_means_[c].astype(np.float32), n_blocks),
                                   atol=1e-6)
        np.testing.assert_allclose(u, _unit_blocks(b, n_blocks), atol=1e-6)
        assert np.abs(est.embedding_means_[c]).max() > 1e-3  # there was an offset to remove
    assert all(estimator.embedding_means_ is None for estimator in [_fitted(n, E)[0] for n, E in ESTIMATORS
                                                                   if (n, E) not in CENTRED])


WEIGHTED = [(name, E) for name, E in ESTIMATORS if "weight_by_agreement" in E().get_params()]


@pytest.mark.parametrize("name, Estimator", WEIGHTED, ids=[name for name, _ in WEIGHTED])
def test_weight_by_agreement_is_a_read_out_switched_after_fit(name, Estimator):
    """weight_by_agreement scales each embedding dimension by the modalities'
    agreement on the training pairs (``dimension_weights_``, computed whatever
    the parameter's value); set_params switches it after fit, and the paper's
    read-out has it off."""
    assert Estimator.paper_params().get("weight_by_agreement", False) is False
    est, X, _ = _fitted(name, Estimator)
    w = est.dimension_weights_
    assert w.ndim == 1 and np.all((w >= 0) & (w <= 1)) and w.max() > 0
    default = est.weight_by_agreement
    X_new, _ = _data(40, random_state=5)
    try:
        raw = _embeddings(est.set_params(weight_by_agreement=False), X_new)
        weighted = _embeddings(est.set_params(weight_by_agreement=True), X_new)
    finally:
        est.set_params(weight_by_agreement=default)
    # before the VAE's per-target unit length (one block elsewhere)
    n_blocks = len(getattr(est, "target_indices_", (None,)))
    means = est.embedding_means_ if getattr(est, "center_embeddings", False) else None
    for c, (a, b) in enumerate(zip(weighted, raw)):
        pre = est._transform(c, est._check_modality(c, X_new[c])[1])
        pre = pre - means[c].astype(np.float32) if means is not None else pre
        np.testing.assert_allclose(b, _unit_blocks(pre, n_blocks), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a, _unit_blocks(pre * w.astype(np.float32), n_blocks), rtol=1e-5, atol=1e-6)
