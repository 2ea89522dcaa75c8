"""Cross-modal retrieval metrics and scorers."""

from ._plot import plot_precision_recall, plot_precision_scope
from ._ranking import (
    average_precision_scores,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    similarity_matrix,
    top_k_similarities,
)
from ._scorer import cross_modal_map, make_map_scorer, map_scorers

__all__ = [
    "average_precision_scores",
    "cross_modal_map",
    "make_map_scorer",
    "map_scorers",
    "mean_average_precision",
    "plot_precision_recall",
    "plot_precision_scope",
    "precision_at_k",
    "precision_recall_curve",
    "similarity_matrix",
    "top_k_similarities",
]
