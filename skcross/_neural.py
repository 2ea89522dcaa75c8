"""One training lifecycle for the skorch-based estimators (SDML, DSCMR, CrossModalVAE).

A method supplies a module and a loss (a skorch ``NeuralNet`` subclass with
its ``get_loss``) and, for early stopping, a validation score. Everything else
lives here, once:

- the validation split: one policy, stratified by class when labels allow,
  carved from the training data only (``validation_fraction``);
- early stopping on the validation score with a patience
  (``n_iter_no_change``) and the best epoch restored: skorch's
  ``EarlyStopping(load_best=True)``;
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
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
import torch
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.utils import noop

from ._streaming import HostRows
from ._validation import holdout_split
from .base import COMMON_CONSTRAINTS, TRAINING_CONSTRAINTS, CrossModalEstimator, check_finite_loss

__all__ = [
    "NeuralCrossModalEstimator",
    "DivergenceGuard",
    "ValidationScore",
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
# Held-out rows scored each epoch at most (evenly spaced over the held-out
# rows): the score functions compare every held-out sample with every other.
MAX_VALIDATION_ROWS = 10_000


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

    Every sample is used once per epoch; with ``drop_last`` a last partial
    batch is dropped unless it is the only one.
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
        stop = len(self) * self.batch_size
        for start in range(0, min(n, stop), self.batch_size):
            yield ds.batch(order[start : start + self.batch_size])


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


class NeuralCrossModalEstimator(CrossModalEstimator):
    """Base of the skorch-based estimators: the training lifecycle around a method.

    A subclass builds its skorch net with :meth:`_make_net` (module, loss and
    method-specific arguments), trains it with :meth:`_train_net` and embeds
    with :meth:`_embed`. Parameters every subclass has, with one name across
    the package: ``lr``, ``batch_size``, ``max_epochs``, ``early_stopping``,
    ``validation_fraction``, ``n_iter_no_change``, ``standardize``,
    ``random_state``, ``device``, ``verbose``.
    """

    _stream_inputs = True
    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        **TRAINING_CONSTRAINTS,
    }

    # ------------------------------------------------------------ the split
    def _split_rows(self, n_samples: int, Y: Any = None, *offsets: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Training and validation rows (validation None without early stopping).

        Stratified by class for single-label ``Y``; a random split otherwise.
        Drawn from the "split" seed stream (``offsets`` give, e.g., each
        modality of an unpaired fit its own split).
        """
        rows = np.arange(n_samples)
        if not self.early_stopping:
            return rows, None
        labels = Y if Y is not None else rows
        return holdout_split(labels, self.validation_fraction, self._seed("split", *offsets))

    # -------------------------------------------------------------- the net
    def _callbacks(self, name: str, score: Callable[[Any], float] | None) -> list:
        """The callbacks of every net: divergence guard, validation score and
        early stopping (when ``score`` is given), progress bar (``verbose``)."""
        callbacks: list = [("divergence_guard", DivergenceGuard(name))]
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

    def _train_selecting(
        self, build: Callable[[Any], Any], dataset: TensorDataset, candidates: Any = None, *offsets: int
    ) -> tuple[Any, int, Any, list[float]]:
        """Train ``build(candidate)`` for each candidate and keep the net with
        the best validation score.

        ``candidates`` defaults to the weight decays of
        :meth:`_weight_decay_candidates`; a method may pass its own (the VAE's
        target modalities). Every candidate starts from the same initial
        weights and sees the batches in the same order, so they differ by the
        candidate only. Returns ``(net, best_epoch, candidate, scores)``, with
        each candidate's best validation score (-inf without one) in order;
        ties keep the first candidate.
        """
        if candidates is None:
            candidates = self._weight_decay_candidates()
        best, values = None, []
        for candidate in candidates:
            dataset.generator.manual_seed(self._seed("shuffle", *offsets))
            net, epoch = self._train_net(build(candidate), dataset, *offsets)
            scores = [row[VALID_SCORE] for row in net.history if VALID_SCORE in row]
            values.append(max(scores) if scores else -np.inf)
            if best is None or values[-1] > best[0]:
                best = (values[-1], net, epoch, candidate)
        return best[1], best[2], best[3], values

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
