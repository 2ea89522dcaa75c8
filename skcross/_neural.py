"""One training lifecycle for the skorch-based estimators (SDML, DSCMR, CrossModalVAE).

A method supplies a module and a loss (a skorch ``NeuralNet`` subclass with
its ``get_loss``) and, for early stopping, a validation score. Everything else
lives here, once:

- the validation split: one policy, stratified by class when labels allow,
  carved from the training data only: one hold-out part
  (``validation_fraction``) or, on small data, k folds whose averaged
  validation curves choose the epoch count before a refit on every
  training row (``validation_folds``);
- early stopping on the validation score with a patience
  (``n_iter_no_change``) and the best epoch restored: skorch's
  ``EarlyStopping(load_best=True)``;
- optionally (``average_weights``), a running tail average of the weights
  in place of the last iterate for scoring and keeping
  (:class:`WeightAveraging`);
- named seed streams derived from ``random_state`` (initial weights, batch
  order, split; ``CrossModalEstimator._seed``);
- progress (skorch's ``ProgressBar`` when ``verbose``) and Ctrl-C, which
  skorch turns into a normal end of training that keeps the best epoch;
- batches sliced from whole tensors (one Python call per batch, not per
  sample), dense or scipy.sparse (densified one batch at a time), or read
  from a memmap one batch at a time (:class:`~skcross._streaming.HostRows`);
- a validation set held as dense tensors, at most ``MAX_VALIDATION_ROWS``;
- parking the fitted net on the CPU with no validation data, and batched
  inference on the estimator's current device.

Nets pickled on CUDA by other means are mapped to the CPU by skorch's own
``NeuralNet.__setstate__`` when CUDA is absent.
"""

from __future__ import annotations

import copy
import math
from numbers import Integral
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.utils import noop

from ._multimodal import _n_rows
from ._streaming import HostRows
from ._validation import holdout_size, holdout_split, kfold_splits
from .base import COMMON_CONSTRAINTS, TRAINING_CONSTRAINTS, CrossModalEstimator, check_finite_loss
from .metrics import cross_modal_map

__all__ = [
    "NeuralCrossModalEstimator",
    "DivergenceGuard",
    "ValidationScore",
    "WeightAveraging",
    "check_label_readout",
    "softmax_cross_entropy",
    "class_map_score",
    "paired_retrieval_score",
    "TensorDataset",
    "TensorBatches",
    "batched_apply",
    "release_to_cpu",
    "inference_module",
]

# The quantity early stopping watches (higher is better), recorded each epoch.
VALID_SCORE = "valid_score"
# The L2 penalties weight_decay="auto" chooses between on the validation split:
# none, and one strong enough for high-dimensional inputs with few samples per
# class (bag-of-words), where an unpenalised network overfits in an epoch or two.
AUTO_WEIGHT_DECAYS = (0.0, 0.1)
# validation_folds="auto": below this many training samples a 10% hold-out part
# is under 100 samples, and its score ranks epochs and candidates by noise.
# There AUTO_FOLDS folds choose and the network is refitted on every training
# sample (SDML, validation mAP over three seeds: +0.029 on MSRC_v1, +0.035 on
# Prokaryotic, +0.092 on 200 digits; benchmarks/bench_validation_folds.py and
# the fitting guide). Larger data keep the single hold-out split, which costs
# two to six times less.
AUTO_FOLDS_MAX_SAMPLES = 1000
# ... and whatever the size, when the hold-out part would average fewer than
# this many samples per class: with one or two held-out samples of a class its
# score cannot rank epochs either (benchmarks/bench_validation_folds.py,
# validation mAP over two seeds, SDML / DSCMR: 100Leaves, 1.3 per class,
# +0.085 / +0.042; synthetic, 100 classes +0.049 / +0.027, 60 classes
# +0.034 / +0.010). At about four per class (40 classes) the folds still won
# there (+0.003 to +0.046) but were a toss-up in an ad-hoc check on 2,000
# samples of 40 classes (-0.018 to +0.031), and at 7.5 and 16 per class too
# (-0.011 to +0.010), so from 3 on data keep the cheaper single split.
AUTO_FOLDS_MIN_HELD_OUT_PER_CLASS = 3
AUTO_FOLDS = 3
# average_weights=True: the weights scored and kept are a running average of
# the last WEIGHT_AVERAGING_FRACTION of the optimiser's steps (see
# WeightAveraging), a window measured in steps so that it means the same on
# 100 samples (one step per epoch) and on 100,000. The last half was no better
# on validation splits (SDML +0.011 / +0.009 / -0.008 on MSRC_v1 / Prokaryotic /
# BBCSport, DSCMR -0.002 / +0.000 on the first two) and slower.
WEIGHT_AVERAGING_FRACTION = 0.2
# Held-out rows scored each epoch at most (evenly spaced over the held-out
# rows): the score functions compare every held-out sample with every other.
MAX_VALIDATION_ROWS = 10_000


# The label term and the retrieval embedding of the supervised estimators
# (SDML, DSCMR). The papers regress the one-hot labels with a (non-squared) L2
# norm and retrieve with the common representation ("norm", "common"). On
# noisy data with many classes that regression is a poor classifier (ESL 4.2's
# "masking": a class whose fitted indicator never dominates is never
# predicted), and cosine on the common representation ranks by it. A softmax
# classifier trained by cross-entropy, whose class posteriors are the
# retrieval embedding, is what the label-space baseline does per modality;
# the methods keep their networks, their other loss terms and their common
# space, and read the posterior off their own label-space map (the fitting
# guide and the method pages have the measurements).


def softmax_cross_entropy(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``softmax(logits)`` against label indicator rows.

    A multi-label row is spread evenly over its labels (target ``y / sum(y)``);
    a row with no label contributes nothing.
    """
    Y = Y.to(logits.dtype)
    target = Y / Y.sum(dim=1, keepdim=True).clamp_min(1.0)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()


def check_label_readout(estimator: Any) -> None:
    """``embedding="posterior"`` reads the softmax classifier's posterior, so
    it needs that classifier to be trained: ``label_loss="cross_entropy"``."""
    if estimator.embedding == "posterior" and estimator.label_loss == "norm":
        raise ValueError(
            f"{type(estimator).__name__}: embedding='posterior' returns the class posteriors of the "
            f"softmax classifier, which label_loss={estimator.label_loss!r} does not train; use "
            "label_loss='cross_entropy', or embedding='common' (the paper's common representation)."
        )


class DivergenceGuard(Callback):
    """Raise :class:`~skcross.exceptions.TrainingDivergedError` on a non-finite loss."""

    def __init__(self, estimator_name: str = "model", key: str = "train_loss"):
        self.estimator_name = estimator_name
        self.key = key

    def on_epoch_end(self, net, **kwargs):
        if self.key in net.history[-1]:
            check_finite_loss(float(net.history[-1, self.key]), len(net.history), self.estimator_name)


class ValidationScore(Callback):
    """Record ``valid_score = score(net)`` at the end of every epoch.

    ``score`` receives the net with its module in eval mode and gradients off,
    and returns a float, higher is better (a validation mAP, or minus a
    validation loss). The function, which holds the validation tensors, is
    dropped at the end of training so that it is never pickled with the model.
    """

    def __init__(self, score: Callable[[Any], float]):
        self.score = score

    def on_epoch_end(self, net, **kwargs):
        module = net.module_
        was_training = module.training
        module.eval()
        with torch.no_grad():
            value = float(self.score(net))
        module.train(was_training)
        net.history.record(VALID_SCORE, value)

    def on_train_end(self, net, **kwargs):
        self.score = None


class WeightAveraging(Callback):
    """Score and keep a running average of the weights, not the last iterate.

    Tail averaging (Polyak and Juditsky, 1992): after optimiser step ``t`` the
    average moves towards the current weights by ``min(1, 2 / (fraction * t
    + 1))``, an exponential average whose window grows with training and
    spans about the last ``fraction`` of the steps. At the end of every epoch
    the module holds the average, so the validation score, early stopping's
    best epoch and the kept model all see averaged weights; training resumes
    from the optimiser's own weights at the next epoch. On small data the
    last iterate of a mini-batch optimiser is noisy, and the epochs early
    stopping ranks differ by that noise as much as by what they learned.
    """

    def __init__(self, fraction: float = WEIGHT_AVERAGING_FRACTION):
        self.fraction = fraction

    def on_train_begin(self, net, **kwargs):
        self.average_ = [p.detach().clone() for p in net.module_.parameters()]
        self.current_ = None
        self.n_steps_ = 0

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        self.n_steps_ += 1
        step = min(1.0, 2.0 / (self.fraction * self.n_steps_ + 1.0))
        with torch.no_grad():
            for average, p in zip(self.average_, net.module_.parameters()):
                average.lerp_(p.detach(), step)

    def on_epoch_begin(self, net, **kwargs):
        self._swap_in(net, self.current_)
        self.current_ = None

    def on_epoch_end(self, net, **kwargs):
        self.current_ = [p.detach().clone() for p in net.module_.parameters()]
        self._swap_in(net, self.average_)

    def on_train_end(self, net, **kwargs):
        # Interrupted in mid-epoch, the module holds the optimiser's weights.
        if self.current_ is None and self.n_steps_:
            self._swap_in(net, self.average_)
        self.average_ = self.current_ = None  # never pickled with the model

    @staticmethod
    def _swap_in(net, weights):
        if weights is None:
            return
        with torch.no_grad():
            for p, w in zip(net.module_.parameters(), weights):
                p.copy_(w)


def class_map_score(embeddings: list[Any], Y: Any) -> float:
    """Early-stopping score with labels: the held-out pairs' mean mAP over
    every ordered pair of modalities, relevant when they share a class
    (``Y``: the held-out label indicators, one row per pair)."""
    return float(np.mean(list(cross_modal_map(embeddings, [Y] * len(embeddings)).values())))


def paired_retrieval_score(embeddings: list[torch.Tensor], max_rows: int = 2000) -> float:
    """Label-free early-stopping score: how well held-out pairs find each other.

    For every ordered pair of modalities, each held-out sample queries the
    other modality's held-out samples by cosine similarity; the score is the
    mean reciprocal rank of its own pair (ties count half), averaged over the
    pairs of modalities. It needs no labels, so unsupervised estimators can
    early-stop on retrieval rather than on a training objective that need not
    track it. At most ``max_rows`` held-out pairs are used (the first ones).
    """
    E = [torch.nn.functional.normalize(e[:max_rows].double(), dim=1) for e in embeddings]
    scores = []
    for a in range(len(E)):
        for b in range(len(E)):
            if a == b:
                continue
            S = E[a] @ E[b].T
            own = S.diagonal().unsqueeze(1)
            above = (S > own).sum(dim=1).double()
            tied = (S == own).sum(dim=1).double() - 1.0
            scores.append(float((1.0 / (1.0 + above + 0.5 * tied)).mean()))
    return float(np.mean(scores))


class TensorDataset(torch.utils.data.Dataset):
    """Training samples held whole: ``X`` a dict of per-modality arrays (or one
    array), ``Y`` an array of targets or None.

    Dense arrays become tensors on ``device`` once; scipy.sparse matrices stay
    sparse on the host and are densified one batch at a time, so a large
    bag-of-words modality is never dense in memory; a streamed modality
    (:class:`~skcross._streaming.HostRows`, a memmap) stays on disk and each
    batch is read, standardised and cast when it is drawn.
    """

    def __init__(self, X: Any, Y: Any, device: Any, generator: torch.Generator):
        self.device = torch.device(device)
        self.X = {k: self._hold(v) for k, v in X.items()} if isinstance(X, dict) else self._hold(X)
        self.Y = None if Y is None else self._hold(Y)
        self.generator = generator
        first = next(iter(self.X.values())) if isinstance(self.X, dict) else self.X
        self.n_samples = first.shape[0]

    def _hold(self, A: Any) -> Any:
        if isinstance(A, HostRows):
            return A
        if sp.issparse(A):
            return sp.csr_matrix(A, dtype=np.float32)
        return torch.as_tensor(np.asarray(A, dtype=np.float32), device=self.device)

    def __len__(self) -> int:
        return self.n_samples

    def _rows(self, A: Any, idx: torch.Tensor) -> torch.Tensor:
        if isinstance(A, HostRows):
            return torch.as_tensor(A.read(idx.cpu().numpy()), dtype=torch.float32, device=self.device)
        if sp.issparse(A):
            return torch.as_tensor(A[idx.cpu().numpy()].toarray(), device=self.device)
        return A[idx.to(A.device)]

    def batch(self, idx: torch.Tensor) -> tuple:
        X = {k: self._rows(v, idx) for k, v in self.X.items()} if isinstance(self.X, dict) else self._rows(self.X, idx)
        return X, (None if self.Y is None else self._rows(self.Y, idx))

    def __getitem__(self, i):  # skorch's default iterators, not used for training
        return self.batch(torch.as_tensor([i]))

    def densified(self) -> "TensorDataset":
        """This dataset with every modality a dense tensor on the device (for a
        small held-out set that score functions use whole)."""
        rows = torch.arange(self.n_samples)
        dense = copy.copy(self)
        dense.X, dense.Y = self.batch(rows)
        return dense


class TensorBatches:
    """Mini-batches of a :class:`TensorDataset`, reshuffled each epoch by its generator.

    Every sample is used once per epoch, in ``ceil(n / batch_size)`` batches
    of equal size (give or take one); with ``drop_last``, ``n // batch_size``
    full batches instead and the rest dropped, unless that leaves none.
    """

    def __init__(self, dataset: TensorDataset, batch_size: int, shuffle: bool = False, drop_last: bool = False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last and len(dataset) > batch_size

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        ds, n = self.dataset, len(self.dataset)
        order = torch.randperm(n, generator=ds.generator) if self.shuffle else torch.arange(n)
        if self.drop_last:
            for start in range(0, len(self) * self.batch_size, self.batch_size):
                yield ds.batch(order[start : start + self.batch_size])
        else:
            # Equal batches (sizes differ by one at most), not full ones and a
            # remainder: Adam's step has the same size whatever the batch, so a
            # last batch of 10 of 110 samples would move the weights as far as a
            # full one on a tenth of the evidence.
            for rows in torch.tensor_split(order, len(self)):
                yield ds.batch(rows)


@torch.no_grad()
def batched_apply(fn: Callable, X: Any, device: torch.device, batch_size: int = 4096) -> np.ndarray:
    """Apply ``fn`` (tensor -> tensor) to the rows of ``X`` in batches; float32 numpy out.

    Each batch's output is written into one preallocated array (a list of
    outputs concatenated at the end would hold the embeddings twice: 2 GiB at
    the peak for 1,000,000 rows of 256 float32 instead of 1 GiB)."""
    n = X.shape[0]
    out = None
    for start in range(0, n, batch_size):
        chunk = X[start : start + batch_size]
        if sp.issparse(chunk):
            chunk = chunk.toarray()
        t = torch.as_tensor(np.asarray(chunk, dtype=np.float32), device=device)
        y = fn(t).detach().cpu().numpy()
        if out is None:
            out = np.empty((n, *y.shape[1:]), dtype=np.float32)
        out[start : start + len(y)] = y
    if isinstance(X, HostRows):  # a memmap: drop the pages read from this process
        X.release()
    if out is None:  # no rows: the width is that of fn's output
        t = torch.zeros((0, X.shape[1]), dtype=torch.float32, device=device)
        out = fn(t).detach().cpu().numpy().astype(np.float32, copy=False)
    return out


def _tensors_to_cpu(obj: Any) -> Any:
    """A copy of a nested structure (an optimizer state) with every tensor on the CPU."""
    if torch.is_tensor(obj):
        return obj.detach().to("cpu")
    if isinstance(obj, dict):
        return {k: _tensors_to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tensors_to_cpu(v) for v in obj)
    return obj


def release_to_cpu(net: Any) -> Any:
    """Park a fitted skorch net on the CPU and drop its validation data.

    The module and the optimizer state move to the CPU and ``net.device``
    becomes "cpu", so a pickled model holds no CUDA tensor at all (it loads on
    any machine without relying on skorch's CUDA-to-CPU mapping); inference
    moves the module to the device it runs on. ``train_split`` is cleared and
    the early-stopping copy of the best weights dropped.
    """
    net.train_split = None
    net.module_.to("cpu")
    net.device = "cpu"
    if getattr(net, "optimizer_", None) is not None:
        net.optimizer_.load_state_dict(_tensors_to_cpu(net.optimizer_.state_dict()))
    for _, callback in getattr(net, "callbacks_", []):
        if isinstance(callback, EarlyStopping):
            callback.best_model_weights_ = None
    return net


def inference_module(net: Any, device: torch.device) -> torch.nn.Module:
    """The fitted module of ``net`` in eval mode, on ``device``.

    The parked (CPU) module itself when ``device`` is the CPU; otherwise a copy
    moved to ``device``, so the fitted model stays on the CPU and picklable
    anywhere while inference uses the accelerator.
    """
    module = net.module_
    if torch.device(device) != next(module.parameters()).device:
        module = copy.deepcopy(module).to(device)
    return module.eval()


def _validation_curve(net: Any) -> list[float]:
    """The validation score of each epoch a net trained (empty without one)."""
    return [row[VALID_SCORE] for row in net.history if VALID_SCORE in row]


def _padded(curve: list[float], length: int) -> list[float]:
    """``curve`` extended to ``length`` epochs with its last score."""
    return list(curve) + [curve[-1]] * (length - len(curve))


class NeuralCrossModalEstimator(CrossModalEstimator):
    """Base of the skorch-based estimators: the training lifecycle around a method.

    A subclass builds its skorch net with :meth:`_make_net` (module, loss and
    method-specific arguments), trains it with :meth:`_train_net` and embeds
    with :meth:`_embed`. Parameters every subclass has, with one name across
    the package: ``lr``, ``batch_size``, ``max_epochs``, ``early_stopping``,
    ``validation_fraction``, ``validation_folds``, ``n_iter_no_change``,
    ``average_weights``, ``standardize``,
    ``random_state``, ``device``, ``verbose``.
    """

    _stream_inputs = True
    # Whether validation_folds="auto" switches to AUTO_FOLDS folds on small data.
    _folds_when_small = True
    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        **TRAINING_CONSTRAINTS,
        "validation_folds": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "average_weights": ["boolean"],
    }

    # ------------------------------------------------------------ the split
    def _n_validation_folds(self, n_samples: int, n_classes: int = 1) -> int:
        """1 for a hold-out split, k for k folds (``validation_folds``)."""
        if self.validation_folds != "auto":
            return int(self.validation_folds)
        held_out_per_class = holdout_size(n_samples, float(self.validation_fraction)) / n_classes
        small = n_samples < AUTO_FOLDS_MAX_SAMPLES or held_out_per_class < AUTO_FOLDS_MIN_HELD_OUT_PER_CLASS
        return AUTO_FOLDS if self._folds_when_small and small else 1

    def _validation_splits(self, n_samples: int, Y: Any = None, *offsets: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (training, validation) row pairs of model selection: none without
        early stopping, one hold-out split or k folds.

        Stratified by class for single-label ``Y``; random otherwise. Drawn
        from the "split" seed stream (``offsets`` give, e.g., each modality of
        an unpaired fit its own split).
        """
        if not self.early_stopping:
            return []
        labels = Y if Y is not None else np.arange(n_samples)
        seed = self._seed("split", *offsets)
        n_classes = Y.shape[1] if Y is not None and np.ndim(Y) == 2 else 1
        n_folds = self._n_validation_folds(n_samples, n_classes)
        if n_folds == 1:
            return [holdout_split(labels, self.validation_fraction, seed)]
        return kfold_splits(labels, n_folds, seed)

    def _held_out_rows(self, n_samples: int, Y: Any = None, *offsets: int) -> np.ndarray:
        """Rows the kept network never trained on: the hold-out part, or none
        (no early stopping, or k folds and a refit on every row)."""
        splits = self._validation_splits(n_samples, Y, *offsets)
        return splits[0][1] if len(splits) == 1 else np.arange(0)

    # -------------------------------------------------------------- the net
    def _callbacks(self, name: str, score: Callable[[Any], float] | None) -> list:
        """The callbacks of every net: divergence guard, weight averaging
        (``average_weights``), validation score and early stopping (when
        ``score`` is given), progress bar (``verbose``)."""
        callbacks: list = [("divergence_guard", DivergenceGuard(name))]
        # Before the score: it must see the averaged weights.
        if self.average_weights:
            callbacks.append(("weight_averaging", WeightAveraging(WEIGHT_AVERAGING_FRACTION)))
        if score is not None:
            callbacks.append(("validation_score", ValidationScore(score)))
            callbacks.append((
                "early_stopping",
                EarlyStopping(
                    monitor=VALID_SCORE,
                    lower_is_better=False,
                    patience=int(self.n_iter_no_change),
                    threshold=0.0,
                    threshold_mode="abs",
                    load_best=True,
                    sink=print if self.verbose else noop,
                ),
            ))
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _make_net(
        self,
        net_class: type,
        module: Any,
        dataset: TensorDataset,
        *,
        name: str,
        score: Callable[[Any], float] | None = None,
        drop_last: bool = False,
        callbacks: list | None = None,
        **kwargs: Any,
    ) -> Any:
        """A skorch net training on ``dataset`` with the shared lifecycle.

        ``callbacks`` (name, callback) pairs are added to the shared ones;
        ``kwargs`` go to ``net_class`` (``module__*``, ``criterion``, ...).
        """
        kwargs.setdefault("optimizer", torch.optim.Adam)
        return net_class(
            module=module,
            lr=float(self.lr),
            batch_size=int(self.batch_size),
            max_epochs=int(self.max_epochs),
            train_split=None,  # validation is the ValidationScore callback's
            iterator_train=TensorBatches,
            iterator_train__shuffle=True,
            iterator_train__drop_last=drop_last,
            callbacks=self._callbacks(name, score) + list(callbacks or []),
            device=str(dataset.device),
            verbose=int(self.verbose),
            **kwargs,
        )

    def _train_net(self, net: Any, dataset: TensorDataset, *offsets: int) -> tuple[Any, int]:
        """Fit ``net`` (initial weights from the "init" seed stream), park it on
        the CPU; return it and the (1-based) epoch whose weights it keeps."""
        from ._torch_utils import torch_seed

        with torch_seed(self._seed("init", *offsets), dataset.device):
            net.fit(dataset, None)
        release_to_cpu(net)
        stopper = dict(net.callbacks_).get("early_stopping")
        best = int(stopper.best_epoch_) if stopper is not None and stopper.best_epoch_ else len(net.history)
        return net, best

    def _weight_decay_candidates(self) -> list[float]:
        """The L2 penalties a fit tries: the given one, or, for
        ``weight_decay="auto"`` with early stopping, each of
        ``AUTO_WEIGHT_DECAYS`` (the one whose best validation score is highest
        is kept). Without a validation split "auto" means no penalty."""
        if self.weight_decay != "auto":
            return [float(self.weight_decay)]
        return list(AUTO_WEIGHT_DECAYS) if self.early_stopping else [0.0]

    def _train_candidate(self, net: Any, dataset: TensorDataset, *offsets: int) -> tuple[Any, int]:
        """:meth:`_train_net` with the batch order rewound: every candidate and
        fold sees its batches in the same order."""
        dataset.generator.manual_seed(self._seed("shuffle", *offsets))
        return self._train_net(net, dataset, *offsets)

    def _train_selecting(
        self,
        build: Callable[[Any, TensorDataset, Any], Any],
        make_score: Callable[[TensorDataset], Callable[[Any], float]],
        X: Any,
        Y: Any,
        candidates: Any = None,
        *offsets: int,
        stratify: Any = None,
    ) -> tuple[Any, int, Any, list[float]]:
        """Train ``build(candidate, dataset, score)`` for each candidate and keep
        the best by validation score (:meth:`_train_each`; ties keep the first).

        ``candidates`` defaults to the weight decays of
        :meth:`_weight_decay_candidates`. After k folds only the best candidate
        is refitted on every row.

        Returns ``(net, best_epoch, candidate, scores)``, with each candidate's
        best (mean) validation score, -inf without a validation split.
        """
        if candidates is None:
            candidates = self._weight_decay_candidates()
        trained, values = self._train_each(build, make_score, X, Y, candidates, *offsets,
                                           stratify=stratify, refit="best")
        best = int(np.argmax(values))
        net, epoch = trained[best]
        return net, epoch, candidates[best], values

    def _train_each(
        self,
        build: Callable[[Any, TensorDataset, Any], Any],
        make_score: Callable[[TensorDataset], Callable[[Any], float]],
        X: Any,
        Y: Any,
        candidates: Any,
        *offsets: int,
        stratify: Any = None,
        refit: str = "all",
    ) -> tuple[list, list[float]]:
        """Train ``build(candidate, dataset, score)`` for each candidate.

        ``X`` (array or dict of modality arrays) and ``Y`` (label indicators or
        None) are every training row; the rows are split here
        (:meth:`_validation_splits`). ``make_score(held)`` turns held-out rows
        into the score function early stopping watches. ``stratify`` (label
        indicators) stratifies the splits when ``Y`` is None. Every candidate
        (the weight decays of SDML and DSCMR, the VAE's target modalities)
        starts from the same initial weights and sees the batches in the same
        order, so they differ by the candidate only.

        - Without early stopping each candidate trains ``max_epochs`` on every
          row.
        - With one hold-out split each candidate trains on the rest, stops
          ``n_iter_no_change`` epochs after its best validation score and
          restores that epoch.
        - With k folds each candidate trains on each fold the same way; the
          folds' validation curves are averaged (a fold that stopped early
          keeps its last score), and a fresh net (same initial weights) trains
          the best epoch count of the mean curve on every row: for every
          candidate (``refit="all"``) or only for the best one (``"best"``;
          the others' entries are None). The fold nets are discarded. Ctrl-C
          ends the current fold's training only.

        Returns ``(trained, scores)``: per candidate ``(net, best_epoch)`` and
        its best (mean) validation score, -inf without a validation split.
        """
        n_samples = int(_n_rows(next(iter(X.values())) if isinstance(X, dict) else X))
        splits = self._validation_splits(n_samples, Y if stratify is None else stratify, *offsets)
        if len(splits) <= 1:
            train, valid = splits[0] if splits else (None, None)
            dataset = self._dataset(X, Y, train, *offsets)
            score = None if valid is None else make_score(self._validation_set(X, Y, valid, *offsets))
            trained, values = [], []
            for candidate in candidates:
                net, epoch = self._train_candidate(build(candidate, dataset, score), dataset, *offsets)
                curve = _validation_curve(net)
                trained.append((net, epoch))
                values.append(max(curve) if curve else -np.inf)
            return trained, values

        curves: list[list[list[float]]] = [[] for _ in candidates]
        for fold, (train, valid) in enumerate(splits):
            if self.verbose:
                print(f"validation fold {fold + 1} of {len(splits)}", flush=True)
            dataset = self._dataset(X, Y, train, *offsets)
            score = make_score(self._validation_set(X, Y, valid, *offsets))
            for i, candidate in enumerate(candidates):
                net, _ = self._train_candidate(build(candidate, dataset, score), dataset, *offsets)
                curves[i].append(_validation_curve(net))
        # A fold that stopped early keeps its last score: cutting every curve to
        # the shortest let one fold stalled on a plateau pick an early epoch for
        # all (CrossModalVAE, 200 digits: folds of 56, 18 and 17 epochs, 15
        # chosen, 0.170 mAP where one hold-out part gave 0.40).
        means = [np.mean([_padded(c, max(map(len, folds))) for c in folds], axis=0) for folds in curves]
        values = [float(m.max()) for m in means]
        best = int(np.argmax(values))
        dataset = self._dataset(X, Y, None, *offsets)
        trained: list = [None] * len(candidates)
        for i in range(len(candidates)) if refit == "all" else [best]:
            epoch = int(np.argmax(means[i])) + 1
            if self.verbose:
                print(f"refitting on all {n_samples} samples for {epoch} epochs", flush=True)
            # The same number of epochs, not of optimiser steps: with half as many
            # samples again the best step count grows too (SDML on 500 samples of
            # 20 classes: 0.152 mAP refitted for the folds' steps, 0.176 for their
            # epochs).
            net = build(candidates[i], dataset, None)
            net.set_params(max_epochs=epoch)
            net, _ = self._train_candidate(net, dataset, *offsets)
            trained[i] = (net, epoch)
        return trained, values

    def _dataset(self, X: Any, Y: Any, rows: np.ndarray | None = None, *offsets: int) -> TensorDataset:
        """Rows of ``X`` (dict or array) and ``Y`` as a :class:`TensorDataset` on
        the training device, shuffled from the "shuffle" seed stream."""
        def take(A):
            if rows is None:
                return A
            return A.subset(rows) if isinstance(A, HostRows) else A[rows]

        X = {k: take(v) for k, v in X.items()} if isinstance(X, dict) else take(X)
        Y = None if Y is None else take(Y)
        generator = torch.Generator().manual_seed(self._seed("shuffle", *offsets))
        return TensorDataset(X, Y, self._device(), generator)

    def _validation_set(self, X: Any, Y: Any, rows: np.ndarray, *offsets: int) -> TensorDataset:
        """The held-out ``rows`` as dense tensors on the training device, for the
        score functions; at most ``MAX_VALIDATION_ROWS`` of them, evenly spaced.

        Sparse and streamed (memmapped) modalities are densified here, held-out
        rows only; the training rows stay as they are."""
        rows = np.asarray(rows)
        if len(rows) > MAX_VALIDATION_ROWS:
            rows = rows[np.linspace(0, len(rows) - 1, MAX_VALIDATION_ROWS).astype(np.intp)]
        return self._dataset(X, Y, rows, *offsets).densified()

    # ------------------------------------------------------------- inference
    def _embed(self, net: Any, fn: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor], X: Any) -> np.ndarray:
        """``fn(module, batch)`` over the rows of ``X`` on the current device."""
        device = self._device()
        module = inference_module(net, device)
        return batched_apply(lambda t: fn(module, t), X, device)
