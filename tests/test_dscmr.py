"""Tests of DSCMR (Deep Supervised Cross-modal Retrieval)."""

from itertools import combinations

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from conftest import gpu
from skcross._dscmr import DSCMR, _DSCMRLoss, closed_form_classifier, dscmr_loss_terms
from skcross.datasets import make_multimodal_classification
from skcross.exceptions import TrainingDivergedError
from skcross.metrics import make_map_scorer, mean_average_precision

# Small, fast settings; lr is raised because a few epochs at 1e-4 learn little.
FAST = dict(n_components=8, hidden_layer_sizes=(16,), max_epochs=4, batch_size=32, lr=1e-3)
# Enough training for these tiny networks to learn the toy data well.
TRAINED = {**FAST, "max_epochs": 10, "lr": 1e-2}


def _untrained_score(X, y, **kw):
    """mAP of the randomly initialised networks: what training must beat."""
    params = {**FAST, "early_stopping": False, "random_state": 0, **kw, "lr": 1e-30, "max_epochs": 1}
    return DSCMR(**params).fit(X, y).score(X, y)


@pytest.fixture(scope="module")
def toy():
    return make_multimodal_classification(
        n_samples=120, n_modalities=2, n_classes=3, n_features=[8, 6], random_state=0
    )


# ------------------------------------------------------------------- losses
def _numpy_terms(embs, preds, Y):
    """Eq. 1, 2, 4 written out with loops, straight from the paper and author code."""
    n = Y.shape[0]
    S = np.array([[float(np.any(Y[i] * Y[j] > 0)) for j in range(n)] for i in range(n)])

    def nll(A, B):
        total = 0.0
        for i in range(n):
            for j in range(n):
                theta = 0.5 * A[i] @ B[j] / (np.linalg.norm(A[i]) * np.linalg.norm(B[j]))
                total += np.log(1 + np.exp(theta)) - S[i, j] * theta
        return total / n**2

    J1 = sum(np.mean([np.linalg.norm(p[i] - Y[i]) for i in range(n)]) for p in preds)
    J2 = sum(nll(a, b) for a, b in combinations(embs, 2)) + sum(nll(a, a) for a in embs)
    J3 = sum(np.mean([np.linalg.norm(a[i] - b[i]) for i in range(n)]) for a, b in combinations(embs, 2))
    return J1, J2, J3


@pytest.mark.parametrize("n_modalities", [2, 3])
@pytest.mark.parametrize("multilabel", [False, True])
def test_loss_terms_match_numpy(n_modalities, multilabel):
    rng = np.random.RandomState(0)
    n, d, c = 7, 5, 4
    embs = [rng.randn(n, d) for _ in range(n_modalities)]
    preds = [rng.randn(n, c) for _ in range(n_modalities)]
    if multilabel:
        Y = (rng.rand(n, c) < 0.4).astype(float)
    else:
        Y = np.eye(c)[rng.randint(c, size=n)]
    got = dscmr_loss_terms(
        [torch.tensor(e) for e in embs], [torch.tensor(p) for p in preds], torch.tensor(Y)
    )
    want = _numpy_terms(embs, preds, Y)
    np.testing.assert_allclose([float(t) for t in got], want, rtol=1e-10)


def test_two_modality_terms_are_the_papers():
    """With two modalities J2 is exactly the inter + image + text terms of Eq. 2."""
    rng = np.random.RandomState(1)
    U, V = rng.randn(6, 3), rng.randn(6, 3)
    Y = np.eye(2)[[0, 0, 1, 1, 0, 1]]
    S = (Y @ Y.T > 0).astype(float)

    def cos(A, B):
        A = A / np.linalg.norm(A, axis=1, keepdims=True)
        B = B / np.linalg.norm(B, axis=1, keepdims=True)
        return A @ B.T

    Gamma, Phi, Theta = 0.5 * cos(U, V), 0.5 * cos(U, U), 0.5 * cos(V, V)
    J2 = sum(np.mean(np.log1p(np.exp(T)) - S * T) for T in (Gamma, Phi, Theta))
    _, got, _ = dscmr_loss_terms([torch.tensor(U), torch.tensor(V)], None, torch.tensor(Y))
    assert float(got) == pytest.approx(J2, rel=1e-12)


def test_objective_combines_terms_with_weights():
    rng = np.random.RandomState(2)
    embs = [torch.tensor(rng.randn(5, 4)) for _ in range(2)]
    Y = torch.tensor(np.eye(3)[[0, 1, 2, 0, 1]])
    layer = torch.nn.Linear(4, 3).double()
    J1, J2, J3 = dscmr_loss_terms(embs, [layer(e) for e in embs], Y)
    loss = _DSCMRLoss(lam=0.3, eta=0.7, label_weight=2.0, classifier="learned", ridge=1e-3)
    with torch.no_grad():
        got = float(loss(embs, Y, layer))
        J1 = float(J1)
    assert got == pytest.approx(2 * J1 + 0.3 * float(J2) + 0.7 * float(J3))
    # label_weight=0 drops J1 (the classifier is not even evaluated)
    no_j1 = _DSCMRLoss(lam=0.3, eta=0.7, label_weight=0.0, classifier="learned", ridge=1e-3)
    assert float(no_j1(embs, Y, None)) == pytest.approx(float(0.3 * J2 + 0.7 * J3))


def test_cross_entropy_label_term():
    rng = np.random.RandomState(5)
    embs = [torch.tensor(rng.randn(6, 4)) for _ in range(2)]
    preds = [torch.tensor(rng.randn(6, 3)) for _ in range(2)]
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    Y[0, 2] = 1  # a multi-label row: its target is spread evenly over its labels
    J1, J2, J3 = dscmr_loss_terms(embs, preds, torch.tensor(Y), "cross_entropy")
    expected = 0.0
    for p in preds:
        logp = p.numpy() - np.log(np.exp(p.numpy()).sum(axis=1, keepdims=True))
        expected += np.mean(-(Y / Y.sum(axis=1, keepdims=True) * logp).sum(axis=1))
    assert float(J1) == pytest.approx(expected, rel=1e-10)
    # J2 and J3 do not depend on the label term
    _, J2_norm, J3_norm = dscmr_loss_terms(embs, preds, torch.tensor(Y), "norm")
    assert float(J2) == float(J2_norm) and float(J3) == float(J3_norm)


def test_posterior_embedding_is_the_classifier_softmax(toy):
    X, y = toy
    model = DSCMR(random_state=0, **TRAINED).fit(X, y)
    assert model.posterior_temperature == 0.5
    module = model.net_.module_
    for i in range(2):
        x = model._standardize(i, X.modality(i))
        with torch.no_grad():
            logits = module.classifier(module.embed(i, torch.as_tensor(x)))
        # the posterior, then one completion column per modality (posterior_similarity="probability")
        E = model.transform(i, X.modality(i))
        assert E.shape == (len(y), 3 + 2)
        np.testing.assert_allclose(E[:, :3], torch.softmax(logits / 0.5, dim=1).numpy(), atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-6)
        assert not E[:, 3 + (1 - i)].any()
        # the temperature is a read-out: T = 1 gives the plain softmax of the same network,
        # with the same most probable class and a lower top probability
        plain = model.set_params(posterior_temperature=1.0, posterior_similarity="cosine").transform(i, X.modality(i))
        model.set_params(posterior_temperature=0.5, posterior_similarity="probability")
        np.testing.assert_allclose(plain, torch.softmax(logits, dim=1).numpy(), atol=1e-6)
        sharp = E[:, :3]
        np.testing.assert_array_equal(plain.argmax(1), sharp.argmax(1))
        assert np.all(sharp.max(1) >= plain.max(1) - 1e-6) and np.any(sharp.max(1) > plain.max(1) + 1e-3)
    np.testing.assert_array_equal(model.get_feature_names_out(), [f"dscmr{k}" for k in range(5)])
    model.set_params(posterior_similarity="cosine")
    np.testing.assert_array_equal(model.get_feature_names_out(), ["dscmr0", "dscmr1", "dscmr2"])
    assert model.transform(0, X.modality(0)).shape == (len(y), 3)
    # the common representation is not a posterior: nothing is appended to it
    common = DSCMR(random_state=0, embedding="common", **TRAINED).fit(X, y)
    assert common.transform(0, X.modality(0)).shape == (len(y), 8)


def test_posteriors_are_compared_by_the_probability_of_sharing_a_class(toy):
    X, y = toy
    model = DSCMR(random_state=0, **TRAINED).fit(X, y)
    assert model.posterior_similarity == "probability"
    assert DSCMR.paper_params()["posterior_similarity"] == "cosine"
    E = [model.transform(i, X.modality(i)).astype(np.float64) for i in range(2)]
    P = [e[:, :3] for e in E]
    cosine = (E[0] @ E[1].T) / np.outer(np.linalg.norm(E[0], axis=1), np.linalg.norm(E[1], axis=1))
    np.testing.assert_allclose(cosine, P[0] @ P[1].T, atol=1e-5)
    # a read-out only: the same network ranks differently, and "cosine" gives the bare posteriors
    by_probability = model.score(X, y)
    model.set_params(posterior_similarity="cosine")
    np.testing.assert_allclose(model.transform(1, X.modality(1)), P[1], atol=1e-6)
    assert model.score(X, y) != by_probability


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(embedding="posterior", label_loss="norm"), "label_loss='cross_entropy'"),
        (dict(label_weight=0), "label_weight=0"),
        (dict(classifier="closed_form"), "closed_form"),
        (dict(classifier="closed_form", label_loss="norm"), "closed_form"),
    ],
)
def test_readout_needs_a_trained_softmax_classifier(toy, params, message):
    X, y = toy
    with pytest.raises(ValueError, match=message):
        DSCMR(**FAST, **params).fit(X, y)


# ------------------------------------------------------- closed-form classifier
@pytest.mark.parametrize("n, d", [(9, 4), (3, 10)])  # primal and dual forms
def test_closed_form_classifier_is_ridge_lstsq(n, d):
    rng = np.random.RandomState(3)
    U, V = rng.randn(n, d), rng.randn(n, d)
    Y = np.eye(3)[rng.randint(3, size=n)]
    ridge = 1e-3
    P = closed_form_classifier([torch.tensor(U), torch.tensor(V)], torch.tensor(Y), ridge)
    # ridge least squares = plain least squares on the augmented system
    A = np.vstack([U, V, np.sqrt(ridge) * np.eye(d)])
    B = np.vstack([Y, Y, np.zeros((d, 3))])
    expected = np.linalg.lstsq(A, B, rcond=None)[0]
    np.testing.assert_allclose(P.numpy(), expected, atol=1e-8)


def test_closed_form_loss_uses_batch_classifier():
    rng = np.random.RandomState(4)
    embs = [torch.tensor(rng.randn(6, 3)) for _ in range(2)]
    Y = torch.tensor(np.eye(2)[[0, 1, 0, 1, 1, 0]])
    P = closed_form_classifier(embs, Y, 1e-3)
    J1, J2, J3 = dscmr_loss_terms(embs, [e @ P for e in embs], Y)
    loss = _DSCMRLoss(lam=1e-3, eta=0.1, label_weight=1.0, classifier="closed_form", ridge=1e-3)
    assert float(loss(embs, Y)) == pytest.approx(float(J1 + 1e-3 * J2 + 0.1 * J3))


def test_closed_form_has_no_classifier_parameter(toy):
    X, y = toy
    model = DSCMR(
        classifier="closed_form", label_loss="norm", embedding="common", early_stopping=False,
        random_state=0, **TRAINED,
    ).fit(X, y)
    assert model.net_.module_.classifier is None
    assert not any("classifier" in n for n, _ in model.net_.module_.named_parameters())
    assert model.score(X, y) > _untrained_score(
        X, y, classifier="closed_form", label_loss="norm", embedding="common"
    ) + 0.15


# ------------------------------------------------------------- architecture
def test_last_layer_is_shared(toy):
    X, y = toy
    model = DSCMR(embedding="common", early_stopping=False, random_state=0, **FAST).fit(X, y)
    module = model.net_.module_
    names = [n for n, _ in module.named_parameters()]
    assert names.count("shared.weight") == 1
    assert sum(p.numel() for p in module.parameters()) == (
        (8 + 1) * 16 + (6 + 1) * 16 + (16 + 1) * 8 + (8 + 1) * 3
    )
    # the embedding of every modality goes through that one layer
    x0, x1 = X.modality(0)[:5], X.modality(1)[:5]
    before = [model.transform(0, x0), model.transform(1, x1)]
    with torch.no_grad():
        module.shared.weight.mul_(2.0)
        module.shared.bias.mul_(2.0)
    np.testing.assert_allclose(model.transform(0, x0), 2 * before[0], rtol=1e-5)
    np.testing.assert_allclose(model.transform(1, x1), 2 * before[1], rtol=1e-5)


def test_three_modalities():
    X, y = make_multimodal_classification(
        n_samples=150, n_modalities=3, n_classes=3, n_features=[7, 5, 9], random_state=1
    )
    model = DSCMR(early_stopping=False, random_state=0, **TRAINED).fit(X, y)
    assert model.n_modalities_ == 3
    assert len(model.net_.module_.branches) == 3
    emb = model.transform(X)
    # embedding="posterior": one probability per class, then one completion column per modality
    assert [e.shape for e in emb.modalities()] == [(150, 3 + 3)] * 3
    np.testing.assert_allclose(emb.modality(2)[:, :3].sum(axis=1), 1.0, atol=1e-5)
    assert emb.modality(2)[:, 5].all() and not emb.modality(2)[:, 3:5].any()
    assert all(e.dtype == np.float32 for e in emb.modalities())
    assert model.score(X, y) > _untrained_score(X, y) + 0.3


def test_multilabel():
    X, Y = make_multimodal_classification(
        n_samples=150, n_classes=4, multilabel=True, random_state=2
    )
    model = DSCMR(validation_fraction=0.2, n_iter_no_change=100, random_state=0, **TRAINED).fit(X, Y)
    assert model.multilabel_
    assert model.net_.module_.classifier.out_features == Y.shape[1]
    assert model.score(X, Y) > _untrained_score(X, Y) + 0.1


def test_ablations_run_and_j1_off_leaves_classifier_untouched(toy):
    X, y = toy
    for kw in [dict(label_weight=0, embedding="common"), dict(lam=0), dict(eta=0), dict(lam=0, eta=0)]:
        model = DSCMR(early_stopping=False, random_state=0, **FAST, **kw).fit(X, y)
        assert np.isfinite(model.net_.history[:, "train_loss"]).all()
    # without J1 the classifier gets no gradient: it keeps its initial weights
    no_j1 = DSCMR(early_stopping=False, label_weight=0, embedding="common", random_state=0, **FAST).fit(X, y)
    init = DSCMR(
        early_stopping=False, label_weight=0, embedding="common", random_state=0, **{**FAST, "lr": 1e-30, "max_epochs": 1}
    ).fit(X, y)
    torch.testing.assert_close(no_j1.net_.module_.classifier.weight, init.net_.module_.classifier.weight)
    assert not torch.allclose(no_j1.net_.module_.shared.weight, init.net_.module_.shared.weight)


# ----------------------------------------------------- reproducibility, I/O
def test_same_random_state_same_embeddings(toy):
    X, y = toy
    a = DSCMR(random_state=7, **FAST).fit(X, y).transform(0, X.modality(0))
    b = DSCMR(random_state=7, **FAST).fit(X, y).transform(0, X.modality(0))
    c = DSCMR(random_state=8, **FAST).fit(X, y).transform(0, X.modality(0))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_joblib_round_trip(toy, tmp_path):
    X, y = toy
    model = DSCMR(validation_folds=1, validation_fraction=0.2, n_iter_no_change=100, random_state=0, **FAST).fit(X, y)
    path = tmp_path / "dscmr.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    for m in range(2):
        np.testing.assert_array_equal(loaded.transform(m, X.modality(m)), model.transform(m, X.modality(m)))
    # validation tensors are dropped after training, not pickled with the model
    valid_cb = dict(loaded.net_.callbacks_)["validation_score"]
    assert valid_cb.score is None
    assert dict(loaded.net_.callbacks_)["early_stopping"].best_model_weights_ is None


def test_clone_and_params():
    model = DSCMR(lam=0.5, eta=0.2, classifier="closed_form")
    cloned = clone(model)
    assert cloned.get_params() == model.get_params()
    assert cloned.set_params(lam=0.1).lam == 0.1


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(classifier="svm"), "classifier"),
        (dict(lam=-1.0), "lam"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(betas=(0.5, 1.5)), "betas"),
        (dict(hidden_layer_sizes=(16, 0)), "hidden_layer_sizes"),
        (dict(n_iter_no_change=0), "n_iter_no_change"),
        (dict(n_components=0), "n_components"),
        (dict(label_weight=0, lam=0, eta=0), "nothing to minimise"),
    ],
)
def test_invalid_params(toy, kw, match):
    X, y = toy
    with pytest.raises(ValueError, match=match):
        DSCMR(**{**FAST, **kw}).fit(X, y)


def test_needs_pairs_and_labels(toy):
    X, y = toy
    with pytest.raises(ValueError, match="paired"):
        DSCMR(**FAST).fit([X.modality(0), X.modality(1)[:-3]], [y, y[:-3]])
    with pytest.raises(ValueError, match="labels"):
        DSCMR(**FAST).fit(X)


def test_divergence_raises(toy):
    X, y = toy
    huge = [X.modality(0) * 1e30, X.modality(1) * 1e30]
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        DSCMR(early_stopping=False, standardize=False, random_state=0, **FAST).fit(huge, y)


# -------------------------------------------------------- model selection
def test_grid_search_over_lam_and_eta(toy):
    X, y = toy
    search = GridSearchCV(
        DSCMR(early_stopping=False, random_state=0, **TRAINED),
        {"lam": [1e-3, 1.0], "eta": [0.0, 0.1]},
        scoring=make_map_scorer(mean=True),
        cv=2,
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    assert len(np.unique(scores)) == 4  # lam and eta reach the model
    assert search.best_params_ == search.cv_results_["params"][int(np.argmax(scores))]
    assert search.best_estimator_.score(X, y) > _untrained_score(X, y) + 0.2


@pytest.mark.parametrize("readout", [{}, {"label_loss": "norm", "embedding": "common"}])
def test_best_epoch_is_chosen_on_validation_split_of_training_data(digit_halves_split, readout):
    Xtr, Xte, ytr, yte = digit_halves_split
    model = DSCMR(
        validation_fraction=0.2, n_iter_no_change=100, random_state=0, **{**FAST, "max_epochs": 8}, **readout
    ).fit(Xtr, ytr)
    valid = model.validation_indices_
    # carved from the training data, stratified by class
    assert valid.max() < len(ytr) and len(valid) == int(np.ceil(0.2 * len(ytr)))
    np.testing.assert_allclose(np.bincount(ytr[valid]) / len(valid), np.bincount(ytr) / len(ytr), atol=0.02)
    history = np.asarray(model.net_.history[:, "valid_score"])
    assert model.best_epoch_ == int(np.argmax(history)) + 1
    # the restored parameters are those of that epoch: the validation mAP of
    # what transform returns (posteriors or common representations) is the best one;
    # early stopping scores the posteriors by cosine (posterior_similarity is a read-out)
    model.set_params(posterior_similarity="cosine")
    Xv, yv = Xtr[valid], ytr[valid]
    a, b = model.transform(0, Xv.modality(0)), model.transform(1, Xv.modality(1))
    score = 0.5 * (mean_average_precision(a, b, yv, yv) + mean_average_precision(b, a, yv, yv))
    assert score == pytest.approx(history.max(), abs=1e-5)


# ------------------------------------------------------------------ real data
def test_digit_halves_defaults_beat_the_baselines(digit_halves_split, cca_digits_map, label_space_digits_map):
    """Default parameters, nothing but fit(X, y): beats CCA and the label-space baseline."""
    Xtr, Xte, ytr, yte = digit_halves_split
    model = DSCMR(random_state=0).fit(Xtr, ytr)
    score = model.score(Xte, yte)
    assert score > cca_digits_map + 0.1
    assert score > label_space_digits_map
    assert model.best_epoch_ < model.n_iter_ <= model.max_epochs  # early stopping ended it


def test_early_stopping_stops_and_restores_the_best_epoch(toy):
    X, y = toy
    model = DSCMR(random_state=0, max_epochs=200, n_iter_no_change=3, validation_folds=1,
                  **{k: v for k, v in TRAINED.items() if k != "max_epochs"}).fit(X, y)
    history = np.asarray(model.net_.history[:, "valid_score"])
    assert model.n_iter_ < 200
    assert model.n_iter_ == model.best_epoch_ + 3
    assert history[model.best_epoch_ - 1] == history.max()


def test_paper_params_are_one_call_away(toy):
    params = DSCMR.paper_params()
    model = DSCMR(**params)
    assert model.lr == 1e-4 and model.hidden_layer_sizes == (2048,) and model.n_components == 1024
    assert model.max_epochs == 500 and not model.early_stopping
    assert (model.label_loss, model.embedding) == ("norm", "common")


# ------------------------------------------------------------------ output
def test_verbose_and_silent(toy, capsys):
    X, y = toy
    DSCMR(random_state=0, **FAST).fit(X, y)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    DSCMR(random_state=0, verbose=1, **FAST).fit(X, y)
    out = capsys.readouterr()
    assert "train_loss" in out.out and "valid_score" in out.out


@gpu
def test_cuda_fit_loads_on_cpu_path(toy, tmp_path):
    X, y = toy
    model = DSCMR(device="cuda", random_state=0, **FAST).fit(X, y)
    # Trained on CUDA, parked on the CPU; transform runs on CUDA again.
    assert not next(model.net_.module_.parameters()).is_cuda
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_allclose(
        loaded.transform(0, X.modality(0)), model.transform(0, X.modality(0)), atol=1e-5
    )


def test_auto_weight_decay_keeps_the_better_candidate(toy):
    """weight_decay="auto" trains with each candidate penalty from the same start
    and keeps the net with the best validation mAP: the same model as the winner
    fitted on its own."""
    X, y = toy
    params = {**FAST, "early_stopping": True, "validation_folds": 1, "max_epochs": 15, "n_iter_no_change": 5,
              "random_state": 0}
    auto = DSCMR(weight_decay="auto", **params).fit(X, y)
    fixed = {wd: DSCMR(weight_decay=wd, **params).fit(X, y) for wd in (0.0, 0.1)}
    best = max(fixed, key=lambda wd: max(fixed[wd].net_.history[:, "valid_score"]))
    assert auto.weight_decay_ == best
    np.testing.assert_array_equal(auto.transform(0, X.modality(0)), fixed[best].transform(0, X.modality(0)))
    # Without a validation split there is nothing to select on: no penalty.
    assert DSCMR(weight_decay="auto", **{**params, "early_stopping": False}).fit(X, y).weight_decay_ == 0.0
