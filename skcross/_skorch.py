"""What every skorch-based skcross estimator shares: callbacks, defaults, devices.

skorch gives us the training loop, device placement and progress output. This
module adds the two callbacks every method needs (stop with a clear error when
the loss diverges, keep the parameters of the best validation epoch) and the
one device policy of every fitted net: once trained it is parked on the CPU
(:func:`release_to_cpu`), so a pickled model holds no CUDA tensor and loads on
any machine, and inference runs on the estimator's current ``device``
(:func:`inference_module`). Nets pickled on CUDA by other means are still mapped
to the CPU by skorch's own ``NeuralNet.__setstate__`` when CUDA is absent.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback, ProgressBar

from .base import check_finite_loss

__all__ = [
    "DivergenceGuard",
    "KeepBestEpoch",
    "default_callbacks",
    "batched_apply",
    "release_to_cpu",
    "inference_module",
]


class DivergenceGuard(Callback):
    """Raise :class:`~skcross.exceptions.TrainingDivergedError` on a non-finite loss."""

    def __init__(self, estimator_name: str = "model", key: str = "train_loss"):
        self.estimator_name = estimator_name
        self.key = key

    def on_epoch_end(self, net, **kwargs):
        if self.key in net.history[-1]:
            check_finite_loss(float(net.history[-1, self.key]), len(net.history), self.estimator_name)


class KeepBestEpoch(Callback):
    """Keep the module parameters of the best epoch by ``monitor``, in memory.

    At the end of training the best parameters are restored and the epoch is
    recorded in ``best_epoch_`` (1-based). Unlike skorch's ``Checkpoint`` this
    writes no files, so parallel fits cannot collide on disk.
    """

    def __init__(self, monitor: str = "valid_loss", lower_is_better: bool = True):
        self.monitor = monitor
        self.lower_is_better = lower_is_better

    def initialize(self):
        self.best_score_ = np.inf if self.lower_is_better else -np.inf
        self.best_epoch_ = None
        self.best_state_ = None
        return self

    def on_epoch_end(self, net, **kwargs):
        if self.monitor not in net.history[-1]:
            return
        score = float(net.history[-1, self.monitor])
        better = score < self.best_score_ if self.lower_is_better else score > self.best_score_
        if better or self.best_state_ is None:
            self.best_score_ = score
            self.best_epoch_ = len(net.history)
            self.best_state_ = {
                k: v.detach().to("cpu", copy=True) for k, v in net.module_.state_dict().items()
            }

    def on_train_end(self, net, **kwargs):
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        # The copy is not needed once restored; do not pickle it with the model.
        self.best_state_ = None


def default_callbacks(estimator_name: str, verbose: Any) -> list:
    """Callbacks every skcross net gets: the divergence guard, and a progress bar
    when ``verbose`` is set."""
    callbacks: list = [("divergence_guard", DivergenceGuard(estimator_name))]
    if verbose:
        callbacks.append(("progress_bar", ProgressBar()))
    return callbacks


@torch.no_grad()
def batched_apply(fn, X: Any, device: torch.device, batch_size: int = 2048) -> np.ndarray:
    """Apply ``fn`` (tensor -> tensor) to the rows of ``X`` in batches, return numpy."""
    outputs = []
    for start in range(0, X.shape[0], batch_size):
        chunk = X[start : start + batch_size]
        if hasattr(chunk, "toarray"):
            chunk = chunk.toarray()
        t = torch.as_tensor(np.asarray(chunk), device=device)
        outputs.append(fn(t).detach().cpu().numpy())
    return np.concatenate(outputs, axis=0)


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
    becomes "cpu", so a pickled model holds no CUDA tensors at all (it loads
    on any machine without relying on skorch's CUDA-to-CPU mapping); inference
    moves the module to the device it runs on. ``train_split`` is cleared so
    that the fitted model does not carry the validation arrays.
    """
    net.train_split = None
    net.module_.to("cpu")
    net.device = "cpu"
    if getattr(net, "optimizer_", None) is not None:
        net.optimizer_.load_state_dict(_tensors_to_cpu(net.optimizer_.state_dict()))
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
