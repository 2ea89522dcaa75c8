"""Tests of HarmonizedGPLVM (harmonized multimodal GPLVMs) and its objective terms."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skcross import _gplvm_objectives as obj
from skcross._gplvm import HarmonizedGPLVM, _objective, _Problem
from skcross.datasets import make_multimodal_classification
from skcross.metrics import make_map_scorer, mean_average_precision

T = torch.float64


def _rand(*shape, seed=0):
    return torch.as_tensor(np.random.RandomState(seed).randn(*shape), dtype=T)


def _theta(seed=0):
    # log [variance, lengthscale, bias, noise], perturbed so every entry matters
    return torch.as_tensor(np.log([1.2, 0.9, 0.2, 0.15]) + 0.1 * np.random.RandomState(seed).randn(4), dtype=T)


@pytest.fixture
def small():
    X, y = make_multimodal_classification(
        n_samples=60, n_modalities=2, n_classes=3, n_features=[8, 6], random_state=0
    )
    return X, y


# ------------------------------------------------------------ gradient checks
def _gradcheck(f, *inputs):
    inputs = tuple(i.clone().requires_grad_(True) for i in inputs)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_gradcheck_likelihoods():
    X, Y, theta = _rand(9, 2, seed=1), _rand(9, 3, seed=2), _theta(1)
    _gradcheck(lambda th, x: obj.nll_exact(th, x, Y, 3.0), theta, X)
    active = torch.tensor([0, 2, 5, 7])
    _gradcheck(lambda th, x: obj.nll_fitc(th, x, Y, 3.0, active), theta, X)


@pytest.mark.parametrize("prior", ["fro", "l21", "trace"])
def test_gradcheck_harmonization(prior):
    X, theta = _rand(7, 2, seed=3), _theta(2)
    _gradcheck(
        lambda th, x: obj.harmonization(obj.rbf_bias_white(th, x), obj.latent_similarity(x, 1.3), prior),
        theta, X,
    )


def test_gradcheck_priors_and_predictive():
    X = _rand(8, 2, seed=4)
    labels = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    same = torch.as_tensor((labels[:, None] == labels[None, :]).astype(float), dtype=T)
    _gradcheck(lambda x: obj.semantic_prior(0.4 * x, same), X)
    _gradcheck(obj.gaussian_prior, X)
    theta, Y = _theta(3), _rand(8, 3, seed=5)
    active = torch.tensor([1, 3, 6])
    for act in (None, active):
        with torch.no_grad():
            parts = (obj.exact_predictive_parts(theta, X, Y) if act is None
                     else obj.fitc_predictive_parts(theta, X, Y, act))

        def f(xs, act=act, parts=parts):
            mean, var = obj.predictive(theta, X, parts, xs, act)
            return mean.sum() + var.sum()

        _gradcheck(f, _rand(3, 2, seed=6))


# ----------------------------------------------------- formulas against numpy
def test_kernel_and_harmonization_match_numpy():
    rng = np.random.RandomState(0)
    Xn = rng.randn(10, 3)
    th = _theta(4)
    var, ls, bias, noise = np.exp(th.numpy())
    noise += obj.NOISE_FLOOR
    D2 = ((Xn[:, None] - Xn[None]) ** 2).sum(-1)
    K_np = var * np.exp(-D2 / (2 * ls**2)) + bias + noise * np.eye(10)
    S_np = np.exp(-D2 / (2 * 0.7))
    X = torch.as_tensor(Xn)
    K = obj.rbf_bias_white(th, X)
    S = obj.latent_similarity(X, 0.7)
    np.testing.assert_allclose(K.numpy(), K_np, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(S.numpy(), S_np, rtol=1e-10, atol=1e-12)
    diff = K_np - S_np
    expected = {
        "fro": np.linalg.norm(diff, "fro") ** 2,
        "l21": np.linalg.norm(diff, axis=0).sum(),
        "trace": 0.5 * np.trace(np.linalg.solve(K_np, S_np)),
    }
    for prior, value in expected.items():
        assert float(obj.harmonization(K, S, prior)) == pytest.approx(value, rel=1e-9)
    # Eq. 3: d/2 log|K| + 1/2 tr(K^-1 Y Y^T)
    Y = rng.randn(10, 4)
    nll = 2.0 * np.linalg.slogdet(K_np)[1] + 0.5 * np.trace(np.linalg.solve(K_np, Y @ Y.T))
    assert float(obj.nll_exact(th, X, torch.as_tensor(Y), 4.0)) == pytest.approx(nll, rel=1e-9)


def test_semantic_prior_matches_pair_loop():
    rng = np.random.RandomState(1)
    Xn = 0.5 * rng.randn(12, 2)
    labels = rng.randint(0, 3, 12)
    expected = 0.0
    for i in range(12):
        for j in range(i + 1, 12):
            d2 = ((Xn[i] - Xn[j]) ** 2).sum()
            expected += d2 if labels[i] == labels[j] else max(0.0, 1.0 - d2)
    same = torch.as_tensor((labels[:, None] == labels[None, :]).astype(float))
    assert float(obj.semantic_prior(torch.as_tensor(Xn), same)) == pytest.approx(expected, rel=1e-9)


def test_riemannian_distance():
    A = np.diag([1.0, 2.0, 4.0])
    assert obj.riemannian_distance(A, np.eye(3)) == pytest.approx(
        np.sqrt(np.log(2) ** 2 + np.log(4) ** 2), rel=1e-6
    )
    assert obj.riemannian_distance(A, A) == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- objectives
def _problem(prior, mu, active=None, n=12, lam=0.0, same=None, gaussian_prior=None):
    Ys = [_rand(n, 3, seed=7), _rand(n, 2, seed=8)]
    return _Problem(
        Y=Ys, y_sqnorm=[(y * y).sum(1) for y in Ys], d=[3.0, 2.0], prior=prior,
        gaussian_prior=prior is None if gaussian_prior is None else gaussian_prior, mu=mu,
        lam=lam, gamma_x=1.0, active=active, same=same, n=n,
    )


def test_prior_none_is_the_baseline_objective():
    X, th = _rand(12, 2, seed=9), torch.stack([_theta(5), _theta(6)])
    prob = _problem(None, mu=5.0)  # mu is ignored without harmonization
    base = sum(obj.nll_exact(th[c], X, prob.Y[c], prob.d[c]) for c in range(2)) + 0.5 * (X**2).sum()
    assert float(_objective(X, th, prob)) == pytest.approx(float(base), rel=1e-12)
    # a harmonized objective is the likelihoods plus mu * sum_c H_c, and no Gaussian prior
    prob = _problem("fro", mu=0.3)
    Sx = obj.latent_similarity(X, 1.0)
    harm = sum(obj.harmonization(obj.rbf_bias_white(th[c], X), Sx, "fro") for c in range(2))
    nll = sum(obj.nll_exact(th[c], X, prob.Y[c], prob.d[c]) for c in range(2))
    assert float(_objective(X, th, prob)) == pytest.approx(float(nll + 0.3 * harm), rel=1e-12)
    # keep_gaussian_prior: the harmonized objective plus the baseline's prior
    prob = _problem("fro", mu=0.3, gaussian_prior=True)
    kept = nll + 0.3 * harm + 0.5 * (X**2).sum()
    assert float(_objective(X, th, prob)) == pytest.approx(float(kept), rel=1e-12)
    assert set(prob.terms) == {"nll_0", "nll_1", "gaussian_prior", "harmonization_0", "harmonization_1"}


def test_kept_gaussian_prior_at_mu_zero_is_the_baseline(small):
    """With the baseline's prior kept, mu -> 0 gives the baseline back exactly,
    in training and in inference; without it, it does not."""
    X, y = small
    common = dict(model="simgp", n_components=3, n_active=20, max_iter=20, max_iter_transform=20, random_state=1)
    base = HarmonizedGPLVM(prior=None, **common).fit(X)
    kept = HarmonizedGPLVM(prior="trace", mu=0.0, keep_gaussian_prior=True, **common).fit(X)
    dropped = HarmonizedGPLVM(prior="trace", mu=0.0, **common).fit(X)
    assert base.gaussian_prior_ and kept.gaussian_prior_ and not dropped.gaussian_prior_
    np.testing.assert_array_equal(kept.latent_, base.latent_)
    np.testing.assert_array_equal(kept.transform(0, X.modality(0)), base.transform(0, X.modality(0)))
    assert not np.allclose(dropped.latent_, base.latent_)
    # with mu > 0 the kept prior and the harmonization both act
    harm = HarmonizedGPLVM(prior="trace", mu=1.0, keep_gaussian_prior=True, **common).fit(X)
    assert {"gaussian_prior", "harmonization_0"} <= set(harm.objective_terms_)
    assert not np.allclose(harm.latent_, base.latent_)


def test_sparse_objective_approaches_exact():
    n = 30
    X, th = 0.7 * _rand(n, 2, seed=10), torch.stack([_theta(7), _theta(8)])
    exact = float(_objective(X, th, _problem("trace", 0.5, n=n)))
    errors = []
    order = torch.as_tensor(np.random.RandomState(0).permutation(n))
    for m in (3, 10, n):
        active = torch.sort(order[:m]).values
        errors.append(abs(float(_objective(X, th, _problem("trace", 0.5, active=active, n=n))) - exact))
    assert errors[-1] < 1e-4 * abs(exact)
    assert errors[0] > errors[1] > errors[2]


def test_cholesky_fails_clearly():
    with pytest.raises(obj.CholeskyError, match="not positive definite"):
        obj.safe_cholesky(-torch.eye(3, dtype=T))
    # a merely semi-definite matrix is rescued by jitter
    v = torch.ones(4, 1, dtype=T)
    L = obj.safe_cholesky(v @ v.T)
    assert torch.isfinite(L).all()


# ------------------------------------------------------------------ estimator
def test_inference_recovers_training_latent_points(small):
    X, y = small
    model = HarmonizedGPLVM(model="gplvm", prior="trace", mu=0.1, n_components=2, n_active=None, max_iter=60,
                            max_iter_transform=200, weight_by_agreement=False, random_state=0).fit(X)
    rng = np.random.RandomState(0)
    idx = np.arange(0, 60, 6)
    target = model.latent_[idx]
    spread = model.latent_.std(0).mean()
    X0 = target + 0.3 * spread * rng.randn(*target.shape)
    # modality 1 pins the training latent points down on this small set (the MAP
    # from modality 0 alone lies elsewhere for some samples, a property of the model)
    Y, _ = model._observe(1, model._check_modality(1, X.modality(1)[idx])[1])
    recovered = model._infer(1, Y, X0)
    before = np.linalg.norm(X0 - target, axis=1).mean()
    after = np.linalg.norm(recovered - target, axis=1).mean()
    assert after < 0.5 * before
    # transform of the training samples stays near their own latent points
    Z = model.transform(1, X.modality(1))
    assert np.linalg.norm(Z - model.latent_, axis=1).mean() < 0.3 * spread * np.sqrt(2)


@pytest.mark.parametrize("model_name", ["gplvm", "simgp", "rsimgp"])
def test_three_modalities(model_name):
    X, y = make_multimodal_classification(
        n_samples=60, n_modalities=3, n_classes=3, n_features=[6, 5, 4], random_state=1
    )
    model = HarmonizedGPLVM(model=model_name, prior="fro", mu=0.01, lam=0.01, n_components=3,
                            n_active=20, max_iter=30, max_iter_transform=30, random_state=0)
    model.fit(X, y)
    emb = model.embed(X)
    assert len(emb.modalities()) == 3
    assert emb.modality(2).shape == (60, 3) and emb.modality(2).dtype == np.float32
    assert model.harmonization_distance().shape == (3,)
    assert len(model.kernel_params_) == 3
    assert model.score(X, y) > 0.5  # chance is ~0.35 with three classes


def test_determinism_and_joblib(small, tmp_path):
    X, y = small
    params = dict(model="simgp", prior="l21", mu=0.01, n_components=3, n_active=20,
                  max_iter=20, max_iter_transform=20, random_state=3)
    a = HarmonizedGPLVM(**params).fit(X)
    b = HarmonizedGPLVM(**params).fit(X)
    np.testing.assert_array_equal(a.latent_, b.latent_)
    np.testing.assert_array_equal(a.transform(0, X.modality(0)), b.transform(0, X.modality(0)))
    path = tmp_path / "gplvm.joblib"
    joblib.dump(a, path)
    c = joblib.load(path)
    np.testing.assert_array_equal(a.transform(1, X.modality(1)), c.transform(1, X.modality(1)))


def test_harmonization_reduces_riemannian_distance(small):
    X, _ = small
    common = dict(model="gplvm", n_components=3, n_active=None, max_iter=60, random_state=0)
    base = HarmonizedGPLVM(prior=None, **common).fit(X).harmonization_distance().sum()
    harm = HarmonizedGPLVM(prior="fro", mu=1.0, **common).fit(X).harmonization_distance().sum()
    assert harm < base


def test_parameter_and_label_errors(small):
    X, y = small
    with pytest.raises(ValueError, match="needs labels"):
        HarmonizedGPLVM(model="rsimgp").fit(X)
    # every parameter is checked before the data (scikit-learn's InvalidParameterError names it)
    for bad in (dict(model="pca"), dict(prior="kl"), dict(mu=-1.0), dict(lam=-1.0), dict(n_components=0),
                dict(n_active=1), dict(init="random"), dict(gamma_x=0), dict(gamma=-1.0),
                dict(max_iter=0), dict(max_iter_transform=-1), dict(neighbour_fraction=1.5),
                dict(keep_gaussian_prior="yes"), dict(standardize="yes")):
        name = next(iter(bad))
        with pytest.raises(ValueError, match=f"'{name}' parameter"):
            HarmonizedGPLVM(**bad).fit(X, y)
    # detailed and data-dependent checks
    with pytest.raises(ValueError, match="'gamma' parameter"):
        HarmonizedGPLVM(gamma=[1.0, -2.0]).fit(X, y)
    with pytest.raises(ValueError, match="gamma has 3 values"):
        HarmonizedGPLVM(model="simgp", gamma=[1.0, 2.0, 3.0], max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="n_components=60 must be smaller"):
        HarmonizedGPLVM(n_components=60, max_iter=2).fit(X, y)
    est = HarmonizedGPLVM(mu=0.5)
    assert clone(est).get_params()["mu"] == 0.5


def test_sparse_input_is_refused_clearly(small):
    import scipy.sparse as sp

    X, _ = small
    with pytest.raises(TypeError, match="scipy.sparse matrix.*toarray"):
        HarmonizedGPLVM(max_iter=2).fit([sp.csr_matrix(X.modality(0)), X.modality(1)])


def test_paper_params():
    params = HarmonizedGPLVM.paper_params()
    est = HarmonizedGPLVM(**params)
    assert est.get_params()["mu"] == 0.1 and est.get_params()["prior"] == "trace"
    est._validate_params()


def test_standardisation_by_the_base(small):
    """Inputs are standardised per feature once, by the base: a modality scaled by 1e6
    and offset by 1e8 gives the same model."""
    X, _ = small
    common = dict(n_components=2, n_active=20, max_iter=15, max_iter_transform=15, random_state=0)
    a = HarmonizedGPLVM(**common).fit(X)
    A = [X.modality(0) * 1e6 + 1e8, X.modality(1)]
    b = HarmonizedGPLVM(**common).fit(A)
    np.testing.assert_allclose(b.latent_, a.latent_, atol=1e-5)
    np.testing.assert_allclose(b.transform(0, A[0]), a.transform(0, X.modality(0)), atol=1e-4)
    assert b.feature_mean_[0].shape == (8,) and b.feature_scale_[0].shape == (8,)
    raw = HarmonizedGPLVM(standardize=False, **common).fit(X)
    assert raw.feature_scale_ == [None, None]


def test_interrupt_keeps_the_best_parameters(small, monkeypatch):
    from skcross import _gplvm

    X, _ = small
    calls = {"n": 0}
    real = _gplvm._objective

    def interrupted(Xl, th, prob):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real(Xl, th, prob)

    monkeypatch.setattr(_gplvm, "_objective", interrupted)
    with pytest.warns(UserWarning, match="interrupted"):
        model = HarmonizedGPLVM(n_components=2, n_active=10, max_iter=20, random_state=0).fit(X)
    assert model.n_iter_ < 20 and np.isfinite(model.objective_)
    assert model.transform(0, X.modality(0)).shape == (60, 2)


def test_grid_search_over_mu(small):
    X, y = small
    search = GridSearchCV(
        HarmonizedGPLVM(model="gplvm", prior="trace", n_components=3, n_active=15, max_iter=15,
                        max_iter_transform=15, random_state=0),
        {"mu": [0.01, 1.0]},
        scoring=make_map_scorer(mean=True),
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
    )
    search.fit(X, y)
    assert search.best_params_["mu"] in (0.01, 1.0)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


@pytest.mark.slow
def test_digits_halves_beat_cca(digit_halves_split, cca_digits_map):
    """Default parameters, unsupervised fit(X_train), beat CCA (bench_defaults scores by cosine)."""
    Xtr, Xte, ytr, yte = digit_halves_split
    model = HarmonizedGPLVM(random_state=0).fit(Xtr)
    a, b = model.transform(0, Xte.modality(0)), model.transform(1, Xte.modality(1))
    for metric in ("cosine", "euclidean"):
        ours = 0.5 * (mean_average_precision(a, b, yte, yte, metric=metric)
                      + mean_average_precision(b, a, yte, yte, metric=metric))
        assert ours > cca_digits_map + 0.05, metric


def test_sparse_semantic_prior_with_every_point_active():
    X = _rand(10, 2, seed=11)
    labels = np.array([0, 1, 2] * 3 + [0])
    same = torch.as_tensor((labels[:, None] == labels[None, :]).astype(float), dtype=T)
    full = obj.semantic_prior(X, same)
    assert float(obj.semantic_prior(X, same, torch.arange(10))) == pytest.approx(float(full), rel=1e-12)


def test_non_finite_objective_stops_training(small, monkeypatch):
    from skcross import _gplvm
    from skcross.exceptions import TrainingDivergedError

    X, _ = small
    monkeypatch.setattr(_gplvm, "_objective", lambda X, th, prob: (X * float("nan")).sum())
    with pytest.raises(TrainingDivergedError, match="epoch 0"):
        HarmonizedGPLVM(n_components=2, n_active=10, max_iter=5).fit(X)


@pytest.mark.parametrize("failure", ["cholesky", "nan"])
def test_failed_trial_point_makes_the_line_search_step_back(small, monkeypatch, failure):
    from skcross import _gplvm

    X, _ = small
    calls = {"n": 0}
    real = _gplvm._objective

    def flaky(Xl, th, prob):
        calls["n"] += 1
        if calls["n"] == 3:  # a trial point of the first line search
            if failure == "cholesky":
                raise obj.CholeskyError("overflowing kernel parameters")
            return (Xl * float("nan")).sum()
        return real(Xl, th, prob)

    monkeypatch.setattr(_gplvm, "_objective", flaky)
    model = HarmonizedGPLVM(n_components=2, n_active=10, max_iter=10, random_state=0).fit(X)
    assert calls["n"] > 3 and model.n_iter_ > 1 and np.isfinite(model.objective_)
    # a model that cannot even be evaluated at its start still fails clearly
    monkeypatch.setattr(_gplvm, "_objective", lambda *a: (_ for _ in ()).throw(obj.CholeskyError("bad")))
    with pytest.raises(obj.CholeskyError):
        HarmonizedGPLVM(n_components=2, n_active=10, max_iter=5).fit(X)


@pytest.mark.parametrize("model_name", ["simgp", "rsimgp"])
def test_similarity_to_active_is_n_by_m(small, model_name):
    X, y = small
    common = dict(model=model_name, prior="trace", mu=0.1, n_components=3, n_active=15,
                  max_iter=30, max_iter_transform=30, random_state=0)
    model = HarmonizedGPLVM(similarity_to="active", **common).fit(X, y)
    np.testing.assert_array_equal(model.similarity_columns_, model.active_indices_)
    assert all(o.shape == (60, 15) for o in model.observations_)
    assert model.n_observed_ == [15, 15]
    Z = model.transform(0, X.modality(0)[:7])
    assert Z.shape == (7, 3) and np.isfinite(Z).all()
    assert model.score(X, y) > 0.45  # chance is ~0.35 with three classes
    full = HarmonizedGPLVM(**common).fit(X, y)
    assert full.similarity_columns_ is None and full.observations_[0].shape[0] == 60
    assert not np.allclose(full.latent_, model.latent_)


def test_similarity_to_active_without_sparsity_is_the_full_model(small):
    X, y = small
    common = dict(model="simgp", prior="fro", mu=0.01, n_components=2, n_active=None,
                  max_iter=15, max_iter_transform=10, random_state=0)
    a = HarmonizedGPLVM(similarity_to="active", **common).fit(X)
    b = HarmonizedGPLVM(similarity_to="all", **common).fit(X)
    assert a.similarity_columns_ is None
    np.testing.assert_array_equal(a.latent_, b.latent_)
    with pytest.raises(ValueError, match="'similarity_to' parameter"):
        HarmonizedGPLVM(similarity_to="some", **common).fit(X)


def test_neighbour_fraction_sparsifies_similarities(small):
    X, y = small
    common = dict(model="simgp", prior="trace", mu=0.1, n_components=3, n_active=15,
                  max_iter=15, max_iter_transform=15, random_state=0)
    dense = HarmonizedGPLVM(**common).fit(X)
    assert dense.neighbour_thresholds_ is None
    # keeping every pair is the dense model of Eq. 5
    everything = HarmonizedGPLVM(neighbour_fraction=1.0, **common).fit(X)
    np.testing.assert_array_equal(everything.latent_, dense.latent_)
    np.testing.assert_array_equal(everything.transform(1, X.modality(1)), dense.transform(1, X.modality(1)))

    model = HarmonizedGPLVM(neighbour_fraction=0.15, **common).fit(X)
    F = [model.train_features_[c] for c in range(2)]
    S = [model._similarities(c, F[c]) for c in range(2)]
    own = [S[c] >= model.neighbour_thresholds_[c] for c in range(2)]
    for c in range(2):
        # each modality's threshold keeps its top 15% of training pairs
        assert own[c].mean() == pytest.approx(0.15, abs=0.02)
    union = own[0] | own[1]
    assert 0.15 < union.mean() < 0.3
    # a training observation is its masked S^c (union of both modalities' neighbourhoods),
    # centred and scaled: the factor reproduces it
    c = 0
    expected = (S[c] * union - model.similarity_mean_[c]) / model.similarity_scale_[c]
    Z = model.observations_[c]
    np.testing.assert_allclose(Z @ Z.T, expected @ expected.T, atol=1e-3 * np.abs(expected @ expected.T).max())
    # a new sample only has its own modality: its own neighbourhood masks it
    Xa = X.modality(0)[:5]
    Fa = model._check_modality(0, Xa)[1]
    Y_own, _ = model._observe(0, Fa)
    Y_paired, _ = model._observe(0, Fa, neighbours=model._neighbours(1, model._check_modality(1, X.modality(1)[:5])[1]))
    assert not np.allclose(Y_own, Y_paired)
    assert not np.allclose(model.latent_, dense.latent_)
    with pytest.raises(ValueError, match="'neighbour_fraction' parameter"):
        HarmonizedGPLVM(neighbour_fraction=0.0, **common).fit(X)


def test_auto_choices_on_held_out_pairs():
    """n_components="auto" and max_iter="auto" are chosen together on held-out
    training pairs, then refitted on all pairs; explicit values are used as given."""
    X, _ = make_multimodal_classification(
        n_samples=80, n_modalities=2, n_classes=3, n_features=[8, 6], random_state=0
    )
    common = dict(n_active=15, max_iter_transform=10, random_state=0)
    model = HarmonizedGPLVM(**common).fit(X)
    scores = model.validation_scores_
    assert set(scores) == {(q, k) for q in (5, 10) for k in (10, 25, 50, 100, 200)}
    best = max(scores, key=lambda qk: (scores[qk], -qk[0], -qk[1]))
    assert (model.n_components_, model.max_iter_) == best
    assert model.latent_.shape == (80, best[0]) and model.n_iter_ <= best[1]
    # the refit is the fixed-setting model
    fixed = HarmonizedGPLVM(n_components=best[0], max_iter=best[1], **common).fit(X)
    assert fixed.validation_scores_ is None
    np.testing.assert_allclose(model.latent_, fixed.latent_)
    # one of the two "auto": only it is chosen
    part = HarmonizedGPLVM(n_components=3, **common).fit(X)
    assert {q for q, _ in part.validation_scores_} == {3} and part.n_components_ == 3
    with pytest.raises(ValueError, match="max_iter"):
        HarmonizedGPLVM(max_iter="many").fit(X)


def test_optimiser_runs_with_numpy_blas_on_one_thread(small, monkeypatch, numpy_blas_threads):
    """scipy's L-BFGS-B runs with numpy's and scipy's BLAS on one thread, whatever
    the caller's setting (their spinning threads halved the speed of the torch
    objective: benchmarks/bench_threads.py); the setting is restored after fit."""
    from threadpoolctl import threadpool_limits

    import skcross._gplvm as gplvm_module

    seen = []

    def recording_minimize(*args, **kwargs):
        seen.append(set(numpy_blas_threads()))
        return real_minimize(*args, **kwargs)

    real_minimize = gplvm_module.minimize
    monkeypatch.setattr(gplvm_module, "minimize", recording_minimize)
    X, _ = small
    with threadpool_limits(limits=2, user_api="blas"):
        outside = numpy_blas_threads()
        HarmonizedGPLVM(n_components=3, n_active=15, max_iter=5, max_iter_transform=5, random_state=0).fit(X)
        assert numpy_blas_threads() == outside
    assert seen and all(threads == {1} for threads in seen)


def test_fit_returns_the_iterates_the_auto_selection_scores(small):
    """The auto selection scores every iteration count from one run's iterates,
    returned by the fit itself: nothing is left on the estimator."""
    X, _ = small
    common = dict(n_components=3, n_active=15, max_iter_transform=5, weight_by_agreement=False, random_state=0)
    model = HarmonizedGPLVM(max_iter=20, **common).fit(X)
    final = np.concatenate([model.latent_.ravel(), model.log_kernel_params_.ravel()])
    iterates = model._fit_latent(model.train_features_, None, 3, 20, checkpoints=(5, 500))
    assert set(iterates) == {5, 500}
    np.testing.assert_array_equal(iterates[500], final)  # not reached: the final model
    assert model._fit_latent(model.train_features_, None, 3, 20) == {}
    # the iterate after 5 iterations is the model trained for 5
    five = HarmonizedGPLVM(max_iter=5, **common).fit(X)
    model._set_parameters(iterates[5], 60, 3)
    np.testing.assert_allclose(model.latent_, five.latent_)
    np.testing.assert_allclose(model.transform(0, X.modality(0)), five.transform(0, X.modality(0)), rtol=1e-6)
    auto = HarmonizedGPLVM(n_active=15, max_iter_transform=5, random_state=0).fit(X)
    assert not any("checkpoint" in name for name in vars(auto))


def test_transform_chunks_bounded_by_memory_give_the_same_embeddings(small, monkeypatch):
    """transform sizes its chunks so the chunk x N distance block stays under a byte
    budget; samples are independent problems, so any chunk size gives the same rows."""
    import skcross._gplvm as gplvm_module

    X, y = small
    model = HarmonizedGPLVM(n_components=3, max_iter=5, max_iter_transform=5, random_state=0).fit(X, y)
    full = model.transform(1, X.modality(1))
    # a budget of 7 rows of distances to the 60 training samples
    monkeypatch.setattr(gplvm_module, "_TRANSFORM_BLOCK_BYTES", 7 * 8 * 60)
    np.testing.assert_allclose(model.transform(1, X.modality(1)), full, rtol=1e-4, atol=1e-5)


def test_weight_by_agreement_scales_the_latent_dimensions(small, monkeypatch):
    """The default read-out scales each latent dimension by the modalities'
    agreement on the training pairs; set_params switches it after fit, and the
    paper's read-out is the latent point itself."""
    from sklearn.exceptions import ConvergenceWarning

    from skcross import base

    X, y = small
    assert HarmonizedGPLVM().weight_by_agreement is True
    assert HarmonizedGPLVM.paper_params()["weight_by_agreement"] is False
    model = HarmonizedGPLVM(n_components=3, n_active=20, max_iter=20, random_state=0).fit(X)
    w = model.dimension_weights_
    assert w.shape == (3,) and np.all((w >= 0) & (w <= 1)) and w.max() > 0.3
    raw = [model._transform(c, model._check_modality(c, X.modality(c))[1]) for c in range(2)]
    # the weights are the agreement of the modalities' own inferences of the training pairs
    np.testing.assert_allclose(w, np.clip([np.corrcoef(raw[0][:, d], raw[1][:, d])[0, 1] for d in range(3)], 0, None),
                               atol=1e-5)
    for c in range(2):
        np.testing.assert_allclose(model.transform(c, X.modality(c)), raw[c] * w.astype(np.float32), rtol=1e-6)
        np.testing.assert_allclose(model.set_params(weight_by_agreement=False).transform(c, X.modality(c)), raw[c])
        model.set_params(weight_by_agreement=True)
    # beyond _AGREEMENT_MAX_ROWS training pairs, a seeded random subset of them estimates the weights
    monkeypatch.setattr(base, "_AGREEMENT_MAX_ROWS", 20)
    capped = [HarmonizedGPLVM(n_components=3, n_active=20, max_iter=20, random_state=0).fit(X) for _ in range(2)]
    np.testing.assert_array_equal(capped[0].dimension_weights_, capped[1].dimension_weights_)
    np.testing.assert_allclose(capped[0].latent_, model.latent_)
    assert not np.allclose(capped[0].dimension_weights_, w)
    # modalities that agree on nothing: a warning, and the dimensions left unweighted
    monkeypatch.setattr(base, "agreement_weights", lambda embeddings: np.zeros(3))
    with pytest.warns(ConvergenceWarning, match="HarmonizedGPLVM: .*uncorrelated in every dimension"):
        model = HarmonizedGPLVM(n_components=3, n_active=20, max_iter=20, random_state=0).fit(X)
    np.testing.assert_array_equal(model.dimension_weights_, np.ones(3))
