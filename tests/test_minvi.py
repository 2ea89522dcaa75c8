"""Tests of MinVIRBM: the RBM algebra against brute force, inference, training, persistence."""

import itertools
import pickle

import joblib
import numpy as np
import pytest
import torch
from conftest import gpu
from scipy.special import expit, logsumexp
from sklearn.base import clone

import scipy.sparse as sp

from skcross import _minvi
from skcross._minvi import (
    MinVIRBM,
    _free_energy,
    _hidden_input,
    _path_down,
    _path_up,
    _visible_logits,
)


def _states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def _random_params(rng, sizes, K):
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    return {
        "paths": [[] for _ in sizes],
        "W": [t(rng.randn(n, K)) for n in sizes],
        "c": [t(rng.randn(n)) for n in sizes],
        "b": t(rng.randn(K)),
    }


def _copy_bits(n=300, bits=4, flip=0.1, seed=0):
    """Two binary modalities: y is x with each bit flipped with probability ``flip``."""
    rng = np.random.RandomState(seed)
    x = (rng.rand(n, bits) < 0.5).astype(float)
    y = np.abs(x - (rng.rand(n, bits) < flip))
    return [x, y]


def _model_params(model):
    return model._params(torch.device("cpu"))


def _target_free_energies(model, X, t):
    """All states of modality ``t``, and the free energy of every (conditioning
    sample of the other modality, target state) pair: ``(n_samples, n_states)``."""
    p = _model_params(model)
    states = torch.as_tensor(_states(X[t].shape[1]), dtype=torch.float32)
    other = torch.as_tensor(X[1 - t], dtype=torch.float32)
    rep = other.repeat_interleave(len(states), 0)
    tiled = states.repeat(len(other), 1)
    vs = [tiled, rep] if t == 0 else [rep, tiled]
    return states, _free_energy(p, model.visible_types_, vs).reshape(len(other), len(states))


def _exact_conditional_nll(model, X):
    """-E[log P(y|x) + log P(x|y)] (Eq. 2) by enumerating the target modality's states."""
    p = _model_params(model)
    types = model.visible_types_
    total = 0.0
    for t in range(2):
        f_all = _target_free_energies(model, X, t)[1].numpy()
        vs_data = [torch.as_tensor(x, dtype=torch.float32) for x in X]
        f_data = _free_energy(p, types, vs_data).numpy()
        total += np.mean(f_data + logsumexp(-f_all, axis=1))
    return total


def _exact_nll(model, X):
    """-E[log P(x, y)] (Eq. 3) by enumerating every visible state."""
    p = _model_params(model)
    sizes = [x.shape[1] for x in X]
    states = torch.as_tensor(_states(sum(sizes)), dtype=torch.float32)
    split = [states[:, : sizes[0]], states[:, sizes[0] :]]
    log_z = logsumexp(-_free_energy(p, model.visible_types_, split).numpy())
    f = _free_energy(p, model.visible_types_, [torch.as_tensor(x, dtype=torch.float32) for x in X])
    return float(np.mean(f.numpy()) + log_z)


def _independent_nll(X):
    """NLL of independent Bernoulli units at the data means: what a model learns without association."""
    total = 0.0
    for x in X:
        m = x.mean(0).clip(1e-6, 1 - 1e-6)
        total += -np.mean((x * np.log(m) + (1 - x) * np.log(1 - m)).sum(1))
    return total


# ------------------------------------------------------------- RBM algebra
def test_conditionals_and_free_energy_match_brute_force():
    rng = np.random.RandomState(0)
    nx, ny, K = 3, 2, 3
    p = _random_params(rng, [nx, ny], K)
    Wx, Wy, cx, cy, b = (a.numpy() for a in (*p["W"], *p["c"], p["b"]))
    X, Y, H = _states(nx), _states(ny), _states(K)
    # E(x, y, h) of Eq. 5 for every joint state
    E = -(
        np.einsum("xi,ik,hk->xh", X, Wx, H)[:, None, :]
        + np.einsum("yj,jk,hk->yh", Y, Wy, H)[None, :, :]
        + (H @ b)[None, None, :]
        + (X @ cx)[:, None, None]
        + (Y @ cy)[None, :, None]
    )
    # free energy: -log sum_h exp(-E)
    xs = torch.as_tensor(np.repeat(X, len(Y), 0))
    ys = torch.as_tensor(np.tile(Y, (len(X), 1)))
    F = _free_energy(p, ["binary", "binary"], [xs, ys]).numpy().reshape(len(X), len(Y))
    np.testing.assert_allclose(F, -logsumexp(-E, axis=2), rtol=1e-10)

    # Eq. 6: P(h_k = 1 | x, y) against the brute-force posterior marginals
    post = np.exp(-E - logsumexp(-E, axis=2, keepdims=True))  # P(h | x, y)
    brute = np.einsum("xyh,hk->xyk", post, H)
    eq6 = expit(_hidden_input(p, [xs, ys]).numpy()).reshape(len(X), len(Y), K)
    np.testing.assert_allclose(eq6, brute, rtol=1e-10)

    # Eq. 7: P(y_j = 1 | h) against the brute-force conditional over (x, y) given h
    joint_h = np.exp(-E - logsumexp(-E, axis=(0, 1), keepdims=True))  # P(x, y | h)
    brute_y = np.einsum("xyh,yj->hj", joint_h, Y)
    eq7 = expit(_visible_logits(p, 1, torch.as_tensor(H)).numpy())
    np.testing.assert_allclose(eq7, brute_y, rtol=1e-10)

    # P(y | x) from free energies equals the brute-force conditional
    logp = logsumexp(-E, axis=2)  # log P(x, y) + log Z
    brute_cond = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
    cond = np.exp(-F - logsumexp(-F, axis=1, keepdims=True))
    np.testing.assert_allclose(cond, brute_cond, rtol=1e-10)


def test_gaussian_free_energy_matches_numerical_integral():
    # one Gaussian visible unit, one hidden unit: F(v) against the defining sum over h
    rng = np.random.RandomState(1)
    p = _random_params(rng, [1], 2)
    w, c, b = p["W"][0].numpy()[0], p["c"][0].numpy()[0], p["b"].numpy()
    v = np.linspace(-3, 3, 7)
    H = _states(2)
    E = 0.5 * (v[:, None] - c) ** 2 - v[:, None] * (H @ w)[None] - (H @ b)[None]
    F = _free_energy(p, ["gaussian"], [torch.as_tensor(v[:, None])]).numpy()
    np.testing.assert_allclose(F, -logsumexp(-E, axis=1), rtol=1e-10)


def test_mean_field_output_is_fixed_point_of_eq8():
    X = _copy_bits(n=150, bits=5)
    model = MinVIRBM(n_components=6, max_epochs=20, batch_size=30, lr=0.02, early_stopping=False,
                     random_state=0).fit(X)
    model.set_params(n_mean_field=300, center_embeddings=False)  # the hidden probabilities themselves
    h = model.transform(0, X[0])
    y_hat = model.predict_modality(1, 0, X[0])
    Wx, Wy = model.weights_
    np.testing.assert_allclose(y_hat, expit(h @ Wy.T + model.visible_biases_[1]), atol=1e-4)
    np.testing.assert_allclose(h, expit(X[0] @ Wx + y_hat @ Wy + model.hidden_bias_), atol=1e-4)
    # and it differs from one bottom-up pass with y = 0 (the iteration does something)
    h0 = expit(X[0] @ Wx + model.hidden_bias_)
    assert np.abs(h - h0).max() > 1e-2


def test_joint_transform_is_eq6():
    X = _copy_bits(n=60, bits=3)
    model = MinVIRBM(n_components=5, max_epochs=2, center_embeddings=False, random_state=0).fit(X)  # Eq. 6 itself
    expected = expit(X[0] @ model.weights_[0] + X[1] @ model.weights_[1] + model.hidden_bias_)
    np.testing.assert_allclose(model.joint_transform(X), expected, atol=1e-5)
    assert model.joint_transform(X).dtype == np.float32
    # transform(X_multi) keeps the package-wide contract: per-modality embeddings
    emb = model.transform(X)
    np.testing.assert_allclose(emb.modality(0), model.transform(0, X[0]))


def _reference_embedding(model, index, X):
    """The mean-field embedding as computed before ``transform`` stopped keeping the
    predictions: the same updates, written out independently of ``_encode``."""
    p = _model_params(model)
    given = [torch.as_tensor(X, dtype=torch.float32) if c == index else None for c in range(model.n_modalities_)]
    missing = [c for c, v in enumerate(given) if v is None]
    n = X.shape[0]
    tops = []
    for c, v in enumerate(given):
        if v is None:
            d = p["paths"][c][0][0].shape[0] if p["paths"][c] else p["W"][c].shape[0]
            v = torch.zeros((n, d))
        tops.append(_path_up(p["paths"][c], v))
    observed = _hidden_input(p, [None if v is None else t for v, t in zip(given, tops)])

    def up():
        z = observed
        for c in missing:
            z = z + tops[c] @ p["W"][c]
        return torch.sigmoid(z)

    with torch.no_grad():
        for _ in range(model.n_mean_field):
            h = up()
            for c in missing:
                _, mean = _path_down(p, c, h, model.visible_types_[c])
                tops[c] = _path_up(p["paths"][c], mean)
        return up().numpy().astype(np.float32)


@pytest.mark.parametrize("deep", [False, True])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # tiny models, few epochs: learning is not what is checked
def test_transform_is_bit_identical_to_the_mean_field_with_predictions(deep, monkeypatch):
    # transform skips keeping the missing modalities' predictions; the embedding
    # must not move by a single bit
    rng = np.random.RandomState(0)
    z = rng.randn(90, 2)
    X = [z @ rng.randn(2, 6) + 0.1 * rng.randn(90, 6), (z @ rng.randn(2, 5) > 0).astype(float)]
    model = MinVIRBM(
        n_components=7, hidden_layer_sizes=[[4], [3]] if deep else (), max_epochs=3, n_mean_field=4,
        early_stopping=False, center_embeddings=False, random_state=0, device="cpu",
    ).fit(X)
    for index in (0, 1):
        _, Xs = model._check_modality(index, X[index])
        expected = _reference_embedding(model, index, Xs)
        h, means = model._infer([Xs if c == index else None for c in range(2)])
        assert list(means) == [1 - index]
        np.testing.assert_array_equal(h, expected)
        np.testing.assert_array_equal(model.transform(index, X[index]), expected)
    # the chunked path (sparse input stays sparse for the binary modality); a matrix
    # product's last bit can depend on the number of rows, so the reference is chunked too
    monkeypatch.setattr(_minvi, "_INFER_ROWS", 16)
    expected = np.concatenate([_reference_embedding(model, 1, X[1][s : s + 16]) for s in range(0, 90, 16)])
    np.testing.assert_array_equal(model.transform(1, sp.csr_matrix(X[1])), expected)
    h, means = model._infer([None, sp.csr_matrix(X[1])])
    np.testing.assert_array_equal(h, expected)
    assert means[0].shape == X[0].shape


# ----------------------------------------------------------------- training
@pytest.mark.parametrize("method", ["mp", "cd_percloss"])
def test_minvi_training_lowers_exact_conditional_loss(method):
    X = _copy_bits()
    model = MinVIRBM(
        n_components=8, method=method, max_epochs=40, batch_size=30, lr=0.03, early_stopping=False,
        random_state=0,
    ).fit(X)
    # y copies x with 10% of the bits flipped: the best conditional guess gets 90% of them
    # right, independent units 50%. Both methods learn the association ...
    assert _exact_map_accuracy(model, X) > 0.8
    # ... and lower the exact L_VI of Eq. 2 (enumerated) below that of independent units;
    # MP, which fits the conditionals themselves, by far (CD-PercLoss, a perceptron-style
    # rule, stops once the data has the lowest free energy).
    baseline = _independent_nll(X)
    assert _exact_conditional_nll(model, X) < baseline - (1.5 if method == "mp" else 0.2)
    if method == "mp":  # the MP prediction loss itself went down during training
        assert model.loss_curve_[-1] < 0.8 * model.loss_curve_[0]


def test_ml_pcd_lowers_exact_negative_log_likelihood():
    X = _copy_bits()
    model = MinVIRBM(
        n_components=8, objective="ml", max_epochs=40, batch_size=30, lr=0.03, random_state=0
    ).fit(X)
    assert len(model.loss_curve_) == 40
    assert _exact_nll(model, X) < _independent_nll(X) - 0.5


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # tiny models, few epochs: learning is not what is checked
def test_deep_variant_pretrains_and_finetunes():
    rng = np.random.RandomState(0)
    z = rng.randn(120, 2)
    X = {"img": z @ rng.randn(2, 6) + 0.1 * rng.randn(120, 6), "txt": (z @ rng.randn(2, 5) > 0).astype(float)}
    model = MinVIRBM(
        n_components=8, hidden_layer_sizes={"img": [7, 5], "txt": []}, max_epochs=15,
        batch_size=30, lr=0.02, n_mean_field=3, early_stopping=False, random_state=0,
    ).fit(X)
    assert model.visible_types_ == ["gaussian", "binary"]
    assert model.layer_sizes_ == [[7, 5], []]
    assert [len(c) for c in model.pretrain_loss_curves_] == [2, 0]
    assert [layer[0].shape for layer in model.pathways_[0]] == [(6, 7), (7, 5)]
    assert model.weights_[0].shape == (5, 8) and model.weights_[1].shape == (5, 8)
    # MDRNN fine-tuning reduced its reconstruction loss
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.transform("img", X["img"]).shape == (120, 8)
    pred = model.predict_modality("img", "txt", X["txt"])
    assert pred.shape == (120, 6) and np.all(np.isfinite(pred))
    # the Gaussian prediction comes back in the input's units (standardisation undone)
    np.testing.assert_allclose(pred.mean(0), X["img"].mean(0), atol=0.5 * X["img"].std(0).max())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # tiny models, few epochs: learning is not what is checked
def test_three_modalities_and_ml_deep():
    rng = np.random.RandomState(0)
    bits = (rng.rand(90, 3) < 0.5).astype(float)
    X = [bits, 1 - bits, np.hstack([bits, bits])]
    model = MinVIRBM(n_components=6, max_epochs=3, n_mean_field=2, random_state=0).fit(X)
    assert model.predict_modality(2, 0, X[0]).shape == (90, 6)
    deep = MinVIRBM(n_components=6, objective="ml", hidden_layer_sizes=[[4], [], [3]], max_epochs=2,
                    random_state=0).fit(X)
    assert deep.transform(1, X[1]).shape == (90, 6)


# ---------------------------------------------------------------- API rules
def test_parameter_validation():
    X = _copy_bits(n=40, bits=3)
    for bad in [
        {"objective": "vi"}, {"method": "gibbs"}, {"n_components": 0}, {"optimizer": "lbfgs"},
        {"visible_types": "poisson"}, {"hidden_layer_sizes": [[3]]}, {"hidden_layer_sizes": {"zz": [2]}},
        {"hidden_layer_sizes": [[0], []]}, {"hidden_layer_sizes": (0,)}, {"hidden_layer_sizes": "3"},
        {"lr": -1.0}, {"lr": 0.0}, {"n_iter_no_change": 0}, {"validation_fraction": 1.0},
        {"early_stopping": "yes"}, {"standardize": 1.5},
    ]:
        with pytest.raises(ValueError):
            MinVIRBM(max_epochs=1, **bad).fit(X)
    with pytest.raises(ValueError, match="outside"):
        MinVIRBM(visible_types="binary", max_epochs=1).fit([X[0] * 3, X[1]])
    model = MinVIRBM(n_components=4, max_epochs=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="same modality"):
        model.predict_modality(0, 0, X[0])
    assert MinVIRBM(visible_types={"1": "gaussian"}, n_components=4, max_epochs=1).fit(X).visible_types_ == [
        "binary", "gaussian"]


def test_sgd_optimizer_and_divergence():
    X = _copy_bits(n=60, bits=3)
    MinVIRBM(n_components=4, optimizer="sgd", max_epochs=2, random_state=0).fit(X)
    from skcross.exceptions import TrainingDivergedError

    Xg = [np.random.RandomState(0).randn(60, 3), X[1]]
    with pytest.raises(TrainingDivergedError, match="epoch"):
        MinVIRBM(n_components=4, optimizer="sgd", lr=1e6, momentum=0.0, weight_decay=0.0,
                 max_epochs=5, random_state=0).fit(Xg)


def test_determinism_and_joblib_round_trip(tmp_path):
    X = _copy_bits(n=80, bits=4)
    params = dict(n_components=6, max_epochs=3, method="cd_percloss", random_state=3)
    a = MinVIRBM(**params).fit(X)
    b = clone(a).fit(X)
    np.testing.assert_array_equal(a.transform(0, X[0]), b.transform(0, X[0]))
    c = MinVIRBM(**{**params, "random_state": 4}).fit(X)
    assert not np.array_equal(a.transform(0, X[0]), c.transform(0, X[0]))
    joblib.dump(a, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(a.transform(1, X[1]), loaded.transform(1, X[1]))
    np.testing.assert_array_equal(a.predict_modality(1, 0, X[0]), loaded.predict_modality(1, 0, X[0]))


def test_keyboard_interrupt_keeps_model_usable(monkeypatch):
    X = _copy_bits(n=60, bits=3)
    calls = {"n": 0}
    original = MinVIRBM._mp_loss

    def interrupted(self, *args):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(MinVIRBM, "_mp_loss", interrupted)
    model = MinVIRBM(n_components=4, max_epochs=5, batch_size=20, early_stopping=False, random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        model.fit(X)
    assert model.n_iter_ == 1 and len(model.loss_curve_) == 1
    assert model.transform(0, X[0]).shape == (60, 4)
    assert not hasattr(model, "_stop_training")


@gpu
def test_cuda_fit_keeps_parameters_on_cpu():
    X = _copy_bits(n=80, bits=4)
    model = MinVIRBM(n_components=6, max_epochs=2, device="cuda", random_state=0).fit(X)
    assert isinstance(model.weights_[0], np.ndarray)
    cpu = pickle.loads(pickle.dumps(model)).set_params(device="cpu")
    np.testing.assert_allclose(cpu.transform(0, X[0]), model.transform(0, X[0]), atol=1e-5)


# ------------------------------------------------ standardisation, early stopping
def test_binary_modalities_keep_their_scale_gaussian_ones_are_standardised():
    rng = np.random.RandomState(0)
    X = [(rng.rand(80, 4) < 0.5).astype(float), 5.0 + 3.0 * rng.randn(80, 3)]
    model = MinVIRBM(n_components=4, max_epochs=2, random_state=0).fit(X)
    assert model.visible_types_ == ["binary", "gaussian"]
    assert model.feature_scale_[0] is None and model.feature_mean_[0] is None
    np.testing.assert_allclose(model.feature_mean_[1], X[1].mean(0))
    np.testing.assert_allclose(model.feature_scale_[1], X[1].std(0))
    # a binary modality multiplied by 1e-9 is no longer binary: it becomes Gaussian, standardised
    tiny = MinVIRBM(n_components=4, max_epochs=2, random_state=0).fit([X[0] * 1e-9, X[1]])
    assert tiny.visible_types_ == ["gaussian", "gaussian"]
    # standardize=False leaves Gaussian modalities on their own scale
    raw = MinVIRBM(n_components=4, max_epochs=2, standardize=False, random_state=0).fit(X)
    assert raw.feature_scale_ == [None, None]


@pytest.mark.parametrize("transform", [lambda a: a * 1e-9, lambda a: a * 1e9, lambda a: a + 1e8])
def test_scale_and_offset_robustness(transform):
    rng = np.random.RandomState(0)
    z = rng.randn(150, 2)
    y = (z[:, 0] > 0).astype(int) + 2 * (z[:, 1] > 0)
    X = [z @ rng.randn(2, 6) + 0.3 * rng.randn(150, 6), z @ rng.randn(2, 5) + 0.3 * rng.randn(150, 5)]
    params = dict(n_components=16, max_epochs=10, random_state=0)
    reference = MinVIRBM(**params).fit(X).score(X, y)
    moved = [transform(X[0]), X[1]]
    model = MinVIRBM(**params).fit(moved)
    assert np.ptp(model.transform(0, moved[0]), axis=0).max() > 0.05  # not collapsed
    assert abs(model.score(moved, y) - reference) < 0.01


def test_early_stopping_keeps_the_best_epoch():
    X = _copy_bits(n=300, bits=6)
    model = MinVIRBM(n_components=64, lr=0.05, max_epochs=60, n_iter_no_change=3, random_state=0).fit(X)
    curve = model.validation_loss_curve_
    assert len(curve) == model.n_iter_ == len(model.loss_curve_)
    assert model.best_epoch_ == int(np.argmin(curve)) + 1
    assert model.n_iter_ - model.best_epoch_ == 3 or model.n_iter_ == 60
    # the kept parameters are the best epoch's: recompute the validation loss from them
    from skcross._validation import holdout_split

    _, valid = holdout_split(np.arange(300), model.validation_fraction, model._seed("split"))
    p = _model_params(model)
    batch = [torch.as_tensor(x[valid], dtype=torch.float32) for x in X]
    with torch.no_grad():
        loss = float(model._mp_loss(p, model.visible_types_, batch))
    np.testing.assert_allclose(loss, min(curve), rtol=1e-4)
    # ML (PCD) cannot be validated: it runs every epoch
    ml = MinVIRBM(n_components=8, objective="ml", max_epochs=4, random_state=0).fit(X)
    assert ml.n_iter_ == 4 and ml.best_epoch_ == 4 and ml.validation_loss_curve_ == []


def test_paper_params():
    params = MinVIRBM.paper_params()
    model = MinVIRBM(**params)
    assert model.n_components == 1000 and model.method == "mp" and not model.early_stopping
    assert set(params) <= set(model.get_params())
    # the paper standardises only; the default also power-transforms skewed features
    assert model.standardize is True and MinVIRBM().standardize == "auto"


# ------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def digits_model(digit_halves_split):
    Xtr, Xte, ytr, yte = digit_halves_split
    # real-valued intensities: "auto" picks unit-variance Gaussian visibles; DEFAULT settings
    return MinVIRBM(random_state=0).fit(Xtr)


def test_digits_retrieval_beats_cca(digits_model, digit_halves_split, cca_digits_map):
    Xtr, Xte, ytr, yte = digit_halves_split
    # each half embedded alone (the other inferred, Eq. 8), ranked by cosine similarity
    score = digits_model.score(Xte, yte)
    assert score > cca_digits_map + 0.02


def test_digits_predict_modality_beats_mean_imputation(digits_model, digit_halves_split):
    Xtr, Xte, ytr, yte = digit_halves_split
    for target, source in [("right", "left"), ("left", "right")]:
        pred = digits_model.predict_modality(target, source, Xte.modality(source))
        truth = Xte.modality(target)
        err = np.mean((pred - truth) ** 2)
        mean_err = np.mean((Xtr.modality(target).mean(0) - truth) ** 2)
        assert err < 0.8 * mean_err


@pytest.mark.slow
def test_minvi_cuts_ml_single_modality_error_at_defaults():
    """The paper's Table 1 claim at DEFAULT settings (bench_minvi.py's protocol): a logistic
    regression trained on the joint representation of complete training pairs errs less on
    test digits of which one half is missing with MinVI (MP) than with ML (PCD)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from skcross.datasets import load_digit_halves

    X, y = load_digit_halves(binarize=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    single = {}
    for objective in ["ml", "minvi"]:
        model = MinVIRBM(objective=objective, random_state=0).fit(Xtr)
        clf = LogisticRegression(max_iter=5000).fit(model.joint_transform(Xtr), ytr)
        single[objective] = np.mean([1 - clf.score(model.transform(c, Xte.modality(c)), yte) for c in range(2)])
        if objective == "ml":  # ML is trained without mean-field: give its inference 20 updates to converge
            model.set_params(n_mean_field=20)
            single["ml_converged"] = np.mean(
                [1 - clf.score(model.transform(c, Xte.modality(c)), yte) for c in range(2)]
            )
    # issue 15's bar at the defaults (ML's inference then has the default 3 updates; 31.67% -> 21.30% here) ...
    assert single["minvi"] < 0.7 * single["ml"]
    # ... and the fair comparison, ML's inference run to convergence (bench_minvi.py --seeds 0,1,2, centred
    # embeddings as by default: a 24.7% cut on average, 28.02% -> 21.11%; 29.8% with the raw read-out)
    assert single["minvi"] < 0.85 * single["ml_converged"]


def _exact_map_accuracy(model, X):
    """Bitwise accuracy of argmin_y F(x, y), the prediction CD-PercLoss trains (both directions)."""
    acc = []
    for t in range(2):
        states, f_all = _target_free_energies(model, X, t)
        best = states[f_all.argmin(1)].numpy()
        acc.append(np.mean(best == X[t]))
    return float(np.mean(acc))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # a tiny model: learning is not checked
def test_joint_representation_is_centred_like_the_single_modality_ones():
    X = _copy_bits(n=120, bits=5)
    model = MinVIRBM(n_components=6, max_epochs=5, batch_size=30, random_state=0).fit(X)
    J = model.joint_transform(X)
    np.testing.assert_allclose(J.mean(axis=0), 0.0, atol=1e-5)
    raw = model.set_params(center_embeddings=False).joint_transform(X)
    assert raw.min() >= 0.0 and raw.max() <= 1.0  # the hidden probabilities themselves
    np.testing.assert_allclose(J, raw - model.joint_embedding_mean_.astype(np.float32), atol=1e-6)
