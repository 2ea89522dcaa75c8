"""Harmonized multimodal Gaussian process latent variable models.

G. Song et al., "Harmonized multimodal learning with Gaussian process latent
variable models", IEEE TPAMI (hmGPLVM, hm-SimGP, hm-RSimGP with the F-norm,
l2,1-norm and trace harmonization; their unharmonized baselines mGPLVM,
m-SimGP, m-RSimGP). The objective terms live in
:mod:`skcross._gplvm_objectives`; this module prepares the observations,
initialises the shared latent space by CCA, optimises everything jointly with
L-BFGS on exact torch-autograd gradients, and infers the latent points of new
samples by MAP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.utils._param_validation import Interval, StrOptions

from . import _gplvm_objectives as obj
from ._neural import paired_retrieval_score
from ._torch_utils import single_threaded_numpy_blas
from ._validation import FitData, holdout_split
from .base import COMMON_CONSTRAINTS, CrossModalEstimator, check_finite_loss

__all__ = ["HarmonizedGPLVM"]

#: Fraction of the energy of each centred similarity matrix S^c that its
#: low-rank factor keeps (the likelihood only sees S^c S^c^T).
_SIMILARITY_ENERGY = 1.0 - 1e-4
#: Samples used to estimate the median heuristic (pairwise distances are O(n^2)).
_MEDIAN_SAMPLES = 1000
#: New samples embedded per chunk by ``transform`` (bounds the chunk x N distances):
#: at most this many rows, and at most ``_TRANSFORM_BLOCK_BYTES`` of float64
#: distances to the N training samples (2,048 rows x 100,000 samples was 1.5 GiB).
_TRANSFORM_CHUNK = 2048
_TRANSFORM_BLOCK_BYTES = 256 << 20
#: Latent dimensions ``n_components="auto"`` tries (those below the number of
#: fitting samples), chosen on held-out pairs; see the class Notes.
AUTO_COMPONENTS = (5, 10)
#: L-BFGS iteration counts ``max_iter="auto"`` compares on held-out pairs; training further drifts the latent space away from its
#: CCA start towards each modality's own variance (see the class Notes).
AUTO_ITERATIONS = (10, 25, 50, 100, 200)


@dataclass
class _Problem:
    """Everything the training objective needs, as tensors on one device."""

    Y: list  # per-modality observation factors, N x D'_c (Y Y^T as in Eq. 3 / Eq. 5)
    y_sqnorm: list
    d: list  # number of observed columns d_c (N for similarity observations)
    prior: str | None
    gaussian_prior: bool  # the N(0, I) prior on X: the baselines, or keep_gaussian_prior
    mu: float
    lam: float
    gamma_x: float
    active: torch.Tensor | None = None  # None: exact model
    same: torch.Tensor | None = None  # same-label indicator, N x N (exact) or N x M (rsimgp)
    n: int = 0
    harmonization_scale: float = 1.0
    terms: dict = field(default_factory=dict)


def _harmonization_scale(prior: str | None, n: int, m: int) -> float:
    """Rescale an M x M active-submatrix term into an estimate of the N x N one.

    The F-norm sums N^2 entries, the l2,1-norm N column norms of length N, the
    trace N diagonal entries; so mu keeps its meaning with or without the
    sparse approximation.
    """
    r = n / m
    return {"fro": r * r, "l21": r ** 1.5, "trace": r}.get(prior, 1.0)


def _objective(X: torch.Tensor, thetas: torch.Tensor, prob: _Problem) -> torch.Tensor:
    """Eq. 15 / 16 / 17 (or the baselines when ``prob.prior`` is None)."""
    total = X.new_zeros(())
    terms = {}
    for c, (Y, sq, d) in enumerate(zip(prob.Y, prob.y_sqnorm, prob.d)):
        if prob.active is None:
            nll = obj.nll_exact(thetas[c], X, Y, d)
        else:
            nll = obj.nll_fitc(thetas[c], X, Y, d, prob.active, sq)
        terms[f"nll_{c}"] = nll
        total = total + nll
    if prob.gaussian_prior:
        terms["gaussian_prior"] = obj.gaussian_prior(X)
        total = total + terms["gaussian_prior"]
    if prob.prior is not None and prob.mu > 0:
        Xa = X if prob.active is None else X[prob.active]
        Sx = obj.latent_similarity(Xa, prob.gamma_x)
        for c in range(len(prob.Y)):
            K = obj.rbf_bias_white(thetas[c], Xa)
            h = obj.harmonization(K, Sx, prob.prior) * prob.harmonization_scale
            terms[f"harmonization_{c}"] = h
            total = total + prob.mu * h
    if prob.same is not None and prob.lam > 0:
        terms["semantic"] = obj.semantic_prior(X, prob.same, prob.active)
        total = total + prob.lam * terms["semantic"]
    prob.terms = terms
    return total


def _zscore(A: np.ndarray) -> np.ndarray:
    sd = A.std(0)
    return (A - A.mean(0)) / np.where(sd > 0, sd, 1.0)


def _cca_init(features: Sequence[np.ndarray], q: int, rng: np.random.RandomState) -> np.ndarray:
    """Shared latent init by (multi-set, MAXVAR) CCA of the z-scored modalities.

    Each modality is whitened (a small ridge keeps near-collinear features from
    producing spurious perfect correlations); the leading left singular vectors
    of the concatenated whitened bases are the directions most correlated across
    modalities. With two modalities this is the average of the two canonical
    projections, as in the authors' code. The result is z-scored.
    """
    bases = []
    for A in features:
        Z = _zscore(A)
        U, s, _ = np.linalg.svd(Z, full_matrices=False)
        keep = s > s[0] * 1e-8
        U, s = U[:, keep], s[keep]
        bases.append(U * (s / np.sqrt(s * s + 1e-3 * len(Z))))
    U, _, _ = np.linalg.svd(np.hstack(bases), full_matrices=False)
    return _pad_and_scale(U[:, :q], q, rng)


def _pca_init(features: Sequence[np.ndarray], q: int, rng: np.random.RandomState) -> np.ndarray:
    Z = np.hstack([_zscore(A) / np.sqrt(A.shape[1]) for A in features])
    U, _, _ = np.linalg.svd(Z, full_matrices=False)
    return _pad_and_scale(U[:, :q], q, rng)


def _pad_and_scale(X: np.ndarray, q: int, rng: np.random.RandomState) -> np.ndarray:
    if X.shape[1] < q:  # fewer correlated directions than latent dimensions
        X = np.hstack([X, 1e-2 * rng.randn(X.shape[0], q - X.shape[1])])
    # fix each column's sign so that the init does not depend on LAPACK's choice
    signs = np.sign(X[np.abs(X).argmax(0), np.arange(q)])
    return _zscore(X * np.where(signs == 0, 1.0, signs))


def _median_sq_dist(A: np.ndarray, rng: np.random.RandomState) -> float:
    if len(A) > _MEDIAN_SAMPLES:
        A = A[rng.choice(len(A), _MEDIAN_SAMPLES, replace=False)]
    sq = (A * A).sum(1)
    D = np.clip(sq[:, None] + sq[None, :] - 2 * A @ A.T, 0, None)
    med = float(np.median(D[np.triu_indices(len(A), 1)]))
    return med if med > 0 else 1.0


def _sq_dist_np(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.clip((A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T, 0, None)


def _batched_bfgs(
    fun, X0: torch.Tensor, max_iter: int, gtol: float = 1e-5, ftol: float = 2.2e-9
) -> torch.Tensor:
    """Minimise ``sum_i f_i(x_i)`` as B independent problems, one BFGS per row.

    ``fun(X_rows, rows)`` returns the vector of the f_i of the given rows.
    Every row keeps its own inverse-Hessian approximation (q x q), its own
    Armijo backtracking step and its own stopping rule (projected-gradient
    ``gtol`` or relative decrease ``ftol``, as scipy's L-BFGS-B defaults), and
    a converged row is frozen: the result for a row is the same whichever
    other rows come with it (up to floating-point rounding).
    """
    X = X0.clone()
    B, q = X.shape
    eye = torch.eye(q, dtype=X.dtype, device=X.device)
    H = eye.expand(B, q, q).clone()
    every = torch.arange(B, device=X.device)

    def value_and_grad(Xr, rows):
        Xr = Xr.detach().requires_grad_(True)
        f = fun(Xr, rows)
        (g,) = torch.autograd.grad(f.sum(), Xr)
        return f.detach(), g

    f, g = value_and_grad(X, every)
    running = torch.ones(B, dtype=torch.bool, device=X.device)
    first = torch.ones(B, dtype=torch.bool, device=X.device)
    for _ in range(max_iter):
        rows = every[running]
        if len(rows) == 0:
            break
        x, fr, gr, Hr = X[rows], f[rows], g[rows], H[rows]
        p = -(Hr @ gr.unsqueeze(-1)).squeeze(-1)
        slope = (gr * p).sum(1)
        uphill = slope >= 0  # a stale curvature estimate: restart from steepest descent
        if uphill.any():
            Hr[uphill] = eye
            p[uphill] = -gr[uphill]
            slope = (gr * p).sum(1)
        # the very first step is capped at unit length (latent points live on a unit scale)
        step = torch.where(first[rows], 1.0 / p.norm(dim=1).clamp_min(1.0), torch.ones_like(fr))
        accepted = torch.zeros(len(rows), dtype=torch.bool, device=X.device)
        for _ in range(40):
            todo = ~accepted
            with torch.no_grad():
                f_try = fun(x[todo] + step[todo, None] * p[todo], rows[todo])
            ok = torch.isfinite(f_try) & (f_try <= fr[todo] + 1e-4 * step[todo] * slope[todo])
            idx = todo.nonzero().squeeze(1)
            accepted[idx[ok]] = True
            step[idx[~ok]] *= 0.5
            if accepted.all():
                break
        x_new = torch.where(accepted[:, None], x + step[:, None] * p, x)
        f_new, g_new = value_and_grad(x_new, rows)
        s_vec, y_vec = x_new - x, g_new - gr
        sy = (s_vec * y_vec).sum(1)
        update = accepted & (sy > 1e-12)
        if update.any():
            s_u, y_u, rho = s_vec[update], y_vec[update], 1.0 / sy[update]
            Hu = Hr[update]
            # the first update rescales the identity to the observed curvature
            scale = torch.where(first[rows][update], sy[update] / (y_u * y_u).sum(1), torch.ones_like(rho))
            Hu = Hu * scale[:, None, None]
            V = eye - rho[:, None, None] * (s_u.unsqueeze(2) @ y_u.unsqueeze(1))
            Hu = V @ Hu @ V.transpose(1, 2) + rho[:, None, None] * (s_u.unsqueeze(2) @ s_u.unsqueeze(1))
            Hr[update] = Hu
        done = (
            ~accepted
            | (g_new.abs().amax(1) <= gtol)
            | ((fr - f_new) <= ftol * torch.maximum(torch.maximum(fr.abs(), f_new.abs()), torch.ones_like(fr)))
        )
        X[rows], f[rows], g[rows], H[rows] = x_new, f_new, g_new, Hr
        first[rows] = False
        running[rows[done]] = False
    return X


class HarmonizedGPLVM(CrossModalEstimator):
    """Harmonized multimodal GPLVMs: hmGPLVM, hm-SimGP, hm-RSimGP and their baselines.

    Every modality is generated from one shared latent space X through its own
    Gaussian process (RBF + bias + white-noise kernel K_c with hyper-parameters
    theta_c). The harmonization prior ties each kernel K_c to the latent
    similarity S^x, and X and all theta_c are learned jointly by MAP (G. Song
    et al., "Harmonized multimodal learning with Gaussian process latent
    variable models", IEEE TPAMI, Eqs. 15-17). Three models times three
    harmonization functions give the paper's nine models; ``prior=None`` gives
    the unharmonized baselines mGPLVM, m-SimGP and m-RSimGP.

    Parameters
    ----------
    model : {"gplvm", "simgp", "rsimgp"}, default="gplvm"
        "gplvm": hmGPLVM, Eq. 15 with the likelihood of Eq. 3 on each
        modality's features. "simgp": hm-SimGP, Eq. 16, each modality observed
        through its intra-modal similarity matrix S^c (Eq. 5). "rsimgp":
        hm-RSimGP, Eq. 17, hm-SimGP plus the label term (needs ``y``).
    prior : {"trace", "fro", "l21"} or None, default="trace"
        Harmonization function H_c(K_c, S^x): "fro" ||K_c - S^x||_F^2 (Eq. 12),
        "l21" ||K_c - S^x||_{2,1} (Eq. 13), "trace" tr(K_c^-1 S^x) / 2 (Eq. 14).
        None: no harmonization, the N(0, I) prior on X of section 6.2 instead
        (the baselines mGPLVM, m-SimGP, m-RSimGP).
    keep_gaussian_prior : bool, default=False
        Harmonized models: keep the baselines' N(0, I) prior on X besides the
        harmonization (training and inference). The paper and the authors' code
        drop it ("we remove the square l2-norm imposed on X"), so that by
        default the harmonized model replaces the baseline's prior; with it,
        the harmonized model is the baseline plus mu * H_c, and mu -> 0 gives
        the baseline back. No effect with ``prior=None``, which always has it.
    mu : float, default=0.1
        Harmonization weight mu = mu_1 = mu_2 (= 1 / sigma_c^2, Eq. 11).
    lam : float, default=1.0
        Weight lambda = lambda_1 = lambda_2 of the label term of Eq. 17
        (``model="rsimgp"`` only).
    n_components : int or "auto", default="auto"
        Latent dimension q. The paper uses 7-10 (``paper_params()``: 10).
        "auto" fits a model for each q in ``AUTO_COMPONENTS`` (5, 10) on
        the training pairs less a held-out ``validation_fraction``, keeps the q
        whose held-out pairs find each other best (label-free: mean reciprocal
        rank of the paired sample, cosine, every ordered pair of modalities),
        and refits that q on all training pairs: no single q wins across data
        sets, since latent dimensions beyond the shared signal pick up
        view-specific variance that a single modality cannot infer at
        transform time (see the method page).
    validation_fraction : float in (0, 1), default=0.2
        Fraction of the training pairs held out to choose ``n_components``
        and ``max_iter`` when either is "auto".
    n_active : int or None, default=100
        Number M of active (inducing) points of the sparse FITC approximation;
        None, or a value >= the number of samples, fits the exact model.
    gamma_x : float, default=1.0
        Width gamma_x of the latent similarity S^x = exp(-||x_i - x_j||^2 / 2 gamma_x).
    gamma : float, sequence of float, or None, default=None
        Width gamma_c of each modality's similarity S^c (similarity models),
        on the standardised features; None picks the median heuristic
        (gamma_c = median squared pairwise distance).
    similarity_to : {"all", "active"}, default="all"
        Similarity models: each sample is observed through its similarity to
        every training sample (Eq. 5: an N x N matrix S^c, reduced to a
        low-rank factor once, O(N^3) preparation, O(N M r) per iteration), or
        to the ``n_active`` active samples only (N x M: O(N M^2) in preparation,
        training and inference, the cost the paper states in section 5.4, for
        data sets where an N x N matrix does not fit). With the exact model
        (``n_active=None``) both are the same.
    neighbour_fraction : float in (0, 1] or None, default=None
        Similarity models: sparsify S^c as the authors' code does. A training
        pair keeps its similarity only if it is among the ``neighbour_fraction``
        most similar training pairs of at least one modality (the union of the
        modalities' neighbourhoods; the code keeps the top 15%, 0.15); other
        entries are set to 0. A new sample of modality c keeps its similarities
        above modality c's threshold (it has no other modality to consult).
        None: the dense S^c of Eq. 5, as the paper writes it.
    init : {"cca", "pca"}, default="cca"
        Latent initialisation: CCA of the z-scored modalities (the paper) or
        PCA of their concatenation.
    max_iter : int or "auto", default="auto"
        L-BFGS iterations of training. "auto": the count among
        ``AUTO_ITERATIONS`` (10, 25, 50, 100, 200) whose model embeds held-out
        pairs best (one trial fit of 200 iterations per candidate latent
        dimension, scored at each count, in the same trial fits as
        ``n_components="auto"``), then a refit on all training pairs with that
        count: further iterations drift the latent space from its CCA start
        towards each modality's own variance (see the method page).
    max_iter_transform : int, default=100
        L-BFGS iterations of the MAP inference of new samples.
    weight_by_agreement : bool, default=True
        Scale each latent dimension of the embeddings ``transform`` returns
        by how well the modalities agree on it: the correlation, over the
        training pairs, between the latent points each modality infers on
        its own (averaged over pairs of modalities, clipped at 0;
        ``dimension_weights_``). A new sample is inferred from one modality,
        and a dimension that modality pins down poorly is mostly noise;
        the weight shrinks it (not in the paper, whose read-out is the
        latent point itself: ``False``; see the method page for the
        measurements). ``set_params`` after ``fit`` switches it.
    standardize : bool or "auto", default=True
        Centre and scale every feature to unit variance (float64, once, in the
        base class) before anything else; the GP kernels start on that unit
        scale. False: the features are used as given.
        ``"auto"`` also maps each feature whose training skewness exceeds 1
        in absolute value through a Yeo-Johnson power transform (and
        standardises it again): worth trying on count features such as bag-of-words
        (see the fitting guide, "Skewed and count features").
    random_state : int, RandomState or None, default=None
        Seeds the named random streams: "sample" (the active set, the samples
        of the median heuristic), "init" (the padding of the init) and
        "agreement" (the training pairs that estimate ``dimension_weights_``
        beyond 4,096).
    device : str, default="auto"
        Torch device for the objective ("auto": CUDA when available).
    verbose : int, default=0
        Show a progress bar over the L-BFGS iterations.

    Attributes
    ----------
    latent_ : ndarray of shape (n_samples, q)
        The learned shared latent points X of the training samples (float64);
        q is ``n_components_``.
    n_components_ : int
        The latent dimension used: ``n_components``, or the one "auto" chose.
    max_iter_ : int
        The L-BFGS iteration limit of the final fit: ``max_iter``, or the one
        "auto" chose.
    validation_scores_ : dict or None
        Each candidate (q, iterations)'s held-out score (mean reciprocal rank
        of the paired sample); None when nothing was chosen.
    dimension_weights_ : ndarray of shape (q,)
        Per latent dimension, the modalities' agreement on the training
        pairs, in [0, 1]: the weights of ``weight_by_agreement`` (computed
        whatever its value).
    kernel_params_ : list of dict
        Per modality: the learned "variance", "lengthscale", "bias", "noise".
    log_kernel_params_ : ndarray of shape (n_modalities, 4)
        The same, as optimised: log of (variance, lengthscale, bias, noise - 1e-6).
    active_indices_ : ndarray or None
        Training samples whose latent points are the active (inducing) points.
    gamma_ : list of float or None
        The similarity widths gamma_c used (similarity models).
    similarity_columns_ : ndarray or None
        The training samples a sample's similarities are taken to
        (``similarity_to="active"``); None: all of them.
    neighbour_thresholds_ : list of float or None
        Per modality, the similarity above which a pair counts as neighbours
        (``neighbour_fraction``); None when S^c is dense.
    gaussian_prior_ : bool
        Whether X has the N(0, I) prior (training and inference): the
        baselines, or ``keep_gaussian_prior=True``.
    objective_ : float
        Final value of the training objective.
    objective_terms_ : dict
        Final value of each term (per-modality likelihoods, harmonization, ...).
    n_iter_ : int
        L-BFGS iterations run.
    observations_, train_features_ : lists
        Per modality: the GP's training observations (features, or the factor
        Z_c of S^c) and the standardised training features, kept for inference.
    feature_mean_, feature_scale_ : list of ndarray or None
        Per modality, the per-feature standardisation (None entries with
        ``standardize=False``).
    feature_power_ : list of PowerTransform or None
        Per modality, the power transform of ``standardize="auto"`` (its
        ``columns`` and Yeo-Johnson ``lambdas``); None where no feature was
        transformed.
    predictive_factors_ : list of tuple of ndarray
        Per modality, the training-data factors of the GP predictive
        distribution (Cholesky factors and weights), computed once after
        training for ``transform``.
    modalities_, n_modalities_, n_features_in_, classes_, multilabel_
        As for every skcross estimator.

    Notes
    -----
    Retrieval ranks by Euclidean distance in the latent space (the paper ranks
    "according to the distance among their positions in the common latent
    space"), so ``score`` uses ``metric="euclidean"``.

    Where we differ from the paper / the authors' MATLAB code, and why:

    - Sparse approximation: FITC (as the authors' code) with the inducing inputs
      tied to the latent points of a fixed random active set of ``n_active``
      training samples (section 5.4's "active set"), so one L-BFGS run sees a
      deterministic objective; cost O(N M^2) per evaluation for the
      likelihoods. The harmonization terms are computed on the active M x M
      submatrices of K_c and S^x (section 5.4) and rescaled to estimate the full
      N x N term ((N/M)^2 for F, (N/M)^1.5 for l2,1, N/M for trace), so ``mu``
      means the same with and without sparsity. Likewise the label term of
      Eq. 17 runs over the N x M pairs (any sample, an active sample), rescaled
      by N/M (an unbiased estimate of the all-pairs sum at O(N M q) rather than
      O(N^2 q)); the exact model (``n_active=None``) uses all pairs.
    - Observations: with ``standardize=True`` (default) each feature is
      centred and scaled to unit variance (in float64, once, by the base
      class), so that K_c lives on the scale of S^x (unit diagonal); S^c is
      computed on those standardised features, centred, scaled to unit mean
      square, and replaced by a low-rank factor Z_c with
      Z_c Z_c^T ~ S^c S^c^T (it is all the likelihood of Eq. 5 sees), keeping
      99.99% of its energy; the log-determinant keeps the weight N of Eq. 5.
    - Optimiser: L-BFGS (scipy's L-BFGS-B on exact torch-autograd gradients,
      float64) instead of scaled conjugate gradients.
    - The baselines (``prior=None``) all use the N(0, I) latent prior of section
      6.2, m-RSimGP included (it extends m-SimGP, whose prior it keeps).
    - Inference of a new sample of modality c: MAP of its latent point under
      modality c's GP predictive distribution (FITC predictive when sparse),
      with the N(0, I) prior for the baselines, started at the latent point of
      the nearest training sample. All samples are solved in one batched
      computation, but as independent problems (one small BFGS per sample, with
      its own line search and stopping rule), so a sample's embedding does not
      depend on the samples it comes with.
      For the similarity models the sample is observed through its similarity
      to the training samples of modality c.
    - A Cholesky that fails is retried with 10x more jitter, up to 1e-3 of the
      mean diagonal. If it still fails, or the objective is not finite, at a
      line-search trial point, that point counts as infinitely bad and L-BFGS-B
      steps back; at the starting point a clear error is raised
      (``TrainingDivergedError`` for a non-finite objective). Ctrl-C during
      training keeps the best parameters so far (with a ``UserWarning``).

    - Defaults (``paper_params()`` gives the authors' demo settings:
      q = 10, 200 iterations): ``n_components="auto"`` and
      ``max_iter="auto"``, chosen together inside ``fit`` on held-out
      training pairs (label-free). Measured on validation splits carved from
      the training data against CCA: 200 iterations lost to CCA on Wikipedia
      (q = 5: 0.184 vs 0.192) where 25 iterations won (0.206); 50 iterations
      won on synthetic "medium" (0.790 vs 0.772) and "hard" (0.243 vs
      0.213); no single q won everywhere. The method page has the tables.
      The trace harmonization (the default ``prior``) is kept: without it
      (``prior=None``) q = 5 falls to 0.17 on 100Leaves (CCA 0.13, trace
      0.32).
    - Read-out (not in the paper): ``weight_by_agreement=True`` scales each
      latent dimension by the modalities' agreement on the training pairs.
      On validation quarters of 11 data sets and 7 synthetic stand-ins (two
      seeds) it raised the mAP in 30 of 36 fits and lowered it on the two
      text sets (BBCSport by 0.105 at one seed); ``paper_params()`` and
      ``weight_by_agreement=False`` return the latent points themselves.

    Sparse input (scipy.sparse) is refused with a ``TypeError`` asking for
    ``.toarray()``: the GP works on dense N x D observations anyway, and
    per-feature centring (``standardize``) would densify it. Densify it, or
    reduce it first (``PerModality(TruncatedSVD(...))``).

    Embeddings are float32 arrays.

    Examples
    --------
    >>> from skcross.datasets import make_multimodal_classification
    >>> from skcross import HarmonizedGPLVM
    >>> X, y = make_multimodal_classification(n_samples=60, n_modalities=2,
    ...     n_classes=3, n_features=[8, 6], random_state=0)
    >>> model = HarmonizedGPLVM(model="gplvm", prior="trace", mu=0.1,
    ...     n_components=3, n_active=20, max_iter=20, random_state=0).fit(X)
    >>> model.transform(0, X.modality(0)).shape
    (60, 3)
    >>> model.harmonization_distance().shape
    (2,)
    """

    _requires_pairs = True
    _requires_labels = False
    _input_dtype = np.float64
    _retrieval_metric = "euclidean"
    _quick_test_params = {"n_components": 3, "n_active": 15, "max_iter": 10, "max_iter_transform": 10}
    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        "model": [StrOptions({"gplvm", "simgp", "rsimgp"})],
        "prior": [StrOptions({"trace", "fro", "l21"}), None],
        "keep_gaussian_prior": ["boolean"],
        "mu": [Interval(Real, 0, None, closed="left")],
        "lam": [Interval(Real, 0, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_active": [Interval(Integral, 2, None, closed="left"), None],
        "gamma_x": [Interval(Real, 0, None, closed="neither")],
        "gamma": [Interval(Real, 0, None, closed="neither"), "array-like", None],
        "similarity_to": [StrOptions({"all", "active"})],
        "neighbour_fraction": [Interval(Real, 0, 1, closed="right"), None],
        "init": [StrOptions({"cca", "pca"})],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_iter_transform": [Interval(Integral, 0, None, closed="left")],
        "weight_by_agreement": ["boolean"],
    }
    _collapse_remedy = (
        "check that the modality varies, keep standardize on (True or 'auto'), or try more iterations "
        "(max_iter) or a smaller mu"
    )

    def __init__(
        self,
        model: str = "gplvm",
        prior: str | None = "trace",
        keep_gaussian_prior: bool = False,
        mu: float = 0.1,
        lam: float = 1.0,
        n_components: int | str = "auto",
        validation_fraction: float = 0.2,
        n_active: int | None = 100,
        gamma_x: float = 1.0,
        gamma: float | Sequence[float] | None = None,
        similarity_to: str = "all",
        neighbour_fraction: float | None = None,
        init: str = "cca",
        max_iter: int | str = "auto",
        max_iter_transform: int = 100,
        weight_by_agreement: bool = True,
        standardize: bool | str = True,
        random_state: Any = None,
        device: str = "auto",
        verbose: int = 0,
    ):
        self.model = model
        self.prior = prior
        self.keep_gaussian_prior = keep_gaussian_prior
        self.mu = mu
        self.lam = lam
        self.n_components = n_components
        self.validation_fraction = validation_fraction
        self.n_active = n_active
        self.gamma_x = gamma_x
        self.gamma = gamma
        self.similarity_to = similarity_to
        self.neighbour_fraction = neighbour_fraction
        self.init = init
        self.max_iter = max_iter
        self.max_iter_transform = max_iter_transform
        self.weight_by_agreement = weight_by_agreement
        self.standardize = standardize
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    @classmethod
    def paper_params(cls) -> dict:
        """The authors' demo settings: ``HarmonizedGPLVM(**HarmonizedGPLVM.paper_params())``.

        hmGPLVM with the trace harmonization at mu = 0.1 (and lambda = 1 for
        hm-RSimGP), as the authors' ``main_hm*.m`` demos set them; the paper's
        N(0, I) prior on X dropped; a 10-dimensional latent space initialised
        by CCA; 100 active points; 200 optimiser iterations; similarity
        matrices sparsified to the top 15% neighbourhoods, as the authors'
        data script does (similarity models only); the latent points
        themselves as embeddings (``weight_by_agreement=False``).
        """
        return dict(
            model="gplvm", prior="trace", keep_gaussian_prior=False, mu=0.1, lam=1.0,
            n_components=10, n_active=100, gamma_x=1.0, init="cca", max_iter=200,
            neighbour_fraction=0.15, weight_by_agreement=False,
        )

    # ------------------------------------------------------------ validation
    def _check_params(self) -> None:
        super()._check_params()
        if self.gamma is not None and not isinstance(self.gamma, Real):
            g = np.asarray(self.gamma, dtype=float)
            if g.ndim != 1 or len(g) == 0 or not np.all(np.isfinite(g) & (g > 0)):
                raise ValueError(
                    "The 'gamma' parameter of HarmonizedGPLVM must be None, a positive float, "
                    f"or one positive float per modality, got {self.gamma!r}."
                )

    def _check_data_params(self, n_samples: int, n_modalities: int) -> None:
        """The checks that need the data's size."""
        if self.n_components != "auto" and self.n_components >= n_samples:
            raise ValueError(
                f"n_components={self.n_components} must be smaller than the number of "
                f"samples ({n_samples})."
            )
        if self.gamma is not None and not isinstance(self.gamma, Real):
            if len(self.gamma) not in (1, n_modalities):
                raise ValueError(
                    f"gamma has {len(self.gamma)} values, but the data have {n_modalities} "
                    "modalities: give one value, or one per modality."
                )

    def _validate_fit_data(self, X: Any, y: Any) -> FitData:
        data = super()._validate_fit_data(X, y)
        if self.model == "rsimgp" and data.Y is None:
            raise ValueError(
                "HarmonizedGPLVM(model='rsimgp') is supervised (the label term of Eq. 17): "
                "fit(X, y) needs labels y. model='gplvm' and 'simgp' need none."
            )
        return data

    # -------------------------------------------------------------- fitting
    def _fit(self, data: FitData) -> None:
        n = data.X[0].shape[0]
        self._check_data_params(n, len(data.X))
        # data.X is standardised by the base (standardize=True), in float64
        features = [np.asarray(A, dtype=np.float64) for A in data.X]
        labels = None if data.Y is None else data.Y[0]
        self.validation_scores_ = None
        q, k = self.n_components, self.max_iter
        with single_threaded_numpy_blas():
            if q == "auto" or k == "auto":
                q, k = self._select_auto_settings(features, labels)
            self.n_components_, self.max_iter_ = int(q), int(k)
            self._fit_latent(features, labels, self.n_components_, self.max_iter_)

    def _select_auto_settings(self, features: list, labels: np.ndarray | None) -> tuple[int, int]:
        """The latent dimension and the number of L-BFGS iterations (``q`` of
        ``AUTO_COMPONENTS``, ``k`` of ``AUTO_ITERATIONS``) whose model, fitted on
        the training pairs less a held-out part, embeds the held-out pairs
        closest to each other."""
        n = len(features[0])
        fit_rows, held = holdout_split(
            np.arange(n) if labels is None else labels, self.validation_fraction, self._seed("split")
        )
        q_options = [self.n_components] if self.n_components != "auto" else (
            [q for q in AUTO_COMPONENTS if q < len(fit_rows)] or [max(1, min(AUTO_COMPONENTS[0], len(fit_rows) - 1))]
        )
        iterations = list(AUTO_ITERATIONS) if self.max_iter == "auto" else [int(self.max_iter)]
        scores = {}
        for q in q_options:
            trial = type(self)(**{**self.get_params(deep=False), "n_components": q, "verbose": 0})
            # one run to the largest count scores every smaller one from its iterates
            iterates = trial._fit_latent(
                [F[fit_rows] for F in features], None if labels is None else labels[fit_rows], q, max(iterations),
                checkpoints=iterations,
            )
            for k, z in iterates.items():
                trial._set_parameters(z, len(fit_rows), q)
                emb = [torch.as_tensor(trial._transform(c, F[held])) for c, F in enumerate(features)]
                scores[(q, k)] = paired_retrieval_score(emb)
        self.validation_scores_ = scores
        # the best; ties: the smaller, then the less trained (cheaper, smoother) model
        return max(scores, key=lambda qk: (scores[qk], -qk[0], -qk[1]))

    def _fit_latent(
        self, features: list, labels: np.ndarray | None, q: int, max_iter: int, checkpoints: Sequence[int] = ()
    ) -> dict[int, np.ndarray]:
        """Fit the model of latent dimension ``q`` to standardised ``features``.

        Returns the packed parameters (for :meth:`_set_parameters`) after each
        iteration count in ``checkpoints``; a count L-BFGS did not reach gets
        the final parameters.
        """
        n = features[0].shape[0]
        C = len(features)
        device = self._device()
        self.train_features_ = features

        self.gamma_ = None
        if self.model != "gplvm":
            self.gamma_ = self._similarity_widths(np.random.RandomState(self._seed("sample", 1)))

        init = _cca_init if self.init == "cca" else _pca_init
        X0 = init(self.train_features_, q, np.random.RandomState(self._seed("init")))

        if self.n_active is None or self.n_active >= n:
            active = None
        else:
            # the active (inducing) set: a random subset of the training samples
            active = np.sort(np.random.RandomState(self._seed("sample")).choice(n, self.n_active, replace=False))
        self.active_indices_ = active

        self.observations_, self.n_observed_ = [], []
        self.similarity_columns_ = None
        self.neighbour_thresholds_ = None
        if self.model == "gplvm":
            self.observations_ = [F.copy() for F in self.train_features_]
            self.n_observed_ = [F.shape[1] for F in self.train_features_]
        else:
            if self.similarity_to == "active" and active is not None:
                self.similarity_columns_ = active
            self._prepare_similarities()

        # Kernel init: unit signal variance (observations are unit-scaled), a
        # lengthscale matched to the spread of the z-scored latent points.
        theta0 = np.tile(np.log([1.0, np.sqrt(q), 0.1, 0.1]), (C, 1))

        def t(a):
            return torch.as_tensor(a, dtype=torch.float64, device=device)

        same = None
        if self.model == "rsimgp":
            Yl = labels.astype(np.float64)
            Ya = Yl if active is None else Yl[active]
            same = t((Yl @ Ya.T > 0).astype(np.float64))
        self.gaussian_prior_ = self.prior is None or bool(self.keep_gaussian_prior)
        prob = _Problem(
            Y=[t(o) for o in self.observations_],
            y_sqnorm=[t((o * o).sum(1)) for o in self.observations_],
            d=[float(d) for d in self.n_observed_],
            prior=self.prior,
            gaussian_prior=self.gaussian_prior_,
            mu=float(self.mu),
            lam=float(self.lam) if self.model == "rsimgp" else 0.0,
            gamma_x=float(self.gamma_x),
            active=None if active is None else torch.as_tensor(active, device=device),
            same=same,
            n=n,
            harmonization_scale=1.0 if active is None else _harmonization_scale(self.prior, n, len(active)),
        )
        X_opt, theta_opt, info = self._optimize(X0, theta0, prob, device, max_iter, checkpoints)
        self.latent_ = X_opt
        self.log_kernel_params_ = theta_opt
        self.kernel_params_ = [
            {k: float(v) for k, v in zip(("variance", "lengthscale", "bias", "noise"),
                                          (p.variance, p.lengthscale, p.bias, p.noise))}
            for p in (obj.KernelParams.from_log(torch.as_tensor(th)) for th in theta_opt)
        ]
        self.objective_ = info["objective"]
        self.objective_terms_ = info["terms"]
        self.n_iter_ = info["n_iter"]
        self.predictive_factors_ = [self._predictive_factors(c, device) for c in range(C)]
        return info["iterates"]

    def _set_parameters(self, z: np.ndarray, n: int, q: int) -> None:
        """Load packed training parameters ``z`` (an L-BFGS iterate) as the fitted model."""
        self.latent_ = z[: n * q].reshape(n, q).copy()
        self.log_kernel_params_ = z[n * q:].reshape(-1, 4).copy()
        device = self._device()
        self.predictive_factors_ = [self._predictive_factors(c, device) for c in range(len(self.log_kernel_params_))]

    def _predictive_factors(self, index: int, device) -> tuple:
        """The factors of modality ``index``'s GP predictive distribution that
        depend on training data only (computed once, after training)."""

        def t(a):
            return torch.as_tensor(a, dtype=torch.float64, device=device)

        Xtr, theta, Ytr = t(self.latent_), t(self.log_kernel_params_[index]), t(self.observations_[index])
        with torch.no_grad():
            if self.active_indices_ is None:
                parts = obj.exact_predictive_parts(theta, Xtr, Ytr)
            else:
                active = torch.as_tensor(self.active_indices_, device=device)
                parts = obj.fitc_predictive_parts(theta, Xtr, Ytr, active)
        return tuple(p.cpu().numpy() for p in parts)

    def _similarity_widths(self, rng: np.random.RandomState) -> list[float]:
        """gamma_c of Eq. 5 per modality: given, or the median heuristic."""
        if self.gamma is None:
            return [_median_sq_dist(F, rng) for F in self.train_features_]
        g = np.atleast_1d(np.asarray(self.gamma, dtype=float))
        return [float(g[0] if len(g) == 1 else g[c]) for c in range(len(self.train_features_))]

    def _similarities(self, index: int, F: np.ndarray, sq_dist: np.ndarray | None = None) -> np.ndarray:
        """Similarity of standardised samples of modality ``index`` to the training
        samples it is observed through (all of them, or the active ones).

        ``sq_dist``: the squared distances of ``F`` to every training sample of
        the modality, when the caller has them already.
        """
        cols = self.similarity_columns_
        if sq_dist is None:
            ref = self.train_features_[index]
            sq_dist = _sq_dist_np(F, ref if cols is None else ref[cols])
        elif cols is not None:
            sq_dist = sq_dist[:, cols]
        return np.exp(-sq_dist / (2.0 * self.gamma_[index]))

    def _prepare_similarities(self) -> None:
        """The observations of the similarity models: S^c of Eq. 5 on the
        standardised features (sparsified to the neighbourhoods with
        ``neighbour_fraction``), centred and scaled; with every training sample
        as a column, reduced to a factor Z_c with Z_c Z_c^T ~ S^c S^c^T."""
        self.similarity_mean_, self.similarity_scale_, self.similarity_basis_ = [], [], []
        neighbours = None
        if self.neighbour_fraction is not None:
            # Training pairs are paired across modalities, so a pair is kept when
            # any modality calls it a neighbourhood (the authors' union mask).
            # Only boolean masks are kept: one dense S^c in memory at a time.
            self.neighbour_thresholds_ = []
            for c, F in enumerate(self.train_features_):
                S = self._similarities(c, F)
                threshold = float(np.quantile(S, 1.0 - self.neighbour_fraction))
                self.neighbour_thresholds_.append(threshold)
                neighbours = S >= threshold if neighbours is None else neighbours | (S >= threshold)
        for c, F in enumerate(self.train_features_):
            S = self._similarities(c, F)
            if neighbours is not None:
                S *= neighbours
            m = S.mean(0)
            S -= m
            scale = float(np.sqrt((S * S).mean()))
            scale = scale if scale > 0 else 1.0
            S /= scale
            if self.similarity_columns_ is not None:
                # N x M already: nothing to reduce
                V = None
                Z = S
            else:
                w, V = np.linalg.eigh(S.T @ S)
                w, V = w[::-1], V[:, ::-1]
                energy = np.cumsum(np.clip(w, 0, None))
                r = int(np.searchsorted(energy, _SIMILARITY_ENERGY * energy[-1]) + 1)
                V = np.ascontiguousarray(V[:, :r])
                Z = S @ V
            self.similarity_mean_.append(m)
            self.similarity_scale_.append(scale)
            self.similarity_basis_.append(V)
            self.observations_.append(Z)
            self.n_observed_.append(S.shape[1])

    def _optimize(
        self, X0: np.ndarray, theta0: np.ndarray, prob: _Problem, device, max_iter: int,
        checkpoints: Sequence[int] = (),
    ):
        n, q = X0.shape
        C = theta0.shape[0]
        name = type(self).__name__
        state = {"iter": 0, "best": None, "best_f": np.inf}

        def unpack(z: torch.Tensor):
            return z[: n * q].reshape(n, q), z[n * q:].reshape(C, 4)

        def fun(z_np: np.ndarray):
            z = torch.tensor(z_np, dtype=torch.float64, device=device, requires_grad=True)
            X, th = unpack(z)
            try:
                f = _objective(X, th, prob)
                fv = float(f.detach())
            except obj.CholeskyError:
                if state["best"] is None:
                    raise
                fv = np.inf
            if not np.isfinite(fv) and state["best"] is not None:
                # A line-search trial point far out (kernel parameters overflowing):
                # report it as infinitely bad so that L-BFGS-B steps back.
                return np.inf, np.zeros_like(z_np)
            check_finite_loss(
                fv, state["iter"], name,
                hint="the kernel hyper-parameters or latent points diverged (try a smaller "
                "mu / lam or standardised inputs)",
            )
            (g,) = torch.autograd.grad(f, z)
            if fv < state["best_f"]:
                state["best_f"], state["best"] = fv, z_np.copy()
            return fv, g.detach().cpu().numpy()

        ticks = self._progress(range(max_iter), total=max_iter, desc=name)
        tick = iter(ticks)
        iterates = {k: None for k in checkpoints}

        def callback(zk):
            state["iter"] += 1
            if state["iter"] in iterates:
                iterates[state["iter"]] = np.array(zk, copy=True)
            next(tick, None)

        z0 = np.concatenate([X0.ravel(), theta0.ravel()])
        z = None
        try:
            with self._interruptible("training") as interrupt:
                res = minimize(
                    fun, z0, jac=True, method="L-BFGS-B", callback=callback,
                    options={"maxiter": max_iter, "maxfun": 2 * max_iter + 20},
                )
                z = res.x if np.isfinite(res.fun) and res.fun <= state["best_f"] else state["best"]
        finally:
            if hasattr(ticks, "close"):
                ticks.close()
        if interrupt["interrupted"]:
            if state["best"] is None:  # nothing evaluated yet: nothing to keep
                raise KeyboardInterrupt
            z = state["best"]  # the best parameters so far
        # counts not reached (L-BFGS converged or was interrupted) are the final model
        iterates = {k: z if zk is None else zk for k, zk in iterates.items()}
        with torch.no_grad():
            X, th = unpack(torch.as_tensor(z, dtype=torch.float64, device=device))
            f = _objective(X, th, prob)
        terms = {k: float(v) for k, v in prob.terms.items()}
        return (
            X.cpu().numpy().copy(), th.cpu().numpy().copy(),
            {"objective": float(f), "terms": terms, "n_iter": state["iter"], "iterates": iterates},
        )

    # ------------------------------------------------------------ inference
    def _observe(
        self, index: int, F: np.ndarray, neighbours: np.ndarray | None = None,
        sq_dist: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The observation of standardised samples ``F`` in the GP's output space,
        and the squared norm the low-rank similarity factor leaves out (0 for features).

        ``neighbours`` (similarity models with ``neighbour_fraction``): extra
        training samples to count as neighbours of each new sample, on top of
        those of its own modality (see :meth:`_neighbours`). ``sq_dist``: see
        :meth:`_similarities`.
        """
        if self.model == "gplvm":
            return F, np.zeros(len(F))
        S = self._similarities(index, F, sq_dist)
        if self.neighbour_thresholds_ is not None:
            keep = S >= self.neighbour_thresholds_[index]
            if neighbours is not None:
                keep |= neighbours
            S *= keep
        S = (S - self.similarity_mean_[index]) / self.similarity_scale_[index]
        basis = self.similarity_basis_[index]
        if basis is None:
            return S, np.zeros(len(F))
        Z = S @ basis
        # a new sample's similarities need not lie in the span kept for training:
        # its out-of-span part is observed too (the GP predicts ~0 there)
        resid = np.clip((S * S).sum(1) - (Z * Z).sum(1), 0.0, None)
        return Z, resid

    def _infer(
        self, index: int, Y: np.ndarray, X0: np.ndarray, resid: np.ndarray | None = None, device=None
    ) -> np.ndarray:
        """MAP latent points of observations ``Y`` of modality ``index``, started at ``X0``.

        Each sample's negative log posterior depends on its own latent point
        only, so the batch is solved as independent small problems (one q x q
        BFGS each, see :func:`_batched_bfgs`): a sample's latent point does not
        depend on the samples it is transformed with.
        """
        device = device or self._device()

        def t(a):
            return torch.as_tensor(a, dtype=torch.float64, device=device)

        Xtr, theta = t(self.latent_), t(self.log_kernel_params_[index])
        active = None if self.active_indices_ is None else torch.as_tensor(self.active_indices_, device=device)
        parts = tuple(t(a) for a in self.predictive_factors_[index])
        Ys = t(Y)
        extra = t(np.zeros(len(Y)) if resid is None else resid)
        d = float(self.n_observed_[index])

        def neg_log_posterior(Xs: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            mean, var = obj.predictive(theta, Xtr, parts, Xs, active)
            f = 0.5 * d * torch.log(var) + 0.5 * (((Ys[rows] - mean) ** 2).sum(1) + extra[rows]) / var
            if self.gaussian_prior_:
                f = f + 0.5 * (Xs * Xs).sum(1)
            return f

        if self.max_iter_transform == 0 or len(X0) == 0:
            return X0
        return _batched_bfgs(neg_log_posterior, t(X0), self.max_iter_transform).cpu().numpy()

    def _neighbours(self, index: int, F: np.ndarray) -> np.ndarray:
        """Which training samples (columns of S^c) count as neighbours of each
        standardised sample of modality ``index`` (``neighbour_fraction`` models)."""
        return self._similarities(index, F) >= self.neighbour_thresholds_[index]

    def _transform(self, index: int, X: np.ndarray, neighbours: np.ndarray | None = None) -> np.ndarray:
        # X is standardised already (the base's _check_modality).
        # Samples are independent problems, so chunks bound the memory of the
        # chunk x N distance matrix without changing any embedding.
        out = [np.empty((0, self.latent_.shape[1]))]
        n_train = max(1, len(self.train_features_[index]))
        chunk = int(max(1, min(_TRANSFORM_CHUNK, _TRANSFORM_BLOCK_BYTES // (8 * n_train))))
        for start in range(0, len(X), chunk):
            rows = slice(start, start + chunk)
            F = X[rows]
            # one distance computation serves the start (the latent point of the
            # nearest training sample) and the similarity observation
            sq_dist = _sq_dist_np(F, self.train_features_[index])
            X0 = self.latent_[sq_dist.argmin(1)]
            Y, resid = self._observe(index, F, None if neighbours is None else neighbours[rows], sq_dist)
            out.append(self._infer(index, Y, X0, resid))
        return np.concatenate(out).astype(np.float32)

    # ----------------------------------------------------------- diagnostics
    def harmonization_distance(self) -> np.ndarray:
        """Riemannian distance d(K_c, S^x) of Table 4, one value per modality.

        d(K, S) = sqrt(sum_i ln^2 lambda_i(K, S)) over the generalised
        eigenvalues of the learned kernel K_c and the latent similarity S^x of
        the training latent points (on the active points for a sparse model,
        where the harmonization acts).
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = torch.as_tensor(self.latent_, dtype=torch.float64)
        if self.active_indices_ is not None:
            X = X[torch.as_tensor(self.active_indices_)]
        with torch.no_grad():
            Sx = obj.latent_similarity(X, float(self.gamma_x)).numpy()
            return np.array([
                obj.riemannian_distance(
                    obj.rbf_bias_white(torch.as_tensor(th), X).numpy(), Sx)
                for th in self.log_kernel_params_
            ])
