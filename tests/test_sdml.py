"""Tests of SDML (Scalable Deep Multimodal Learning): one independent network per modality."""

import copy
import io

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from conftest import gpu
from skcross._sdml import SDML
from skcross._validation import holdout_split
from skcross.datasets import load_wikipedia, make_multimodal_classification
from skcross.exceptions import TrainingDivergedError
from skcross.metrics import make_map_scorer, mean_average_precision

# Small, fast settings: the tests check behaviour, not the paper's numbers.
FAST = dict(n_components=8, hidden_layer_sizes=(32,), lr=1e-3, batch_size=30, max_epochs=15, early_stopping=False)


@pytest.fixture(scope="module")
def three_modal():
    return make_multimodal_classification(
        n_samples=180, n_modalities=3, n_classes=3, n_features=[8, 6, 5], random_state=0
    )


def _state(model, index):
    return {k: v.clone() for k, v in model.networks_[index].module_.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _chance_map(y_query, y_db):
    """mAP of a random ranking: what an embedding with no class information scores."""
    rng = np.random.RandomState(0)
    return mean_average_precision(
        rng.randn(len(y_query), 4), rng.randn(len(y_db), 4), y_query, y_db
    )


def test_shapes_and_determinism(three_modal):
    X, y = three_modal
    model = SDML(random_state=0, **FAST).fit(X, y)
    assert model.modalities_ == ["0", "1", "2"] and model.n_features_in_ == [8, 6, 5]
    P = model.projection_
    assert P.shape == (8, 3) and P.dtype == np.float32
    np.testing.assert_allclose(P.T @ P, np.eye(3), atol=1e-5)
    E = model.transform(1, X.modality(1))
    assert E.shape == (180, 8) and E.dtype == np.float32
    # without early stopping label_loss="auto" is the paper's norm: unit-norm h
    assert model.label_losses_ == ["norm"] * 3 and model.embeddings_ == ["common"] * 3
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    assert len(model.best_epochs_) == 3 and all(1 <= e <= 15 for e in model.best_epochs_)

    again = SDML(random_state=0, **FAST).fit(X, y)
    for i in range(3):
        np.testing.assert_array_equal(
            model.transform(i, X.modality(i)), again.transform(i, X.modality(i))
        )
    other = SDML(random_state=1, **FAST).fit(X, y)
    assert not np.array_equal(E, other.transform(1, X.modality(1)))
    assert not np.array_equal(P, other.projection_)
    assert model.score(X, y) > _chance_map(y, y) + 0.3


def test_modality_network_is_independent_of_other_modalities(three_modal):
    X, y = three_modal
    Xa, Xb = X.modality(0), X.modality(1)
    rng = np.random.RandomState(1)
    first = SDML(random_state=0, **FAST).fit([Xa, Xb], y)
    changed = SDML(random_state=0, **FAST).fit(
        [Xa, Xb[::-1] + rng.randn(*Xb.shape)], [y, y[::-1]]
    )
    assert _same_state(_state(first, 0), _state(changed, 0))
    np.testing.assert_array_equal(first.transform(0, Xa), changed.transform(0, Xa))
    assert not np.array_equal(first.transform(1, Xb), changed.transform(1, Xb))


def test_add_modality(three_modal):
    X, y = three_modal
    model = SDML(random_state=0, **FAST).fit([X.modality(0), X.modality(1)], y)
    before = [_state(model, i) for i in range(2)]
    P = model.projection_.copy()
    assert model.add_modality(X.modality(2), y, name="audio") is model
    assert model.modalities_ == ["0", "1", "audio"] and model.n_modalities_ == 3
    assert model.n_features_in_ == [8, 6, 5] and len(model.best_epochs_) == 3
    np.testing.assert_array_equal(model.projection_, P)
    for i in range(2):
        assert _same_state(before[i], _state(model, i))
    new = model.transform("audio", X.modality(2))
    for i in range(2):
        old = model.transform(i, X.modality(i))
        assert mean_average_precision(new, old, y, y) > _chance_map(y, y) + 0.3
    # The added network is the one a three-modality fit trains at that position.
    full = SDML(random_state=0, **FAST).fit(X, y)
    assert _same_state(_state(full, 2), _state(model, 2))


def test_add_modality_rejects_bad_input(three_modal):
    X, y = three_modal
    model = SDML(random_state=0, **dict(FAST, max_epochs=1)).fit([X.modality(0), X.modality(1)], y)
    with pytest.raises(ValueError, match=r"classes \[7\]"):
        model.add_modality(X.modality(2), np.where(y == 0, 7, y))
    with pytest.raises(ValueError, match="already exists"):
        model.add_modality(X.modality(2), y, name="1")
    with pytest.raises(ValueError, match="multi-label"):
        model.add_modality(X.modality(2), np.eye(3, dtype=int)[y])
    assert model.n_modalities_ == 2 and len(model.networks_) == 2
    # A subset of the classes is fine.
    keep = y < 2
    model.add_modality(X.modality(2)[keep], y[keep])
    assert model.modalities_[-1] == "2"


def test_unpaired_fit(three_modal):
    X, y = three_modal
    Xs = [X.modality(0)[:150], X.modality(1)[60:], X.modality(2)[:90]]
    ys = [y[:150], y[60:], y[:90]]
    model = SDML(random_state=0, **FAST).fit(Xs, ys)
    assert [len(model.transform(i, a)) for i, a in enumerate(Xs)] == [150, 120, 90]
    assert model.score(Xs, ys) > _chance_map(y, y) + 0.2


def test_multilabel_fit():
    X, Y = make_multimodal_classification(
        n_samples=200, n_classes=4, n_features=[8, 6], multilabel=True, random_state=0
    )
    assert Y.ndim == 2 and (Y.sum(axis=1) > 1).any()
    model = SDML(random_state=0, **FAST).fit(X, Y)
    assert model.multilabel_ and model.projection_.shape == (8, 4)
    # Sharing any one label makes an item relevant: chance is already high here.
    assert model.score(X, Y) > _chance_map(Y, Y) + 0.04
    model.add_modality(X.modality(1), Y)
    with pytest.raises(ValueError, match="label columns"):
        model.add_modality(X.modality(1), Y[:, :3])


def test_joblib_round_trip_without_training_data(three_modal):
    X, y = three_modal
    model = SDML(random_state=0, **FAST).fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    dumped = buffer.getvalue()
    # The nets keep weights and history, not the samples they were trained on.
    for i in range(3):
        assert X.modality(i).astype(np.float32)[:4].tobytes() not in dumped
    loaded = joblib.load(io.BytesIO(dumped))
    for i in range(3):
        np.testing.assert_array_equal(
            model.transform(i, X.modality(i)), loaded.transform(i, X.modality(i))
        )
    np.testing.assert_array_equal(model.projection_, loaded.projection_)


def test_n_jobs_gives_identical_results(three_modal):
    X, y = three_modal
    serial = SDML(random_state=0, n_jobs=1, **FAST).fit(X, y)
    parallel = clone(serial).set_params(n_jobs=2).fit(X, y)
    for i in range(3):
        np.testing.assert_array_equal(
            serial.transform(i, X.modality(i)), parallel.transform(i, X.modality(i))
        )
    assert serial.best_epochs_ == parallel.best_epochs_


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_lam(small_multimodal, n_jobs):
    X, y = small_multimodal
    search = GridSearchCV(
        SDML(random_state=0, **dict(FAST, max_epochs=30, batch_size=20)),
        {"lam": [0.5, 1.0]},
        scoring=make_map_scorer(0, 1),
        cv=2,
        n_jobs=n_jobs,
    ).fit(X, y)
    # lam=1 ignores the labels: the label-space term is what makes retrieval work.
    assert search.best_params_ == {"lam": 0.5}
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] > scores[1] + 0.1
    assert isinstance(search.best_estimator_, SDML)


def test_early_stopping(three_modal):
    X, y = three_modal
    off = SDML(random_state=0, **FAST).fit(X, y)
    assert off.best_epochs_ == [15, 15, 15]
    history = off.networks_[0].history
    assert "valid_score" not in history[-1] and "train_label_loss" in history[-1]

    params = {**FAST, "early_stopping": True, "validation_folds": 1, "validation_fraction": 0.2, "max_epochs": 60,
              "n_iter_no_change": 3}
    on = SDML(random_state=0, **params).fit(X, y)
    for net, best in zip(on.networks_, on.best_epochs_):
        valid = np.asarray(net.history[:, "valid_score"])
        assert best == int(np.argmax(valid)) + 1
        # stopped n_iter_no_change epochs after the best one, or ran out of epochs
        assert len(valid) == min(best + 3, 60)
        # 20% of 180 samples held out, stratified: the rest trains (4 full batches of 30).
        assert net.history[-1, "train_batch_count"] == 144 // 30
    # Training on 144 samples, not 180, changes the networks.
    assert not np.array_equal(on.transform(0, X.modality(0)), off.transform(0, X.modality(0)))


def test_holdout_is_stratified_and_falls_back():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    Y = np.eye(3, dtype=np.float32)[y]
    train, valid = holdout_split(Y, 0.1, seed=0)
    assert len(valid) == 10 and len(np.intersect1d(train, valid)) == 0
    assert np.bincount(y[valid]).tolist() == [5, 3, 2]
    np.testing.assert_array_equal(valid, holdout_split(Y, 0.1, seed=0)[1])
    # A class with one sample, or multi-label rows, cannot be stratified:
    # a plain random split of the same size.
    lonely = np.eye(3, dtype=np.float32)[np.repeat([0, 1, 2], [50, 49, 1])]
    multi = Y.copy()
    multi[:50, 1] = 1
    for labels in (lonely, multi):
        train, valid = holdout_split(labels, 0.1, seed=0)
        assert len(valid) == 10 and sorted(np.r_[train, valid]) == list(range(100))


def test_verbose_prints_progress_and_silent_otherwise(small_multimodal, capsys):
    X, y = small_multimodal
    SDML(random_state=0, verbose=0, **dict(FAST, max_epochs=2)).fit(X, y)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    SDML(random_state=0, verbose=1, **dict(FAST, max_epochs=2)).fit(X, y)
    out = capsys.readouterr()
    assert "modality '0'" in out.out and "modality '1'" in out.out
    assert "train_label_loss" in out.out


def test_invalid_parameters(small_multimodal):
    X, y = small_multimodal
    with pytest.raises(ValueError, match="n_components >= the number of classes"):
        SDML(n_components=2, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="lam"):
        SDML(lam=1.5, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction"):
        SDML(validation_fraction=1.0, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        SDML(hidden_layer_sizes=(0,), max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="betas"):
        SDML(betas=(0.5,), max_epochs=1).fit(X, y)


def test_divergence_raises_with_epoch(small_multimodal):
    X, y = small_multimodal
    # Finite inputs whose squared norm overflows float32: the loss is inf at once.
    huge = [X.modality(0) * 1e30, X.modality(1)]
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        SDML(random_state=0, standardize=False, **dict(FAST, max_epochs=2)).fit(huge, y)


def test_digit_halves_defaults_beat_the_baselines(digit_halves_split, cca_digits_map, label_space_digits_map):
    """Default parameters, nothing but fit(X, y): beats CCA and the label-space baseline."""
    Xtr, Xte, ytr, yte = digit_halves_split
    model = SDML(random_state=0).fit(Xtr, ytr)
    emb = model.embed(Xte)
    sdml_map = 0.5 * (
        mean_average_precision(emb.modality(0), emb.modality(1), yte, yte)
        + mean_average_precision(emb.modality(1), emb.modality(0), yte, yte)
    )
    assert sdml_map > cca_digits_map + 0.1
    assert sdml_map > label_space_digits_map
    assert all(best < model.max_epochs for best in model.best_epochs_)


def test_cross_entropy_networks_embed_their_posterior(three_modal):
    X, y = three_modal
    model = SDML(random_state=0, **{**FAST, "label_loss": "cross_entropy"}).fit(X, y)
    assert model.embeddings_ == ["posterior"] * 3
    P = model.projection_
    for i in range(3):
        E = model.transform(i, X.modality(i))
        # the completion to unit norm (posterior_similarity="probability"), one column per modality
        assert E.shape == (len(y), 8 + 3)
        np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
        assert not np.delete(E[:, 8:], i, axis=1).any()
        E = E[:, :8]
        # P times a probability vector over the classes: the softmax of P^T z
        posterior = E @ P
        assert np.all(posterior >= 0)
        np.testing.assert_allclose(posterior.sum(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(posterior @ P.T, E, atol=1e-5)
        module = model.networks_[i].module_
        with torch.no_grad():
            z = module.encoder(torch.as_tensor(model._standardize(i, X.modality(i))))
        np.testing.assert_allclose(posterior, torch.softmax(z @ module.projection, dim=1).numpy(), atol=1e-5)
        # posterior_temperature sharpens the same network's posterior at read-out
        sharp = model.set_params(posterior_temperature=0.5).transform(i, X.modality(i))[:, :8] @ P
        model.set_params(posterior_temperature=1.0)
        np.testing.assert_allclose(sharp, torch.softmax(2 * (z @ module.projection), dim=1).numpy(), atol=1e-5)
    assert model.score(X, y) > _chance_map(y, y) + 0.3
    # cross-modal cosine is the probability that the two samples share a class
    E0, E1 = (model.transform(i, X.modality(i)).astype(np.float64) for i in (0, 1))
    cosine = (E0 @ E1.T) / np.outer(np.linalg.norm(E0, axis=1), np.linalg.norm(E1, axis=1))
    np.testing.assert_allclose(cosine, (E0[:, :8] @ P) @ (E1[:, :8] @ P).T, atol=1e-5)
    # "cosine" (the paper's read-out, a read-out only) gives the bare posteriors back
    by_probability = model.score(X, y)
    model.set_params(posterior_similarity="cosine")
    np.testing.assert_allclose(model.transform(0, X.modality(0)), E0[:, :8], atol=1e-6)
    assert model.score(X, y) != by_probability
    assert SDML.paper_params()["posterior_similarity"] == "cosine"
    common = SDML(random_state=0, **{**FAST, "label_loss": "cross_entropy", "embedding": "common"}).fit(X, y)
    np.testing.assert_allclose(np.linalg.norm(common.transform(0, X.modality(0)), axis=1), 1.0, atol=1e-5)


def test_cross_entropy_label_term():
    from skcross._sdml import SDMLLoss

    rng = np.random.RandomState(0)
    z, P = torch.tensor(rng.randn(5, 4)), torch.tensor(np.linalg.qr(rng.randn(4, 3))[0])
    x = torch.tensor(rng.randn(5, 2))
    x_hat = torch.tensor(rng.randn(5, 2))
    Y = np.eye(3)[[0, 1, 2, 1, 0]]
    loss, label = SDMLLoss(lam=0.25, label_loss="cross_entropy")(z, x_hat, x, torch.tensor(Y), P)
    logits = z.numpy() @ P.numpy()
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected_label = np.mean(-(Y * logp).sum(axis=1))
    reconstruction = np.mean(np.linalg.norm(x_hat.numpy() - x.numpy(), axis=1))
    assert float(label) == pytest.approx(expected_label, rel=1e-10)
    assert float(loss) == pytest.approx(0.25 * reconstruction + 0.75 * expected_label, rel=1e-10)
    # the paper's norm is taken on the normalised h, whatever the scale of z
    _, norm_label = SDMLLoss(label_loss="norm")(3.0 * z, x_hat, x, torch.tensor(Y), P)
    h = z.numpy() / np.linalg.norm(z.numpy(), axis=1, keepdims=True)
    assert float(norm_label) == pytest.approx(np.mean(np.linalg.norm(h @ P.numpy() - Y, axis=1)), rel=1e-10)


def test_auto_label_loss_keeps_the_better_validation_score(three_modal):
    X, y = three_modal
    params = {**FAST, "early_stopping": True, "max_epochs": 10, "validation_folds": 1, "validation_fraction": 0.3}
    auto = SDML(random_state=0, **params).fit(X, y)
    for i in range(3):
        assert auto.label_losses_[i] in ("norm", "cross_entropy")
        assert auto.embeddings_[i] == ("posterior" if auto.label_losses_[i] == "cross_entropy" else "common")
    # the candidates of label_loss="auto" and weight_decay="auto", each alone
    candidates = [("norm", 0.0), ("norm", 0.1), ("cross_entropy", 0.0)]
    scores = np.array([
        [max(net.history[:, "valid_score"]) for net in
         SDML(random_state=0, label_loss=loss, weight_decay=decay, **params).fit(X, y).networks_]
        for loss, decay in candidates
    ])
    for i, net in enumerate(auto.networks_):
        best = int(np.argmax(scores[:, i]))
        assert (auto.label_losses_[i], auto.weight_decays_[i]) == candidates[best]
        assert max(net.history[:, "valid_score"]) == scores[best, i]


def test_posterior_needs_the_softmax_classifier(three_modal):
    X, y = three_modal
    with pytest.raises(ValueError, match="label_loss='cross_entropy'"):
        SDML(label_loss="norm", embedding="posterior", **FAST).fit(X, y)


def test_paper_params_are_one_call_away():
    model = SDML(**SDML.paper_params())
    assert (model.label_loss, model.embedding) == ("norm", "common")
    assert (model.lam, model.lr, model.n_components) == (0.5, 1e-4, 512)
    assert model.hidden_layer_sizes == (1024, 1024) and not model.standardize


def test_wikipedia_smoke(data_home):
    Xtr, Xte, ytr, yte = load_wikipedia(data_home)
    tr, te = Xtr.modalities(), Xte.modalities()
    # The estimator standardises the raw features itself.
    model = SDML(n_components=16, hidden_layer_sizes=(64,), max_epochs=4, random_state=0).fit(tr, ytr)
    emb = [model.transform(i, te[i]) for i in range(2)]
    assert mean_average_precision(emb[0], emb[1], yte, yte) > _chance_map(yte, yte) + 0.03
    assert mean_average_precision(emb[1], emb[0], yte, yte) > _chance_map(yte, yte) + 0.03


def test_clone_keeps_parameters():
    model = SDML(n_components=16, lam=0.3, hidden_layer_sizes=(8, 4), random_state=3)
    params = clone(model).get_params()
    assert params["lam"] == 0.3 and params["hidden_layer_sizes"] == (8, 4)
    assert copy.deepcopy(model).get_params() == model.get_params()


@gpu
def test_cuda_fit_round_trip(three_modal):
    X, y = three_modal
    model = SDML(random_state=0, device="cuda", **FAST).fit(X, y)
    # Trained on CUDA, parked on the CPU; transform runs on CUDA again.
    assert all(str(net.device) == "cpu" for net in model.networks_)
    assert all(p.device.type == "cpu" for net in model.networks_ for p in net.module_.parameters())
    loaded = joblib.load(io.BytesIO(_dumps(model)))
    np.testing.assert_array_equal(model.transform(0, X.modality(0)), loaded.transform(0, X.modality(0)))


def _dumps(obj):
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def test_auto_weight_decay_per_network(three_modal):
    """Each modality's network picks its own penalty on its own validation split,
    and is the network that penalty gives on its own."""
    X, y = three_modal
    params = {**FAST, "early_stopping": True, "validation_folds": 1, "max_epochs": 15, "n_iter_no_change": 5,
              "random_state": 0}
    auto = SDML(weight_decay="auto", **params).fit(X, y)
    fixed = {wd: SDML(weight_decay=wd, **params).fit(X, y) for wd in (0.0, 0.1)}
    for c, chosen in enumerate(auto.weight_decays_):
        scores = {wd: max(m.networks_[c].history[:, "valid_score"]) for wd, m in fixed.items()}
        assert chosen == max(scores, key=scores.get)
        np.testing.assert_array_equal(auto.transform(c, X.modality(c)), fixed[chosen].transform(c, X.modality(c)))
