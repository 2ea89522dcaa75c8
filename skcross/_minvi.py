"""Multimodal RBM trained by minimum variation of information (MinVI), and MDRNN.

Sohn, Shang and Lee, "Improved multimodal deep learning with variation of
information", NIPS 2014. A multimodal restricted Boltzmann machine (Eqs. 5-7)
is trained to predict each modality from the others (the MinVI objective,
Eq. 2) rather than to model the joint density (maximum likelihood, Eq. 3).
Missing modalities are filled in by the mean-field fixed point of Eq. 8, whose
hidden activations are the joint representation.

Every model here, shallow or deep, is one set of parameters ``p``:

- ``p["paths"][c]``: the modality-specific pathway of modality ``c``, a list of
  RBM layers ``(W, visible_bias, hidden_bias)`` from the bottom up (empty for
  the shallow MRBM);
- ``p["W"][c]``, ``p["c"][c]``: the joint layer's weights and visible biases of
  the top of pathway ``c`` (the raw modality when the pathway is empty);
- ``p["b"]``: the joint layer's hidden biases.

The MDRNN encoder of Eqs. 10-13 runs on this structure; with empty pathways it
*is* the mean-field inference of Eqs. 8-9, so one encoder serves both variants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._streaming import HostRows, apply_rows, device_rows, take_rows
from ._torch_utils import as_tensor, to_numpy
from ._validation import FitData, holdout_split, resolve_modality
from .base import COMMON_CONSTRAINTS, TRAINING_CONSTRAINTS, CrossModalEstimator, blockwise_mean, check_finite_loss

__all__ = ["MinVIRBM"]

_VISIBLE_TYPES = ("binary", "gaussian")
# Rows inferred at once for a sparse or streamed (memmapped) modality.
_INFER_ROWS = 4096


def _value_range(X: Any) -> tuple[bool, float, float]:
    """(every value is 0 or 1, min, max) of a dense, sparse or streamed modality."""
    if isinstance(X, HostRows):
        is01, lo, hi = True, np.inf, -np.inf
        for c in X.chunks():
            is01 = is01 and bool(np.all((c == 0) | (c == 1)))
            lo, hi = min(lo, float(c.min())), max(hi, float(c.max()))
        return is01, lo, hi
    if sp.issparse(X):
        values = X.data
        lo = min(float(values.min()), 0.0) if values.size else 0.0
        hi = max(float(values.max()), 0.0) if values.size else 0.0
        return bool(np.all((values == 0) | (values == 1))), lo, hi
    return bool(np.all((X == 0) | (X == 1))), float(X.min()), float(X.max())



# --------------------------------------------------------------------------- the RBM
def _activation(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """Mean of a visible unit given its input (Eq. 7; linear for unit-variance Gaussians)."""
    return torch.sigmoid(logits) if kind == "binary" else logits


def _hidden_input(p: dict, vs: Sequence[torch.Tensor | None]) -> torch.Tensor:
    """Total input of the joint hidden units, Eq. 6 (``None`` = modality absent)."""
    z = p["b"]
    for W, v in zip(p["W"], vs):
        if v is not None:
            z = z + v @ W
    return z


def _visible_logits(p: dict, c: int, h: torch.Tensor) -> torch.Tensor:
    """Input of modality ``c``'s visible units given the hidden units, Eq. 7."""
    return h @ p["W"][c].T + p["c"][c]


def _free_energy(p: dict, types: Sequence[str], vs: Sequence[torch.Tensor]) -> torch.Tensor:
    """F(v) = -log sum_h exp(-E(v, h)) of Eq. 5, per sample.

    A unit-variance Gaussian visible adds ``(v - c)^2 / 2`` to the energy in
    place of the binary ``-c v``.
    """
    f = -F.softplus(_hidden_input(p, vs)).sum(1)
    for kind, v, c in zip(types, vs, p["c"]):
        f = f + (0.5 * ((v - c) ** 2).sum(1) if kind == "gaussian" else -(v @ c))
    return f


def _sample_visible(kind: str, logits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    if kind == "binary":
        return torch.bernoulli(torch.sigmoid(logits), generator=gen)
    return logits + torch.randn(logits.shape, generator=gen, device=logits.device, dtype=logits.dtype)


def _prediction_loss(kind: str, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of ``target`` under the mean-field prediction, per sample.

    Cross-entropy for binary units, half the squared error for unit-variance
    Gaussians (the constant dropped).
    """
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1)
    return 0.5 * ((logits - target) ** 2).sum(1)


# ------------------------------------------------------------------- MDRNN encoder
def _path_up(path: list, v: torch.Tensor) -> torch.Tensor:
    """Bottom-up pass through a modality pathway, Eqs. 10-11."""
    for W, _, hb in path:
        v = torch.sigmoid(v @ W + hb)
    return v


def _path_down(p: dict, c: int, h: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-down pass from the joint layer to modality ``c``'s visibles, Eq. 13.

    Returns the bottom layer's logits and mean.
    """
    path = p["paths"][c]
    logits = _visible_logits(p, c, h)
    for W, vb, _ in reversed(path):
        logits = torch.sigmoid(logits) @ W.T + vb
    return logits, _activation(kind, logits)


def _encode(
    p: dict,
    types: Sequence[str],
    vs: Sequence[torch.Tensor | None],
    n_iter: int,
    predictions: bool = True,
) -> tuple[torch.Tensor, dict, dict]:
    """Infer the joint representation and every missing modality (``vs[c] is None``).

    Shallow model: the mean-field fixed-point iteration of Eq. 8 (Eq. 9 with
    sampling ratio 1), missing visibles initialised at 0. Deep model: the MDRNN
    recurrence of Eqs. 10-13, ``n_iter`` top-down and bottom-up passes.

    Returns the hidden activations (after a last bottom-up pass, so they are
    consistent with the returned predictions), and the logits and means of the
    missing modalities; with ``predictions=False`` the two dicts are empty. The
    updates are the same either way (the hidden units depend on the predicted
    missing visibles); only the last predictions are not kept, which saves
    ``n_samples x n_features`` per missing modality to callers after the
    embedding alone.
    """
    n = next(v.shape[0] for v in vs if v is not None)
    missing = [c for c, v in enumerate(vs) if v is None]
    tops = []
    for c, v in enumerate(vs):
        if v is None:  # the missing modality enters as 0 at the bottom (Eq. 10-12)
            v = p["c"][c].new_zeros((n, p["paths"][c][0][0].shape[0] if p["paths"][c] else p["W"][c].shape[0]))
        tops.append(_path_up(p["paths"][c], v))
    # the observed modalities' input to h does not change across iterations
    observed = _hidden_input(p, [None if v is None else t for v, t in zip(vs, tops)])

    def up() -> torch.Tensor:
        z = observed
        for c in missing:
            z = z + tops[c] @ p["W"][c]
        return torch.sigmoid(z)

    logits: dict = {}
    means: dict = {}
    for _ in range(n_iter):
        h = up()
        for c in missing:
            logit, mean = _path_down(p, c, h, types[c])
            tops[c] = _path_up(p["paths"][c], mean)
            if predictions:
                logits[c], means[c] = logit, mean
            del logit, mean  # else the previous prediction lives on through the next one's computation
    return up(), logits, means


def _mp_loss_shallow(p: dict, types: Sequence[str], batch: Sequence[torch.Tensor], n_iter: int) -> torch.Tensor:
    """The MP loss of a shallow MRBM, every source modality in one batched computation.

    The same mean-field recurrence as :func:`_encode` (Eq. 8, targets at 0,
    ``n_iter`` updates) for each source modality ``s`` observed alone, the
    loss summed over the targets and sources and averaged over samples. The
    modalities are concatenated into one visible layer and the ``M`` problems
    stacked as ``M`` copies of the minibatch, each with its own mask of
    observed columns, so an update is two matrix products whatever the number
    of modalities instead of ``2 (M - 1)`` per source (with six modalities,
    60 small products per update before).
    """
    M, n = len(batch), batch[0].shape[0]
    W = torch.cat(p["W"], 0)
    c = torch.cat(p["c"])
    X = torch.cat(list(batch), 1)
    sizes = [v.shape[1] for v in batch]
    owner = torch.repeat_interleave(torch.arange(M, device=X.device), torch.as_tensor(sizes, device=X.device))
    binary = torch.cat([X.new_full((d,), kind == "binary", dtype=torch.bool) for d, kind in zip(sizes, types)])
    observed = (owner[None, :] == torch.arange(M, device=X.device)[:, None]).repeat_interleave(n, 0)
    Xs = X.repeat(M, 1)
    v = Xs * observed
    logits = None
    for _ in range(n_iter):
        h = torch.sigmoid(torch.addmm(p["b"], v, W))
        logits = torch.addmm(c, h, W.T)
        mean = torch.where(binary, torch.sigmoid(logits), logits) if binary.any() else logits
        v = torch.where(observed, Xs, mean)
    if binary.all():
        err = F.binary_cross_entropy_with_logits(logits, Xs, reduction="none")
    elif not binary.any():
        err = 0.5 * (logits - Xs) ** 2
    else:
        err = torch.where(
            binary, F.binary_cross_entropy_with_logits(logits, Xs, reduction="none"), 0.5 * (logits - Xs) ** 2
        )
    return err.masked_fill(observed, 0.0).sum() / n


# ------------------------------------------------------------------ estimator
def _is_size_list(spec: Any) -> bool:
    """One pathway: a sequence of layer sizes (numbers), possibly empty."""
    return isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)) and all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in spec
    )


class MinVIRBM(CrossModalEstimator):
    """Multimodal RBM trained by minimum variation of information (MinVI).

    A restricted Boltzmann machine whose visible layer is the concatenation of
    every modality and whose binary hidden units are the joint representation
    (Sohn, Shang and Lee, NIPS 2014). Instead of the joint likelihood, MinVI
    maximises the conditional likelihood of each modality given the others
    (Eq. 2), so that the model is good at what a cross-modal system needs:
    inferring a missing modality. With ``hidden_layer_sizes`` the modalities
    first pass through their own stacks of RBMs and the whole network is
    fine-tuned as the multimodal deep recurrent network (MDRNN) of section 3.3.

    Unsupervised: ``y`` is ignored by ``fit`` (``score`` uses labels).

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units of the joint layer, :math:`K` (the top
        layer :math:`h^{(L)}` of the deep variant). The paper uses 1000 on
        MNIST halves (784 pixels), 2048 on MIR-Flickr.
    visible_types : "auto", str, list or dict, default="auto"
        Visible unit type of each modality, "binary" (Eq. 7, data in [0, 1])
        or "gaussian" (unit variance, on standardised inputs). "auto" picks
        "binary" for a modality whose raw values are all 0 or 1 and
        "gaussian" otherwise. One string applies to every modality; a list or
        a dict (by modality name) gives one type per modality.
    objective : {"minvi", "ml"}, default="minvi"
        "minvi": minimise :math:`L_{VI}` (Eq. 2), the negative log-likelihood
        of each modality given the other. "ml": maximum likelihood (Eq. 3),
        the baseline, trained with persistent contrastive divergence (PCD).
    method : {"mp", "cd_percloss"}, default="mp"
        How MinVI is trained. "mp": multi-prediction: the mean-field updates
        of Eq. 9 unrolled ``n_mean_field`` times with the target initialised
        at 0 and sampling ratio 1, the prediction error back-propagated
        through the unrolled network. "cd_percloss": each conditional RBM
        gets its own Gibbs chain (clamped on the conditioning modality) and
        the negative particle is the sample of lowest free energy (Mnih et
        al. 2011). Ignored when ``objective="ml"``.
    n_mean_field : int, default=3
        Mean-field updates of Eqs. 8-9 (MDRNN passes of Eqs. 10-13), used in
        MP training, in ``transform`` and in ``predict_modality``. The paper
        uses 10-20; on the validation splits we measured 3 retrieved within
        0.01 mAP of 10 or better (much better on mfeat and MSRC_v1, where 10
        trains unstably), at about a third of the cost (see the method
        page). A model trained by ML uses this number only at inference,
        where it needs more to converge: set it to 10-20 after ``fit``
        (``model.set_params(n_mean_field=20)``).
    n_gibbs : int, default=5
        Gibbs steps per parameter update: the PCD chains (ML and layer-wise
        pretraining), and the particles among which CD-PercLoss picks the one
        of lowest free energy.
    hidden_layer_sizes : tuple of int, list or dict, default=()
        Layer sizes of the pathway below the joint layer
        (:math:`h_x^{(1)}, \\dots, h_x^{(L-1)}`). A tuple of ints, e.g.
        ``(256,)``, gives every modality the same pathway; a dict by modality
        name (``{"image": (256, 256), "text": ()}``) or a list with one tuple
        per modality gives each its own. Empty (the default): every modality
        feeds the joint layer directly (the shallow MRBM).
    lr : float, default=1e-2
        Step size of the optimiser.
    batch_size : int, default=50
        Minibatch size (and number of PCD chains).
    max_epochs : int, default=200
        Most passes over the training rows of every training stage (each
        pretrained pathway layer, the joint layer, the MDRNN fine-tuning).
        MinVI stages usually stop early (after 30 to 190 epochs on the data
        sets we measured); PCD stages run all of them.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training pairs and stop a
        MinVI stage (the joint layer, the MDRNN fine-tuning) once the MinVI
        objective on them (the mean-field prediction loss of each modality
        from the other, Eq. 9) has not improved for ``n_iter_no_change``
        epochs; the parameters of the best epoch are kept. PCD stages
        (``objective="ml"`` and the layer-wise pretraining) always run
        ``max_epochs``: their objective, the likelihood, needs the partition
        function and cannot be evaluated on held-out rows.
    validation_fraction : float, default=0.1
        Share of the training pairs held out for early stopping (ignored
        without it).
    n_iter_no_change : int, default=20
        Patience of early stopping, in epochs. The validation objective is
        noisy from epoch to epoch at the default ``lr`` and can plateau for
        tens of epochs before it falls again; a patience of 10 stopped some
        fits long before their best epoch.
    optimizer : {"adam", "sgd"}, default="adam"
        Adam, or SGD with ``momentum``.
    momentum : float, default=0.9
        Momentum of SGD (ignored by Adam).
    weight_decay : float, default=1e-3
        L2 penalty on the weights (not the biases), the regulariser of the
        paper's footnote 1 (whose value the paper does not give).
    center_embeddings : bool, default=True
        Subtract each modality's mean training embedding in :meth:`transform`
        (``embedding_means_``), so that cosine compares deviations from the
        typical sample. The hidden probabilities are positive, and their
        shared mean dominated every cosine (its norm was 0.6 to 0.99 of a
        typical embedding's). Not in the paper (``paper_params()`` sets
        False); :meth:`joint_transform` is centred on the training pairs'
        mean joint representation. See Notes.
    weight_by_agreement : bool, default=False
        Scale each dimension of the embeddings :meth:`transform` returns by
        how well the modalities agree on it: the correlation, over the
        training pairs, between the modalities' embeddings of the dimension
        (averaged over pairs of modalities, clipped at 0;
        ``dimension_weights_``), as :class:`~skcross.HarmonizedGPLVM` does by
        default. Not in the paper; see the method page for the measurement.
        ``set_params`` after ``fit`` switches it.
    standardize : bool or "auto", default="auto"
        Standardise the Gaussian modalities (zero mean, unit variance per
        feature, in float64, as the paper's Gaussian RBM assumes). Binary
        modalities always keep their 0/1 values. ``"auto"`` (the default)
        also maps each feature whose training skewness exceeds 1 in absolute
        value through a Yeo-Johnson power transform and standardises it
        again, so that skewed count and histogram features come closer to
        the Gaussian visible units; ``True`` standardises only (the paper,
        ``paper_params()``). See "Standardisation" on the method page for
        the measurements.
    random_state : int, RandomState or None, default=None
        Seeds the initial weights, the minibatch order, the Gibbs chains and
        the validation split (each from its own stream).
    device : str, default="auto"
        Torch device for training and inference; "auto" takes CUDA when
        available. Fitted parameters are kept on the CPU.
    verbose : int, default=0
        Show a progress bar per training stage.

    Attributes
    ----------
    modalities_ : list of str
        Modality names.
    n_modalities_ : int
    n_features_in_ : list of int
    visible_types_ : list of str
        The unit type chosen for each modality (decided on the raw data).
    feature_mean_, feature_scale_ : list of ndarray or None
        Standardisation of each modality (None for binary modalities).
    feature_power_ : list of PowerTransform or None
        Per modality, the power transform of ``standardize="auto"`` (its
        ``columns`` and Yeo-Johnson ``lambdas``); None where no feature was
        transformed.
    layer_sizes_ : list of list of int
        The pathway layer sizes of each modality (empty for the shallow MRBM).
    pathways_ : list of list of tuple of ndarray
        Per modality, the pathway RBMs ``(W, visible_bias, hidden_bias)``
        bottom-up (:math:`W^{x,(l)}, b_x^{(l-1)}, b_x^{(l)}`).
    weights_ : list of ndarray
        Joint-layer weights of each modality, :math:`W^x` (Eq. 5) or
        :math:`W^{x,(L)}` (Eq. 12), of shape (top pathway size, n_components).
    visible_biases_ : list of ndarray
        Joint-layer visible biases :math:`c^x`.
    hidden_bias_ : ndarray of shape (n_components,)
        Joint hidden biases :math:`b`.
    embedding_means_ : list of ndarray of shape (n_components,)
        Each modality's mean training embedding, which :meth:`transform`
        subtracts when ``center_embeddings`` is set.
    dimension_weights_ : ndarray of shape (n_components,)
        Per dimension, the modalities' agreement on the training pairs, in
        [0, 1]: the weights of ``weight_by_agreement`` (computed whatever its
        value).
    joint_embedding_mean_ : ndarray of shape (n_components,)
        The mean joint representation of the training pairs, which
        :meth:`joint_transform` subtracts when ``center_embeddings`` is set.
    loss_curve_ : list of float
        Training objective per epoch of the last stage trained: the MP
        prediction loss, the CD-PercLoss free-energy margin or, for ML, the
        PCD free-energy gap between data and chains.
    validation_loss_curve_ : list of float
        The MinVI objective on the validation rows per epoch of the last
        stage (empty without early stopping or for a PCD stage).
    best_epoch_ : int
        The epoch of the last stage whose parameters were kept (the last one
        without early stopping).
    pretrain_loss_curves_ : list of list of list of float
        Per modality and pathway layer, the PCD free-energy gap per epoch.
    n_iter_ : int
        Epochs run in the last stage.

    See Also
    --------
    MinVIRBM.paper_params : the paper's settings.

    Notes
    -----
    - Deviations from the paper's settings (``paper_params()``) and the
      measurements behind them are on the method page
      (``doc/methods/minvi.rst``).
    - Gradients are taken by automatic differentiation: of the unrolled
      mean-field network (MP, MDRNN, as in the paper), and of free-energy
      differences between data and negative particles (PCD, CD-PercLoss),
      whose gradients are the usual contrastive-divergence updates.
    - The CD-PercLoss chains start from the hidden state the conditioning
      modality alone implies (target at 0, as in Eq. 8), and only sampled
      particles compete for the negative phase.
    - MDRNN fine-tuning is a MinVI procedure: with ``objective="ml"`` and
      pathways, every layer is trained by PCD and no fine-tuning follows.
    - With more than two modalities, MP predicts every other modality from
      each single one (the unimodal query that ``transform`` answers); the
      paper treats two modalities, where this is Eq. 2 exactly.
    - ``transform(modality, X)`` infers the joint representation from one
      modality with every other one missing (Eq. 8), so ``transform(X_multi)``,
      ``embed`` and ``score`` embed each modality separately into the shared
      hidden space, as every skcross estimator does. The representation from
      all modalities at once (Eq. 6) is :meth:`joint_transform`.
    - Interrupting ``fit`` with Ctrl-C ends training early with a warning
      (the remaining stages are skipped); the model keeps the parameters
      reached so far and is usable.
    - Embeddings are float32 hidden activations in [0, 1], less each
      modality's mean training activation (``center_embeddings=True``, not in
      the paper). Retrieval ranks by cosine similarity, and the positive
      activations share a large mean (its norm 0.6 to 0.99 of a typical
      embedding's) that otherwise dominates every cosine; centring raised
      the validation mAP on 12 of 14 data sets, by up to 0.019, and lowered
      it on two by at most 0.0034 (method page).

    Examples
    --------
    >>> from skcross import MinVIRBM
    >>> from skcross.datasets import load_digit_halves
    >>> X, y = load_digit_halves(binarize=True)
    >>> model = MinVIRBM(n_components=32, max_epochs=2, random_state=0).fit(X[:200])
    >>> model.visible_types_
    ['binary', 'binary']
    >>> model.transform("left", X.modality("left")[:5]).shape
    (5, 32)
    >>> model.predict_modality("right", "left", X.modality("left")[:5]).shape
    (5, 32)
    >>> MinVIRBM(**MinVIRBM.paper_params()).n_components
    1000
    """

    _requires_labels = False
    _requires_pairs = True
    _accept_sparse = True
    _stream_inputs = True
    _quick_test_params = {"n_components": 16, "max_epochs": 2, "n_mean_field": 3, "batch_size": 50}
    _collapse_remedy = (
        "check that the modality varies, keep standardize on (True or 'auto') for real-valued data, "
        "or try another lr, more n_components or early_stopping=False"
    )
    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "visible_types": [StrOptions({"auto", *_VISIBLE_TYPES}), list, tuple, Mapping],
        "objective": [StrOptions({"minvi", "ml"})],
        "method": [StrOptions({"mp", "cd_percloss"})],
        "n_mean_field": [Interval(Integral, 1, None, closed="left")],
        "n_gibbs": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [None, list, tuple, Mapping],
        **TRAINING_CONSTRAINTS,
        "optimizer": [StrOptions({"adam", "sgd"})],
        "momentum": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "center_embeddings": ["boolean"],
        "weight_by_agreement": ["boolean"],
    }

    def __init__(
        self,
        n_components: int = 256,
        *,
        visible_types: Any = "auto",
        objective: str = "minvi",
        method: str = "mp",
        n_mean_field: int = 3,
        n_gibbs: int = 5,
        hidden_layer_sizes: Any = (),
        lr: float = 1e-2,
        batch_size: int = 50,
        max_epochs: int = 200,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 20,
        optimizer: str = "adam",
        momentum: float = 0.9,
        weight_decay: float = 1e-3,
        center_embeddings: bool = True,
        weight_by_agreement: bool = False,
        standardize: bool | str = "auto",
        random_state: Any = None,
        device: str = "auto",
        verbose: int = 0,
    ):
        self.n_components = n_components
        self.visible_types = visible_types
        self.objective = objective
        self.method = method
        self.n_mean_field = n_mean_field
        self.n_gibbs = n_gibbs
        self.hidden_layer_sizes = hidden_layer_sizes
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.center_embeddings = center_embeddings
        self.weight_by_agreement = weight_by_agreement
        self.standardize = standardize
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    @classmethod
    def paper_params(cls) -> dict:
        """The paper's MNIST-halves settings (section 4.1 and the authors' code notes).

        1000 hidden units, multi-prediction with 10 mean-field updates
        (10-20 in the paper), plain SGD with momentum and no early stopping.
        The paper gives no learning rate, batch size or epoch count; the
        values here are the usual ones of RBM training. ``MinVIRBM(**
        MinVIRBM.paper_params())``.
        """
        return {
            "n_components": 1000,
            "objective": "minvi",
            "method": "mp",
            "n_mean_field": 10,
            "optimizer": "sgd",
            "lr": 0.05,
            "momentum": 0.9,
            "batch_size": 100,
            "max_epochs": 100,
            "weight_decay": 1e-4,
            "early_stopping": False,
            "center_embeddings": False,
            "standardize": True,
        }

    # ------------------------------------------------------------ validation
    def _check_params(self) -> None:
        """The parts of ``hidden_layer_sizes`` / ``visible_types`` that need no
        modality names; per-modality dicts are checked against the data."""
        super()._check_params()
        spec = self.hidden_layer_sizes
        if _is_size_list(spec) and not all(s > 0 for s in spec):
            raise ValueError(f"hidden_layer_sizes must hold positive layer sizes, got {spec!r}.")
        types = self.visible_types
        values = types.values() if isinstance(types, Mapping) else [types] if isinstance(types, str) else types
        bad = [t for t in values if t not in ("auto", *_VISIBLE_TYPES)]
        if bad:
            raise ValueError(
                f"visible_types must be 'auto', 'binary' or 'gaussian' (one, or one per modality), got {bad[0]!r}."
            )

    def _per_modality(self, spec: Any, name: str, default: Any) -> list:
        """Expand a per-modality parameter given as a list or dict."""
        if isinstance(spec, Mapping):
            unknown = set(map(str, spec)) - set(self.modalities_)
            if unknown:
                raise ValueError(
                    f"{name} names modalities {sorted(unknown)} that are not in the data "
                    f"({self.modalities_})."
                )
            spec = {str(k): v for k, v in spec.items()}
            return [spec.get(m, default) for m in self.modalities_]
        if len(spec) != len(self.modalities_):
            raise ValueError(
                f"{name} has {len(spec)} entries, but the data has {len(self.modalities_)} "
                f"modalities ({self.modalities_})."
            )
        return list(spec)

    def _standardized_modalities(self, data: FitData) -> list[bool]:
        """Decide the visible types on the raw data; standardise the Gaussian modalities only."""
        self.visible_types_ = self._resolve_visible_types(data.X)
        self.layer_sizes_ = self._resolve_layer_sizes()
        return [self.standardize and kind == "gaussian" for kind in self.visible_types_]

    def _resolve_visible_types(self, Xs: list) -> list[str]:
        spec = self.visible_types
        types = [spec] * len(Xs) if isinstance(spec, str) else self._per_modality(spec, "visible_types", "auto")
        resolved = []
        for name, kind, X in zip(self.modalities_, types, Xs):
            if kind not in ("auto", *_VISIBLE_TYPES):
                raise ValueError(
                    f"visible_types of modality {name!r} must be 'auto', 'binary' or "
                    f"'gaussian', got {kind!r}."
                )
            is01, lo, hi = _value_range(X)
            if kind == "auto":
                kind = "binary" if is01 else "gaussian"
            elif kind == "binary" and (lo < 0 or hi > 1):
                raise ValueError(
                    f"modality {name!r} has values outside [0, 1], so its visible units "
                    "cannot be binary: use visible_types='gaussian' or rescale it."
                )
            resolved.append(kind)
        return resolved

    def _resolve_layer_sizes(self) -> list[list[int]]:
        spec = self.hidden_layer_sizes
        if spec is None or _is_size_list(spec):
            sizes = [list(spec or ())] * len(self.modalities_)
        else:
            sizes = self._per_modality(spec, "hidden_layer_sizes", ())
        out = []
        for name, layers in zip(self.modalities_, sizes):
            layers = () if layers is None else layers
            if not _is_size_list(layers) or not all(s > 0 for s in layers):
                raise ValueError(
                    "hidden_layer_sizes must be a tuple of positive layer sizes (one pathway "
                    "for every modality), or a dict / list of such tuples by modality; "
                    f"modality {name!r} got {layers!r}."
                )
            out.append([int(s) for s in layers])
        return out

    # -------------------------------------------------------------- training
    def _make_optimizer(self, params: list) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr)
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum)

    def _run_stage(self, desc: str, data: list, params: list, weights: list, step, stage: tuple,
                   valid_loss=None) -> list:
        """Minibatch training loop shared by every stage.

        ``step(batch, gen)`` returns the loss of one minibatch; its gradient
        (plus the weight decay on ``weights``) updates ``params``. With
        ``valid_loss`` (a function of no argument, lower is better) the stage
        stops early after ``n_iter_no_change`` epochs without improvement and
        the best epoch's parameters are restored. Returns the training loss
        per epoch.
        """
        self.validation_loss_curve_, self.best_epoch_, self.n_iter_ = [], 0, 0
        if self._stop_training:  # Ctrl-C in an earlier stage: skip the rest of fit
            return []
        opt = self._make_optimizer(params)
        n = data[0].shape[0]
        device = data[0].device
        shuffle = torch.Generator().manual_seed(self._seed("shuffle", *stage))
        gen = torch.Generator(device=device).manual_seed(self._seed("sample", *stage))
        curve: list = []
        best, best_state = np.inf, None
        with self._interruptible(f"training stage {desc!r}") as state:
            for epoch in self._progress(range(self.max_epochs), total=self.max_epochs, desc=desc):
                order = torch.randperm(n, generator=shuffle).to(device)
                total = torch.zeros((), device=device)
                for start in range(0, n, self.batch_size):
                    idx = order[start : start + self.batch_size]
                    loss = step([d[idx] for d in data], gen)
                    total += loss.detach() * len(idx)
                    if self.weight_decay:
                        loss = loss + 0.5 * self.weight_decay * sum((w**2).sum() for w in weights)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                curve.append(float(total) / n)
                check_finite_loss(curve[-1], epoch + 1, f"{type(self).__name__} ({desc})")
                self.n_iter_ = len(curve)
                if valid_loss is None:
                    self.best_epoch_ = len(curve)
                    continue
                v = float(valid_loss())
                self.validation_loss_curve_.append(v)
                if v < best:
                    best, self.best_epoch_ = v, len(curve)
                    best_state = [t.detach().clone() for t in params]
                elif len(curve) - self.best_epoch_ >= self.n_iter_no_change:
                    break
        if state["interrupted"]:
            self._stop_training = True
        if best_state is not None:
            with torch.no_grad():
                for t, b in zip(params, best_state):
                    t.copy_(b)
        return curve

    def _init_rbm(self, sizes_in: list[int], data: list, types: list, K: int, device, *stage: int) -> dict:
        """Small random weights; binary visible biases at the log-odds of the data means."""
        gen = torch.Generator(device=device).manual_seed(self._seed("init", *stage))
        W, c = [], []
        for n_in, v, kind in zip(sizes_in, data, types):
            W.append((0.01 * torch.randn(n_in, K, generator=gen, device=device)).requires_grad_())
            if kind == "binary":
                m = v.mean(0).clamp(1e-3, 1 - 1e-3)
                c.append(torch.log(m / (1 - m)).detach().clone().requires_grad_())
            else:
                c.append(torch.zeros(n_in, device=device, requires_grad=True))
        b = torch.zeros(K, device=device, requires_grad=True)
        return {"paths": [[] for _ in data], "W": W, "c": c, "b": b}

    def _train_pcd(self, p: dict, types: list, data: list, desc: str, stage: tuple) -> list:
        """Maximum likelihood by persistent contrastive divergence (Tieleman 2008).

        The loss ``F(data) - F(chains)`` has the PCD gradient.
        """
        n = data[0].shape[0]
        init = torch.Generator().manual_seed(self._seed("sample", *stage, 1))
        rows = torch.randint(n, (min(self.batch_size, n),), generator=init).to(data[0].device)
        chains = [d[rows].clone() for d in data]

        def step(batch, gen):
            with torch.no_grad():
                for _ in range(self.n_gibbs):
                    h = torch.bernoulli(torch.sigmoid(_hidden_input(p, chains)), generator=gen)
                    for c, kind in enumerate(types):
                        chains[c] = _sample_visible(kind, _visible_logits(p, c, h), gen)
            return _free_energy(p, types, batch).mean() - _free_energy(p, types, chains).mean()

        return self._run_stage(desc, data, [*p["W"], *p["c"], p["b"]], p["W"], step, stage)

    def _cd_percloss(self, p: dict, types: list, batch: list, gen) -> torch.Tensor:
        """Sum over target modalities of F(data) - F(lowest-free-energy particle)."""
        loss = 0.0
        for t, kind in enumerate(types):
            with torch.no_grad():
                given = [None if c == t else v for c, v in enumerate(batch)]
                h = torch.sigmoid(_hidden_input(p, given))  # target at 0, as in Eq. 8
                best, best_f = None, None
                for _ in range(self.n_gibbs):
                    h = torch.bernoulli(h, generator=gen)
                    y = _sample_visible(kind, _visible_logits(p, t, h), gen)
                    vs = [y if c == t else v for c, v in enumerate(batch)]
                    f = _free_energy(p, types, vs)
                    if best is None:
                        best, best_f = y, f
                    else:
                        better = (f < best_f)[:, None]
                        best, best_f = torch.where(better, y, best), torch.minimum(f, best_f)
                    h = torch.sigmoid(_hidden_input(p, vs))
            negative = [best if c == t else v for c, v in enumerate(batch)]
            loss = loss + (_free_energy(p, types, batch) - _free_energy(p, types, negative)).mean()
        return loss

    def _mp_loss(self, p: dict, types: list, batch: list) -> torch.Tensor:
        """Multi-prediction loss: every other modality predicted from each one (Eq. 9 / MDRNN).

        With two modalities this is :math:`L_{VI}` of Eq. 2 under the
        mean-field approximation: y predicted from x plus x predicted from y.
        """
        if not any(p["paths"]):
            return _mp_loss_shallow(p, types, batch, self.n_mean_field)
        loss = 0.0
        for s in range(len(batch)):
            given = [v if c == s else None for c, v in enumerate(batch)]
            _, logits, _ = _encode(p, types, given, self.n_mean_field)
            for t, lt in logits.items():
                loss = loss + _prediction_loss(types[t], lt, batch[t]).mean()
        return loss

    def _mp_validation(self, p: dict, types: list, data: list):
        """The MinVI objective (mean-field prediction loss) on held-out rows, batched."""

        def loss() -> float:
            n = data[0].shape[0]
            total = 0.0
            with torch.no_grad():
                for start in range(0, n, 4096):
                    batch = [d[start : start + 4096] for d in data]
                    total += float(self._mp_loss(p, types, batch)) * batch[0].shape[0]
            return total / n

        return loss

    def _fit(self, data: FitData) -> None:
        self._stop_training = False
        try:
            self._fit_stages(data)
        finally:
            del self._stop_training
        # MinVIRBM learns from pairs only (_requires_pairs), so every training row has a joint representation
        self.joint_embedding_mean_ = blockwise_mean(
            lambda rows: self._joint_probabilities([A[rows] for A in data.X]), data.X[0].shape[0]
        )

    def _fit_stages(self, data: FitData) -> None:
        device = self._device()
        types, sizes = self.visible_types_, self.layer_sizes_
        # Sparse and memmapped modalities stay on the host, densified per batch.
        Xs = [device_rows(X, device) for X in data.X]
        n = Xs[0].shape[0]
        use_valid = self.early_stopping and self.objective == "minvi"
        if use_valid:
            train_rows, valid_rows = holdout_split(np.arange(n), self.validation_fraction, self._seed("split"))
            train_rows = torch.as_tensor(train_rows, device=device)
            valid_rows = torch.as_tensor(valid_rows, device=device)
        else:
            train_rows = valid_rows = None

        def rows(ts: list, r) -> list:
            return ts if r is None else [take_rows(t, r) for t in ts]

        # 1. Layer-wise pretraining of each pathway by PCD (Gaussian RBM at the bottom
        #    of a real-valued pathway, binary RBMs above), on the training rows.
        paths, self.pretrain_loss_curves_ = [], []
        for c, (X, kind, layers) in enumerate(zip(rows(Xs, train_rows), types, sizes)):
            path, curves, v, vkind = [], [], X, kind
            for l, size in enumerate(layers):
                rbm = self._init_rbm([v.shape[1]], [v], [vkind], size, device, 0, c, l)
                curves.append(
                    self._train_pcd(rbm, [vkind], [v], f"{self.modalities_[c]} layer {l + 1}", (0, c, l))
                )
                path.append((rbm["W"][0], rbm["c"][0], rbm["b"]))
                with torch.no_grad():
                    v = apply_rows(lambda t, layer=path[-1]: _path_up([layer], t), v)
                vkind = "binary"
            paths.append(path)
            self.pretrain_loss_curves_.append(curves)

        def tops_of(ts: list) -> list:
            with torch.no_grad():
                return [
                    apply_rows(lambda x, path=path: _path_up(path, x), t) if path else t
                    for path, t in zip(paths, ts)
                ]

        # 2. The joint layer on the tops of the pathways, by MinVI or ML.
        top_types = ["binary" if layers else kind for kind, layers in zip(types, sizes)]
        tops = tops_of(rows(Xs, train_rows))
        p = self._init_rbm([t.shape[1] for t in tops], tops, top_types, self.n_components, device, 1)
        params = [*p["W"], *p["c"], p["b"]]
        if self.objective == "ml":
            curve = self._train_pcd(p, top_types, tops, "joint layer (PCD)", (1,))
        else:
            if self.method == "mp":
                step = lambda batch, g: self._mp_loss(p, top_types, batch)  # noqa: E731
            else:
                step = lambda batch, g: self._cd_percloss(p, top_types, batch, g)  # noqa: E731
            valid = self._mp_validation(p, top_types, tops_of(rows(Xs, valid_rows))) if use_valid else None
            curve = self._run_stage(f"joint layer ({self.method})", tops, params, p["W"], step, (1,), valid)

        # 3. MDRNN fine-tuning of the whole network (Eqs. 10-13).
        p["paths"] = paths
        if self.objective == "minvi" and any(sizes):
            weights = [*p["W"], *(layer[0] for path in paths for layer in path)]
            params = [*params, *(t for path in paths for layer in path for t in layer)]
            valid = self._mp_validation(p, types, rows(Xs, valid_rows)) if use_valid else None
            curve = self._run_stage(
                "MDRNN fine-tuning", rows(Xs, train_rows), params, weights,
                lambda batch, g: self._mp_loss(p, types, batch), (2,), valid,
            )
        self.loss_curve_ = curve
        self._store(p)

    def _store(self, p: dict) -> None:
        """Keep the fitted parameters as CPU numpy arrays (portable across devices)."""
        self.pathways_ = [[tuple(to_numpy(t) for t in layer) for layer in path] for path in p["paths"]]
        self.weights_ = [to_numpy(w) for w in p["W"]]
        self.visible_biases_ = [to_numpy(c) for c in p["c"]]
        self.hidden_bias_ = to_numpy(p["b"])

    def _params(self, device: torch.device) -> dict:
        def t(a):
            return torch.as_tensor(a, device=device)

        return {
            "paths": [[tuple(t(a) for a in layer) for layer in path] for path in self.pathways_],
            "W": [t(w) for w in self.weights_],
            "c": [t(c) for c in self.visible_biases_],
            "b": t(self.hidden_bias_),
        }

    # ------------------------------------------------------------- inference
    def _infer(self, given: list, predictions: bool = True) -> tuple[np.ndarray, dict]:
        """Encode validated, standardised arrays (``None`` = missing) on the device.

        Returns the joint representation and the mean-field prediction of each
        missing modality; ``predictions=False`` leaves the second dict empty.
        """
        n = next(X.shape[0] for X in given if X is not None)
        if n > _INFER_ROWS and any(sp.issparse(X) or isinstance(X, HostRows) for X in given):
            parts = [
                self._infer([None if X is None else X[s : s + _INFER_ROWS] for X in given], predictions)
                for s in range(0, n, _INFER_ROWS)
            ]
            means = {c: np.concatenate([part[1][c] for part in parts]) for c in parts[0][1]}
            return np.concatenate([part[0] for part in parts]), means
        device = self._device()
        p = self._params(device)
        vs = [None if X is None else as_tensor(X, device) for X in given]
        with torch.no_grad():
            h, _, means = _encode(p, self.visible_types_, vs, self.n_mean_field, predictions)
        return to_numpy(h).astype(np.float32), {c: to_numpy(m) for c, m in means.items()}

    def _transform(self, index: int, X: Any) -> np.ndarray:
        """Joint representation from one modality, every other one missing (Eq. 8)."""
        given = [X if c == index else None for c in range(self.n_modalities_)]
        return self._infer(given, predictions=False)[0]

    def joint_transform(self, X: Any) -> np.ndarray:
        """Joint representation of samples with every modality present (Eq. 6 / Eq. 12).

        Parameters
        ----------
        X : list, tuple, dict or MultiModal
            One array per fitted modality, paired.

        Returns
        -------
        ndarray of shape (n_samples, n_components), float32
            Hidden unit activation probabilities, less their mean over the
            training pairs (``joint_embedding_mean_``) when
            ``center_embeddings`` is set, as :meth:`transform` subtracts each
            modality's: a classifier trained on this output reads
            ``transform``'s in the same frame (the paper's Table 1 protocol).
        """
        h = self._joint_probabilities(self._match_modalities(X))
        if self.center_embeddings:
            h = h - self.joint_embedding_mean_.astype(np.float32)
        return h

    def _joint_probabilities(self, arrays: list) -> np.ndarray:
        """Hidden probabilities given every modality (Eq. 6 / Eq. 12), float32."""
        device = self._device()
        p = self._params(device)
        with torch.no_grad():
            tops = [_path_up(p["paths"][c], as_tensor(a, device)) for c, a in enumerate(arrays)]
            h = torch.sigmoid(_hidden_input(p, tops))
        return to_numpy(h).astype(np.float32)

    def predict_modality(self, target: Any, source: Any, X: Any) -> np.ndarray:
        """Fill in a missing modality: the mean-field prediction of ``target`` from ``source``.

        Runs the inference of Eq. 8 (the MDRNN passes for the deep variant)
        with only ``source`` observed and returns the inferred mean of the
        target's visible units, in the original units of ``target`` (the
        standardisation of Gaussian modalities is undone): probabilities for
        binary modalities, values for Gaussian ones.

        Parameters
        ----------
        target : int or str
            The modality to predict.
        source : int or str
            The observed modality.
        X : array-like of shape (n_samples, n_features_source)
            Samples of ``source``.

        Returns
        -------
        ndarray of shape (n_samples, n_features_target), float32
        """
        check_is_fitted(self)
        t = resolve_modality(target, self.modalities_)
        s, X = self._check_modality(source, X)
        if s == t:
            raise ValueError(
                f"target and source are the same modality ({self.modalities_[t]!r}); "
                "predict one modality from another."
            )
        given = [X if c == s else None for c in range(self.n_modalities_)]
        pred = self._infer(given)[1][t]
        return np.asarray(self._unstandardize(t, pred), dtype=np.float32)
