"""Tests of CrossModalVAE (cross-modal variational alignment of latent spaces)."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone

from skcross import MultiModal
from skcross._vae import (
    CrossModalVAE,
    _CrossModalVAEModule,
    _reparameterize,
    gaussian_kl,
)
from skcross.datasets import make_multimodal_classification
from skcross.metrics import mean_average_precision

QUICK = dict(CrossModalVAE._quick_test_params)


def _numpy_kl(mu_q, logvar_q, mu_p, logvar_p):
    var_q, var_p = np.exp(logvar_q), np.exp(logvar_p)
    return 0.5 * np.sum(
        np.log(var_p / var_q) + (var_q + (mu_q - mu_p) ** 2) / var_p - 1.0, axis=-1
    )


@pytest.fixture(scope="module")
def pair():
    X, y = make_multimodal_classification(
        n_samples=100, n_modalities=2, n_classes=3, n_features=[8, 6], random_state=0
    )
    return X, y


@pytest.fixture(scope="module")
def fitted(pair):
    X, y = pair
    return CrossModalVAE(**QUICK).fit(X, y)


# ------------------------------------------------------------------ the KL
def test_gaussian_kl_matches_closed_form():
    rng = np.random.RandomState(0)
    mu_q, mu_p = rng.randn(2, 5, 7)
    logvar_q, logvar_p = rng.randn(2, 5, 7)
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    got = gaussian_kl(t(mu_q), t(logvar_q), t(mu_p), t(logvar_p)).numpy()
    np.testing.assert_allclose(got, _numpy_kl(mu_q, logvar_q, mu_p, logvar_p), rtol=1e-10)
    # the prior form is the general one with p = N(0, I)
    prior = gaussian_kl(t(mu_q), t(logvar_q)).numpy()
    zeros = np.zeros_like(mu_q)
    np.testing.assert_allclose(prior, _numpy_kl(mu_q, logvar_q, zeros, zeros), rtol=1e-10)
    assert got.shape == (5,) and np.all(got > 0)
    # KL(q || q) = 0, and the divergence is not symmetric
    assert np.allclose(gaussian_kl(t(mu_q), t(logvar_q), t(mu_q), t(logvar_q)).numpy(), 0)
    back = gaussian_kl(t(mu_p), t(logvar_p), t(mu_q), t(logvar_q)).numpy()
    assert not np.allclose(got, back)


def test_gaussian_kl_needs_both_prior_parameters():
    with pytest.raises(ValueError, match="both"):
        gaussian_kl(torch.zeros(2), torch.zeros(2), torch.zeros(2))


# ------------------------------------------------------ reparameterisation
def test_reparameterisation_gradient_is_pathwise():
    mu = torch.zeros(4, 3, requires_grad=True)
    logvar = torch.full((4, 3), 0.5, requires_grad=True)
    torch.manual_seed(0)
    z = _reparameterize(mu, logvar)
    torch.manual_seed(0)
    eps = torch.randn(4, 3)
    z.sum().backward()
    np.testing.assert_allclose(mu.grad.numpy(), 1.0)
    np.testing.assert_allclose(
        logvar.grad.numpy(), (0.5 * eps * torch.exp(0.5 * logvar.detach())).numpy(), rtol=1e-6
    )


@pytest.mark.parametrize("alignment", [True, False])
def test_reconstruction_gradients_reach_encoders(alignment):
    torch.manual_seed(0)
    m = _CrossModalVAEModule(
        n_features=[5, 4],
        likelihoods=["gaussian", "bernoulli"],
        target=1,
        n_components=3,
        hidden=[8],
        translation_hidden=[6],
        alignment=alignment,
    )
    x0, x1 = torch.randn(16, 5), torch.rand(16, 4)
    out = m(x0=x0, x1=x1)
    # Only the decoders' likelihoods: any gradient at the encoders' variance
    # heads must have come through the sampled latents.
    src = out["sources"][0]
    loss = m.target_decoder.nll(out["target_out"], x1).sum()
    loss = loss + m.cross_decoders["0"].nll(src["cross_out"], x1).sum()
    if alignment:
        loss = loss + m.target_decoder.nll(src["aligned_out"], x1).sum()
    loss.backward()
    for encoder in (m.target_encoder, m.source_encoders["0"]):
        grad = encoder.head.weight.grad
        assert grad is not None
        assert grad[3:].abs().sum() > 0  # the log-variance rows
        assert grad[:3].abs().sum() > 0  # the mean rows
    if alignment:
        assert m.translators["0"].head.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------- the API
def test_shapes_both_directions(pair, fitted):
    X, _ = pair
    k = QUICK["n_components"]
    # the default joins both modalities' latent spaces: n_components per target
    assert fitted.target_indices_ == (0, 1)
    assert fitted.transform(0, X.modality(0)).shape == (100, 2 * k)
    emb = fitted.transform(1, X.modality(1))
    assert emb.shape == (100, 2 * k) and emb.dtype == np.float32
    assert fitted.get_feature_names_out().shape == (2 * k,)
    gen = fitted.predict_modality(1, 0, X.modality(0))
    assert gen.shape == (100, 6) and gen.dtype == np.float32
    assert fitted.predict_modality(0, 1, X.modality(1)).shape == (100, 8)  # every target generates
    one = CrossModalVAE(**{**QUICK, "target": 1}).fit(X)
    assert one.target_indices_ == (1,) and one.transform(0, X.modality(0)).shape == (100, k)
    # the other direction needs a model of the other target
    with pytest.raises(ValueError, match="target='0'"):
        one.predict_modality(0, 1, X.modality(1))
    back = CrossModalVAE(**{**QUICK, "target": 0}).fit(X)
    assert back.target_index_ == 0
    assert back.predict_modality("0", "1", X.modality(1)).shape == (100, 8)
    assert back.transform(1, X.modality(1)).shape == (100, k)
    with pytest.raises(ValueError, match="different"):
        fitted.predict_modality(1, 1, X.modality(1))
    with pytest.raises(ValueError, match="n_samples"):
        fitted.predict_modality(1, 0, X.modality(0), n_samples=0)
    with pytest.raises(ValueError, match="features"):
        fitted.predict_modality(1, 0, X.modality(1))


def test_predictions_on_input_scale(pair, fitted):
    X, _ = pair
    gen = fitted.predict_modality(1, 0, X.modality(0))
    # Gaussian targets are standardised internally and mapped back
    assert fitted.likelihoods_ == ["gaussian", "gaussian"]
    target = X.modality(1)
    assert np.abs(gen.mean(axis=0) - target.mean(axis=0)).max() < 0.5 * target.std()


def test_sampled_generation_averages_draws(pair, fitted):
    X, _ = pair
    x = X.modality(0)[:10]
    one = fitted.predict_modality(1, 0, x)
    many = fitted.predict_modality(1, 0, x, n_samples=5)
    assert not np.allclose(one, many)
    np.testing.assert_array_equal(many, fitted.predict_modality(1, 0, x, n_samples=5))


def test_alignment_false_ablation(pair, fitted):
    X, y = pair
    ablation = CrossModalVAE(**{**QUICK, "alignment": False}).fit(X, y)
    assert not hasattr(ablation.net_.module_, "translators")
    assert hasattr(fitted.net_.module_, "translators")
    a = ablation.transform(0, X.modality(0))
    assert a.shape == (100, 2 * QUICK["n_components"]) and np.all(np.isfinite(a))
    # without alignment the generation is the cross-modal decoder's (of the model whose target is 1)
    m = ablation.nets_[ablation.target_indices_.index(1)].module_
    with torch.no_grad():
        x0 = torch.as_tensor(ablation._standardize(0, X.modality(0)))
        direct = m.cross_decoders["0"](m.source_encoders["0"](x0)[0]).numpy()
    direct = ablation._unstandardize(1, direct)
    generated = ablation.predict_modality(1, 0, X.modality(0))
    np.testing.assert_allclose(generated, direct, rtol=1e-5, atol=1e-5)
    assert not np.allclose(a, fitted.transform(0, X.modality(0)))
    assert 0.0 <= ablation.score(X, y) <= 1.0


def test_determinism(pair):
    X, y = pair
    a = CrossModalVAE(**QUICK).fit(X, y)
    b = CrossModalVAE(**QUICK).fit(X, y)
    c = CrossModalVAE(**{**QUICK, "random_state": 1}).fit(X, y)
    for mod in (0, 1):
        x = X.modality(mod)
        np.testing.assert_array_equal(a.transform(mod, x), b.transform(mod, x))
    np.testing.assert_array_equal(
        a.predict_modality(1, 0, X.modality(0), n_samples=3),
        b.predict_modality(1, 0, X.modality(0), n_samples=3),
    )
    assert not np.allclose(a.transform(0, X.modality(0)), c.transform(0, X.modality(0)))
    # fitting does not touch the caller's global torch RNG
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CrossModalVAE(**QUICK).fit(X)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())


def test_joblib_round_trip(pair, fitted, tmp_path):
    X, y = pair
    path = tmp_path / "vae.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    for mod in (0, 1):
        x = X.modality(mod)
        np.testing.assert_array_equal(loaded.transform(mod, x), fitted.transform(mod, x))
    np.testing.assert_array_equal(
        loaded.predict_modality(1, 0, X.modality(0), n_samples=2),
        fitted.predict_modality(1, 0, X.modality(0), n_samples=2),
    )
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    assert loaded.score(X, y) == fitted.score(X, y)


def test_three_modalities_share_the_target_space():
    X, y = make_multimodal_classification(
        n_samples=90, n_modalities=3, n_classes=3, n_features=[7, 5, 6], random_state=1
    )
    X = MultiModal(X.modalities(), names=["a", "b", "c"])
    model = CrossModalVAE(**{**QUICK, "target": "b"}).fit(X, y)
    assert model.target_index_ == 1
    assert sorted(model.net_.module_.translators.keys()) == ["0", "2"]
    for name in ("a", "b", "c"):
        assert model.transform(name, X.modality(name)).shape == (90, QUICK["n_components"])
    for source in ("a", "c"):
        assert model.predict_modality("b", source, X.modality(source)).shape == (90, 5)
    assert 0.0 <= model.score(X, y) <= 1.0


# ------------------------------------------------------ options and errors
def test_likelihood_auto_rule_and_overrides(pair):
    X, _ = pair
    unit = MultiModal([np.clip(X.modality(0), 0, 1), X.modality(1)])
    model = CrossModalVAE(**QUICK).fit(unit)
    assert model.likelihoods_ == ["bernoulli", "gaussian"]
    assert model.feature_scale_[0] is None  # kept in [0, 1]
    assert not np.allclose(model.feature_scale_[1], 1.0)  # Gaussian: standardised
    back = CrossModalVAE(**{**QUICK, "target": 0}).fit(unit)
    gen = back.predict_modality(0, 1, X.modality(1))
    assert gen.min() >= 0 and gen.max() <= 1  # Bernoulli means are probabilities
    forced = CrossModalVAE(**{**QUICK, "likelihood": {"0": "gaussian"}}).fit(unit)
    assert forced.likelihoods_ == ["gaussian", "gaussian"]
    with pytest.raises(ValueError, match="outside"):
        CrossModalVAE(**{**QUICK, "likelihood": "bernoulli"}).fit(X)
    with pytest.raises(ValueError, match="poisson"):
        CrossModalVAE(**{**QUICK, "likelihood": ["poisson", "auto"]}).fit(X)
    with pytest.raises(ValueError, match="entries"):
        CrossModalVAE(**{**QUICK, "likelihood": ["auto"]}).fit(X)


def test_kl_warmup_schedule(pair):
    X, _ = pair
    model = CrossModalVAE(**{**QUICK, "kl_warmup": 4, "beta": 2.0, "max_epochs": 2}).fit(X)
    net = model.net_
    assert net._beta(training=False) == 2.0  # validation always uses the full beta
    assert net._beta(training=True) == pytest.approx(2.0 * 2 / 4)  # epoch 2 of 4
    plain = CrossModalVAE(**QUICK).fit(X)  # no warm-up: the full beta from the start
    assert plain.net_._beta(training=True) == plain.beta


def test_early_stopping_keeps_the_best_validation_epoch(pair):
    X, y = pair
    model = CrossModalVAE(**{**QUICK, "early_stopping": True, "validation_folds": 1, "max_epochs": 30,
                             "n_iter_no_change": 3}).fit(X, y)
    scores = model.net_.history[:, "valid_score"]
    assert 1 <= model.best_epoch_ <= model.n_iter_ <= 30
    assert scores[model.best_epoch_ - 1] == max(scores)
    assert model.n_iter_ - model.best_epoch_ <= 3
    assert len(model.validation_indices_) == 10  # 10% of 100 pairs, stratified by y
    assert np.bincount(y[model.validation_indices_]).min() >= 3
    assert model.net_.train_split is None  # no validation data kept in the model
    without = CrossModalVAE(**{**QUICK, "max_epochs": 4}).fit(X)
    assert without.best_epoch_ == without.n_iter_ == 4
    assert "valid_score" not in without.net_.history[-1]
    assert len(without.validation_indices_) == 0


def test_validation_score_is_minus_the_deterministic_objective(pair):
    """The early-stopping score is minus the objective of the held-out pairs, and
    the same weights always get the same score (the draws are seeded)."""
    from skcross._vae import _validation_objective

    X, y = pair
    model = CrossModalVAE(**{**QUICK, "early_stopping": True, "validation_folds": 1, "max_epochs": 2}).fit(X, y)
    rows = model.validation_indices_
    held = {f"x{c}": torch.as_tensor(model._standardize(c, X.modality(c)[rows])) for c in range(2)}
    score = _validation_objective(held, seed=5)
    model.net_.module_.eval()
    with torch.no_grad():
        first, second = score(model.net_), score(model.net_)
        other = _validation_objective(held, seed=6)(model.net_)
        torch.manual_seed(5)
        by_hand = -float(model.net_.get_loss(model.net_.module_(**held), None, training=False))
    assert first == second and np.isfinite(first) and first != other
    assert first == pytest.approx(by_hand, rel=1e-5)


def test_validation_score_auto_watches_class_map_with_labels_pair_retrieval_without(pair):
    """validation_score="auto": with y, early stopping watches the held-out
    pairs' cross-modal class mAP (the score SDML and DSCMR watch); without y,
    the label-free pair-retrieval score. Both are recomputed by hand from the
    kept net on the held-out rows."""
    from skcross._neural import paired_retrieval_score
    from skcross._vae import _embed_modality
    from skcross.metrics import cross_modal_map

    X, y = pair
    params = {**QUICK, "early_stopping": True, "validation_folds": 1, "max_epochs": 6, "n_iter_no_change": 6,
              "target": 1}

    def held_out_embeddings(model):
        rows = model.validation_indices_
        module = model.net_.module_.eval()
        with torch.no_grad():
            return rows, [
                _embed_modality(module, c, torch.as_tensor(model._standardize(c, X.modality(c)[rows])))
                for c in range(2)
            ]

    labelled = CrossModalVAE(**params).fit(X, y)
    rows, emb = held_out_embeddings(labelled)
    best = labelled.net_.history[labelled.best_epoch_ - 1, "valid_score"]
    by_hand = np.mean(list(cross_modal_map([e.numpy() for e in emb], [y[rows]] * 2).values()))
    assert best == pytest.approx(by_hand, abs=1e-5)
    unlabelled = CrossModalVAE(**params).fit(X)
    _, emb = held_out_embeddings(unlabelled)
    best = unlabelled.net_.history[unlabelled.best_epoch_ - 1, "valid_score"]
    assert best == pytest.approx(paired_retrieval_score(emb), abs=1e-5)
    # naming the score: the same as "auto" with labels; "map" needs them
    named = CrossModalVAE(**{**params, "validation_score": "map"}).fit(X, y)
    np.testing.assert_array_equal(named.net_.history[:, "valid_score"], labelled.net_.history[:, "valid_score"])
    with pytest.raises(ValueError, match="validation_score='map' needs labels"):
        CrossModalVAE(**{**params, "validation_score": "map"}).fit(X)
    # validation_folds="auto" on 100 pairs: three folds and a refit with the
    # class mAP (no hold-out rows left), one hold-out split with the pair score
    folds = CrossModalVAE(**{**params, "validation_folds": "auto"}).fit(X, y)
    assert folds.validation_score_ == "map" and len(folds.validation_indices_) == 0
    assert folds.n_iter_ == folds.best_epoch_  # the refit runs the chosen number of epochs
    split = CrossModalVAE(**{**params, "validation_folds": "auto"}).fit(X)
    assert split.validation_score_ == "retrieval" and len(split.validation_indices_) == 10


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "n_components"),
        ({"beta": -1.0}, "beta"),
        ({"hidden_layer_sizes": ()}, "hidden_layer_sizes"),
        ({"validation_fraction": 1.5}, "validation_fraction"),
        ({"validation_fraction": None}, "validation_fraction"),
        ({"target": "nope"}, "nope"),
        ({"target": 1.5}, "target"),
        ({"kl_warmup": -1}, "kl_warmup"),
        ({"alignment": "yes"}, "alignment"),
        ({"align_target": 1.0}, "align_target"),
        ({"alpha": -0.5}, "alpha"),
        ({"likelihood": 3}, "likelihood"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"translation_hidden_sizes": (0,)}, "translation_hidden_sizes"),
        ({"early_stopping": "no"}, "early_stopping"),
        ({"n_iter_no_change": 0}, "n_iter_no_change"),
        ({"standardize": 2}, "standardize"),
        ({"lr": 0.0}, "lr"),
        ({"validation_score": "labels"}, "validation_score"),
    ],
)
def test_invalid_parameters(pair, params, match):
    X, _ = pair
    with pytest.raises((ValueError, TypeError), match=match):
        CrossModalVAE(**{**QUICK, **params}).fit(X)


def test_clone_and_params():
    model = CrossModalVAE(n_components=3, beta=0.5)
    params = clone(model).get_params()
    assert params["n_components"] == 3 and params["beta"] == 0.5
    assert all(not name.endswith("_") for name in params)


def test_verbose_zero_is_silent(pair, capsys):
    X, _ = pair
    CrossModalVAE(**QUICK).fit(X)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# ------------------------------------------------------------ real data
@pytest.mark.slow
def test_digits_halves_beats_cca(digit_halves_split, cca_digits_map):
    """Default parameters, unsupervised fit: better retrieval than CCA, and a
    better generation than predicting the mean half."""
    Xtr, Xte, ytr, yte = digit_halves_split
    model = CrossModalVAE(random_state=0).fit(Xtr)
    assert model.best_epoch_ < model.max_epochs  # early stopping ended training
    left, right = model.transform(0, Xte.modality(0)), model.transform(1, Xte.modality(1))
    vae_map = 0.5 * (
        mean_average_precision(left, right, yte, yte)
        + mean_average_precision(right, left, yte, yte)
    )
    assert vae_map > cca_digits_map + 0.05
    # target="auto" chose which half the model generates
    t = model.target_index_
    gen = model.predict_modality(t, 1 - t, Xte.modality(1 - t))
    mse = ((gen - Xte.modality(t)) ** 2).mean()
    baseline = ((Xtr.modality(t).mean(axis=0) - Xte.modality(t)) ** 2).mean()
    assert mse < 0.75 * baseline


@pytest.mark.slow
def test_alignment_beats_its_ablation_on_generation(digit_halves_split):
    """The paper's claim at default settings: generating the right half from the
    left through the aligned latent beats the cross-modal VAE alone (issue 15).
    The right half is the modality to generate, so it is the target (a user who
    generates names the target; "auto" picks it for retrieval)."""
    Xtr, Xte, _, _ = digit_halves_split
    errors = {}
    for alignment in (True, False):
        model = CrossModalVAE(alignment=alignment, target=1, random_state=0).fit(Xtr)
        gen = model.predict_modality(1, 0, Xte.modality(0))
        errors[alignment] = float(((gen - Xte.modality(1)) ** 2).mean())
    assert errors[True] < errors[False]


def test_verbose_prints_the_epoch_table(pair, capsys):
    X, _ = pair
    CrossModalVAE(**{**QUICK, "verbose": 1, "max_epochs": 2, "early_stopping": True}).fit(X)
    assert "valid_score" in capsys.readouterr().out


def test_divergence_names_the_epoch(pair):
    from skcross.exceptions import TrainingDivergedError

    X, _ = pair
    # Adam's steps are about lr in size whatever the gradient: the weights blow up.
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        CrossModalVAE(**{**QUICK, "lr": 1e30}).fit(X)


def test_best_target_keeps_the_best_held_out_candidate():
    """target="best" trains one model per modality on the same held-out split
    and keeps the one with the best held-out score; reproducible."""
    X, _ = make_multimodal_classification(
        n_samples=120, n_modalities=3, n_classes=3, n_features=[8, 6, 5], random_state=0
    )
    params = {**QUICK, "early_stopping": True, "max_epochs": 4, "n_iter_no_change": 2, "target": "best"}
    model = CrossModalVAE(**params).fit(X)
    scores = model.target_scores_
    assert list(scores) == list(X.names)
    assert X.names[model.target_index_] == max(scores, key=scores.get)
    assert model.target_indices_ == (model.target_index_,) and model.nets_ == [model.net_]
    # the kept net is the chosen target's: it reproduces that candidate alone
    alone = CrossModalVAE(**{**params, "target": model.target_index_}).fit(X)
    assert alone.target_scores_[X.names[model.target_index_]] == pytest.approx(scores[X.names[model.target_index_]])
    np.testing.assert_allclose(model.transform(0, X.modality(0)), alone.transform(0, X.modality(0)), atol=1e-6)
    again = CrossModalVAE(**params).fit(X)
    assert again.target_index_ == model.target_index_
    # without a validation split there is nothing to choose on: modality 1
    assert CrossModalVAE(**{**QUICK, "target": "best"}).fit(X).target_indices_ == (1,)
    # more modalities than AUTO_TARGET_MAX_MODALITIES: modality 1, one fit
    X4, _ = make_multimodal_classification(
        n_samples=120, n_modalities=4, n_classes=3, n_features=[8, 6, 5, 4], random_state=0
    )
    four = CrossModalVAE(**params).fit(X4)
    assert four.target_index_ == 1 and list(four.target_scores_) == [X4.names[1]]


def _unit(A):
    return A / np.linalg.norm(A, axis=1, keepdims=True)


def test_joined_targets_average_the_cosines_of_the_single_target_models():
    """target="all" (and "auto" up to three modalities) keeps one model per
    target; each block of the embedding is that model's centred embedding at
    unit length, so cosine in the joined space is the mean of the cosines."""
    X, _ = make_multimodal_classification(
        n_samples=120, n_modalities=3, n_classes=3, n_features=[8, 6, 5], random_state=0
    )
    params = {**QUICK, "early_stopping": True, "max_epochs": 4, "n_iter_no_change": 2}
    model = CrossModalVAE(**params).fit(X)
    assert model.target_indices_ == (0, 1, 2) and len(model.nets_) == 3
    scores = model.target_scores_
    assert X.names[model.target_index_] == max(scores, key=scores.get)
    assert model.net_ is model.nets_[model.target_index_]
    k = QUICK["n_components"]
    single = [CrossModalVAE(**{**params, "target": t}).fit(X) for t in range(3)]
    for c in range(3):
        joined = model.transform(c, X.modality(c))
        assert joined.shape == (120, 3 * k)
        for t in range(3):
            np.testing.assert_allclose(joined[:, t * k:(t + 1) * k], _unit(single[t].transform(c, X.modality(c))),
                                       atol=1e-5)
    a, b = model.transform(0, X.modality(0)[:5]), model.transform(2, X.modality(2)[:5])
    cosines = [_unit(m.transform(0, X.modality(0)[:5])) @ _unit(m.transform(2, X.modality(2)[:5])).T for m in single]
    np.testing.assert_allclose(_unit(a) @ _unit(b).T, np.mean(cosines, axis=0), atol=1e-5)
    assert CrossModalVAE(**{**params, "target": "all"}).fit(X).target_indices_ == (0, 1, 2)
    # joining needs no validation split
    assert CrossModalVAE(**QUICK).fit(X).target_indices_ == (0, 1, 2)
    # more modalities than AUTO_TARGET_MAX_MODALITIES: "auto" is modality 1, "all" still joins every one
    X4, _ = make_multimodal_classification(
        n_samples=120, n_modalities=4, n_classes=3, n_features=[8, 6, 5, 4], random_state=0
    )
    assert CrossModalVAE(**params).fit(X4).target_indices_ == (1,)
    every = CrossModalVAE(**{**params, "target": "all"}).fit(X4)
    assert every.target_indices_ == (0, 1, 2, 3) and every.transform(3, X4.modality(3)).shape == (120, 4 * k)
    assert every.predict_modality(0, 3, X4.modality(3)).shape == (120, 8)
