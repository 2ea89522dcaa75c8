"""Deep Supervised Cross-modal Retrieval (DSCMR), Zhen, Hu, Wang & Peng, CVPR 2019.

One fully-connected sub-network per modality maps its features to a hidden
layer; a last linear layer SHARED by every modality maps the hidden layer to the
common space, and a linear classifier ``P`` reads the labels off the common
space. The networks minimise (Eq. 5 of the paper)

    J = J1 + lambda * J2 + eta * J3

- J1, the discrimination loss in the label space (Eq. 1): how far ``P^T u`` is
  from the label vector ``y`` of each sample, for every modality;
- J2, the discrimination loss in the common space (Eq. 2): the negative
  log-likelihood of the pairwise label similarities ``S_ij`` under
  ``p(S_ij = 1) = sigmoid(cos(u_i, v_j) / 2)``, for the inter-modal pairs and for
  the pairs inside each modality;
- J3, the modality-invariance loss (Eq. 4): the distance between the common
  representations of the two halves of each pair.

The estimator is a thin layer over one skorch ``NeuralNet``: its module takes
one input per modality (a dict keyed by modality name), its ``get_loss``
computes the three terms above, and two skcross callbacks check the loss and
keep the epoch with the best validation mAP.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor
from torch import nn

from ._skorch import KeepBestEpoch, batched_apply, default_callbacks, inference_module, release_to_cpu
from ._torch_utils import derive_seed, torch_seed
from ._validation import FitData, check_choice, check_number, holdout_split
from .base import CrossModalEstimator
from .metrics import cross_modal_map

__all__ = ["DSCMR", "dscmr_loss_terms", "closed_form_classifier"]

# The authors' cosine: the product of the norms is clamped so that a zero
# representation gives a similarity of 0 instead of NaN.
_COS_EPS = 1e-6


# --------------------------------------------------------------------- losses
def _half_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``0.5 * cos(a_i, b_j)`` for every pair of rows: Gamma, Phi, Theta of Eq. 2."""
    norms = a.norm(dim=1, keepdim=True) @ b.norm(dim=1, keepdim=True).T
    return 0.5 * (a @ b.T) / norms.clamp_min(_COS_EPS)


def _pairwise_nll(theta: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """Mean over all n^2 pairs of ``log(1 + e^theta) - S * theta`` (one term of Eq. 2)."""
    return (F.softplus(theta) - S * theta).mean()


def dscmr_loss_terms(
    embeddings: Sequence[torch.Tensor],
    predictions: Sequence[torch.Tensor] | None,
    Y: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The three DSCMR loss terms on one batch of paired samples.

    Parameters
    ----------
    embeddings : sequence of tensors of shape (n, n_components)
        The common representations of each modality (``U``, ``V``, ...); row
        ``i`` of every tensor belongs to the same instance.
    predictions : sequence of tensors of shape (n, n_classes), or None
        ``P^T u_i`` for each modality; None gives ``J1 = 0``.
    Y : tensor of shape (n, n_classes)
        Label indicator vectors (one-hot, or several ones for multi-label data).

    Returns
    -------
    J1 : tensor
        ``sum_m mean_i ||P^T u^m_i - y_i||_2`` (Eq. 1, as the authors compute it:
        the mean of per-sample L2 norms).
    J2 : tensor
        ``sum_{a<b} L(U^a, U^b) + sum_a L(U^a, U^a)`` with
        ``L(A, B) = mean_ij [log(1 + e^theta_ij) - S_ij theta_ij]``,
        ``theta_ij = cos(a_i, b_j) / 2`` and ``S_ij = 1`` when samples ``i`` and
        ``j`` share a label (Eq. 2; for two modalities: the inter-modal term
        plus the image and the text terms).
    J3 : tensor
        ``sum_{a<b} mean_i ||u^a_i - u^b_i||_2`` (Eq. 4, per-sample norms as in
        the authors' code).
    """
    Y = Y.to(embeddings[0].dtype)
    # S_ij = 1{y_i and y_j share a label}; for one-hot labels this is "same class".
    S = ((Y @ Y.T) > 0).to(Y.dtype)
    if predictions is None:
        J1 = embeddings[0].new_zeros(())
    else:
        J1 = sum((p - Y).norm(dim=1).mean() for p in predictions)
    J2 = sum(_pairwise_nll(_half_cosine(a, b), S) for a, b in combinations(embeddings, 2))
    J2 = J2 + sum(_pairwise_nll(_half_cosine(a, a), S) for a in embeddings)
    J3 = sum((a - b).norm(dim=1).mean() for a, b in combinations(embeddings, 2))
    return J1, J2, J3


def closed_form_classifier(
    embeddings: Sequence[torch.Tensor], Y: torch.Tensor, ridge: float
) -> torch.Tensor:
    """The label-space classifier ``P`` of one batch in closed form (Algorithm 1, step 7).

    ``P = argmin_P sum_m ||U_m P - Y||_F^2 + ridge * ||P||_F^2``: the least-squares
    classifier of the common representations of all modalities stacked, with a
    ridge that keeps it defined when the batch has fewer samples than the common
    space has dimensions. Solved in float64 in the smaller of the primal
    (``d x d``) and dual (``n x n``) forms, which give the same ``P``.

    Returns
    -------
    P : tensor of shape (n_components, n_classes), detached
    """
    U = torch.cat([e.detach() for e in embeddings]).double()
    T = Y.double().repeat(len(embeddings), 1)
    n, d = U.shape
    if n < d:  # P = U^T (U U^T + ridge I)^-1 T
        K = U @ U.T
        K.diagonal().add_(ridge)
        P = U.T @ torch.linalg.solve(K, T)
    else:  # P = (U^T U + ridge I)^-1 U^T T
        G = U.T @ U
        G.diagonal().add_(ridge)
        P = torch.linalg.solve(G, U.T @ T)
    return P.to(embeddings[0].dtype)


# ---------------------------------------------------------- module and loss
class _DSCMRModule(nn.Module):
    """One ReLU layer per modality, then ONE linear layer shared by all of them.

    ``forward`` takes one keyword argument per modality (skorch passes the
    batch dict as keywords) and returns the list of common representations.
    """

    def __init__(
        self,
        names: Sequence[str],
        n_features: Sequence[int],
        hidden_size: int,
        n_components: int,
        n_classes: int,
        learned_classifier: bool,
    ):
        super().__init__()
        self.names = list(names)
        self.branches = nn.ModuleList([nn.Linear(d, hidden_size) for d in n_features])
        # The weight-sharing strategy of the paper: a single parameter object.
        self.shared = nn.Linear(hidden_size, n_components)
        self.classifier = nn.Linear(n_components, n_classes) if learned_classifier else None

    def embed(self, index: int, x: torch.Tensor) -> torch.Tensor:
        return self.shared(F.relu(self.branches[index](x)))

    def forward(self, **inputs: torch.Tensor) -> list[torch.Tensor]:
        return [self.embed(i, inputs[name]) for i, name in enumerate(self.names)]


class _DSCMRLoss(nn.Module):
    """``J = label_weight * J1 + lam * J2 + eta * J3`` (Eq. 5)."""

    def __init__(self, lam: float, eta: float, label_weight: float, classifier: str, ridge: float):
        super().__init__()
        self.lam = lam
        self.eta = eta
        self.label_weight = label_weight
        self.classifier = classifier
        self.ridge = ridge

    def forward(self, embeddings, Y, classifier_layer=None):
        predictions = None
        if self.label_weight:
            if self.classifier == "learned":
                predictions = [classifier_layer(e) for e in embeddings]
            else:  # P fixed for this step, then the networks descend J (Algorithm 1)
                P = closed_form_classifier(embeddings, Y, self.ridge)
                predictions = [e @ P for e in embeddings]
        J1, J2, J3 = dscmr_loss_terms(embeddings, predictions, Y)
        return self.label_weight * J1 + self.lam * J2 + self.eta * J3


class _DSCMRNet(NeuralNet):
    """skorch net whose loss needs the module's classifier as well as the output."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        Y = to_tensor(y_true, device=self.device)
        return self.criterion_(y_pred, Y, self.module_.classifier)


# ------------------------------------------------------- data and iteration
class _PairedTensors(torch.utils.data.Dataset):
    """Training pairs held as whole tensors on the training device.

    Indexing single samples (what skorch's default Dataset and a DataLoader do)
    costs one Python call per sample; ``_TensorBatches`` slices whole batches
    instead, so the per-batch cost of skorch is a few callback calls.
    """

    def __init__(self, X: dict[str, torch.Tensor], Y: torch.Tensor, generator: torch.Generator):
        self.X = X
        self.Y = Y
        self.generator = generator

    def __len__(self) -> int:
        return self.Y.shape[0]

    def __getitem__(self, i):
        return {k: x[i] for k, x in self.X.items()}, self.Y[i]


class _TensorBatches:
    """Mini-batches of a ``_PairedTensors``, reshuffled each epoch by its generator.

    Every sample is used once per epoch; the last batch may be smaller (as
    with the authors' DataLoader).
    """

    def __init__(self, dataset: _PairedTensors, batch_size: int, shuffle: bool = False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        ds, n = self.dataset, len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=ds.generator).to(ds.Y.device)
        else:
            order = torch.arange(n, device=ds.Y.device)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield {k: x[idx] for k, x in ds.X.items()}, ds.Y[idx]


class _ValidationMAP(Callback):
    """Record ``valid_map``, the mean mAP over ordered modality pairs, each epoch."""

    def __init__(self, X: dict[str, torch.Tensor], Y: torch.Tensor):
        self.X = X
        self.Y = Y

    @torch.no_grad()
    def on_epoch_end(self, net, **kwargs):
        module = net.module_
        was_training = module.training
        module.eval()
        emb = module(**self.X)
        module.train(was_training)
        score = np.mean(list(cross_modal_map(emb, [self.Y] * len(emb)).values()))
        net.history.record("valid_map", float(score))

    def on_train_end(self, net, **kwargs):
        # The validation tensors must not be pickled with the fitted model.
        self.X = self.Y = None


# ---------------------------------------------------------------- estimator
class DSCMR(CrossModalEstimator):
    """Deep Supervised Cross-modal Retrieval.

    Learns one network per modality whose last layer is shared by all
    modalities, trained with a label-space classification loss, a pairwise
    label-similarity loss in the common space and a modality-invariance loss.
    Paired, labelled data; any number (>= 2) of modalities.

    Reference: L. Zhen, P. Hu, X. Wang, D. Peng, "Deep Supervised Cross-modal
    Retrieval", CVPR 2019 (section 3, Eq. 1-5, Algorithm 1).

    Parameters
    ----------
    n_components : int, default=1024
        Dimension ``d`` of the common space (the shared layer's output).
    hidden_size : int, default=2048
        Width of each modality's first (ReLU) layer; the shared layer maps it to
        the common space.
    lam : float, default=1e-3
        ``lambda``, the weight of ``J2`` (common-space discrimination loss).
    eta : float, default=1e-1
        ``eta``, the weight of ``J3`` (modality-invariance loss).
    label_weight : float, default=1.0
        Weight of ``J1`` (label-space discrimination loss); the paper fixes it
        to 1. ``label_weight=0`` is the paper's ablation "DSCMR without J1".
    classifier : {"learned", "closed_form"}, default="learned"
        How the linear classifier ``P`` is obtained. "learned": a linear layer
        (with bias) trained by gradient together with the networks, as in the
        authors' code. "closed_form": recomputed from each batch by ridge least
        squares before the gradient step (Algorithm 1, step 7), then held fixed
        for that step; it is not a parameter of the model.
    ridge : float, default=1e-3
        Ridge added to the least-squares problem of ``classifier="closed_form"``
        (ignored otherwise).
    lr : float, default=1e-4
        Adam learning rate ``tau``.
    betas : tuple of float, default=(0.5, 0.999)
        Adam's betas (the authors' choice).
    batch_size : int, default=100
        Mini-batch size ``n_b``.
    max_epochs : int, default=500
        Number of epochs ``aleph``.
    validation_fraction : float, default=0.1
        Fraction of the training pairs held out (stratified by class) to pick
        the epoch with the best validation mAP, whose parameters are restored
        at the end. 0 trains on everything and keeps the last epoch.
    device : str or torch.device, default="auto"
        "auto" uses CUDA when available.
    verbose : int, default=0
        Print skorch's epoch table and a progress bar per epoch when non-zero.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the batch order and the validation split.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` holds the networks and
        ``net_.history`` the per-epoch ``train_loss`` (and ``valid_map``).
    best_epoch_ : int
        The epoch (1-based) whose parameters were kept.
    n_iter_ : int
        Number of epochs run.
    validation_indices_ : ndarray of int
        Rows of the training data used for validation (empty without).
    modalities_, n_modalities_, n_features_in_, classes_, multilabel_
        See :class:`~skcross.base.CrossModalEstimator`.

    Notes
    -----
    Where this implementation differs from the paper and the authors' code:

    - J1 and J3 are means of per-sample L2 norms, as in the authors' code;
      Eq. 1 and 4 write a Frobenius norm over the batch divided by ``n``.
    - The authors learn ``P`` by gradient (the default here). The closed form
      printed in Algorithm 1, ``P = (UU^T)^-1 U^T Y + (VV^T)^-1 V^T Y``, is the
      sum of two separate least-squares solutions and is singular whenever the
      batch is smaller than ``d``; we use the single ridge least-squares ``P``
      of all modalities stacked instead, without bias. When ``n_components``
      exceeds the number of stacked samples, this ``P`` nearly interpolates
      the batch and J1 carries little signal: prefer "learned" there.
    - The authors select the epoch on the test set; we select it on a
      validation split of the training data (``validation_fraction``).
    - More than two modalities: J2 sums the inter-modal term over every pair
      of modalities and the intra-modal term over every modality; J3 sums over
      every pair. With two modalities this is exactly Eq. 2 and 4.
    - Multi-label data: ``S_ij = 1`` when two samples share at least one label
      (the authors' code uses the count of shared labels) and J1 targets the
      indicator vector.
    - Inputs are used as given (the authors feed fixed CNN features); badly
      scaled features train slowly at ``lr=1e-4``: standardise them, e.g. with
      ``PerModality(StandardScaler())``.
    - A KeyboardInterrupt stops training after the current batch; the model
      keeps the best validation epoch seen so far (or the last one) and is
      usable.

    Embeddings are float32 arrays of shape ``(n_samples, n_components)``.

    Examples
    --------
    >>> from skcross.datasets import make_multimodal_classification
    >>> from skcross import DSCMR
    >>> X, y = make_multimodal_classification(n_samples=120, n_classes=3, random_state=0)
    >>> model = DSCMR(n_components=16, hidden_size=32, max_epochs=10, lr=1e-2,
    ...               random_state=0).fit(X, y)
    >>> model.transform(0, X.modality(0)).shape
    (120, 16)
    >>> bool(model.score(X, y) > 0.7)
    True
    """

    _requires_pairs = True
    _requires_labels = True
    _quick_test_params = {
        "n_components": 8,
        "hidden_size": 16,
        "max_epochs": 3,
        "batch_size": 32,
        "lr": 1e-3,
        "validation_fraction": 0.0,
    }

    def __init__(
        self,
        n_components: int = 1024,
        *,
        hidden_size: int = 2048,
        lam: float = 1e-3,
        eta: float = 1e-1,
        label_weight: float = 1.0,
        classifier: str = "learned",
        ridge: float = 1e-3,
        lr: float = 1e-4,
        betas: tuple = (0.5, 0.999),
        batch_size: int = 100,
        max_epochs: int = 500,
        validation_fraction: float = 0.1,
        device: Any = "auto",
        verbose: int = 0,
        random_state: Any = None,
    ):
        self.n_components = n_components
        self.hidden_size = hidden_size
        self.lam = lam
        self.eta = eta
        self.label_weight = label_weight
        self.classifier = classifier
        self.ridge = ridge
        self.lr = lr
        self.betas = betas
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _check_params(self) -> None:
        for name in ("n_components", "hidden_size", "batch_size", "max_epochs"):
            check_number(self, name, integer=True, low=1)
        for name in ("lam", "eta", "label_weight"):
            check_number(self, name, low=0.0)
        if self.lam == 0 and self.eta == 0 and self.label_weight == 0:
            raise ValueError("DSCMR: label_weight, lam and eta are all 0: there is nothing to minimise.")
        check_choice(self, "classifier", ("learned", "closed_form"))
        check_number(self, "ridge", low=0.0, low_open=True)
        check_number(self, "lr", low=0.0, low_open=True)
        check_number(self, "validation_fraction", low=0.0, high=1.0, high_open=True)

    def _fit(self, data: FitData) -> None:
        self._check_params()
        device = self._device()
        Y = data.Y[0]  # paired data: every modality has the same labels
        if self.validation_fraction > 0:
            train, valid = holdout_split(Y, self.validation_fraction, derive_seed(self.random_state, 2))
        else:
            train, valid = np.arange(Y.shape[0]), np.arange(0)
        self.validation_indices_ = valid

        def tensors(rows):
            X = {n: torch.as_tensor(x[rows], device=device) for n, x in zip(data.names, data.X)}
            return X, torch.as_tensor(Y[rows], device=device)

        generator = torch.Generator().manual_seed(derive_seed(self.random_state, 1))
        dataset = _PairedTensors(*tensors(train), generator)
        callbacks = default_callbacks(type(self).__name__, self.verbose)
        keep_best = None
        if len(valid):
            keep_best = KeepBestEpoch(monitor="valid_map", lower_is_better=False)
            callbacks += [("valid_map", _ValidationMAP(*tensors(valid))), ("keep_best", keep_best)]

        net = _DSCMRNet(
            module=_DSCMRModule,
            module__names=list(data.names),
            module__n_features=[x.shape[1] for x in data.X],
            module__hidden_size=int(self.hidden_size),
            module__n_components=int(self.n_components),
            module__n_classes=int(Y.shape[1]),
            module__learned_classifier=self.classifier == "learned",
            criterion=_DSCMRLoss,
            criterion__lam=float(self.lam),
            criterion__eta=float(self.eta),
            criterion__label_weight=float(self.label_weight),
            criterion__classifier=self.classifier,
            criterion__ridge=float(self.ridge),
            optimizer=torch.optim.Adam,
            optimizer__betas=tuple(self.betas),
            lr=float(self.lr),
            batch_size=int(self.batch_size),
            max_epochs=int(self.max_epochs),
            train_split=None,
            iterator_train=_TensorBatches,
            iterator_train__shuffle=True,
            callbacks=callbacks,
            device=str(device),
            verbose=self.verbose,
        )
        with torch_seed(derive_seed(self.random_state, 0), device):
            net.fit(dataset, None)
        self.net_ = release_to_cpu(net)
        self.n_iter_ = len(net.history)
        if keep_best is not None and keep_best.best_epoch_ is not None:
            self.best_epoch_ = keep_best.best_epoch_
        else:
            self.best_epoch_ = self.n_iter_

    def _transform(self, index: int, X: Any) -> np.ndarray:
        device = self._device()
        module = inference_module(self.net_, device)
        return batched_apply(lambda t: module.embed(index, t), X, device).astype(np.float32, copy=False)
