"""Optional matplotlib helpers for PR and precision-scope curves."""

from __future__ import annotations

from typing import Any, Sequence


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Plotting needs matplotlib: pip install 'skcross[plot]'."
        ) from exc
    return plt


def plot_precision_recall(
    curves: dict[str, tuple[Sequence[float], Sequence[float]]],
    ax: Any = None,
    title: str | None = None,
):
    """Plot precision-recall curves: ``{label: (precision, recall)}`` as returned
    by :func:`skcross.metrics.precision_recall_curve`. Returns the axes."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    for label, (precision, recall) in curves.items():
        ax.plot(recall, precision, marker="o", markersize=3, label=label)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_precision_scope(
    curves: dict[str, Sequence[float]],
    scopes: Sequence[int],
    ax: Any = None,
    title: str | None = None,
):
    """Plot precision-scope curves: ``{label: precisions}`` against ``scopes``
    (from :func:`skcross.metrics.precision_at_k`). Returns the axes."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    for label, precision in curves.items():
        ax.plot(list(scopes), precision, marker="o", markersize=3, label=label)
    ax.set_xlabel("scope K (top-K retrieved)")
    ax.set_ylabel("precision@K")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax
