"""The shared training lifecycle of the skorch-based estimators (skcross._neural):
batches, the validation splits, and k-fold early stopping with its refit."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skcross import DSCMR, SDML, CrossModalVAE
from skcross._neural import AUTO_FOLDS, AUTO_FOLDS_MAX_SAMPLES, TensorBatches, TensorDataset
from skcross._validation import kfold_splits
from skcross.datasets import make_multimodal_classification

FAST = dict(n_components=8, hidden_layer_sizes=(16,), max_epochs=12, batch_size=32, n_iter_no_change=3)


@pytest.fixture(scope="module")
def toy():
    return make_multimodal_classification(
        n_samples=120, n_modalities=2, n_classes=3, n_features=[8, 6], random_state=0
    )


def _batch_sizes(n, batch_size, drop_last):
    dataset = TensorDataset(np.zeros((n, 2), np.float32), None, torch.device("cpu"), torch.Generator())
    return [len(x) for x, _ in TensorBatches(dataset, batch_size, shuffle=True, drop_last=drop_last)]


def test_batches_are_equal_not_full_plus_remainder():
    # A remainder batch of 10 would get a full Adam step from a tenth of the data.
    assert _batch_sizes(110, 100, drop_last=False) == [55, 55]
    assert _batch_sizes(250, 100, drop_last=False) == [84, 83, 83]
    assert _batch_sizes(200, 100, drop_last=False) == [100, 100]
    assert _batch_sizes(40, 100, drop_last=False) == [40]
    # drop_last keeps full batches and drops the rest, unless that leaves none
    assert _batch_sizes(250, 100, drop_last=True) == [100, 100]
    assert _batch_sizes(40, 100, drop_last=True) == [40]


def test_kfold_splits_validate_every_row_once():
    y = np.repeat([0, 1, 2], [30, 12, 6])
    Y = np.eye(3, dtype=np.float32)[y]
    folds = kfold_splits(Y, 3, seed=0)
    assert len(folds) == 3
    valid = np.concatenate([v for _, v in folds])
    assert sorted(valid) == list(range(48))
    for train, v in folds:
        assert sorted(np.r_[train, v]) == list(range(48))
        assert np.bincount(y[v]).tolist() == [10, 4, 2]  # stratified
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, kfold_splits(Y, 3, seed=0)))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, kfold_splits(Y, 3, seed=1)))


def test_kfold_splits_fall_back_without_warning(recwarn):
    # a class smaller than the number of folds, multi-label rows, no labels
    lonely = np.eye(3, dtype=np.float32)[np.repeat([0, 1, 2], [20, 19, 1])]
    multi = lonely.copy()
    multi[:10, 1] = 1
    for labels in (lonely, multi, np.arange(40)):
        folds = kfold_splits(labels, 3, seed=0)
        assert sorted(np.concatenate([v for _, v in folds])) == list(range(40))
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
    with pytest.raises(ValueError, match="validation_folds=1"):
        kfold_splits(np.arange(2), 3, seed=0)


@pytest.mark.parametrize("Estimator", [SDML, DSCMR, CrossModalVAE])
def test_auto_folds_below_the_threshold_only(Estimator):
    model = Estimator()
    # the VAE's label-free score keeps one hold-out part at every size
    small = AUTO_FOLDS if Estimator is not CrossModalVAE else 1
    assert model._n_validation_folds(AUTO_FOLDS_MAX_SAMPLES - 1) == small
    assert model._n_validation_folds(AUTO_FOLDS_MAX_SAMPLES) == 1
    # many classes: a 10% hold-out part of 2,000 samples averages 2 per class of 100
    assert model._n_validation_folds(2000, n_classes=100) == small
    assert model._n_validation_folds(2000, n_classes=10) == 1
    assert Estimator(validation_folds=1)._n_validation_folds(10) == 1
    assert Estimator(validation_folds=5)._n_validation_folds(10**6) == 5
    with pytest.raises(ValueError, match="validation_folds"):
        Estimator(validation_folds=0).fit(*make_multimodal_classification(n_samples=30, random_state=0))


@pytest.mark.parametrize("n_classes, folds", [(40, True), (20, False)])
def test_auto_folds_for_many_classes_in_fit(n_classes, folds):
    # 1,100 pairs: a 10% hold-out part averages 2.75 samples of each of 40
    # classes (too few: three folds), 5.5 of each of 20 (one hold-out part)
    X, y = make_multimodal_classification(n_samples=1100, n_classes=n_classes, n_features=[6, 5],
                                          class_sep=3.0, random_state=0)
    model = DSCMR(random_state=0, **{**FAST, "max_epochs": 3}).fit(X, y)
    assert len(model.validation_indices_) == (0 if folds else 110)


def test_folds_choose_on_the_mean_curve_and_refit_on_every_pair(toy, monkeypatch):
    """With k folds every candidate trains on each fold; the (candidate, epoch)
    of the best mean validation curve is refitted on all training pairs."""
    X, y = toy
    seen = []
    original = DSCMR._train_candidate

    def record(self, net, dataset, *offsets):
        net, epoch = original(self, net, dataset, *offsets)
        seen.append((len(dataset), net.get_params()["optimizer__weight_decay"],
                     [row["valid_score"] for row in net.history if "valid_score" in row]))
        return net, epoch

    monkeypatch.setattr(DSCMR, "_train_candidate", record)
    model = DSCMR(random_state=0, validation_folds=3, **FAST).fit(X, y)
    folds, refit = seen[:-1], seen[-1]
    assert len(folds) == 3 * 2  # three folds, two weight decays ("auto")
    assert [n for n, _, _ in folds] == [80] * 6  # two thirds of 120 pairs each
    means = {}
    for wd in (0.0, 0.1):
        curves = [c for _, w, c in folds if w == wd]
        # a fold that stopped early keeps its last score
        length = max(map(len, curves))
        means[wd] = np.mean([c + [c[-1]] * (length - len(c)) for c in curves], axis=0)
    best = max(means, key=lambda wd: means[wd].max())
    assert model.weight_decay_ == best
    assert model.best_epoch_ == int(np.argmax(means[best])) + 1
    # the refit: every pair, that many epochs, no validation
    assert refit[0] == 120 and refit[1] == best and refit[2] == []
    assert model.n_iter_ == model.best_epoch_ == len(model.net_.history)
    assert sum(b["train_batch_size"] for b in model.net_.history[0]["batches"]) == 120
    assert len(model.validation_indices_) == 0


def test_folds_are_reproducible_and_differ_from_one_split(toy):
    X, y = toy
    a = SDML(random_state=0, validation_folds=3, **FAST).fit(X, y)
    b = SDML(random_state=0, validation_folds=3, **FAST).fit(X, y)
    c = SDML(random_state=0, validation_folds=1, **FAST).fit(X, y)
    for m in range(2):
        np.testing.assert_array_equal(a.transform(m, X.modality(m)), b.transform(m, X.modality(m)))
    assert not np.array_equal(a.transform(0, X.modality(0)), c.transform(0, X.modality(0)))
    # the default on 120 samples is the k-fold one
    d = SDML(random_state=0, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.transform(1, X.modality(1)), d.transform(1, X.modality(1)))


def test_vae_folds_choose_the_target_and_keep_no_hold_out(toy):
    X, y = toy
    model = CrossModalVAE(random_state=0, validation_folds=3, n_components=4, hidden_layer_sizes=(16,),
                          max_epochs=6, batch_size=32, n_iter_no_change=2).fit(X, y)
    assert set(model.target_scores_) == {"0", "1"}
    assert model.modalities_[model.target_index_] == max(model.target_scores_, key=model.target_scores_.get)
    assert len(model.validation_indices_) == 0 and model.n_iter_ == model.best_epoch_
    # both targets' models were refitted on every pair (the joined space), each for its own epoch count
    assert model.target_indices_ == (0, 1) and model.net_ is model.nets_[model.target_index_]
    assert all(1 <= len(net.history) <= 6 and net.train_split is None for net in model.nets_)


class _StepRecorder(Callback):
    """Keeps a copy of the weights after every optimiser step."""

    def __init__(self):
        self.steps = []

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.steps.append([p.detach().clone() for p in net.module_.parameters()])


def _install_recorders(monkeypatch, recorder_class=_StepRecorder) -> list:
    """Every net built from now on gets a ``recorder_class`` callback; the
    recorders are returned in the order their nets were built."""
    from skcross import _neural

    recorders = []
    make_net = _neural.NeuralCrossModalEstimator._make_net

    def recording(self, *args, callbacks=None, **kwargs):
        recorders.append(recorder_class())
        return make_net(self, *args, callbacks=[*(callbacks or []), ("recorder", recorders[-1])], **kwargs)

    monkeypatch.setattr(_neural.NeuralCrossModalEstimator, "_make_net", recording)
    return recorders


def _tail_average(steps: list) -> list:
    """The running tail average of recorded weights, computed independently of the callback."""
    from skcross._neural import WEIGHT_AVERAGING_FRACTION

    average = [w.clone() for w in steps[0]]
    for t, weights in enumerate(steps[1:], start=2):
        rate = min(1.0, 2.0 / (WEIGHT_AVERAGING_FRACTION * t + 1.0))
        for a, w in zip(average, weights):
            a.lerp_(w, rate)
    return average


def test_weight_averaging_keeps_the_tail_average_and_leaves_training_alone(toy, monkeypatch):
    """The kept weights are the running tail average of the optimiser's steps
    (recomputed here from the recorded steps), and the optimiser's own path is
    untouched: the per-epoch training losses are those of a fit without it."""
    X, y = toy
    recorders = _install_recorders(monkeypatch)
    params = {**FAST, "early_stopping": False, "max_epochs": 5}
    plain = DSCMR(average_weights=False, random_state=0, **params).fit(X, y)
    averaged = DSCMR(random_state=0, **params).fit(X, y)
    losses = [[row["train_loss"] for row in m.net_.history] for m in (plain, averaged)]
    assert losses[0] == losses[1]

    steps = recorders[-1].steps
    expected = _tail_average(steps)
    kept = list(averaged.net_.module_.parameters())
    for e, k, last in zip(expected, kept, steps[-1]):
        assert torch.allclose(e, k, atol=1e-6)
        assert not torch.equal(k, last)  # not the last iterate
    # the average is dropped after training: nothing extra is pickled
    callback = dict(averaged.net_.callbacks_)["weight_averaging"]
    assert callback.average_ is None and callback.current_ is None
    assert "weight_averaging" not in dict(plain.net_.callbacks_)


def test_weight_averaging_is_what_early_stopping_scores(toy):
    """With early stopping the validation score is computed on the averaged
    weights (another curve) while the optimiser's path stays the same."""
    X, y = toy
    params = {**FAST, "validation_folds": 1, "validation_fraction": 0.25, "max_epochs": 8, "n_iter_no_change": 8,
              "weight_decay": 0.0}
    model = SDML(random_state=0, **params).fit(X, y)
    plain = SDML(average_weights=False, random_state=0, **params).fit(X, y)
    for a, b in zip(model.networks_, plain.networks_):
        curve_a = [row["valid_score"] for row in a.history]
        curve_b = [row["valid_score"] for row in b.history]
        assert [row["train_loss"] for row in a.history] == [row["train_loss"] for row in b.history]
        assert curve_a != curve_b


class _InterruptInFourthEpoch(_StepRecorder):
    """Records the steps, then presses Ctrl-C after the first step of epoch 4
    (step 13: the average moves by 0.56 of the way, so it is not the iterate)."""

    def on_batch_end(self, net, training=False, **kwargs):
        super().on_batch_end(net, training=training, **kwargs)
        if training and len(net.history) == 4:
            raise KeyboardInterrupt


def test_weight_averaging_survives_an_interrupt_in_mid_epoch(toy, monkeypatch):
    """Ctrl-C in the middle of an epoch keeps the averaged weights, not the
    optimiser's half-epoch iterate."""
    X, y = toy
    recorders = _install_recorders(monkeypatch, _InterruptInFourthEpoch)
    model = DSCMR(random_state=0, **{**FAST, "early_stopping": False, "max_epochs": 8}).fit(X, y)
    steps = recorders[-1].steps
    assert len(steps) == 13
    expected = _tail_average(steps)
    assert len(model.net_.history) == 4
    for e, k, last in zip(expected, model.net_.module_.parameters(), steps[-1]):
        assert torch.allclose(e, k, atol=1e-6)
        assert not torch.equal(k, last)
