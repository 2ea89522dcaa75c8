"""Objective terms of the harmonized multimodal GPLVMs (Song et al., HMGP paper).

Pure torch functions, float64, differentiable with autograd. The estimator in
:mod:`skcross._gplvm` assembles them into the objectives of Eqs. 15-17:

    sum_c  L_c(X, theta_c)  +  mu * H_c(K_c, S^x)  [+ lam * semantic(X)]

with ``L_c`` the GP negative log-likelihood (Eq. 3 on features, Eq. 5 on
similarity matrices, both "d/2 log|K| + 1/2 tr(K^-1 Y Y^T)"), ``H_c`` one of
the harmonization functions of Eqs. 12-14, and the label term of Eq. 17.
The additive constant ``N d / 2 log(2 pi)`` of the likelihood is omitted
everywhere (it changes neither the optimum nor the gradients).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "KernelParams",
    "rbf_bias_white",
    "safe_cholesky",
    "CholeskyError",
    "sq_dist",
    "nll_exact",
    "nll_fitc",
    "fitc_predictive_parts",
    "exact_predictive_parts",
    "predictive",
    "latent_similarity",
    "harmonization",
    "semantic_prior",
    "gaussian_prior",
    "riemannian_distance",
]

#: Noise variance floor: keeps every kernel matrix with white noise positive definite.
NOISE_FLOOR = 1e-6
#: Relative jitter added to noise-free inducing covariances, then escalated on failure.
BASE_JITTER = 1e-8
MAX_JITTER_TRIES = 6


@dataclass
class KernelParams:
    """Natural parameters of the RBF + bias + white kernel, from its log-parameters.

    ``theta = [log rbf variance, log lengthscale, log bias, log noise]``.
    """

    variance: torch.Tensor
    lengthscale: torch.Tensor
    bias: torch.Tensor
    noise: torch.Tensor

    @classmethod
    def from_log(cls, theta: torch.Tensor) -> "KernelParams":
        e = torch.exp(theta)
        return cls(e[0], e[1], e[2], e[3] + NOISE_FLOOR)


def sq_dist(A: torch.Tensor, B: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances between the rows of A and B (B = A if None)."""
    if B is None:
        na = (A * A).sum(1)
        D = na[:, None] + na[None, :] - 2.0 * (A @ A.T)
    else:
        D = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * (A @ B.T)
    return D.clamp_min(0.0)


def rbf_bias_white(
    theta: torch.Tensor, A: torch.Tensor, B: torch.Tensor | None = None, noise: bool = True
) -> torch.Tensor:
    """k(a, b) = s exp(-|a-b|^2 / 2 l^2) + b0 (+ noise delta_ab when B is None and noise)."""
    p = KernelParams.from_log(theta)
    K = p.variance * torch.exp(-0.5 * sq_dist(A / p.lengthscale, None if B is None else B / p.lengthscale))
    K = K + p.bias
    if B is None and noise:
        K = K + p.noise * torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    return K


class CholeskyError(ValueError):
    """A kernel matrix stayed indefinite although jitter was added."""


def safe_cholesky(K: torch.Tensor, what: str = "kernel matrix") -> torch.Tensor:
    """Cholesky factor of K; on failure retry with 10x more diagonal jitter each time."""
    L, info = torch.linalg.cholesky_ex(K)
    if int(info) == 0:
        return L
    scale = K.diagonal().abs().mean().detach().clamp_min(1e-12)
    eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    jitter = 1e-8
    for _ in range(MAX_JITTER_TRIES):
        L, info = torch.linalg.cholesky_ex(K + (jitter * scale) * eye)
        if int(info) == 0:
            return L
        jitter *= 10.0
    raise CholeskyError(
        f"the {what} ({K.shape[0]}x{K.shape[0]}) is not positive definite even with "
        f"{jitter / 10:.0e} relative jitter on its diagonal; the kernel hyper-parameters "
        "diverged (try standardised inputs, a smaller mu or fewer n_components)."
    )


# ----------------------------------------------------------------- likelihoods
def nll_exact(theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, d: float) -> torch.Tensor:
    """Eq. 3 / Eq. 5: d/2 log|K| + 1/2 tr(K^-1 Y Y^T) with the full N x N kernel.

    ``d`` is the number of observed columns (d_c for features, N for a similarity
    matrix S^c); ``Y`` may hold fewer columns with the same Y Y^T.
    """
    K = rbf_bias_white(theta, X)
    L = safe_cholesky(K)
    logdet = 2.0 * torch.log(L.diagonal()).sum()
    alpha = torch.linalg.solve_triangular(L, Y, upper=False)
    return 0.5 * d * logdet + 0.5 * (alpha * alpha).sum()


def _fitc_core(theta: torch.Tensor, X: torch.Tensor, active: torch.Tensor):
    """Whitened FITC factors with inducing inputs tied to the active latent points."""
    Xu = X[active]
    p = KernelParams.from_log(theta)
    M = Xu.shape[0]
    Kuu = rbf_bias_white(theta, Xu, noise=False)
    Kuu = Kuu + (BASE_JITTER * (p.variance + p.bias)) * torch.eye(M, dtype=X.dtype, device=X.device)
    Luu = safe_cholesky(Kuu, "inducing covariance K_uu")
    Kuf = rbf_bias_white(theta, Xu, X)
    V = torch.linalg.solve_triangular(Luu, Kuf, upper=False)  # M x N, Q_ff = V^T V
    qdiag = (V * V).sum(0)
    # Lambda = diag(K_ff - Q_ff) + noise: FITC's heteroscedastic correction.
    lam = (p.variance + p.bias - qdiag).clamp_min(0.0) + p.noise
    Vl = V / lam
    B = torch.eye(M, dtype=X.dtype, device=X.device) + Vl @ V.T
    LB = safe_cholesky(B, "FITC matrix I + V Lambda^-1 V^T")
    return Luu, V, lam, LB


def nll_fitc(
    theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, d: float, active: torch.Tensor,
    y_sqnorm: torch.Tensor | None = None,
) -> torch.Tensor:
    """FITC approximation of :func:`nll_exact`, O(N M^2 + N M D) per evaluation.

    K_ff ~ Q_ff + Lambda with Q_ff = K_fu K_uu^-1 K_uf, Lambda = diag(K_ff - Q_ff)
    + noise (Snelson & Ghahramani 2006, the approximation of the authors' code).
    Inducing inputs are the latent points of the active set, so with every point
    active the approximation is exact.
    """
    _, V, lam, LB = _fitc_core(theta, X, active)
    if y_sqnorm is None:
        y_sqnorm = (Y * Y).sum(1)
    logdet = torch.log(lam).sum() + 2.0 * torch.log(LB.diagonal()).sum()
    W = torch.linalg.solve_triangular(LB, (V / lam) @ Y, upper=False)
    quad = (y_sqnorm / lam).sum() - (W * W).sum()
    return 0.5 * d * logdet + 0.5 * quad


def fitc_predictive_parts(theta, X, Y, active):
    """Quantities the FITC predictive distribution needs at new latent points."""
    Luu, V, lam, LB = _fitc_core(theta, X, active)
    W = torch.linalg.solve_triangular(LB, (V / lam) @ Y, upper=False)
    return Luu, LB, W


def exact_predictive_parts(theta, X, Y):
    K = rbf_bias_white(theta, X)
    L = safe_cholesky(K)
    return L, torch.cholesky_solve(Y, L)


def predictive(theta, X_train, parts, Xs, active=None):
    """Mean (B x D) and variance (B,) of the observation at latent points Xs."""
    p = KernelParams.from_log(theta)
    kss = p.variance + p.bias + p.noise
    if active is None:
        L, alpha = parts
        Ks = rbf_bias_white(theta, Xs, X_train)  # B x N
        mean = Ks @ alpha
        v = torch.linalg.solve_triangular(L, Ks.T, upper=False)
        var = kss - (v * v).sum(0)
    else:
        Luu, LB, W = parts
        Ksu = rbf_bias_white(theta, Xs, X_train[active])
        vs = torch.linalg.solve_triangular(Luu, Ksu.T, upper=False)  # M x B
        cs = torch.linalg.solve_triangular(LB, vs, upper=False)
        mean = cs.T @ W
        var = kss - (vs * vs).sum(0) + (cs * cs).sum(0)
    return mean, var.clamp_min(p.noise)


# ------------------------------------------------------------- harmonization
def latent_similarity(X: torch.Tensor, gamma_x: float) -> torch.Tensor:
    """S^x_ij = exp(-|x_i - x_j|^2 / 2 gamma_x)."""
    return torch.exp(-sq_dist(X) / (2.0 * gamma_x))


_L21_EPS = 1e-12


def harmonization(K: torch.Tensor, Sx: torch.Tensor, prior: str) -> torch.Tensor:
    """H_c(K_c, S^x): Eq. 12 ("fro"), Eq. 13 ("l21") or Eq. 14 ("trace")."""
    if prior == "fro":
        return ((K - Sx) ** 2).sum()
    if prior == "l21":
        # sum of column norms; the tiny epsilon keeps the gradient finite at a zero column
        return torch.sqrt(((K - Sx) ** 2).sum(0) + _L21_EPS).sum()
    if prior == "trace":
        L = safe_cholesky(K)
        return 0.5 * torch.cholesky_solve(Sx, L).diagonal().sum()
    raise ValueError(f"unknown harmonization {prior!r}")


def semantic_prior(X: torch.Tensor, same: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 17's label term over unordered pairs, with matrix operations.

    sum_{same-label pairs} |x_i - x_j|^2 + sum_{different-label pairs} max(0, 1 - |x_i - x_j|^2);
    ``same`` is the N x N 0/1 matrix of pairs sharing a label. With ``active``
    (M indices) ``same`` is N x M and the sum runs over the pairs (i, j in the
    active set), rescaled by N / M: an unbiased estimate of the full sum at
    O(N M q) instead of O(N^2 q).
    """
    if active is None:
        D2, scale = sq_dist(X), 1.0
    else:
        D2, scale = sq_dist(X, X[active]), X.shape[0] / active.shape[0]
    pull = (same * D2).sum()
    push = ((1.0 - same) * torch.relu(1.0 - D2)).sum()
    return 0.5 * scale * (pull + push)


def gaussian_prior(X: torch.Tensor) -> torch.Tensor:
    """-log N(X | 0, I) up to a constant: the baselines' prior of section 6.2."""
    return 0.5 * (X * X).sum()


def riemannian_distance(K, S) -> float:
    """sqrt(sum_i ln^2 lambda_i(K, S)) over the generalised eigenvalues (Table 4)."""
    import numpy as np
    from scipy.linalg import eigh

    K = np.asarray(K, dtype=np.float64)
    S = np.asarray(S, dtype=np.float64)
    # S^x of well-separated points is close to singular: a tiny ridge keeps eigh stable
    S = S + 1e-10 * np.trace(S) / len(S) * np.eye(len(S))
    w = eigh(K, S, eigvals_only=True)
    w = np.clip(w, 1e-300, None)
    return float(np.sqrt(np.sum(np.log(w) ** 2)))
