"""SDML: Scalable Deep Multimodal Learning (Hu, Peng, Zhu, Zhen, Lin; SIGIR 2019).

The paper's idea in one line: fix the map from the common space to the label
space *before* training (a column-orthonormal matrix P), and every modality's
network can then be trained on its own, against P, with no shared trainable
parameter. Each modality gets a deep supervised auto-encoder (DSAE) whose loss,
Eq. (1), is

    J^i = 1/n_i sum_j [ lam * ||x_hat_j - x_j||_2 + (1 - lam) * ||P^T h_j - y_j||_2 ]

with h_j the L2-normalised encoder output and x_hat_j the decoder's
reconstruction. Independence buys three things this module keeps: modalities
can be unpaired (different samples, different counts), they can be trained in
parallel (``n_jobs``), and a new modality is one more network against the same
P (:meth:`SDML.add_modality`), leaving the others untouched.

Each modality's network is a skorch :class:`SDMLNet` (a module and a loss);
the training lifecycle (validation split, early stopping, seeds, progress,
devices) is :class:`~skcross._neural.NeuralCrossModalEstimator`'s.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Sequence

import numpy as np
import torch
from numbers import Integral, Real

from joblib import Parallel, delayed
from skorch import NeuralNet
from skorch.callbacks import PassthroughScoring
from skorch.utils import to_tensor
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._neural import (
    NeuralCrossModalEstimator,
    check_label_readout,
    softmax_cross_entropy,
)
from ._output import modality_feature_names
from ._validation import check_betas, check_labels, check_layer_sizes, check_modality_array
from .base import POSTERIOR_READOUT_CONSTRAINTS
from .metrics import mean_average_precision

__all__ = ["SDML", "SDMLNet", "SDMLLoss", "SupervisedAutoEncoder"]

def orthonormal_projection(n_components: int, n_classes: int, seed: int) -> np.ndarray:
    """A random ``(n_components, n_classes)`` matrix with orthonormal columns.

    The Q factor of a Gaussian matrix, with the signs fixed by R's diagonal so
    that the result is a unique function of the seed (Haar distributed).
    """
    rng = np.random.RandomState(seed)
    q, r = np.linalg.qr(rng.standard_normal((n_components, n_classes)))
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    return q.astype(np.float32)


class SupervisedAutoEncoder(nn.Module):
    """One modality's deep supervised auto-encoder (DSAE, section 3.2).

    Encoder ``n_features -> hidden_layer_sizes -> n_components`` with ReLU
    between layers and a linear output ``z``, whose L2-normalised direction
    ``h = z / ||z||`` is the paper's common representation; a mirrored decoder
    ``n_components -> reversed(hidden_layer_sizes) -> n_features`` with a linear
    output reconstructs the input from ``h``. The fixed label projection P is a
    buffer: it travels with the module (device moves, ``state_dict``) but is
    never trained.

    ``forward(x)`` returns ``(z, x_hat)``; ``encode(x)`` returns ``h``;
    ``posterior(x)`` returns ``P softmax(P^T z)``, the class posterior of the
    softmax classifier ``P^T z`` placed in the common space (its cosines are
    those of the posteriors, and class ``k``'s prototype is column ``k`` of P).
    """

    def __init__(
        self,
        n_features: int,
        projection: Any,
        hidden_layer_sizes: Sequence[int] = (1024, 1024),
        dropout: float = 0.0,
    ):
        super().__init__()
        projection = torch.as_tensor(np.asarray(projection, dtype=np.float32))
        n_components = projection.shape[0]
        self.encoder = self._mlp([n_features, *hidden_layer_sizes, n_components], dropout)
        self.decoder = self._mlp([n_components, *reversed(tuple(hidden_layer_sizes)), n_features])
        self.register_buffer("projection", projection)

    @staticmethod
    def _mlp(sizes: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            if i:
                layers.append(nn.ReLU())
                if dropout:
                    layers.append(nn.Dropout(dropout))
            layers.append(nn.Linear(d_in, d_out))
        return nn.Sequential(*layers)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.encoder(x), dim=1)

    def posterior(self, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        return torch.softmax(self.encoder(x) @ self.projection / temperature, dim=1) @ self.projection.T

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(nn.functional.normalize(z, dim=1))


class SDMLLoss(nn.Module):
    """Eq. (1) of the paper for one mini-batch, with a choice of label term.

    ``forward(z, x_hat, x, y, projection)`` returns ``(loss, label_loss)``:
    ``loss = lam * mean_j ||x_hat_j - x_j||_2 + (1 - lam) * label_loss``, where
    ``z`` is the encoder's raw output and ``h = z / ||z||``. The label term:

    - ``label_loss="norm"`` (the paper's): ``mean_j ||P^T h_j - y_j||_2``, not
      squared, as in the paper and the authors' code;
    - ``label_loss="cross_entropy"``: the cross-entropy of the softmax
      classifier ``P^T z`` (targets ``y / sum(y)`` for multi-label rows).
    """

    def __init__(self, lam: float = 0.5, label_loss: str = "norm"):
        super().__init__()
        self.lam = lam
        self.label_loss = label_loss

    def forward(self, z, x_hat, x, y, projection):
        reconstruction = torch.linalg.vector_norm(x_hat - x, dim=1).mean()
        if self.label_loss == "cross_entropy":
            label = softmax_cross_entropy(z @ projection, y)
        else:
            h = nn.functional.normalize(z, dim=1)
            label = torch.linalg.vector_norm(h @ projection - y, dim=1).mean()
        return self.lam * reconstruction + (1.0 - self.lam) * label, label


class SDMLNet(NeuralNet):
    """skorch net of one SDML modality: ``fit`` on a dataset whose targets are
    the label indicators.

    The module is a :class:`SupervisedAutoEncoder`, the criterion an
    :class:`SDMLLoss`. ``get_loss`` feeds the criterion the inputs (for the
    reconstruction term) and the module's fixed P (for the label term), and
    records the label term per batch (``train_label_loss`` in the history).
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        z, x_hat = y_pred
        x = to_tensor(X, device=self.device)
        y = to_tensor(y_true, device=self.device)
        loss, label_loss = self.criterion_(z, x_hat, x, y, self.module_.projection)
        if training:
            self.history.record_batch("train_label_loss", label_loss.item())
        return loss


def _network_embedding(embedding: str, label_loss: str) -> str:
    """The embedding of a network trained with ``label_loss``: ``embedding``, or
    with "auto" the posterior of a softmax-trained network and the common
    representation of a norm-trained one."""
    if embedding != "auto":
        return embedding
    return "posterior" if label_loss == "cross_entropy" else "common"


def _retrieval_embedding(module: SupervisedAutoEncoder, embedding: str, temperature: float) -> Callable:
    """The module's map to the embedding ``embedding`` names (the posterior at ``temperature``)."""
    if embedding == "posterior":
        return partial(module.posterior, temperature=temperature)
    return module.encode


def _validation_map(held: Any, embedding: str, temperature: float):
    """The early-stopping score of one modality's network, from its held-out
    samples (``held``, a dataset of dense tensors).

    Every modality is trained alone against the same class prototypes (the
    columns of P), so a network controls two things of cross-modal retrieval:
    its samples must point at their class's prototype (mAP of the samples
    querying the prototypes) and gather by class (mAP of the samples querying
    each other). The score is the mean of the two; the first alone saturates
    at 1 as soon as every sample is nearest its own prototype.
    """
    X, Y = held.X, held.Y
    classes = torch.eye(Y.shape[1], device=Y.device)

    def score(net) -> float:
        h = _retrieval_embedding(
            net.module_, _network_embedding(embedding, net.criterion_.label_loss), temperature
        )(X)
        to_prototypes = mean_average_precision(h, net.module_.projection.T, Y, classes)
        to_each_other = mean_average_precision(h, h, Y, Y)
        return 0.5 * (float(to_prototypes) + float(to_each_other))

    return score


def _candidates(estimator: "SDML") -> list[tuple[str, float]]:
    """The (label loss, weight decay) pairs a network is trained with; the one
    with the best validation score is kept.

    ``label_loss="auto"`` adds the cross-entropy to the norm's candidates, at
    no penalty when ``weight_decay="auto"`` (with 0.1 it lost on Wikipedia's
    validation split, 0.255 -> 0.191, and it would add a fourth fit).
    Without a validation split "auto" is the paper's norm.
    """
    decays = estimator._weight_decay_candidates()
    if estimator.label_loss != "auto":
        return [(estimator.label_loss, decay) for decay in decays]
    if not estimator.early_stopping:
        return [("norm", decay) for decay in decays]
    softmax_decays = [0.0] if estimator.weight_decay == "auto" else decays
    if estimator.embedding == "posterior":
        return [("cross_entropy", decay) for decay in softmax_decays]
    return [("norm", decay) for decay in decays] + [("cross_entropy", decay) for decay in softmax_decays]


def _fit_network(
    estimator: "SDML", X: Any, Y: np.ndarray, position: int, label: str
) -> tuple[SDMLNet, int, tuple[str, float]]:
    """Train the network of the modality at ``position``. Module level, so joblib
    can ship it to a worker; seeds depend on the position only.

    Returns the fitted net, the (1-based) epoch whose parameters it keeps and
    the (label loss, weight decay) candidate it was trained with (chosen on
    its validation split with "auto").
    """
    def build(candidate: tuple[str, float], dataset, score) -> SDMLNet:
        label_loss, weight_decay = candidate
        return estimator._make_net(
            SDMLNet,
            SupervisedAutoEncoder,
            dataset,
            name=f"SDML ({label})",
            score=score,
            # The authors drop the last partial batch; we do too, unless it is the only one.
            drop_last=True,
            module__n_features=X.shape[1],
            module__projection=estimator.projection_,
            module__hidden_layer_sizes=tuple(int(h) for h in estimator.hidden_layer_sizes),
            module__dropout=float(estimator.dropout),
            optimizer__weight_decay=weight_decay,
            callbacks=[("train_label_loss", PassthroughScoring("train_label_loss", on_train=True))],
            criterion=SDMLLoss,
            criterion__lam=float(estimator.lam),
            criterion__label_loss=label_loss,
            optimizer__betas=tuple(float(b) for b in estimator.betas),
        )

    if estimator.verbose:
        print(f"SDML: training {label} on {X.shape[0]} samples", flush=True)
    make_score = partial(
        _validation_map, embedding=estimator.embedding, temperature=float(estimator.posterior_temperature)
    )
    return estimator._train_selecting(build, make_score, X, Y, _candidates(estimator), position)[:3]


class SDML(NeuralCrossModalEstimator):
    """Scalable Deep Multimodal Learning: one independent network per modality.

    Each modality ``i`` gets a deep supervised auto-encoder; its encoder maps a
    sample to an L2-normalised point ``h`` of the common space, and a FIXED
    column-orthonormal matrix ``P`` (``n_components x n_classes``, drawn from
    ``random_state``) maps the common space to the label space. Each network
    minimises, on its own modality's data only, Eq. (1) of the paper::

        lam * ||x_hat - x||_2 + (1 - lam) * ||P^T h - y||_2   (batch mean)

    Because ``P`` is fixed the networks share no trainable parameter: they are
    trained independently (in parallel with ``n_jobs``), the modalities may be
    unpaired, and :meth:`add_modality` adds a modality without touching the
    others. Retrieval ranks by the cosine similarity of the embeddings: the
    paper's normalised encoder outputs ``h``, or, for a network trained with
    the softmax cross-entropy of ``P^T z`` (``z`` the raw encoder output, not
    in the paper), its class posterior placed in the common space,
    ``P softmax(P^T z)`` (see ``label_loss`` and ``embedding``).

    Read more in Hu et al., "Scalable Deep Multimodal Learning for Cross-Modal
    Retrieval", SIGIR 2019.

    Parameters
    ----------
    n_components : int, default=256
        Dimension of the common space (the paper's ``d``, 512; the number of
        rows of ``P``). Must be at least the number of classes.
    hidden_layer_sizes : tuple of int, default=(512,)
        Hidden layers of each encoder; the decoder mirrors them. The paper's
        network is ``d_in -> 1024 -> 1024 -> 512 -> 1024 -> 1024 -> d_in``.
    lam : float, default=0.1
        The paper's ``lambda`` in Eq. (1): weight of the reconstruction term;
        ``1 - lam`` weighs the label-space term. The paper uses 0.5 (see Notes).
    label_loss : {"auto", "cross_entropy", "norm"}, default="auto"
        The label-space term. "norm": the paper's ``||P^T h - y||_2``.
        "cross_entropy": the softmax cross-entropy of ``P^T z`` (not in the
        paper; ``y / sum(y)`` for multi-label rows). "auto": each network is
        trained with both (the norm with each candidate weight decay, the
        cross-entropy with none) and keeps the one with the better
        validation score (``label_losses_``); without early stopping "auto"
        is "norm". Neither wins on every data set (see Notes).
    embedding : {"auto", "posterior", "common"}, default="auto"
        What :meth:`transform` returns. "common": the paper's ``h``, unit
        norm. "posterior": ``P softmax(P^T z)``, the network's class
        posterior in the common space (its cosines are the posteriors';
        needs ``label_loss`` "cross_entropy" or "auto"). "auto": the
        posterior for networks trained with the cross-entropy, ``h`` for
        the others (``embeddings_``).
    posterior_temperature : float, default=1.0
        Temperature ``T`` of the posterior ``P softmax(P^T z / T)`` of the
        networks that embed it (as in :class:`DSCMR`; training's
        cross-entropy always uses ``T = 1``, early stopping scores the
        embedding at ``T``). Below 1 sharpens the posteriors before they are
        compared by cosine. Not in the paper. 1 is the default here, unlike
        DSCMR's 0.5: with 0.5 SDML rose on 5 of 12 validation splits and fell
        on 5 (method page).
    posterior_similarity : {"probability", "cosine"}, default="probability"
        "probability": two modalities' posteriors are compared by the
        probability that the samples share a class, through
        ``n_modalities_`` appended columns
        (:func:`~skcross.base.complete_to_unit_norm` explains them and their
        effect within one modality); networks that embed ``h`` get 0 there.
        "cosine": the paper's cosine. A read-out, switched by ``set_params``
        after ``fit``; ignored when no network embeds its posterior
        (``embeddings_``). Not in the paper; see Notes.
    dropout : float, default=0.0
        Dropout rate after each hidden ReLU of the encoders (not in the paper).
    weight_decay : float or "auto", default="auto"
        L2 penalty of Adam (not in the paper). "auto" trains each network with
        no penalty and with 0.1 (from the same initial weights) and keeps the
        one with the better validation score (``weight_decays_``); without
        early stopping there is no validation split and "auto" means 0.
    lr : float, default=1e-3
        Adam learning rate (the paper's ``alpha``, 1e-4).
    betas : tuple of float, default=(0.5, 0.999)
        Adam's coefficients, as in the authors' code.
    batch_size : int, default=100
        Mini-batch size (the paper's ``n_b``).
    max_epochs : int, default=200
        Most epochs per modality (the paper's ``N``); early stopping usually
        ends training long before.
    early_stopping : bool, default=True
        Choose each network's number of epochs (and its penalty, with
        ``weight_decay="auto"``) on training samples of its modality held out
        by class (``validation_folds``): training stops once their validation
        mAP (retrieving the class prototypes, the columns of ``P``, and each
        other) has not improved for ``n_iter_no_change`` epochs. False trains
        ``max_epochs`` epochs on everything and keeps the last.
    validation_fraction : float, default=0.1
        Fraction of each modality's training samples held out by a hold-out
        split (``validation_folds=1``).
    validation_folds : int or "auto", default="auto"
        1: one hold-out split. k >= 2: k folds; the weight decay and the epoch
        count are chosen on the folds' mean validation curve, then the
        network is refitted on every training sample. "auto": 3 folds below
        1,000 training samples or under 3 held-out samples per class, else
        1. See "What fit does for you" in the user guide.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    average_weights : bool, default=True
        Score, early-stop and keep a running average of the weights over
        about the last fifth of the optimiser's steps (tail averaging, not
        in the paper) instead of the last iterate; see "What fit does for
        you" in the user guide.
    standardize : bool or "auto", default="auto"
        Standardise each modality's features (float64 statistics of the
        training data) before its network sees them.
        ``"auto"`` (the default) also maps each feature whose training
        skewness exceeds 1 in absolute value through a Yeo-Johnson power
        transform and standardises it again, so that a few extreme values of
        count and histogram features do not dominate the network; ``True``
        standardises only. The method page ("Defaults") has the
        measurement behind the default.
    n_jobs : int, default=None
        Number of joblib processes training modalities in parallel (one
        modality per job); ``None`` means 1, ``-1`` all cores. Results do not
        depend on it.
    random_state : int, RandomState instance or None, default=None
        Seeds ``P`` and, per modality position ``i``, the weights, shuffling
        and validation split of the network at position ``i``.
    device : str, default="auto"
        Torch device for training and embedding ("auto": CUDA when available).
    verbose : int, default=0
        0 is silent; otherwise one line per modality, skorch's per-epoch log
        and a progress bar.

    Attributes
    ----------
    projection_ : ndarray of shape (n_components, n_classes), float32
        The fixed matrix ``P``: orthonormal columns, one per class.
    networks_ : list of SDMLNet
        One fitted skorch net per modality; ``networks_[i].module_`` is the
        auto-encoder, ``networks_[i].history`` its training log.
    best_epochs_ : list of int
        Per modality, the (1-based) epoch whose parameters are kept (after
        k folds, the number of epochs of the refit on every sample).
    weight_decays_ : list of float
        Per modality, the weight decay of the kept network.
    label_losses_ : list of str
        Per modality, the label loss of the kept network.
    embeddings_ : list of str
        Per modality, what :meth:`transform` returns ("posterior" or
        "common").
    feature_mean_, feature_scale_ : list of ndarray or None
        Per-modality standardisation (None when ``standardize=False``).
    feature_power_ : list of PowerTransform or None
        Per modality, the power transform of ``standardize="auto"`` (its
        ``columns`` and Yeo-Johnson ``lambdas``); None where no feature was
        transformed.
    modalities_ : list of str
        Modality names (grows with :meth:`add_modality`).
    n_modalities_ : int
    n_features_in_ : list of int
        Number of features of each modality.
    classes_ : ndarray
        Class labels (column ``k`` of ``P`` belongs to ``classes_[k]``).
    multilabel_ : bool
        Whether ``y`` was a multi-label indicator matrix.

    Notes
    -----
    Differences from the paper and the authors' code, and why:

    - **Defaults** (``SDML.paper_params()`` gives the paper's): ``lam=0.1``
      (paper 0.5), ``lr=1e-3`` (1e-4), early stopping, ``n_components=256``
      (512) and one hidden layer of 512 (two of 1024). On standardised
      features the reconstruction norm grows like the square root of the
      number of features and swamps the label term at ``lam=0.5``: the
      network underfits (training mAP 0.108 on a data set where the
      label-space baseline reaches 0.185). The method page lists the
      measurements. ``weight_decay="auto"`` (not in the paper) picks no
      penalty or 0.1 per network on its validation split.
      ``average_weights=True`` (not in the paper, which keeps the last
      iterate) scores and keeps a running average of each network's weights.
    - ``label_loss="auto"`` and ``embedding="auto"`` (the paper: "norm" and
      "common"): each network also tries the softmax cross-entropy of
      ``P^T z`` and embeds its class posterior ``P softmax(P^T z)`` when that
      wins on its validation split. The norm regression of one-hot labels is
      a poor classifier on noisy data with many classes; on other data the
      paper's ``h`` retrieves better. The method page has the measurements.
    - ``posterior_similarity="probability"`` (not in the paper): posteriors
      are compared by the probability that two samples share a class, which
      is what retrieving a class asks for, instead of by cosine, which
      divides by the target's norm and favours uncertain targets. It adds
      ``n_modalities_`` coordinates to the embeddings. The method page has
      the measurements.
    - Inputs are standardised: the reconstruction term is an unscaled
      Euclidean norm, and badly scaled inputs collapse the network. The
      highly skewed features are also power-transformed
      (``standardize="auto"``): on our validation splits this cost nothing
      on average and kept the network ahead of the label-space baseline on
      more of them, and on skewed features ``True`` lost to it.
    - ``P`` is the Q factor of a Gaussian ``n_components x n_classes`` matrix
      (a random column-orthonormal matrix, as in the paper); the authors take
      the first ``C`` columns of a random orthogonal ``512 x 512`` matrix,
      which is the same distribution.
    - The decoder's output layer is linear, so standardised (negative) inputs
      can be reconstructed.
    - The authors select each network's epoch by its validation label loss;
      we early-stop on a validation mAP (the held-out samples retrieving the
      class prototypes and each other).
    - The authors use a larger learning rate (2e-4) for some modalities; here
      every modality uses ``lr``.
    - The last partial mini-batch of an epoch is dropped (as in the authors'
      code) unless it is the only batch.
    - For multi-label ``y`` the target is the indicator vector, whose norm
      exceeds 1 while ``||P^T h|| <= 1``; the loss still pulls ``h`` towards
      the direction ``P y``, which is what cosine retrieval uses.

    Reproducibility: the same ``random_state`` gives identical embeddings for
    any ``n_jobs`` (each modality's seeds depend on its position only), on the
    same device and torch thread count. A modality added by
    :meth:`add_modality` at position ``i`` gets the network it would have got
    in a fit with ``i + 1`` modalities.

    Interrupting ``fit`` with Ctrl-C (``n_jobs=1``) stops the current
    modality's training; skorch keeps that network usable (with its best
    epoch so far) and training moves on to the next modality.

    Embeddings are float32 arrays of shape ``(n_samples, n_components)``: unit
    L2 norm for "common" networks, ``P`` times a probability vector for
    "posterior" ones; when a network embeds its posterior, every modality's
    embeddings get ``n_modalities_`` more columns, the completion to unit
    norm (``posterior_similarity="probability"``).

    Examples
    --------
    >>> from skcross import SDML
    >>> from skcross.datasets import make_multimodal_classification
    >>> X, y = make_multimodal_classification(n_samples=90, n_classes=3, random_state=0)
    >>> model = SDML(n_components=8, hidden_layer_sizes=(32,), max_epochs=20,
    ...              batch_size=30, random_state=0).fit(X, y)
    >>> E = model.transform(0, X.modality(0))
    >>> width = 8 + (2 if "posterior" in model.embeddings_ else 0)   # + completion columns
    >>> E.shape == (90, width)
    True
    >>> model.projection_.shape
    (8, 3)
    >>> model.score(X, y) > 0.5
    True
    """

    _requires_pairs = False
    _accept_sparse = True
    _quick_test_params = {
        "n_components": 8,
        "hidden_layer_sizes": (16,),
        "max_epochs": 3,
        "batch_size": 50,
        "early_stopping": False,
    }
    _parameter_constraints: dict = {
        **NeuralCrossModalEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "lam": [Interval(Real, 0, 1, closed="both")],
        "label_loss": [StrOptions({"auto", "cross_entropy", "norm"})],
        "embedding": [StrOptions({"auto", "posterior", "common"})],
        **POSTERIOR_READOUT_CONSTRAINTS,
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "betas": ["array-like"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_components: int = 256,
        hidden_layer_sizes: Sequence[int] = (512,),
        lam: float = 0.1,
        label_loss: str = "auto",
        embedding: str = "auto",
        posterior_temperature: float = 1.0,
        posterior_similarity: str = "probability",
        dropout: float = 0.0,
        weight_decay: float | str = "auto",
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.5, 0.999),
        batch_size: int = 100,
        max_epochs: int = 200,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        validation_folds: int | str = "auto",
        n_iter_no_change: int = 10,
        average_weights: bool = True,
        standardize: bool | str = "auto",
        n_jobs: int | None = None,
        random_state: Any = None,
        device: str = "auto",
        verbose: int = 0,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.lam = lam
        self.label_loss = label_loss
        self.embedding = embedding
        self.posterior_temperature = posterior_temperature
        self.posterior_similarity = posterior_similarity
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.lr = lr
        self.betas = betas
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_folds = validation_folds
        self.n_iter_no_change = n_iter_no_change
        self.average_weights = average_weights
        self.standardize = standardize
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    @classmethod
    def paper_params(cls) -> dict:
        """The paper's and the authors' code's settings: ``SDML(**SDML.paper_params())``.

        Raw inputs, ``d_in -> 1024 -> 1024 -> 512`` encoders, ``lam=0.5``,
        Adam at 1e-4 for 200 epochs, each network keeping its best validation
        epoch (we keep the early-stopping machinery with a patience of 200
        epochs, so every epoch is run and the best is restored).
        """
        return dict(
            n_components=512, hidden_layer_sizes=(1024, 1024), lam=0.5, lr=1e-4,
            betas=(0.5, 0.999), batch_size=100, max_epochs=200, early_stopping=True,
            n_iter_no_change=200, standardize=False, weight_decay=0.0, dropout=0.0,
            average_weights=False, label_loss="norm", embedding="common",
            posterior_similarity="cosine",
        )

    # ------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        super()._check_params()
        check_layer_sizes(self, "hidden_layer_sizes")
        check_betas(self)
        check_label_readout(self)

    # ------------------------------------------------------------------- fit
    def _fit(self, data) -> None:
        n_classes = len(data.classes)
        if self.n_components < n_classes:
            raise ValueError(
                f"SDML needs n_components >= the number of classes ({n_classes}): P has "
                f"one orthonormal column per class, got n_components={self.n_components}."
            )
        self.projection_ = orthonormal_projection(self.n_components, n_classes, self._seed("projection"))
        jobs = (
            delayed(_fit_network)(self, X, Y, position, f"modality {name!r}")
            for position, (X, Y, name) in enumerate(zip(data.X, data.Y, data.names))
        )
        # Each array goes to one worker only: memory-mapping it would save nothing
        # and hand torch read-only arrays.
        results = Parallel(n_jobs=self.n_jobs, max_nbytes=None)(jobs)
        self.networks_, self.best_epochs_, self.embeddings_ = [], [], []
        self.label_losses_, self.weight_decays_ = [], []
        for result in results:
            self._keep_network(*result)

    def _keep_network(self, net: SDMLNet, best_epoch: int, candidate: tuple[str, float]) -> None:
        """Append one modality's trained network and what it was trained with
        to the fitted per-modality lists (``fit`` and ``add_modality``)."""
        label_loss, weight_decay = candidate
        self.networks_.append(net)
        self.best_epochs_.append(best_epoch)
        self.label_losses_.append(label_loss)
        self.weight_decays_.append(weight_decay)
        self.embeddings_.append(_network_embedding(self.embedding, label_loss))

    def add_modality(self, X_new: Any, y_new: Any, name: str | None = None) -> "SDML":
        """Train a network for a new modality against the same ``P``.

        The existing networks are not touched (their parameters stay
        bit-identical); the new modality is appended to ``modalities_``,
        ``networks_``, ``n_features_in_`` and ``best_epochs_``. It uses the
        estimator's current hyper-parameters and the seed
        seeds of position ``n_modalities_``. When the posteriors are compared
        by probability (``posterior_similarity``), every modality's
        embeddings gain a coordinate, the new modality's completion: embed
        again what was embedded before (a :class:`~skcross.CrossModalIndex`
        built earlier, say).

        Parameters
        ----------
        X_new : array-like of shape (n_samples, n_features)
            Samples of the new modality; they need not be paired with the
            samples the model was fitted on.
        y_new : array-like of shape (n_samples,) or (n_samples, n_classes)
            Their labels: classes among ``classes_`` (or an indicator matrix
            with ``len(classes_)`` columns when the model is multi-label).
        name : str, default=None
            Name of the new modality; by default its position, as a string.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        position = self.n_modalities_
        name = str(position) if name is None else str(name)
        if name in self.modalities_:
            raise ValueError(
                f"a modality named {name!r} already exists ({self.modalities_}); "
                "pass another name."
            )
        self._validate_params()
        self._check_params()
        names_new = modality_feature_names(X_new)
        X_new = check_modality_array(X_new, name, dtype=np.float64, estimator_name="SDML", min_samples=2)
        Y_new = self._encode_new_labels(y_new, name, X_new.shape[0])
        X_new = self._add_modality_standardization(X_new, bool(self.standardize))
        self._keep_network(*_fit_network(self, X_new, Y_new, position, f"new modality {name!r}"))
        self.modalities_.append(name)
        self.n_features_in_.append(X_new.shape[1])
        if hasattr(self, "feature_names_in_"):
            self.feature_names_in_.append(names_new)
        self.n_modalities_ = len(self.modalities_)
        return self

    def _encode_new_labels(self, y: Any, name: str, n_samples: int) -> np.ndarray:
        """Indicator matrix of ``y`` over the fitted ``classes_`` (columns of P)."""
        (Y,), classes, multilabel = check_labels([y], [name], [n_samples], min_classes=1)
        if multilabel != self.multilabel_:
            kinds = ("1-D class labels", "a multi-label indicator matrix")
            raise ValueError(
                f"the model was fitted with {kinds[self.multilabel_]}, but y_new is "
                f"{kinds[multilabel]}."
            )
        if multilabel:
            if Y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"y_new has {Y.shape[1]} label columns; the model has {len(self.classes_)}."
                )
            return Y
        known = np.isin(classes, self.classes_)
        if not known.all():
            raise ValueError(
                f"y_new holds classes {classes[~known].tolist()} that the model was not "
                f"fitted with; P has columns for {self.classes_.tolist()} only. Refit "
                "with all classes to add new ones."
            )
        full = np.zeros((n_samples, len(self.classes_)), dtype=np.float32)
        full[:, np.searchsorted(self.classes_, classes)] = Y
        return full

    # ------------------------------------------------------------- transform
    def _compares_posteriors_by_probability(self) -> bool:
        # Networks that embed h (unit norm already) would only get zeros appended.
        return super()._compares_posteriors_by_probability() and "posterior" in self.embeddings_

    def _transform(self, index: int, X: Any) -> np.ndarray:
        temperature = float(self.posterior_temperature)
        return self._embed(
            self.networks_[index],
            lambda module, t: _retrieval_embedding(module, self.embeddings_[index], temperature)(t),
            X,
        )
